/*
 * Epilogue of the portable kernel: normalise the output rows, compute the log-sum-exp, and write
 * either the final output (fp16/bf16, staged through shared memory for 16-byte coalesced stores)
 * or, under split-KV, fp32 partials for the combine kernel.
 */
#ifndef FC_CUDA_SM80_EPILOGUE_CUH
#define FC_CUDA_SM80_EPILOGUE_CUH

#include <stdint.h>
#include <math.h>
#include "cuda/common/mma.cuh"
#include "cuda/common/smem.cuh"
#include "cuda/common/softmax.cuh"

#define FC_LN2 0.6931471805599453f

/* Reduce the row sums over each quad, scale o by 1/sum and compute lse (natural log). A row that saw
 * no key (sum 0) gets o = 0 and lse = -inf. */
template <int kMT, int kDT>
static __device__ __forceinline__ void fc_finalize_rows(float (&o)[kMT][kDT][4], const float (&row_max)[kMT][2],
                                                        const float (&row_sum)[kMT][2], const float (&row_comp)[kMT][2],
                                                        float mult, float (&lse)[kMT][2]) {
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            const float l = fc_quad_sum(row_sum[mt][r] - row_comp[mt][r]);
            const bool any = l > 0.0f;
            const float inv = any ? 1.0f / l : 0.0f;
            /* the same rounded max the probabilities were taken against */
            lse[mt][r] = any ? (fc_log2_max(row_max[mt][r], mult) + log2f(l)) * FC_LN2 : -INFINITY;
#pragma unroll
            for (int dt = 0; dt < kDT; ++dt) {
                o[mt][dt][2 * r] *= inv;
                o[mt][dt][2 * r + 1] *= inv;
            }
        }
    }
}

/* Write lse for the thread's rows (one lane per quad). row_first: the warp's first sequence row. */
template <int kMT>
static __device__ __forceinline__ void fc_store_lse(const float (&lse)[kMT][2], float *__restrict__ out,
                                                    int64_t row_stride, int rows_valid, int lane) {
    if ((lane & 3) != 0) return;
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            const int row = mt * 16 + (lane >> 2) + 8 * r;
            if (row < rows_valid) out[row * row_stride] = lse[mt][r];
        }
}

/*
 * Final output of one warp's rows: fragments -> the warp's own rows of the (swizzled) Q tile in
 * shared memory -> 16-byte global stores, each quad of lanes writing a contiguous 64-byte run.
 * Only the warp's own rows are touched (no other warp reads them: Q rows are private to their
 * warp), so a warp barrier suffices. tile_row0: the warp's first row inside the tile.
 */
template <typename T, int kMT, int kDT>
static __device__ __forceinline__ void fc_store_o(const float (&o)[kMT][kDT][4], unsigned char *smem_tile,
                                                  int tile_row0, T *__restrict__ out, int64_t row_stride,
                                                  int rows_valid, int chunks_valid, int lane) {
    constexpr int kChunks = kDT;
    typedef fc_swizzle<kChunks> swz;
    __syncwarp();
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            const int row = tile_row0 + mt * 16 + (lane >> 2) + 8 * r;
#pragma unroll
            for (int dt = 0; dt < kDT; ++dt) {
                const uint32_t w = fc_mma<T>::pack(o[mt][dt][2 * r], o[mt][dt][2 * r + 1]);
                *reinterpret_cast<uint32_t *>(smem_tile + swz::offset(row, dt) + (lane & 3) * 4) = w;
            }
        }
    __syncwarp();
    constexpr int kTotal = kMT * 16 * kChunks;
    static_assert(kTotal % 32 == 0, "warp tile must split into whole lanes");
#pragma unroll
    for (int i = 0; i < kTotal / 32; ++i) {
        const int idx = lane + 32 * i;
        const int r = idx / kChunks, c = idx % kChunks;
        if (r < rows_valid && c < chunks_valid) {
            const uint4 v = *reinterpret_cast<const uint4 *>(smem_tile + swz::offset(tile_row0 + r, c));
            *reinterpret_cast<uint4 *>(out + r * row_stride + c * 8) = v;
        }
    }
}

/* Split-KV partials of one warp's rows: fp32 o (already normalised by the split's own sum) with
 * row stride head_dim, and lse. Quads write 32-byte sectors. */
template <int kMT, int kDT>
static __device__ __forceinline__ void fc_store_partial(const float (&o)[kMT][kDT][4], const float (&lse)[kMT][2],
                                                        float *__restrict__ o_part, float *__restrict__ lse_part,
                                                        int head_dim, int rows_valid, int lane) {
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            const int row = mt * 16 + (lane >> 2) + 8 * r;
            if (row >= rows_valid) continue;
            float *dst = o_part + (int64_t)row * head_dim + (lane & 3) * 2;
#pragma unroll
            for (int dt = 0; dt < kDT; ++dt)
                if (dt * 8 < head_dim)
                    *reinterpret_cast<float2 *>(dst + dt * 8) = make_float2(o[mt][dt][2 * r], o[mt][dt][2 * r + 1]);
            if ((lane & 3) == 0) lse_part[row] = lse[mt][r];
        }
}

#endif
