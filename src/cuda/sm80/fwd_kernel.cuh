/*
 * The portable forward kernel (mma.sync m16n8k16, fp32 accumulation; sm_80, sm_86, sm_89, sm_90).
 *
 * One CTA computes kM query rows of one (sequence, head), or under split-KV one key range of them.
 * With key groups (configs 11 and 12 for small grids, 12 with one-warp groups; tuning config 13) the CTA's warps
 * form groups that each run the whole kernel below on every groups-th key block of the same rows,
 * then merge in shared memory (fc_merge_groups).
 * Each warp owns kM / kWarps consecutive rows end to end: S = Q K^T, masking, the online softmax
 * and O += P V all stay in its registers. K and V stream through kStages shared buffers with
 * cp.async; the steps walk the key blocks from last to first, so that the tiles crossing the causal
 * diagonal (which need the mask) come first and set a good running max.
 *
 * Two mainloops (tile_config.h says which config runs which; mainloop.cuh has both):
 *   two-phase:  wait K(t) | barrier | issue V | S = QK^T, mask, softmax, rescale O
 *               wait V(t) | barrier | issue K | O += P V
 *               (16-rows-per-warp tiles: the second line's hand-over right after S = QK^T,
 *                FC_SM80_EARLY_V)
 *   pipelined:  wait K(t+1), V(t) | barrier | issue K, V |
 *               S = QK(t+1)^T, mask, softmax(t+1)  overlapped with  O += P(t) V(t) | rescale O
 * A buffer is refilled only after the barrier that follows its last reader.
 *
 * This file coordinates; the products live in mainloop.cuh, the softmax in common/softmax.cuh,
 * masking in common/mask.cuh and the stores in epilogue.cuh.
 */
#ifndef FC_CUDA_SM80_FWD_KERNEL_CUH
#define FC_CUDA_SM80_FWD_KERNEL_CUH

#include <stdint.h>
#include <math.h>
#include "cuda/tile_config.h"
#include "cuda/sm80/fwd_args.h"
#include "cuda/common/mma.cuh"
#include "cuda/common/smem.cuh"
#include "cuda/common/mask.cuh"
#include "cuda/common/softmax.cuh"
#include "cuda/common/seqlen.cuh"
#include "cuda/sm80/mainloop.cuh"
#include "cuda/sm80/epilogue.cuh"

/*
 * Key-group split: the groups ran the same rows over disjoint key blocks, each with its own running
 * (max, sum, O). Groups 1.. park theirs in their own Q and K buffers (dead once every warp of the
 * group passed its last V barrier: Q sits in registers or was last read before it, K was last
 * read before it), one float per thread per slot so that the layout is the fragment layout and
 * conflict-free; after a CTA barrier group 0 folds them into its registers like one online-softmax
 * step (fc_rescale_factor: exactly 1 for the group holding the max). Returns true in group 0,
 * which goes on to the epilogue.
 */
template <int kCfg, int kD, int kMT, int kDT>
static __device__ __forceinline__ bool fc_merge_groups(unsigned char *smem, float mult, float (&o)[kMT][kDT][4],
                                                       float (&row_max)[kMT][2], float (&row_sum)[kMT][2],
                                                       float (&row_comp)[kMT][2]) {
    constexpr fc_tile_cfg kC = fc_cfg_get(kCfg);
    constexpr int kG = kC.groups, kThreads = fc_cfg_group_warps(kC) * 32;
    constexpr int kSlots = kMT * kDT * 4 + 3 * kMT * 2; /* o, then max, sum, compensation per row */
    static_assert(kSlots * kThreads * 4 <= (kC.m + kC.stages * kC.n) * kD * 2, "parked state fits in Q + K");
    /* thread index re-read (not kept live across the mainloop, like fc_ctaid) */
    unsigned x;
    asm volatile("mov.u32 %0, %%tid.x;\n" : "=r"(x));
    const int grp = (int)x / kThreads, tid = (int)x % kThreads;
    if (grp != 0) {
        float *park = reinterpret_cast<float *>(smem + grp * fc_cfg_group_bytes(kC, kD)) + tid;
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
            for (int dt = 0; dt < kDT; ++dt)
#pragma unroll
                for (int i = 0; i < 4; ++i) park[((mt * kDT + dt) * 4 + i) * kThreads] = o[mt][dt][i];
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
            for (int r = 0; r < 2; ++r) {
                const int j = kMT * kDT * 4 + (mt * 2 + r) * 3;
                park[j * kThreads] = row_max[mt][r];
                park[(j + 1) * kThreads] = row_sum[mt][r];
                park[(j + 2) * kThreads] = row_comp[mt][r];
            }
    }
    __syncthreads();
    if (grp != 0) return false;
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            const int j = kMT * kDT * 4 + (mt * 2 + r) * 3;
            float mx = row_max[mt][r];
#pragma unroll
            for (int g = 1; g < kG; ++g)
                mx = fmaxf(mx, reinterpret_cast<const float *>(smem + g * fc_cfg_group_bytes(kC, kD))[j * kThreads + tid]);
            const float m_scaled = fc_log2_max_safe(mx, mult);
            float f = fc_rescale_factor(row_max[mt][r], mx, m_scaled, mult);
            float l = (row_sum[mt][r] - row_comp[mt][r]) * f;
#pragma unroll
            for (int dt = 0; dt < kDT; ++dt) {
                o[mt][dt][2 * r] *= f;
                o[mt][dt][2 * r + 1] *= f;
            }
#pragma unroll
            for (int g = 1; g < kG; ++g) {
                const float *park = reinterpret_cast<const float *>(smem + g * fc_cfg_group_bytes(kC, kD)) + tid;
                const float gm = park[j * kThreads];
                f = fc_rescale_factor(gm, mx, m_scaled, mult);
                l += (park[(j + 1) * kThreads] - park[(j + 2) * kThreads]) * f;
#pragma unroll
                for (int dt = 0; dt < kDT; ++dt) {
                    o[mt][dt][2 * r] += f * park[((mt * kDT + dt) * 4 + 2 * r) * kThreads];
                    o[mt][dt][2 * r + 1] += f * park[((mt * kDT + dt) * 4 + 2 * r + 1) * kThreads];
                }
            }
            row_max[mt][r] = mx;
            row_sum[mt][r] = l;
            row_comp[mt][r] = 0.0f;
        }
    return true;
}

