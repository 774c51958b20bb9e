/*
 * Where a CTA's work lives: its sequence (batched or varlen), head, split and first query row, as
 * element offsets into q/k/v/o and row indices into lse and the split-KV partials.
 *
 * The mainloop keeps ~200 registers of accumulators live, so the kernel computes this twice: at the
 * start (for the loads) and again in the epilogue (for the stores), reading the block indices
 * through volatile asm so the compiler cannot keep the first copy alive across the mainloop (which
 * would spill it).
 */
#ifndef FC_CUDA_COMMON_SEQLEN_CUH
#define FC_CUDA_COMMON_SEQLEN_CUH

#include <stdint.h>
#include "cuda/sm80/fwd_args.h"

typedef struct fc_seq {
    int b, h, split;
    int m0;             /* first query row of the CTA in its sequence */
    int sq, sk;         /* this sequence's lengths */
    int64_t q_tok0;     /* packed token index of the sequence's first query row (varlen), else 0 */
    int64_t q_off, o_off; /* element offsets of (sequence, head, row m0) in q and o */
    int64_t k_off, v_off; /* element offsets of (sequence, kv head, key 0) in k and v */
    int64_t part_row;   /* row of (sequence, row m0) in the split-KV partials (without split/head) */
} fc_seq;

/* Block indices that the compiler must re-read (no common-subexpression reuse across the loop). */
static __device__ __forceinline__ void fc_ctaid(unsigned &x, unsigned &y, unsigned &z) {
    asm volatile("mov.u32 %0, %%ctaid.x;\n" : "=r"(x));
    asm volatile("mov.u32 %0, %%ctaid.y;\n" : "=r"(y));
    asm volatile("mov.u32 %0, %%ctaid.z;\n" : "=r"(z));
}

/* grid: x = m blocks (longest rows first) x splits, y = heads, z = sequences (+ batch_offset). */
static __device__ __forceinline__ void fc_seq_init(const fc_sm80_args &a, int kM, fc_seq &s) {
    const fc_fwd_params &p = a.p;
    unsigned bx, by, bz;
    fc_ctaid(bx, by, bz);
    s.split = (int)(bx % (unsigned)a.num_splits);
    s.m0 = (a.num_m_blocks - 1 - (int)(bx / (unsigned)a.num_splits)) * kM;
    s.h = (int)by;
    s.b = (int)bz + a.batch_offset;
    const int hk = s.h / p.head_group;
    int64_t k_tok0;
    if (p.cu_seqlens_q) {
        s.q_tok0 = p.cu_seqlens_q[s.b];
        k_tok0 = p.cu_seqlens_k[s.b];
        s.sq = (int)(p.cu_seqlens_q[s.b + 1] - s.q_tok0);
        s.sk = (int)(p.cu_seqlens_k[s.b + 1] - k_tok0);
        s.q_off = s.q_tok0 * p.q_row_stride;
        s.o_off = s.q_tok0 * p.o_row_stride;
        s.k_off = k_tok0 * p.k_row_stride;
        s.v_off = k_tok0 * p.v_row_stride;
        s.part_row = s.q_tok0 + s.m0;
    } else {
        s.q_tok0 = 0;
        s.sq = p.seqlen_q;
        s.sk = p.seqlen_k;
        s.q_off = s.b * p.q_batch_stride;
        s.o_off = s.b * p.o_batch_stride;
        s.k_off = s.b * p.k_batch_stride;
        s.v_off = s.b * p.v_batch_stride;
        s.part_row = (int64_t)s.b * s.sq + s.m0;
    }
    s.q_off += s.h * p.q_head_stride + s.m0 * p.q_row_stride;
    s.o_off += s.h * p.o_head_stride + s.m0 * p.o_row_stride;
    s.k_off += hk * p.k_head_stride;
    s.v_off += hk * p.v_head_stride;
}

#endif
