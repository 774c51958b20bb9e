/*
 * Split-KV combine: out = sum_s exp(lse_s - lse) * o_s,  lse = log sum_s exp(lse_s), per (row, head).
 * One warp per (row, head); lane s < num_splits holds split s's lse; each lane then owns 4
 * consecutive output columns per 128 (float4 loads of the partials, 8-byte stores of the output).
 * Warps are ordered head-fastest so that consecutive warps write adjacent heads of one token.
 */
#ifndef FC_CUDA_SM80_COMBINE_CUH
#define FC_CUDA_SM80_COMBINE_CUH

#include <stdint.h>
#include <math.h>
#include "cuda/sm80/fwd_args.h"
#include "cuda/sm80/instances.h"
#include "cuda/common/mma.cuh"

enum { FC_COMBINE_WARPS = 4 };
static_assert(FC_MAX_SPLITS <= 32, "the combine keeps one split per lane");

template <typename T>
__global__ void __launch_bounds__(FC_COMBINE_WARPS * 32)
    fc_sm80_combine_kernel(const __grid_constant__ fc_sm80_args a) {
    const fc_fwd_params &p = a.p;
    const int lane = threadIdx.x & 31;
    const int64_t idx = (int64_t)blockIdx.x * FC_COMBINE_WARPS + (threadIdx.x >> 5);
    /* Varlen: rows past the last sequence belong to no sequence and are left untouched. */
    const int64_t rows = p.cu_seqlens_q ? (int64_t)p.cu_seqlens_q[p.batch] : p.total_q;
    if (idx >= rows * p.heads_q) return;
    const int64_t row = idx / p.heads_q;
    const int h = (int)(idx % p.heads_q);
    const int ns = a.num_splits;
    const int64_t split_stride = (int64_t)p.heads_q * p.total_q; /* rows per split */
    const int64_t prow = (int64_t)h * p.total_q + row;

    const float l = lane < ns ? a.lse_part[lane * split_stride + prow] : -INFINITY;
    float mx = l;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
    float e = (mx == -INFINITY) ? 0.0f : expf(l - mx);
    float sum = e;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
    const float lse = sum > 0.0f ? mx + logf(sum) : -INFINITY;
    const float w = sum > 0.0f ? e / sum : 0.0f; /* weight of split `lane` */

    /* Output addressing. */
    int64_t b = 0, i = row;
    if (!p.cu_seqlens_q) {
        b = row / p.seqlen_q;
        i = row % p.seqlen_q;
    }
    T *out = static_cast<T *>(p.o) + b * p.o_batch_stride + i * p.o_row_stride + h * p.o_head_stride;
    /* Every lane runs every iteration (the shuffles need the whole warp); only in-range columns
     * load and store. head_dim is a multiple of 8, so a 4-column group is all in or all out. */
    for (int c0 = 0; c0 < p.head_dim; c0 += 128) {
        const int c = c0 + lane * 4;
        const bool active = c < p.head_dim;
        float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
        for (int s = 0; s < ns; ++s) {
            const float ws = __shfl_sync(0xffffffffu, w, s);
            if (active) {
                const float4 v =
                    *reinterpret_cast<const float4 *>(a.o_part + (s * split_stride + prow) * p.head_dim + c);
                acc.x += ws * v.x;
                acc.y += ws * v.y;
                acc.z += ws * v.z;
                acc.w += ws * v.w;
            }
        }
        if (active) {
            uint2 packed;
            packed.x = fc_mma<T>::pack(acc.x, acc.y);
            packed.y = fc_mma<T>::pack(acc.z, acc.w);
            *reinterpret_cast<uint2 *>(out + c) = packed;
        }
    }
    if (p.lse && lane == 0) p.lse[b * p.lse_batch_stride + h * p.lse_head_stride + i * p.lse_row_stride] = lse;
}

#endif
