/*
 * Online softmax and masking on one consumer warpgroup's score tile, in wgmma's accumulator layout.
 *
 * Layout (m64nN, fp32): thread t of the warpgroup, warp w = t/32, lane l, holds for 8-column block c
 * the 4 values s[4c + 2i + j] at row 16w + l/4 + 8i, column 8c + 2(l%4) + j. Each thread owns two
 * rows (i = 0, 1); a row's values are spread over the 4 lanes of a quad.
 *
 * Scores are kept raw (q.k, or softcap*tanh(...) with softcap); c_log2 turns them into log2 units,
 * so p = exp2(s*c - m*c) is one FFMA and one ex2 per element.
 */
#ifndef FC_SM90_SOFTMAX_H
#define FC_SM90_SOFTMAX_H

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include "params.h"
#include "sm90_primitives.h"
#include "cuda/common/softmax.cuh" /* fc_quad_max / fc_quad_sum, fc_log2_max: shared with the portable kernel */

/* -inf stands for "no key yet": a row whose every key so far is masked keeps max -inf; the max used
 * for the exponent is then taken as 0 so that exp2(-inf - 0) = 0 instead of exp2(-inf + inf) = NaN. */
static __device__ __forceinline__ float fc_safe_max(float m_scaled) { return m_scaled == -INFINITY ? 0.f : m_scaled; }
/* Maxima in log2 units go through fc_log2_max (common/softmax.cuh: rounded once, never contracted
 * into an FMA), so that every rescale factor (alpha, the merges' weights) is exactly 1 when the max
 * did not move, and lse adds log2(l) to the same value. */

/* Per-row mask of a key block: key col is visible from row r iff col < sk and it lies inside the
 * window [r + off - wl, r + off + wr] (off = sk - sq, bottom-right alignment; -1 = unbounded). */
template <int kN>
static __device__ __forceinline__ void fc_sm90_apply_mask(float (&s)[kN / 2], int row0, int col0, int sk, int off,
                                                          int wl, int wr) {
    const int lane = threadIdx.x & 31;
#pragma unroll
    for (int i = 0; i < 2; ++i) {
        const int r = row0 + 8 * i;
        const int hi = wr < 0 ? sk - 1 : min(sk - 1, r + off + wr);
        const int lo = wl < 0 ? 0 : r + off - wl;
#pragma unroll
        for (int c = 0; c < kN / 8; ++c) {
#pragma unroll
            for (int j = 0; j < 2; ++j) {
                const int col = col0 + 8 * c + 2 * (lane & 3) + j;
                if (col > hi || col < lo) s[4 * c + 2 * i + j] = -INFINITY;
            }
        }
    }
}

template <int kN> static __device__ __forceinline__ void fc_sm90_softcap(float (&s)[kN / 2], float pre, float cap) {
#pragma unroll
    for (int k = 0; k < kN / 2; ++k) s[k] = cap * fc_tanh(s[k] * pre);
}

template <int kDtype> static __device__ __forceinline__ uint32_t fc_pack2(float a, float b) {
    if constexpr (kDtype == FC_T_BF16) {
        __nv_bfloat162 h = __floats2bfloat162_rn(a, b);
        return *reinterpret_cast<uint32_t *>(&h);
    } else {
        __half2 h = __floats2half2_rn(a, b);
        return *reinterpret_cast<uint32_t *>(&h);
    }
}

/* One step of the online softmax: updates the running max m (raw units) and partial row sum l of
 * this thread's two rows, writes alpha (the factor the output accumulated so far must be scaled by)
 * and replaces the scores by their exponentials p (fp32, in place). */
template <int kN>
static __device__ __forceinline__ void fc_sm90_online_softmax(float (&s)[kN / 2], float (&m)[2], float (&l)[2],
                                                              float (&alpha)[2], float c_log2) {
#pragma unroll
    for (int i = 0; i < 2; ++i) {
        float mx = m[i];
#pragma unroll
        for (int c = 0; c < kN / 8; ++c) mx = fmaxf(mx, fmaxf(s[4 * c + 2 * i], s[4 * c + 2 * i + 1]));
        mx = fc_quad_max(mx);
        const float m_use = fc_safe_max(fc_log2_max(mx, c_log2));
        alpha[i] = fc_ex2(fc_log2_max(m[i], c_log2) - m_use);
        m[i] = mx;
        float sum = 0.f;
#pragma unroll
        for (int c = 0; c < kN / 8; ++c) {
#pragma unroll
            for (int j = 0; j < 2; ++j) {
                const float pv = fc_ex2(fmaf(s[4 * c + 2 * i + j], c_log2, -m_use));
                sum += pv;
                s[4 * c + 2 * i + j] = pv;
            }
        }
        l[i] = l[i] * alpha[i] + sum;
    }
}

/* P as wgmma A-fragments: register r packs columns s[2r], s[2r+1] (the accumulator layout of a
 * 16-column k-step is exactly the A layout of m64nNk16). Done only once the previous P V has retired,
 * so that P's registers are never written while a wgmma reads them. */
template <int kDtype, int kN>
static __device__ __forceinline__ void fc_sm90_convert_p(const float (&s)[kN / 2], uint32_t (&P)[kN / 4]) {
#pragma unroll
    for (int r = 0; r < kN / 4; ++r) P[r] = fc_pack2<kDtype>(s[2 * r], s[2 * r + 1]);
}

#endif
