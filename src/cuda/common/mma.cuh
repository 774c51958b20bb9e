/*
 * Tensor-core and copy primitives for the portable (sm_80+) kernels: cp.async, ldmatrix,
 * mma.sync m16n8k16 with fp32 accumulation, and packing of fp32 pairs into fp16/bf16 words.
 *
 * The CUDA toolkit has no C++ wrappers for these instructions (CCCL covers cp.async only through
 * its pipeline/barrier objects, which cost registers here), so they are written as inline PTX.
 * Fragment layouts follow the PTX ISA, "Matrix Fragments for mma.m16n8k16":
 *   lane l, g = l / 4 (group), t = l % 4 (thread in group)
 *   A (16x16, row):  a0 = (g,    2t..2t+1)  a1 = (g+8, 2t..)  a2 = (g, 2t+8..)  a3 = (g+8, 2t+8..)
 *   B (16x8,  col):  b0 = (k 2t..2t+1, n g)  b1 = (k 2t+8.., n g)
 *   C (16x8, fp32):  c0,c1 = (g, 2t..2t+1)   c2,c3 = (g+8, 2t..2t+1)
 */
#ifndef FC_CUDA_COMMON_MMA_CUH
#define FC_CUDA_COMMON_MMA_CUH

#include <stdint.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>

/* 32-bit shared-memory address of a generic pointer into shared memory. */
static __device__ __forceinline__ uint32_t fc_smem_u32(const void *p) {
    return (uint32_t)__cvta_generic_to_shared(p);
}

/* ---------------------------------------------------------------------------------------------
 * cp.async: 16-byte global -> shared copies that bypass L1 (.cg). With valid == false nothing is
 * read from global memory and the 16 shared bytes are zero-filled (src-size 0; in SASS the copy's
 * zero-fill predicate), so `src` may then point past the tensor: the tile loader passes the row's
 * address as is rather than selecting a safe one (two SELs per copy; checked by memcheck over the
 * test grid's sequence tails and padded head dims).
 * ------------------------------------------------------------------------------------------- */
static __device__ __forceinline__ void fc_cp_async_16(uint32_t dst, const void *src, bool valid) {
    const int n = valid ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(n));
}
static __device__ __forceinline__ void fc_cp_async_commit(void) {
    asm volatile("cp.async.commit_group;\n" ::);
}
/* Wait until at most N of this thread's committed groups are still in flight. */
template <int N>
static __device__ __forceinline__ void fc_cp_async_wait(void) {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

/* ---------------------------------------------------------------------------------------------
 * ldmatrix: four 8x8 b16 matrices; lane l supplies the row address of matrix l/8, row l%8.
 * ------------------------------------------------------------------------------------------- */
static __device__ __forceinline__ void fc_ldsm_x4(uint32_t addr, uint32_t (&r)[4]) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}
static __device__ __forceinline__ void fc_ldsm_x4_trans(uint32_t addr, uint32_t (&r)[4]) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}

/* ---------------------------------------------------------------------------------------------
 * mma.sync m16n8k16, fp32 accumulate in place: c += a * b.
 * ------------------------------------------------------------------------------------------- */
template <typename T>
struct fc_mma;

template <>
struct fc_mma<__half> {
    static __device__ __forceinline__ void run(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                               uint32_t b1) {
        asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
            "{%8, %9}, {%0, %1, %2, %3};\n"
            : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
    /* Two fp32 values rounded to nearest into one packed word (low half = x). */
    static __device__ __forceinline__ uint32_t pack(float x, float y) {
        __half2 h = __floats2half2_rn(x, y);
        return *reinterpret_cast<uint32_t *>(&h);
    }
    static __device__ __forceinline__ float to_float(__half x) { return __half2float(x); }
};

template <>
struct fc_mma<__nv_bfloat16> {
    static __device__ __forceinline__ void run(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                               uint32_t b1) {
        asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
            "{%8, %9}, {%0, %1, %2, %3};\n"
            : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
    static __device__ __forceinline__ uint32_t pack(float x, float y) {
        __nv_bfloat162 h = __floats2bfloat162_rn(x, y);
        return *reinterpret_cast<uint32_t *>(&h);
    }
};

/* 2^x with flush-to-zero: one MUFU.EX2. exp2(-inf) = 0, which the softmax relies on. */
static __device__ __forceinline__ float fc_exp2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
}

#endif
