/*
 * The portable forward kernel (mma.sync m16n8k16, fp32 accumulation; sm_80, sm_86, sm_89, sm_90).
 *
 * One CTA computes kM query rows of one (sequence, head), or under split-KV one key range of them.
 * Each warp owns kM / kWarps consecutive rows end to end: S = Q K^T, masking, the online softmax
 * and O += P V all stay in its registers. K and V stream through kStages shared buffers with
 * cp.async; the steps walk the key blocks from last to first, so that the tiles crossing the causal
 * diagonal (which need the mask) come first and set a good running max.
 *
 * Software pipeline (two K and two V buffers, one barrier per step). Step t, for t = 0..n-2:
 *   wait for K(t+1), V(t) | barrier | issue K(t+2), V(t+1) into the buffers of K(t), V(t-1)
 *   S = Q K(t+1)^T | mask | softmax(S) -> P(t+1)   overlapped with   O += P(t) V(t)
 *   O *= corr(t+1)
 * then O += P(n-1) V(n-1). The softmax of the next tile (MUFU and FMA pipes) runs in the same
 * basic block as the previous tile's P V product (tensor pipe), so one warp keeps both pipes busy;
 * the rescale by corr(t+1) is applied after P(t) V(t) has been added (O then carries the new max).
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

/* Score transform (softcap / sign) and, for key blocks that cross a mask edge, the element-wise
 * mask of one warp's S tile. nb: the key block; warp_row: the warp's first row inside the CTA. */
template <int kM, int kN, int kMT, int kNT>
static __device__ __forceinline__ void fc_score_tile(float (&s)[kMT][kNT][4], const fc_sm80_args &a, int nb, int m0,
                                                     int m_last, int warp_row, int sk, int off, int lane) {
    fc_transform_scores(s, a.softcap_on, a.p.softcap_scale, a.flip_sign);
    if (fc_block_needs_mask(nb, kN, m0, m_last, sk, off, a.window_left, a.window_right)) {
        int lo0, hi0, end;
        fc_mask_limits<kN + kM>(m0 + warp_row, nb * kN, sk, off, a.window_left, a.window_right, &lo0, &hi0, &end);
        fc_apply_mask(s, lo0, hi0, end, lane);
    }
}

