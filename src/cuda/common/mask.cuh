/*
 * Masking for the portable kernels. Query row i (0-based in its sequence) may attend to key j iff
 *     i + off - window_left <= j <= i + off + window_right,   off = seqlen_k - seqlen_q,
 * with an edge of -1 unbounded, and j < seqlen_k. Causal is window_right = 0 (bottom-right).
 *
 * Tiles are classified per CTA (uniformly): a key tile outside every row's range is never visited
 * (the mainloop's block range excludes it), a tile inside every row's range runs unmasked, and only
 * tiles crossing an edge pay for the element-wise test below.
 */
#ifndef FC_CUDA_COMMON_MASK_CUH
#define FC_CUDA_COMMON_MASK_CUH

#include <stdint.h>
#include <math.h>
#include <limits.h>

/* Key range [lo, hi) of query row `row`. Computed in 64 bits: windows are clamped by the launch code
 * to at most seqlen_q + seqlen_k, but row + off + window can still pass 2^31 for huge sequences. */
static __device__ __forceinline__ void fc_key_range(int row, int sk, int off, int wl, int wr, int &lo,
                                                    int &hi) {
    const long long base = (long long)row + off;
    long long h = sk, l = 0;
    if (wr >= 0) h = min(h, base + wr + 1);
    if (wl >= 0) l = max(l, base - wl);
    hi = (int)max(h, -1LL);
    lo = (int)min(l, (long long)sk + 1);
}

/* Key-block range [*nb_lo, *nb_hi) of blocks of kN keys that rows [m_first, m_last] touch. */
static __device__ __forceinline__ void fc_block_range(int m_first, int m_last, int sk, int off, int wl,
                                                      int wr, int kN, int *nb_lo, int *nb_hi) {
    int lo_first, hi_first, lo_last, hi_last;
    fc_key_range(m_first, sk, off, wl, wr, lo_first, hi_first);
    fc_key_range(m_last, sk, off, wl, wr, lo_last, hi_last);
    /* lo and hi are non-decreasing in the row: the union is [lo(first), hi(last)). */
    const int lo = lo_first, hi = hi_last;
    *nb_lo = lo / kN;
    *nb_hi = hi > lo ? (hi + kN - 1) / kN : *nb_lo;
}

/* Key blocks of kN keys that rows [m_first, m_last] run without the element-wise mask: those in
 * [*lo, *hi], i.e. below seqlen_k and inside both window edges of every row (the others cross an
 * edge; *lo > *hi when none is plain). Two ints computed once, so the mainloop's test per block is
 * two compares and no 64-bit values stay live across it. */
static __device__ __forceinline__ void fc_plain_blocks(int kN, int m_first, int m_last, int sk, int off, int wl,
                                                       int wr, int *lo, int *hi) {
    long long last = (long long)sk - 1; /* last key every row sees */
    if (wr >= 0) last = min(last, (long long)m_first + off + wr);
    long long first = 0; /* first key every row sees */
    if (wl >= 0) first = max(first, (long long)m_last + off - wl);
    /* block nb is plain iff nb*kN >= first and nb*kN + kN - 1 <= last */
    const long long h = last + 1 >= 0 ? (last + 1) / kN - 1 : -1;
    const long long l = (first + kN - 1) / kN;
    *hi = (int)min(h, (long long)INT_MAX);
    *lo = (int)min(l, (long long)INT_MAX);
}

/*
 * Element-wise mask of one warp's S tile (kMT m16 tiles x kNT n8 tiles, mma C layout) to -inf.
 * The key limits of the warp's first row are taken relative to the tile's first key and clamped
 * (everything beyond the tile is equivalent), so the per-element work is small int compares:
 *   lo0, hi0: key range [lo0, hi0) of the warp's first row, relative to the tile;
 *   end: seqlen_k relative to the tile. Row k of the warp (k = 0..kMT*16-1) has [lo0 + k, hi0 + k).
 */
template <int kMT, int kNT>
static __device__ __forceinline__ void fc_apply_mask(float (&s)[kMT][kNT][4], int lo0, int hi0, int end, int lane) {
    /* Element (row k, column c) of the thread: k = mt*16 + 8r + lane/4, c = nt*8 + e + 2*(lane%4).
     * Fold the lane parts into the limits once, so each test compares compile-time constants
     * against one register: c < lo0 + k  <=>  nt*8 + e - mt*16 - 8r < lo. */
    const int lq = lane >> 2, lc = 2 * (lane & 3);
    const int lo = lo0 + lq - lc, hi = hi0 + lq - lc, en = end - lc;
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
        for (int r = 0; r < 2; ++r)
#pragma unroll
            for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
                for (int e = 0; e < 2; ++e) {
                    const int c = nt * 8 + e, k = mt * 16 + 8 * r;
                    if (c - k < lo || c - k >= hi || c >= en) s[mt][nt][2 * r + e] = -INFINITY;
                }
}

/* The relative limits fc_apply_mask takes, for the warp whose first row is `row` and the tile whose
 * first key is `col`; kSpan bounds how far past the tile a limit can matter (tile width + rows). */
template <int kSpan>
static __device__ __forceinline__ void fc_mask_limits(int row, int col, int sk, int off, int wl, int wr, int *lo0,
                                                      int *hi0, int *end) {
    const long long base = (long long)row + off - col;
    const long long big = kSpan;
    long long h = wr >= 0 ? base + wr + 1 : big;
    long long l = wl >= 0 ? base - wl : -big;
    h = h > big ? big : (h < -big ? -big : h);
    l = l > big ? big : (l < -big ? -big : l);
    long long e = (long long)sk - col;
    e = e > big ? big : e;
    *lo0 = (int)l;
    *hi0 = (int)h;
    *end = (int)e;
}

#endif
