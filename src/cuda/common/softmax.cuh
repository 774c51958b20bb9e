/*
 * Online softmax in registers (fp32 running max and sum per row), base 2 with the scale folded into
 * one FFMA per score: p = exp2(s * mult - max * mult).
 *
 * Each thread holds, for each of its warp's m16 tiles, two rows (lane/4 and lane/4 + 8) and
 * 2 * kNT scores of each row; a row is spread over the 4 lanes of a quad, so row reductions are two
 * xor-shuffles. Row sums stay per-thread partial until the epilogue (the reduction is linear).
 */
#ifndef FC_CUDA_COMMON_SOFTMAX_CUH
#define FC_CUDA_COMMON_SOFTMAX_CUH

#include <math.h>
#include "cuda/common/mma.cuh"

static __device__ __forceinline__ float fc_quad_max(float x) {
    x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
    return fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
}
static __device__ __forceinline__ float fc_quad_sum(float x) {
    x += __shfl_xor_sync(0xffffffffu, x, 1);
    return x + __shfl_xor_sync(0xffffffffu, x, 2);
}

/*
 * Running maxima in log2 units. Every probability is exp2(s * mult - M) and every rescale factor
 * exp2(M_old - M_new), where M = fc_log2_max(m) is the max times mult rounded once (__fmul_rn:
 * never contracted into an FMA). With equally rounded M on both sides a factor is exactly 1 when the
 * max did not move; a contracted fma(m_old, mult, -M_new) gave 1 +- 1 ulp on every tile instead,
 * which drifted the row sum by ~3e-5 over 16k keys (bench/NOTES.md). The online softmax, the
 * key-group merge and the lse all take their maxima through these.
 */
static __device__ __forceinline__ float fc_log2_max(float m, float mult) { return __fmul_rn(m, mult); }
/* M of a new max, with -inf (no key seen yet) taken as 0 so that -inf - M is never NaN. */
static __device__ __forceinline__ float fc_log2_max_safe(float m, float mult) {
    return m == -INFINITY ? 0.0f : fc_log2_max(m, mult);
}
/* exp2(M_old - M_new): the factor for state accumulated against max m_old once the max is m_new
 * (m_new_log2 = fc_log2_max_safe(m_new)); exactly 1 when the max did not move. */
static __device__ __forceinline__ float fc_rescale_factor(float m_old, float m_new, float m_new_log2, float mult) {
    return m_new != m_old ? fc_exp2(fc_log2_max(m_old, mult) - m_new_log2) : 1.0f;
}

/* Score transform before masking: softcap (tanh) or sign flip for a negative scale. Both flags are
 * uniform over the grid, so the branches cost nothing when off. tanhf (2 ulp) rather than a fast
 * formula: the softcap multiplies tanh's absolute error (softcap 40 turns 1e-7 into 4e-6 of score,
 * visible in lse). */
template <int kMT, int kNT>
static __device__ __forceinline__ void fc_transform_scores(float (&s)[kMT][kNT][4], int softcap_on,
                                                           float softcap_scale, int flip_sign) {
    if (softcap_on) {
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
            for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
                for (int i = 0; i < 4; ++i) s[mt][nt][i] = tanhf(s[mt][nt][i] * softcap_scale);
    } else if (flip_sign) {
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
            for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
                for (int i = 0; i < 4; ++i) s[mt][nt][i] = -s[mt][nt][i];
    }
}

/*
 * One online-softmax step over a masked score tile: updates the running max and sum and turns s
 * into unnormalised probabilities. Returns, per row, the factor corr by which the output
 * accumulated so far must be scaled (exp2 of old max - new max), and whether any row max of this
 * thread moved. The caller applies corr (fc_rescale_o) when convenient: the pipelined mainloop
 * does it after the P V product of the previous tile, which this step overlaps.
 * A row whose scores are all -inf so far keeps max -inf and contributes zeros: the subtracted max
 * is then taken as 0, which avoids (-inf) - (-inf) = NaN.
 */
template <int kMT, int kNT>
static __device__ __forceinline__ bool fc_softmax_step(float (&s)[kMT][kNT][4], float (&row_max)[kMT][2],
                                                       float (&row_sum)[kMT][2], float (&row_comp)[kMT][2],
                                                       float mult, float (&corr)[kMT][2]) {
    bool moved = false;
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            float mx = row_max[mt][r];
#pragma unroll
            for (int nt = 0; nt < kNT; ++nt) mx = fmaxf(mx, fmaxf(s[mt][nt][2 * r], s[mt][nt][2 * r + 1]));
            mx = fc_quad_max(mx);
            const float m_scaled = fc_log2_max_safe(mx, mult);
            corr[mt][r] = fc_rescale_factor(row_max[mt][r], mx, m_scaled, mult);
            moved |= mx != row_max[mt][r];
            row_max[mt][r] = mx;
            float sum = 0.0f;
#pragma unroll
            for (int nt = 0; nt < kNT; ++nt) {
#pragma unroll
                for (int e = 0; e < 2; ++e) {
                    float &x = s[mt][nt][2 * r + e];
                    x = fc_exp2(fmaf(x, mult, -m_scaled));
                    sum += x;
                }
            }
            /* Running sum with Kahan compensation: over thousands of tiles plain fp32 drifts by
             * ~1e-5 relative, which is visible in lse (fp32, compared at ~1e-6 of its size). */
            const float run = __fmul_rn(row_sum[mt][r], corr[mt][r]); /* no FMA contraction into t */
            const float y = fmaf(-row_comp[mt][r], corr[mt][r], sum);
            const float t = run + y;
            row_comp[mt][r] = (t - run) - y;
            row_sum[mt][r] = t;
        }
    }
    return moved;
}

/* o *= corr per row; skipped (warp-uniformly) when no row max of the warp moved, which is common
 * once the first tiles have been seen. */
template <int kMT, int kDT>
static __device__ __forceinline__ void fc_rescale_o(float (&o)[kMT][kDT][4], const float (&corr)[kMT][2], bool moved) {
    if (__any_sync(0xffffffffu, moved)) {
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
            for (int dt = 0; dt < kDT; ++dt) {
                o[mt][dt][0] *= corr[mt][0];
                o[mt][dt][1] *= corr[mt][0];
                o[mt][dt][2] *= corr[mt][1];
                o[mt][dt][3] *= corr[mt][1];
            }
    }
}

#endif
