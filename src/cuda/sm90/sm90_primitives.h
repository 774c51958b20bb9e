/*
 * Hopper primitives of the sm90 forward kernel: mbarriers and TMA (through CCCL's cuda::ptx
 * wrappers), wgmma descriptors/fences and setmaxnreg (inline PTX: no toolkit wrapper exists),
 * named barriers, fast exp2/tanh.
 */
#ifndef FC_SM90_PRIMITIVES_H
#define FC_SM90_PRIMITIVES_H

#include <stdint.h>
#include <cuda.h>
#include <cuda/ptx>
#include "sm90_config.h"
#include "cuda/common/mma.cuh" /* fc_smem_u32, shared with the portable kernel */

/* Named barrier ids (0 is __syncthreads). */
enum fc_sm90_named_barrier {
    FC_SM90_BAR_CONSUMERS = 1, /* both consumer warpgroups (256 threads): K/V ring free for reuse */
    FC_SM90_BAR_PINGPONG = 3,  /* + consumer index: that warpgroup's turn to issue wgmma (256 threads:
                                * 128 wait with bar.sync, the other warpgroup's 128 arrive) */
    FC_SM90_BAR_EPI_FREE = 5,  /* + consumer index (FC_SM90_TMA_STORE): the O staging tile is free */
    FC_SM90_BAR_EPI_FULL = 7   /* + consumer index (FC_SM90_TMA_STORE): the O staging tile is written */
};

/* ---------------- mbarrier ---------------- */
static __device__ __forceinline__ void fc_mbar_init(uint64_t *bar, uint32_t count) {
    cuda::ptx::mbarrier_init(bar, count);
}
static __device__ __forceinline__ void fc_mbar_expect_tx(uint64_t *bar, uint32_t bytes) {
    cuda::ptx::mbarrier_arrive_expect_tx(cuda::ptx::sem_release, cuda::ptx::scope_cta, cuda::ptx::space_shared,
                                         bar, bytes);
}
static __device__ __forceinline__ void fc_mbar_arrive(uint64_t *bar) {
    (void)cuda::ptx::mbarrier_arrive(bar);
}
static __device__ __forceinline__ void fc_mbar_wait(uint64_t *bar, uint32_t parity) {
    while (!cuda::ptx::mbarrier_try_wait_parity(bar, parity)) {
    }
}

/* ---------------- TMA ---------------- */
/* Load one box of a 4-D tensor map (coords: column, row, head, batch) into shared memory. */
static __device__ __forceinline__ void fc_tma_load_4d(void *dst, const CUtensorMap *map, int c0, int c1, int c2,
                                                      int c3, uint64_t *bar) {
    const int32_t coords[4] = {c0, c1, c2, c3};
    cuda::ptx::cp_async_bulk_tensor(cuda::ptx::space_cluster, cuda::ptx::space_global, dst, map, coords, bar);
}
#if FC_SM90_TMA_STORE
/* Store one box of a 4-D tensor map from shared memory (bulk async-group of the calling thread);
 * elements outside the tensor's extents are not written. */
static __device__ __forceinline__ void fc_tma_store_4d(const CUtensorMap *map, const void *src, int c0, int c1, int c2,
                                                       int c3) {
    const int32_t coords[4] = {c0, c1, c2, c3};
    cuda::ptx::cp_async_bulk_tensor(cuda::ptx::space_global, cuda::ptx::space_shared, map, coords, src);
}
/* Four 8x8 b16 matrices from the mma accumulator fragment into shared memory; lane 8i+k gives the
 * address of row k of matrix i (no cuda::ptx wrapper for stmatrix in CUDA 13.0). */
static __device__ __forceinline__ void fc_stmatrix_x4(uint32_t addr, uint32_t r0, uint32_t r1, uint32_t r2,
                                                      uint32_t r3) {
    asm volatile("stmatrix.sync.aligned.m8n8.x4.shared.b16 [%0], {%1, %2, %3, %4};\n" ::"r"(addr), "r"(r0), "r"(r1),
                 "r"(r2), "r"(r3)
                 : "memory");
}
#endif
static __device__ __forceinline__ void fc_tma_prefetch_desc(const CUtensorMap *map) {
    asm volatile("prefetch.tensormap [%0];" ::"l"((uint64_t)map) : "memory");
}

/* ---------------- wgmma ---------------- */
/* Shared-memory matrix descriptor, 128-byte swizzle (layout type 1 on sm_90). Byte offsets:
 * lbo = stride between 64-element groups along MN (MN-major operands; unused for K-major),
 * sbo = stride between 8-row groups (1024 for 128-byte rows). */
static __device__ __forceinline__ uint64_t fc_gmma_desc(uint32_t smem_addr, uint32_t lbo, uint32_t sbo) {
    return (uint64_t)((smem_addr & 0x3FFFF) >> 4) | ((uint64_t)((lbo >> 4) & 0x3FFF) << 16) |
           ((uint64_t)((sbo >> 4) & 0x3FFF) << 32) | (1ull << 62);
}
static __device__ __forceinline__ void fc_wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
static __device__ __forceinline__ void fc_wgmma_commit() {
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
template <int N> static __device__ __forceinline__ void fc_wgmma_wait() {
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
/* Pin accumulator registers: keeps the compiler from moving reads/writes of registers that an
 * in-flight wgmma owns across the issue/wait points. */
template <int N> static __device__ __forceinline__ void fc_reg_fence(float (&r)[N]) {
#pragma unroll
    for (int i = 0; i < N; ++i) asm volatile("" : "+f"(r[i])::"memory");
}
template <int N> static __device__ __forceinline__ void fc_reg_fence(uint32_t (&r)[N]) {
#pragma unroll
    for (int i = 0; i < N; ++i) asm volatile("" : "+r"(r[i])::"memory");
}

template <int R> static __device__ __forceinline__ void fc_setmaxnreg_inc() {
    asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(R));
}
template <int R> static __device__ __forceinline__ void fc_setmaxnreg_dec() {
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(R));
}

static __device__ __forceinline__ void fc_named_bar_sync(int id, int threads) {
    asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}
static __device__ __forceinline__ void fc_named_bar_arrive(int id, int threads) {
    asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

/* ---------------- cluster (split-KV combine through distributed shared memory) ---------------- */
/* Every thread of every CTA of the cluster arrives (release) and waits (acquire). */
static __device__ __forceinline__ void fc_cluster_arrive() { cuda::ptx::barrier_cluster_arrive(cuda::ptx::sem_release); }
static __device__ __forceinline__ void fc_cluster_wait() { cuda::ptx::barrier_cluster_wait(cuda::ptx::sem_acquire); }

/* ---------------- math ---------------- */
static __device__ __forceinline__ float fc_ex2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}
/* Softcap's tanh: tanhf (2 ulp), not tanh.approx (~2^-11 relative), because the cap multiplies the
 * error (cap 28: ~1e-5 of score, which failed the LSE standard on the H100, gpu-check 2026-11-24). */
static __device__ __forceinline__ float fc_tanh(float x) { return tanhf(x); }

#endif
