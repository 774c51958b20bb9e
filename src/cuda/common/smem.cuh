/*
 * Shared-memory tile layout: a tile of R rows x D fp16/bf16 columns is stored row after row, each
 * row as D/8 16-byte chunks, with the chunk index XOR-swizzled by the row so that the eight rows an
 * ldmatrix phase reads (same logical chunk, eight consecutive rows) land in eight different
 * 16-byte bank groups: no bank conflicts, no padding.
 *
 *   chunks per row % 8 == 0 (D = 64, 128, 192, 256):  phys = c ^ (r & 7)
 *     (row starts are 128-byte aligned, so rows differ only by the XOR)
 *   chunks per row % 8 == 4 (D = 96):                  phys = c ^ ((r >> 1) & 3)
 *     (row starts alternate between bank groups 0 and 4; rows 2k and 2k+1 share the XOR key and
 *      differ by that 4-chunk offset, the four keys spread the rest)
 * The XOR only flips bits below the group size, so a chunk never leaves its aligned group.
 */
#ifndef FC_CUDA_COMMON_SMEM_CUH
#define FC_CUDA_COMMON_SMEM_CUH

#include <stdint.h>
#include "cuda/common/mma.cuh"

template <int kChunks>
struct fc_swizzle {
    static_assert(kChunks % 4 == 0, "rows must be a multiple of 4 chunks (32 elements)");
    /* Size of the aligned chunk group the XOR stays in. */
    static constexpr int kGroup = (kChunks % 8 == 0) ? 8 : 4;
    static __host__ __device__ __forceinline__ int key(int r) {
        return (kChunks % 8 == 0) ? (r & 7) : ((r >> 1) & 3);
    }
    /* Byte offset of chunk c of row r inside the tile. */
    static __host__ __device__ __forceinline__ int offset(int r, int c) {
        return (r * kChunks + (c ^ key(r))) * 16;
    }
};

/*
 * Per-lane ldmatrix addressing. Every operand read in the kernels has the form
 *   row = row_base + row0(lane)           (row_base a multiple of 16)
 *   chunk = 2 * s + h(lane)               (s the k-step or column-pair index, compile time)
 * so the swizzled chunk is (2s + h) ^ key(row0). With G the group size, this equals
 *   (2s & ~(G-1)) + ((2(s % (G/2)) + h) ^ key)
 * whose second term takes only G/2 values: they are precomputed per lane in off[].
 */
template <int kChunks>
struct fc_ldsm_addr {
    static constexpr int kOffs = fc_swizzle<kChunks>::kGroup / 2;
    uint32_t base;          /* smem address of row0's row (tile base + row0 * row bytes) */
    uint32_t off[kOffs];    /* byte offsets of the swizzled chunk for s % kOffs */

    __device__ __forceinline__ void init(uint32_t tile, int row0, int h) {
        base = tile + row0 * kChunks * 16;
        const int k = fc_swizzle<kChunks>::key(row0);
#pragma unroll
        for (int i = 0; i < kOffs; ++i) off[i] = (uint32_t)(((2 * i + h) ^ k) * 16);
    }
    /* Address for row_base (multiple of 16, compile time or not) and column pair s (compile time). */
    __device__ __forceinline__ uint32_t at(int row_base, int s) const {
        const int grp = (2 * s) & ~(fc_swizzle<kChunks>::kGroup - 1);
        return base + row_base * kChunks * 16 + grp * 16 + off[s % kOffs];
    }
};

/*
 * Asynchronous copies of [kRows x kChunks*8] tiles from global memory (row stride in elements, last
 * dim contiguous) into swizzled shared tiles, for kThreads threads.
 *
 * Thread t owns chunk column c = t % kTPR (+ kTPR*j) of rows r0 = t / kTPR (+ kStep*i), with kTPR =
 * the swizzle group (8 or 4 chunks = 128 or 64 contiguous bytes per row segment, so a warp reads
 * whole 32-byte sectors) and kStep = kThreads / kTPR rows. kStep is a multiple of 8, so every row a
 * thread touches has the same swizzle key and every shared address is the thread's base plus a
 * compile-time offset. The global address advances by one 64-bit add per row step; the empty asm
 * keeps the compiler from hoisting a table of per-row 64-bit offsets out of the mainloop (which
 * would cost two registers per row and spill the accumulators).
 *
 * Rows >= rows_valid and chunks >= chunks_valid are zero-filled (sequence tails, padded head dims),
 * so no garbage (NaN) ever reaches the tensor cores; their source addresses are never read.
 */
template <int kChunks, int kThreads>
struct fc_tile_loader {
    static constexpr int kTPR = fc_swizzle<kChunks>::kGroup; /* threads per row segment */
    static constexpr int kStep = kThreads / kTPR;            /* rows between a thread's rows */
    static_assert(kThreads % kTPR == 0 && kStep % 8 == 0, "loader layout keeps the swizzle key fixed");
    int r0;          /* first row of this thread */
    int c0;          /* first chunk of this thread */
    uint32_t s_off;  /* shared byte offset of (r0, c0) inside a tile */

    __device__ __forceinline__ void init(int tid) {
        r0 = tid / kTPR;
        c0 = tid % kTPR;
        s_off = (uint32_t)fc_swizzle<kChunks>::offset(r0, c0);
    }

    /* Copy rows [0, kRows) of the tile whose first row is at gmem. */
    template <int kRows, typename T>
    __device__ __forceinline__ void load(uint32_t smem_tile, const T *gmem, int64_t row_stride, int rows_valid,
                                         int chunks_valid) const {
        static_assert(kRows % kStep == 0, "tile rows must split evenly among the thread rows");
        const T *src = gmem + r0 * row_stride + c0 * 8;
        const int64_t step = kStep * row_stride;
#pragma unroll
        for (int i = 0; i < kRows / kStep; ++i) {
            const bool row_ok = r0 + i * kStep < rows_valid;
#pragma unroll
            for (int j = 0; j < kChunks / kTPR; ++j) {
                const bool ok = row_ok && c0 + j * kTPR < chunks_valid;
                /* The swizzle key of row r0 + i*kStep is that of r0: offsets are compile-time. */
                const uint32_t dst = smem_tile + s_off + (uint32_t)((i * kStep * kChunks + j * kTPR) * 16);
                fc_cp_async_16(dst, src + j * kTPR * 8, ok);
            }
            src += step;
            asm volatile("" : "+l"(src));
        }
    }
};

#endif
