/*
 * Hopper (sm_90a) forward kernel: coordination of the warp roles.
 *
 *   warpgroup 0      producer: one thread issues every TMA load (Q once, then the K/V ring), then idles
 *                    with 24 registers (setmaxnreg.dec).
 *   warpgroups 1, 2  consumers: 64 query rows each; S = Q K^T and O += P V on wgmma, online softmax
 *                    in registers, 240 registers each (setmaxnreg.inc).
 *
 * A tile is one (query block of 128 rows, head, sequence); the grid is persistent (one CTA per SM)
 * and walks the tiles in a static longest-first order. Within a tile, key blocks are visited from the
 * last to the first so that the only blocks that need a mask (the boundary ones) come first and the
 * rest run without mask arithmetic.
 */
#ifndef FC_SM90_KERNEL_H
#define FC_SM90_KERNEL_H

#include <cuda_runtime.h>
#include "params.h"
#include "sm90_config.h"
#include "sm90_primitives.h"
#include "sm90_mainloop.h"

template <int kDtype, int kD>
__global__ void __launch_bounds__(FC_SM90_THREADS, 1) fc_sm90_fwd_kernel(const __grid_constant__ fc_sm90_args args) {
    constexpr fc_sm90_tile T = fc_sm90_tile_for(kD);
    extern __shared__ unsigned char fc_sm90_smem_raw[];
    fc_sm90_smem<kD> sm = fc_sm90_smem_carve<kD>(fc_sm90_smem_raw);

    if (threadIdx.x == 0) {
        fc_tma_prefetch_desc(&args.tm_q);
        fc_tma_prefetch_desc(&args.tm_k);
        fc_tma_prefetch_desc(&args.tm_v);
        fc_mbar_init(sm.bar_q, 1);
        fc_mbar_init(sm.bar_q_empty, 4 * FC_SM90_CONSUMER_WGS);
#pragma unroll
        for (int s = 0; s < T.stages; ++s) {
            fc_mbar_init(&sm.full_k[s], 1);
            fc_mbar_init(&sm.full_v[s], 1);
            fc_mbar_init(&sm.empty_k[s], 4 * FC_SM90_CONSUMER_WGS); /* one arrival per consumer warp */
            fc_mbar_init(&sm.empty_v[s], 4 * FC_SM90_CONSUMER_WGS);
        }
        cuda::ptx::fence_mbarrier_init(cuda::ptx::sem_release, cuda::ptx::scope_cluster);
    }
    __syncthreads();

    /* Persistent: CTA i serves tiles i, i + gridDim.x, ...; the producer runs ahead into the next
     * tile (its Q once both consumers released the last one, its K/V as ring slots free up) while the
     * consumers finish the epilogue of the current one. */
    int q_it = 0, kv_it = 0;
    const int wg = threadIdx.x / 128;
    if (wg == 0) {
        fc_setmaxnreg_dec<FC_SM90_PRODUCER_REGS>();
        if (threadIdx.x == 0) {
            for (int tile = blockIdx.x; tile < args.num_tiles; tile += gridDim.x) {
                const fc_sm90_block blk = fc_sm90_block_info<kD>(args, tile);
                if (blk.m0 < blk.sq) fc_sm90_producer<kD>(args, sm, blk, q_it, kv_it);
            }
        }
    } else {
        fc_setmaxnreg_inc<FC_SM90_CONSUMER_REGS>();
        for (int tile = blockIdx.x; tile < args.num_tiles; tile += gridDim.x) {
            const fc_sm90_block blk = fc_sm90_block_info<kD>(args, tile);
            if (blk.m0 < blk.sq) fc_sm90_consumer<kDtype, kD>(args, sm, blk, wg - 1, q_it, kv_it);
        }
    }
}

#endif
