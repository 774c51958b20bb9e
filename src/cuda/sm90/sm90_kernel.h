/*
 * Hopper (sm_90a) forward kernel: coordination of the warp roles.
 *
 *   warpgroup 0      producer: one thread issues every TMA load (Q once, then the K/V ring), then idles
 *                    with 24 registers (setmaxnreg.dec).
 *   warpgroups 1, 2  consumers: 64 query rows each; S = Q K^T and O += P V on wgmma, online softmax
 *                    in registers, 240 registers each (setmaxnreg.inc).
 *
 * A tile is one (query block of 128 rows, head, sequence). Equal tiles, and causal ones taken in
 * pairs of equal cost (up to 64 query blocks), run on a persistent grid (one CTA per SM, static
 * order); other unequal ones (long causal, window, varlen) one CTA per tile, heaviest first. When the
 * tiles would leave most SMs idle, each tile's key blocks are split over the CTAs of one cluster,
 * which merge their partial results through distributed shared memory (no workspace, no second
 * launch). Within a tile, key blocks are visited from the last to the first so that the only blocks
 * that need a mask (the boundary ones) come first and the rest run without mask arithmetic. The two
 * consumer warpgroups take turns issuing their wgmma batches (ping-pong, named barriers; not for
 * the 256 tile). Launches allow programmatic dependent launch: set-up overlaps the previous kernel.
 *
 * kWS (query-row split, for calls with few tiles): a tile is 64 query rows and the two consumer
 * warpgroups take alternate key blocks of it, merging through shared memory (sm90_mainloop.h).
 */
#ifndef FC_SM90_KERNEL_H
#define FC_SM90_KERNEL_H

#include <cuda_runtime.h>
#include "params.h"
#include "sm90_config.h"
#include "sm90_primitives.h"
#include "sm90_mainloop.h"

/* The i-th work item of this CTA: it takes chunks blockIdx.x, blockIdx.x + gridDim.x, ... of `chunk`
 * (1 or 2) consecutive items. One flat loop keeps the 24-register producer free of spills. */
static __device__ __forceinline__ int fc_sm90_work_item(const fc_sm90_args &a, int i) {
    const int bx = (int)blockIdx.x, gx = (int)gridDim.x;
    return a.chunk == 1 ? bx + i * gx : (bx + (i >> 1) * gx) * 2 + (i & 1);
}

template <int kDtype, int kD, int kBN, bool kWS>
__global__ void __launch_bounds__(FC_SM90_THREADS, 1) fc_sm90_fwd_kernel(const __grid_constant__ fc_sm90_args args) {
    constexpr fc_sm90_tile T = fc_sm90_kernel_tile(kD, kBN, kWS);
    constexpr int kBM = kWS ? FC_SM90_WS_BLOCK_M : FC_SM90_BLOCK_M; /* query rows per tile */
    constexpr int kReaders = kWS ? 4 : 4 * FC_SM90_CONSUMER_WGS;  /* consumer warps reading one K/V stage */
    extern __shared__ unsigned char fc_sm90_smem_raw[];
    fc_sm90_smem<kD> sm = fc_sm90_smem_carve<kD, kBN, kWS>(fc_sm90_smem_raw);
    static_assert(!kWS || fc_sm90_has_wg_split(kD, kBN), "query-row split: 64/128 table tiles only");

    if (threadIdx.x == 0) {
        fc_tma_prefetch_desc(&args.tm_q);
        fc_tma_prefetch_desc(&args.tm_k);
        fc_tma_prefetch_desc(&args.tm_v);
#if FC_SM90_TMA_STORE
        if (args.o_tma) fc_tma_prefetch_desc(&args.tm_o);
#endif
        fc_mbar_init(sm.bar_q, 1);
        fc_mbar_init(sm.bar_q_empty, 4 * FC_SM90_CONSUMER_WGS);
#pragma unroll
        for (int s = 0; s < T.stages; ++s) {
            fc_mbar_init(&sm.full_k[s], 1);
            fc_mbar_init(&sm.full_v[s], 1);
            fc_mbar_init(&sm.empty_k[s], kReaders); /* one arrival per consumer warp that reads it */
            fc_mbar_init(&sm.empty_v[s], kReaders);
        }
        cuda::ptx::fence_mbarrier_init(cuda::ptx::sem_release, cuda::ptx::scope_cluster);
    }
    /* Programmatic dependent launch: set-up above overlapped the previous kernel of the stream; wait
     * for it (its writes visible) before any global read, and let the next one start its set-up. */
    cudaGridDependencySynchronize();
    cudaTriggerProgrammaticLaunchCompletion();
    __syncthreads();

    /* Persistent: CTA i serves chunks i, i + gridDim.x, ... of `chunk` consecutive work items; the
     * producer runs ahead into the next tile (its Q once both consumers released the last one, its
     * K/V as ring slots free up) while the consumers finish the epilogue of the current one. With
     * splits, the grid is one CTA per work item (the cluster combine is once per CTA). */
    int q_it = 0, kv_it = 0;
    const int wg = threadIdx.x / 128;
    if (wg == 0) {
        fc_setmaxnreg_dec<FC_SM90_PRODUCER_REGS>();
        if (threadIdx.x == 0) {
            for (int w = fc_sm90_work_item(args, 0), i = 1; w < args.num_work; w = fc_sm90_work_item(args, i++)) {
                const fc_sm90_block blk = fc_sm90_block_info<kBN, kBM>(args, w);
                if (blk.m0 < blk.sq) fc_sm90_producer<kD, kBN, kWS>(args, sm, blk, q_it, kv_it);
            }
        }
        if (args.num_splits > 1) { /* one work item per CTA: the same tile as the consumers' */
            const fc_sm90_block blk = fc_sm90_block_info<kBN, kBM>(args, blockIdx.x);
            if (blk.m0 < blk.sq) fc_sm90_split_producer_sync();
        }
    } else {
        fc_setmaxnreg_inc<FC_SM90_CONSUMER_REGS>();
        const int cwg = wg - 1;
        if (cwg == 1) fc_sm90_turn_end<kD, kWS>(cwg); /* consumer 0 takes the first turn */
        for (int w = fc_sm90_work_item(args, 0), i = 1; w < args.num_work; w = fc_sm90_work_item(args, i++)) {
            const fc_sm90_block blk = fc_sm90_block_info<kBN, kBM>(args, w);
            if (blk.m0 < blk.sq) fc_sm90_consumer<kDtype, kD, kBN, kWS>(args, sm, blk, cwg, q_it, kv_it);
        }
#if FC_SM90_TMA_STORE
        /* The last bulk store of O must have read the staging tile before the CTA's shared memory goes
         * (global visibility comes with the grid's completion). */
        if (args.o_tma && (threadIdx.x & 127) == 0) cuda::ptx::cp_async_bulk_wait_group_read(cuda::ptx::n32_t<0>{});
        __syncwarp(); /* converged before the aligned named barrier below */
#endif
        if (cwg == 0) fc_sm90_turn_begin<kD, kWS>(cwg); /* absorbs consumer 1's last hand-over */
    }
}

#endif