template <typename T, int kD, int kCfg>
static __device__ __forceinline__ void fc_sm80_fwd_body(const fc_sm80_args &a) {
    constexpr fc_tile_cfg kC = fc_cfg_get(kCfg);
    constexpr int kM = kC.m, kN = kC.n, kWarps = kC.warps, kStages = 2; /* K and V double-buffered */
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
    constexpr uint32_t kVOff = kQBytes + 2 * kKVBytes; /* V buffers, from the Q tile */
    static_assert(kWarpRows % 16 == 0 && kN % 16 == 0 && kD % 16 == 0, "tile shape");

    const fc_fwd_params &p = a.p;
    extern __shared__ __align__(128) unsigned char fc_smem[];
    const uint32_t sQ = fc_smem_u32(fc_smem);
    const uint32_t sK = sQ + kQBytes;
    const uint32_t sV = sK + kStages * kKVBytes;

    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;

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
    const int n_tiles = nb_hi - nb_lo;

    fc_tile_loader<kChunks, kThreads> ld;
    ld.init(tid);

    /* ---- per-lane ldmatrix addressing ---- */
    fc_ldsm_addr<kChunks> la; /* one lane addressing for Q, K and V (see mainloop.cuh) */
    la.init(sQ, (lane & 7) + ((lane >> 3) & 1) * 8, lane >> 4);
    const int wrow = warp * kWarpRows;

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
        const int64_t k_tile = (int64_t)kN * p.k_row_stride, v_tile = (int64_t)kN * p.v_row_stride;
        /* ---- prologue: {Q, K(0)}, then {K(1), V(0)} ---- */
        ld.load<kM>(sQ, qg, p.q_row_stride, rows_valid, chunks_valid);
        ld.load<kN>(sK, kg + (nb_hi - 1) * k_tile, p.k_row_stride, sk - (nb_hi - 1) * kN, chunks_valid);
        fc_cp_async_commit();
        if (n_tiles > 1)
            ld.load<kN>(sK + kKVBytes, kg + (nb_hi - 2) * k_tile, p.k_row_stride, sk - (nb_hi - 2) * kN, chunks_valid);
        ld.load<kN>(sV, vg + (nb_hi - 1) * v_tile, p.v_row_stride, sk - (nb_hi - 1) * kN, chunks_valid);
        fc_cp_async_commit();
        fc_cp_async_wait<1>(); /* Q, K(0) */
        __syncthreads();
        if constexpr (kQRegs) {
#pragma unroll
            for (int ks = 0; ks < kKS; ++ks) {
                uint32_t f[kMT][4];
                fc_load_q_frag<kMT>(la, wrow, ks, f);
#pragma unroll
                for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
                    for (int i = 0; i < 4; ++i) qr[mt][ks][i] = f[mt][i];
            }
        }

        /* ---- first tile: scores and probabilities only (O is still zero) ---- */
        uint32_t pa[kMT][kPS][4];
        {
            float s[kMT][kNT][4], corr[kMT][2];
            fc_gemm_qk<T, kMT, kNT, kKS, kQRegs>(s, qr, la, wrow, kQBytes);
            fc_score_tile<kM, kN>(s, a, nb_hi - 1, m0, m_last, wrow, sk, off, lane);
            (void)fc_softmax_step(s, row_max, row_sum, a.exp_mult, corr);
            fc_pack_p<T>(s, pa);
        }

        /* ---- steady state: two steps per trip, so P(t) and P(t+1) alternate between pa and pb
         * without register copies ---- */
        uint32_t pb[kMT][kPS][4];
        auto step = [&](int t, const uint32_t(&p_cur)[kMT][kPS][4], uint32_t(&p_next)[kMT][kPS][4]) {
            fc_cp_async_wait<0>(); /* K(t+1), V(t) */
            __syncthreads();
            {
                const int nbk = nb_hi - 1 - (t + 2), nbv = nb_hi - 1 - (t + 1);
                if (t + 2 < n_tiles)
                    ld.load<kN>(sK + (t & 1) * kKVBytes, kg + nbk * k_tile, p.k_row_stride, sk - nbk * kN, chunks_valid);
                ld.load<kN>(sV + ((t + 1) & 1) * kKVBytes, vg + nbv * v_tile, p.v_row_stride, sk - nbv * kN,
                            chunks_valid);
                fc_cp_async_commit();
            }
            float s[kMT][kNT][4], corr[kMT][2];
            fc_gemm_qk<T, kMT, kNT, kKS, kQRegs>(s, qr, la, wrow, kQBytes + ((t + 1) & 1) * kKVBytes);
            fc_score_tile<kM, kN>(s, a, nb_hi - 2 - t, m0, m_last, wrow, sk, off, lane);
            /* overlapped: softmax of tile t+1 and P(t) V(t) */
            fc_gemm_pv<T, kMT, kPS, kDT>(o, p_cur, la, kVOff + (t & 1) * kKVBytes);
            const bool moved = fc_softmax_step(s, row_max, row_sum, a.exp_mult, corr);
            fc_pack_p<T>(s, p_next);
            fc_rescale_o(o, corr, moved);
        };
        auto last = [&](const uint32_t(&p_cur)[kMT][kPS][4]) {
            fc_cp_async_wait<0>(); /* V(n-1) */
            __syncthreads();
            fc_gemm_pv<T, kMT, kPS, kDT>(o, p_cur, la, kVOff + ((n_tiles - 1) & 1) * kKVBytes);
        };
        for (int t = 0;; t += 2) {
            if (t + 1 >= n_tiles) {
                last(pa);
                break;
            }
            step(t, pa, pb);
            if (t + 2 >= n_tiles) {
                last(pb);
                break;
            }
            step(t + 1, pb, pa);
        }
    }

    /* ---- epilogue (coordinates recomputed: see common/seqlen.cuh) ---- */
    float lse[kMT][2];
    fc_finalize_rows(o, row_max, row_sum, a.exp_mult, lse);
    fc_seq e;
    fc_seq_init(a, kM, e);
    const int wrow0 = (threadIdx.x >> 5) * kWarpRows;
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