template <typename T, int kD, int kCfg>
static __device__ __forceinline__ void fc_sm80_fwd_body(const fc_sm80_args &a) {
    constexpr fc_tile_cfg kC = fc_cfg_get(kCfg);
    constexpr int kM = kC.m, kN = kC.n, kG = kC.groups;
    constexpr int kGroupWarps = fc_cfg_group_warps(kC);
    constexpr int kThreads = kGroupWarps * 32; /* of one key group (the CTA when kG = 1) */
    constexpr int kWarpRows = kM / kGroupWarps;
    constexpr int kMT = kWarpRows / 16; /* m16 tiles per warp */
    constexpr int kDT = kD / 8;         /* n8 tiles of O */
    constexpr int kChunks = kD / 8;     /* 16-byte chunks per row */
    static_assert(kWarpRows % 16 == 0 && kN % 16 == 0 && kD % 16 == 0, "tile shape");
    static_assert(kG * kGroupWarps == kC.warps, "key groups of whole warps");

    const fc_fwd_params &p = a.p;
    extern __shared__ __align__(128) unsigned char fc_smem[];

    /* Key group (0 when the config has one): its own Q copy, K/V buffers and pointer slot. */
    const int grp = kG == 1 ? 0 : (int)threadIdx.x / kThreads;
    unsigned char *gsmem = fc_smem + grp * fc_cfg_group_bytes(kC, kD);
    const uint32_t sQ = fc_smem_u32(gsmem);
    const int tid = kG == 1 ? (int)threadIdx.x : (int)threadIdx.x - grp * kThreads; /* in the group */
    const int warp = tid >> 5, lane = tid & 31;

    /* ---- this sequence ---- */
    fc_seq q;
    fc_seq_init(a, kM, q);
    if (q.m0 >= q.sq) return;
    const int m0 = q.m0, sk = q.sk, split = q.split;
    const T *qg = static_cast<const T *>(p.q) + q.q_off;
    const T *kg = static_cast<const T *>(p.k) + q.k_off;
    const T *vg = static_cast<const T *>(p.v) + q.v_off;
    const int rows_valid = min(kM, q.sq - m0);
    const int chunks_valid = p.head_dim / 8;

    /* ---- key blocks this CTA visits (fully masked blocks are never visited) ---- */
    const int off = sk - q.sq, wl = a.window_left, wr = a.window_right;
    const int m_last = m0 + rows_valid - 1;
    int nb_lo, nb_hi;
    fc_block_range(m0, m_last, sk, off, wl, wr, kN, &nb_lo, &nb_hi);
    if (a.num_splits > 1) {
        const int per = (nb_hi - nb_lo + a.num_splits - 1) / a.num_splits;
        const int lo = nb_lo + split * per;
        nb_hi = min(nb_hi, lo + per);
        nb_lo = min(lo, nb_hi);
    }
    int n_tiles = nb_hi - nb_lo;
    if (kG > 1) { /* group g: blocks nb_hi-1-g, nb_hi-1-g-kG, ... down to nb_lo */
        n_tiles = n_tiles > grp ? (n_tiles - grp + kG - 1) / kG : 0;
        nb_hi -= grp;
    }

    typename fc_group_loader_of<kChunks, kThreads>::type ld;
    ld.init(tid);

    /* ---- per-lane ldmatrix addressing ---- */
    fc_ldsm_addr<kChunks> la; /* lane addressing for Q and V, and K but for c.k_shift (mainloop.cuh) */
    la.init(sQ, (lane & 7) + ((lane >> 3) & 1) * 8, lane >> 4);
    const int wrow = warp * kWarpRows;

    float o[kMT][kDT][4];
    float row_max[kMT][2], row_sum[kMT][2], row_comp[kMT][2]; /* row_comp: Kahan compensation of row_sum */
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
        for (int dt = 0; dt < kDT; ++dt) o[mt][dt][0] = o[mt][dt][1] = o[mt][dt][2] = o[mt][dt][3] = 0.0f;
        row_max[mt][0] = row_max[mt][1] = -INFINITY;
        row_sum[mt][0] = row_sum[mt][1] = 0.0f;
        row_comp[mt][0] = row_comp[mt][1] = 0.0f;
    }

    if (n_tiles > 0) {
        /* 16 bytes after the tiles (fc_cfg_smem_launch reserves them): written before the first
         * barrier of the mainloop, read after it. */
        const T **kv_smem = reinterpret_cast<const T **>(gsmem + fc_cfg_smem(kC, kD));
        if (tid == 0) {
            kv_smem[0] = kg;
            kv_smem[1] = vg;
        }
        fc_loop_ctx<T> c;
        c.kg = kg;
        c.vg = vg;
        c.kv_smem = kv_smem;
        c.k_row_stride = p.k_row_stride;
        c.v_row_stride = p.v_row_stride;
        c.sk = sk;
        c.off = off;
        c.nb_hi = nb_hi;
        c.n_tiles = n_tiles;
        c.chunks_valid = chunks_valid;
        c.m0 = m0;
        fc_plain_blocks(kN, m0, m_last, sk, off, wl, wr, &c.plain_lo, &c.plain_hi);
        c.wrow = wrow;
        c.lane = lane;
        c.k_shift = fc_key_pairs<kMT>() ? fc_k_lane_shift<kChunks>(lane) : 0u;
        /* Q goes first in the first commit group of both loops. */
        ld.template load<kM>(sQ, qg, p.q_row_stride, rows_valid, chunks_valid);
        if constexpr (kC.pipe)
            fc_mainloop_pipelined<T, kD, kCfg>(a, c, ld, la, sQ, o, row_max, row_sum, row_comp);
        else
            fc_mainloop_two_phase<T, kD, kCfg>(a, c, ld, la, sQ, o, row_max, row_sum, row_comp);
    }

    /* ---- key groups: merge into group 0, which runs the epilogue ---- */
    if constexpr (kG > 1) {
        if (!fc_merge_groups<kCfg, kD>(fc_smem, a.exp_mult, o, row_max, row_sum, row_comp)) return;
    }

    /* ---- epilogue (coordinates recomputed: see common/seqlen.cuh) ---- */
    float lse[kMT][2];
    fc_finalize_rows(o, row_max, row_sum, row_comp, a.exp_mult, lse);
    fc_seq e;
    fc_seq_init(a, kM, e);
    const int wrow0 = (threadIdx.x >> 5) * kWarpRows; /* with key groups, only group 0 (threads 0..) is here */
    const int wrows = min(kM, e.sq - e.m0) - wrow0; /* may be <= 0: the warp's rows are past the sequence */
    if (a.num_splits > 1) {
        const int64_t prow = ((int64_t)e.split * p.heads_q + e.h) * p.total_q + e.part_row + wrow0;
        fc_store_partial(o, lse, a.o_part + prow * p.head_dim, a.lse_part + prow, p.head_dim, wrows, lane);
    } else {
        if (p.lse) {
            const int64_t lb = p.cu_seqlens_q ? 0 : (int64_t)e.b * p.lse_batch_stride;
            float *lp = p.lse + lb + e.h * p.lse_head_stride + (e.q_tok0 + e.m0 + wrow0) * p.lse_row_stride;
            fc_store_lse(lse, lp, p.lse_row_stride, wrows, lane);
        }
        T *og = static_cast<T *>(p.o) + e.o_off + wrow0 * p.o_row_stride;
        fc_store_o<T>(o, fc_smem, wrow0, og, p.o_row_stride, wrows, p.head_dim / 8, lane);
    }
}

/* The kernel: an empty body on archs whose tile table never launches this config (keeps the
 * 4-arch build short; the host never launches it there). */
template <typename T, int kD, int kCfg>
__global__ void __launch_bounds__(fc_cfg_get(kCfg).warps * 32, fc_cfg_get(kCfg).min_ctas)
    fc_sm80_fwd_kernel(const __grid_constant__ fc_sm80_args a) {
#if defined(__CUDA_ARCH__)
    if constexpr (fc_cfg_used_on(kCfg, kD, __CUDA_ARCH__ / 10)) fc_sm80_fwd_body<T, kD, kCfg>(a);
#endif
}

#endif
