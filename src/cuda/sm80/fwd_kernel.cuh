/*
 * The portable forward kernel (mma.sync m16n8k16, fp32 accumulation; sm_80, sm_86, sm_89, sm_90).
 *
 * One CTA computes kM query rows of one (sequence, head), or under split-KV one key range of them.
 * Each warp owns kM / kWarps consecutive rows end to end: S = Q K^T, masking, the online softmax
 * and O += P V all stay in its registers. K and V stream through kStages shared buffers with
 * cp.async; the steps walk the key blocks from last to first, so that the tiles crossing the causal
 * diagonal (which need the mask) come first and set a good running max.
 *
 * Pipeline per step i (K runs one buffer ahead of V; see the group counting in the loop):
 *   wait K(i) | barrier | issue V(i+S-1) | S = Q K(i)^T | mask | softmax
 *   wait V(i) | barrier | issue K(i+S)   | O += P V(i)
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
#include "cuda/sm80/mainloop.cuh"
#include "cuda/sm80/epilogue.cuh"

template <typename T, int kD, int kCfg>
static __device__ __forceinline__ void fc_sm80_fwd_body(const fc_sm80_args &a) {
    constexpr fc_tile_cfg kC = fc_cfg_get(kCfg);
    constexpr int kM = kC.m, kN = kC.n, kWarps = kC.warps, kStages = kC.stages;
    constexpr bool kQRegs = kC.q_regs != 0;
    constexpr int kThreads = kWarps * 32;
    constexpr int kWarpRows = kM / kWarps;
    constexpr int kMT = kWarpRows / 16; /* m16 tiles per warp */
    constexpr int kNT = kN / 8;         /* n8 tiles of S */
    constexpr int kDT = kD / 8;         /* n8 tiles of O */
    constexpr int kKS = kD / 16;        /* k16 steps of Q K^T */
    constexpr int kPS = kN / 16;        /* k16 steps of P V */
    constexpr int kChunks = kD / 8;     /* 16-byte chunks per row */
    constexpr uint32_t kQBytes = kM * kD * 2, kKVBytes = kN * kD * 2;
    /* cp.async groups that may stay in flight when waiting for K(i) or V(i) (see the header). */
    constexpr int kGroupsInFlight = 2 * kStages - 2;
    static_assert(kWarpRows % 16 == 0 && kN % 16 == 0 && kD % 16 == 0, "tile shape");

    const fc_fwd_params &p = a.p;
    extern __shared__ __align__(128) unsigned char fc_smem[];
    const uint32_t sQ = fc_smem_u32(fc_smem);
    const uint32_t sK = sQ + kQBytes;
    const uint32_t sV = sK + kStages * kKVBytes;

    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int split = blockIdx.x % a.num_splits;
    const int m_block = a.num_m_blocks - 1 - (int)(blockIdx.x / a.num_splits); /* longest rows first */
    const int h = blockIdx.y;
    const int b = blockIdx.z + a.batch_offset;
    const int hk = h / p.head_group;

    /* ---- this sequence ---- */
    int sq = p.seqlen_q, sk = p.seqlen_k;
    int64_t q_tok0, k_tok0; /* packed token index of the sequence's first row (varlen), else 0 */
    const T *qg = static_cast<const T *>(p.q), *kg = static_cast<const T *>(p.k), *vg = static_cast<const T *>(p.v);
    T *og = static_cast<T *>(p.o);
    int64_t part_row0; /* row of this sequence in the split partial arrays */
    if (p.cu_seqlens_q) {
        q_tok0 = p.cu_seqlens_q[b];
        k_tok0 = p.cu_seqlens_k[b];
        sq = (int)(p.cu_seqlens_q[b + 1] - q_tok0);
        sk = (int)(p.cu_seqlens_k[b + 1] - k_tok0);
        qg += q_tok0 * p.q_row_stride;
        og += q_tok0 * p.o_row_stride;
        kg += k_tok0 * p.k_row_stride;
        vg += k_tok0 * p.v_row_stride;
        part_row0 = q_tok0;
    } else {
        q_tok0 = 0;
        qg += b * p.q_batch_stride;
        og += b * p.o_batch_stride;
        kg += b * p.k_batch_stride;
        vg += b * p.v_batch_stride;
        part_row0 = (int64_t)b * sq;
    }
    const int m0 = m_block * kM;
    if (m0 >= sq) return;
    qg += h * p.q_head_stride + m0 * p.q_row_stride;
    og += h * p.o_head_stride + m0 * p.o_row_stride;
    kg += hk * p.k_head_stride;
    vg += hk * p.v_head_stride;
    const int rows_valid = min(kM, sq - m0);
    const int chunks_valid = p.head_dim / 8;

    /* ---- key blocks this CTA visits (fully masked blocks are never visited) ---- */
    const int off = sk - sq, wl = a.window_left, wr = a.window_right;
    const int m_last = m0 + rows_valid - 1;
    int nb_lo, nb_hi;
    fc_block_range(m0, m_last, sk, off, wl, wr, kN, &nb_lo, &nb_hi);
    if (a.num_splits > 1) {
        const int per = (nb_hi - nb_lo + a.num_splits - 1) / a.num_splits;
        const int lo = nb_lo + split * per;
        nb_hi = min(nb_hi, lo + per);
        nb_lo = min(lo, nb_hi);
    }
    const int n_tiles = nb_hi - nb_lo;

    fc_tile_loader<kChunks, kThreads> ld;
    ld.init(tid);

    /* ---- per-lane ldmatrix addressing ---- */
    fc_ldsm_addr<kChunks> qa, ka, va;
    qa.init(sQ, warp * kWarpRows + (lane & 7) + ((lane >> 3) & 1) * 8, lane >> 4);
    ka.init(sK, (lane & 7) + (lane >> 4) * 8, (lane >> 3) & 1);
    va.init(sV, (lane & 7) + ((lane >> 3) & 1) * 8, lane >> 4);

    float o[kMT][kDT][4];
    float row_max[kMT][2], row_sum[kMT][2];
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
        for (int dt = 0; dt < kDT; ++dt) o[mt][dt][0] = o[mt][dt][1] = o[mt][dt][2] = o[mt][dt][3] = 0.0f;
        row_max[mt][0] = row_max[mt][1] = -INFINITY;
        row_sum[mt][0] = row_sum[mt][1] = 0.0f;
    }
    uint32_t qr[kQRegs ? kMT : 1][kQRegs ? kKS : 1][4];

    if (n_tiles > 0) {
        /* ---- prologue: Q, then K(0), V(0), ..., K(S-1) ---- */
        ld.load<kM>(sQ, qg, p.q_row_stride, rows_valid, chunks_valid);
        fc_cp_async_commit();
#pragma unroll
        for (int s = 0; s < kStages; ++s) {
            const int nb = nb_hi - 1 - s;
            if (s < n_tiles)
                ld.load<kN>(sK + s * kKVBytes, kg + (int64_t)nb * kN * p.k_row_stride, p.k_row_stride, sk - nb * kN,
                            chunks_valid);
            fc_cp_async_commit();
            if (s < kStages - 1) {
                if (s < n_tiles)
                    ld.load<kN>(sV + s * kKVBytes, vg + (int64_t)nb * kN * p.v_row_stride, p.v_row_stride,
                                sk - nb * kN, chunks_valid);
                fc_cp_async_commit();
            }
        }
        if constexpr (kQRegs) {
            fc_cp_async_wait<2 * kStages - 1>(); /* Q landed: the 2S-1 younger groups may fly */
            __syncthreads();
#pragma unroll
            for (int ks = 0; ks < kKS; ++ks) {
                uint32_t f[kMT][4];
                fc_load_q_frag<kMT>(qa, 0, ks, f);
#pragma unroll
                for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
                    for (int i = 0; i < 4; ++i) qr[mt][ks][i] = f[mt][i];
            }
        }

        /* ---- mainloop ---- */
        for (int t = 0; t < n_tiles; ++t) {
            const int nb = nb_hi - 1 - t;
            const uint32_t stage = (uint32_t)(t % kStages) * kKVBytes;

            fc_cp_async_wait<kGroupsInFlight>(); /* K(t) */
            __syncthreads();
            {
                const int tv = t + kStages - 1, nbv = nb_hi - 1 - tv;
                if (tv < n_tiles)
                    ld.load<kN>(sV + (tv % kStages) * kKVBytes, vg + (int64_t)nbv * kN * p.v_row_stride,
                                p.v_row_stride, sk - nbv * kN, chunks_valid);
                fc_cp_async_commit();
            }

            float s[kMT][kNT][4];
            fc_gemm_qk<T, kMT, kNT, kKS, kQRegs>(s, qr, qa, 0, ka, stage);
            fc_transform_scores(s, a.softcap_on, p.softcap_scale, a.flip_sign);
            if (fc_block_needs_mask(nb, kN, m0, m_last, sk, off, wl, wr))
            {
                int lo0, hi0, end;
                fc_mask_limits<kN + kM>(m0 + warp * kWarpRows, nb * kN, sk, off, wl, wr, &lo0, &hi0, &end);
                fc_apply_mask(s, lo0, hi0, end, lane);
            }
            fc_softmax_step(s, o, row_max, row_sum, a.exp_mult);
            uint32_t pa[kMT][kPS][4];
            fc_pack_p<T>(s, pa);

            fc_cp_async_wait<kGroupsInFlight>(); /* V(t) */
            __syncthreads();
            {
                const int tk = t + kStages, nbk = nb_hi - 1 - tk;
                if (tk < n_tiles)
                    ld.load<kN>(sK + (tk % kStages) * kKVBytes, kg + (int64_t)nbk * kN * p.k_row_stride,
                                p.k_row_stride, sk - nbk * kN, chunks_valid);
                fc_cp_async_commit();
            }
            fc_gemm_pv<T, kMT, kPS, kDT>(o, pa, va, stage);
        }
        fc_cp_async_wait<0>();
    }

    /* ---- epilogue ---- */
    float lse[kMT][2];
    fc_finalize_rows(o, row_max, row_sum, a.exp_mult, lse);
    const int wrow0 = warp * kWarpRows;
    const int wrows = rows_valid - wrow0; /* may be <= 0: the warp's rows are past the sequence */
    if (a.num_splits > 1) {
        const int64_t prow = ((int64_t)split * p.heads_q + h) * p.total_q + part_row0 + m0 + wrow0;
        fc_store_partial(o, lse, a.o_part + prow * p.head_dim, a.lse_part + prow, p.head_dim, wrows, lane);
    } else {
        if (p.lse) {
            const int64_t lb = p.cu_seqlens_q ? 0 : (int64_t)b * p.lse_batch_stride;
            float *lp = p.lse + lb + h * p.lse_head_stride + (q_tok0 + m0 + wrow0) * p.lse_row_stride;
            fc_store_lse(lse, lp, p.lse_row_stride, wrows, lane);
        }
        fc_store_o<T>(o, fc_smem, wrow0, og + wrow0 * p.o_row_stride, p.o_row_stride, wrows, chunks_valid, lane);
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
