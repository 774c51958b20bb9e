/*
 * The two products of one mainloop step of the portable kernel, for one warp:
 *   S  = Q K^T   (kMT m16 tiles x kN keys; Q from registers or from shared memory)
 *   O += P V     (P from the S registers, repacked as A fragments: no trip through shared memory)
 * and the conversion of the fp32 probabilities into those A fragments.
 */
#ifndef FC_CUDA_SM80_MAINLOOP_CUH
#define FC_CUDA_SM80_MAINLOOP_CUH

#include "cuda/common/mma.cuh"
#include "cuda/common/smem.cuh"
#include "cuda/common/mask.cuh"
#include "cuda/common/softmax.cuh"
#include "cuda/sm80/fwd_args.h"
#include "cuda/tile_config.h"

/*
 * Q and V are read with one lane addressing (fc_ldsm_addr la: row0 = lane%8 + 8*(lane/8 % 2), chunk
 * half h = lane/16, based at the Q tile), so one table of swizzled offsets serves both; the V tiles
 * are compile-time (or per-stage) byte offsets from it. With that lane pattern the four 8x8
 * matrices of one ldmatrix.x4 are
 *   m0 = rows 0-7, chunk 2s;  m1 = rows 8-15, chunk 2s;  m2 = rows 0-7, chunk 2s+1;  m3 = rows 8-15, chunk 2s+1
 * which is the A fragment (a0..a3) of Q, and for V (.trans, rows = keys) (m0, m1) is the B fragment
 * of d-tile 2s and (m2, m3) that of d-tile 2s+1. For K (rows = keys) it would give the B fragments
 * (m0, m2) of keys 0-7 and (m1, m3) of keys 8-15, and mma wants each as a register pair: ptxas
 * then copies them (about two moves per fragment, 100-700 per kernel; bench/NOTES.md v7). So on
 * the fc_key_pairs() tiles K is read with the lanes' matrix roles swapped (row0 = lane%8 +
 * 8*(lane/16), h = lane/8 % 2):
 *   m0 = keys 0-7, chunk 2s;  m1 = keys 0-7, chunk 2s+1;  m2 = keys 8-15, chunk 2s;  m3 = keys 8-15, chunk 2s+1
 * the pairs (m0, m1) and (m2, m3). Both patterns have the same swizzle key (row0 % 8 = lane % 8) and
 * h sets bit 0 of the chunk alone, so a lane's K address is its Q/V address plus a lane constant
 * (fc_k_lane_shift): one register, not a second offset table.
 */

/* Which tiles read K with the shifted lanes: all of them. On the 32-rows-per-warp tiles (hd 64-128)
 * it gained 8-15 % (bench/NOTES.md v7); on the 16-rows-per-warp pipelined hd 192/256 tiles, where
 * each K fragment feeds one mma, 0-2 % (v8; the swapped-layout way of getting pairs had lost 2-4 %
 * there, v7). Dev knob FC_SM80_KEY_PAIRS (A/B): 0 = on no tile, 1 = only on kMT >= 2 tiles, 2 = on
 * every tile. */
#ifndef FC_SM80_KEY_PAIRS
#define FC_SM80_KEY_PAIRS 2
#endif
template <int kMT>
static __device__ __forceinline__ constexpr bool fc_key_pairs() {
    return FC_SM80_KEY_PAIRS == 2 || (FC_SM80_KEY_PAIRS == 1 && kMT >= 2);
}

/* Byte offset from a lane's Q/V ldmatrix address to its K address (see above). */
template <int kChunks>
static __device__ __forceinline__ uint32_t fc_k_lane_shift(int lane) {
    const int key = fc_swizzle<kChunks>::key(lane & 7);
    const int hq = lane >> 4, hk = (lane >> 3) & 1;
    const int rows = (hq - hk) * 8;
    const int chunk = ((hk ^ key) & 1) - ((hq ^ key) & 1);
    return (uint32_t)(rows * kChunks * 16 + chunk * 16);
}

/* A fragments of the warp's Q rows for k-step ks (kMT m16 tiles). */
template <int kMT, int kChunks>
static __device__ __forceinline__ void fc_load_q_frag(const fc_ldsm_addr<kChunks> &la, int warp_row, int ks,
                                                      uint32_t (&a)[kMT][4]) {
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt) fc_ldsm_x4(la.at(warp_row + mt * 16, ks), a[mt]);
}

/*
 * S = Q K^T for one key tile of kN keys; k_off: byte offset of the K buffer in use from the Q tile
 * (plus the lane's fc_k_lane_shift on the fc_key_pairs() tiles).
 * One ldmatrix.x4 yields the B fragments of two n8 tiles, each used by kMT mma's.
 */
template <typename T, int kMT, int kNT, int kKS, bool kQRegs, int kQM, int kQK, int kChunks>
static __device__ __forceinline__ void fc_gemm_qk(float (&s)[kMT][kNT][4], const uint32_t (&qr)[kQM][kQK][4],
                                                  const fc_ldsm_addr<kChunks> &la, int warp_row, uint32_t k_off) {
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
        for (int nt = 0; nt < kNT; ++nt) s[mt][nt][0] = s[mt][nt][1] = s[mt][nt][2] = s[mt][nt][3] = 0.0f;
#pragma unroll
    for (int ks = 0; ks < kKS; ++ks) {
        uint32_t a[kMT][4];
        if constexpr (kQRegs) {
            static_assert(kQM == kMT && kQK == kKS, "Q register fragments");
#pragma unroll
            for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
                for (int i = 0; i < 4; ++i) a[mt][i] = qr[mt][ks][i];
        } else {
            fc_load_q_frag<kMT>(la, warp_row, ks, a);
        }
#pragma unroll
        for (int np = 0; np < kNT / 2; ++np) {
            uint32_t b[4];
            fc_ldsm_x4(la.at(np * 16, ks) + k_off, b);
#pragma unroll
            for (int mt = 0; mt < kMT; ++mt) {
                fc_mma<T>::run(s[mt][2 * np], a[mt], b[0], fc_key_pairs<kMT>() ? b[1] : b[2]);
                fc_mma<T>::run(s[mt][2 * np + 1], a[mt], fc_key_pairs<kMT>() ? b[2] : b[1], b[3]);
            }
        }
    }
}

/* Probabilities (fp32, C layout) -> A fragments of P V: the C tiles of keys 16j..16j+7 and
 * 16j+8..16j+15 are exactly the A fragment of k-step j. */
template <typename T, int kMT, int kNT>
static __device__ __forceinline__ void fc_pack_p(const float (&s)[kMT][kNT][4], uint32_t (&pa)[kMT][kNT / 2][4]) {
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
        for (int j = 0; j < kNT / 2; ++j) {
            pa[mt][j][0] = fc_mma<T>::pack(s[mt][2 * j][0], s[mt][2 * j][1]);
            pa[mt][j][1] = fc_mma<T>::pack(s[mt][2 * j][2], s[mt][2 * j][3]);
            pa[mt][j][2] = fc_mma<T>::pack(s[mt][2 * j + 1][0], s[mt][2 * j + 1][1]);
            pa[mt][j][3] = fc_mma<T>::pack(s[mt][2 * j + 1][2], s[mt][2 * j + 1][3]);
        }
}

/* O += P V for one key tile; v_off: byte offset of the V buffer in use from the Q tile. One
 * ldmatrix.x4.trans yields two d8 tiles. */
template <typename T, int kMT, int kPS, int kDT, int kChunks>
static __device__ __forceinline__ void fc_gemm_pv(float (&o)[kMT][kDT][4], const uint32_t (&pa)[kMT][kPS][4],
                                                  const fc_ldsm_addr<kChunks> &la, uint32_t v_off) {
#pragma unroll
    for (int j = 0; j < kPS; ++j) {
#pragma unroll
        for (int dp = 0; dp < kDT / 2; ++dp) {
            uint32_t b[4];
            fc_ldsm_x4_trans(la.at(j * 16, dp) + v_off, b);
#pragma unroll
            for (int mt = 0; mt < kMT; ++mt) {
                fc_mma<T>::run(o[mt][2 * dp], pa[mt][j], b[0], b[1]);
                fc_mma<T>::run(o[mt][2 * dp + 1], pa[mt][j], b[2], b[3]);
            }
        }
    }
}

/* What both mainloops need besides the register state: the CTA's K/V rows and key-block range. */
template <typename T>
struct fc_loop_ctx {
    const T *kg, *vg;           /* key 0 of this (sequence, kv head): for the prologue */
    /* The same two pointers in shared memory, read by the steady state after each barrier: two
     * 64-bit values kept in registers across the mainloop would be the first to spill. */
    const T *const *kv_smem;
    int64_t k_row_stride, v_row_stride;
    int sk, off;                /* seqlen_k, seqlen_k - seqlen_q */
    int nb_hi, n_tiles;         /* key blocks nb_hi-1-t*G for t < n_tiles (G: the config's key groups) */
    int chunks_valid;           /* head_dim / 8 */
    int m0, wrow, lane;         /* first query row of the CTA, the warp's first row in it */
    uint32_t k_shift;           /* fc_k_lane_shift of the lane on the fc_key_pairs() tiles, else 0 */
    int plain_lo, plain_hi;     /* key blocks that need no element-wise mask (fc_plain_blocks) */
};

/* Score transform (softcap / sign) and, for key blocks that cross a mask edge, the element-wise
 * mask of one warp's S tile. nb: the key block. */
template <int kM, int kN, int kMT, int kNT, typename T>
static __device__ __forceinline__ void fc_score_tile(float (&s)[kMT][kNT][4], const fc_sm80_args &a, int nb,
                                                     const fc_loop_ctx<T> &c) {
    fc_transform_scores(s, a.softcap_on, a.p.softcap_scale, a.flip_sign);
    if (nb < c.plain_lo || nb > c.plain_hi) {
        int lo0, hi0, end;
        fc_mask_limits<kN + kM>(c.m0 + c.wrow, nb * kN, c.sk, c.off, a.window_left, a.window_right, &lo0, &hi0, &end);
        fc_apply_mask(s, lo0, hi0, end, c.lane);
    }
}

/* Barrier of the calling thread's key group: the whole CTA when there is one group (bar 0), else
 * named barrier 1 + group over the group's threads (the groups run different key blocks, so
 * their barrier counts differ). */
template <int kCfg>
static __device__ __forceinline__ void fc_group_sync() {
    constexpr fc_tile_cfg kC = fc_cfg_get(kCfg);
    if constexpr (kC.groups == 1) {
        __syncthreads();
    } else {
        constexpr int kGroupThreads = fc_cfg_group_warps(kC) * 32;
        asm volatile("bar.sync %0, %1;\n" ::"r"(1 + (int)threadIdx.x / kGroupThreads), "n"(kGroupThreads) : "memory");
    }
}

/* Tile loader of a key group of kThreads threads. The common loader keeps each thread on rows 8k
 * apart (one swizzle key, compile-time shared offsets); a one-warp group at 8 chunks a row would
 * step 4 rows, so it runs the 64-thread loader as both halves, thread t doing t's and t+32's rows
 * (tile_config.h, fc_cfg_load_step). */
template <int kChunks, int kThreads>
struct fc_group_loader {
    fc_tile_loader<kChunks, 2 * kThreads> lo, hi;
    __device__ __forceinline__ void init(int tid) {
        lo.init(tid);
        hi.init(tid + kThreads);
    }
    template <int kRows, typename T>
    __device__ __forceinline__ void load(uint32_t smem_tile, const T *gmem, int64_t row_stride, int rows_valid,
                                         int chunks_valid) const {
        lo.template load<kRows>(smem_tile, gmem, row_stride, rows_valid, chunks_valid);
        hi.template load<kRows>(smem_tile, gmem, row_stride, rows_valid, chunks_valid);
    }
};
template <int kChunks, int kThreads, bool kHalves = (kThreads / fc_swizzle<kChunks>::kGroup) % 8 != 0>
struct fc_group_loader_of {
    typedef fc_tile_loader<kChunks, kThreads> type;
};
template <int kChunks, int kThreads>
struct fc_group_loader_of<kChunks, kThreads, true> {
    typedef fc_group_loader<kChunks, kThreads> type;
};

/* Load key block nb (K or V) into the buffer at byte offset `dst` from the Q tile. */
template <int kN, typename T, typename Loader>
static __device__ __forceinline__ void fc_load_kv(const Loader &ld, uint32_t dst, const T *g, int64_t row_stride,
                                                  int nb, const fc_loop_ctx<T> &c) {
    ld.template load<kN>(dst, g + (int64_t)nb * kN * row_stride, row_stride, c.sk - nb * kN, c.chunks_valid);
}

/* Where the two-phase loop waits for V(t) and issues K(t+kS) (dev knob FC_SM80_EARLY_V):
 * 0 = after the softmax (K's load hides behind P.V only, V's behind Q.K^T and the softmax);
 * 1 (default) = on the 16-rows-per-warp tiles (config 18, tuning 17), right after the scores,
 * FA2's order (K's load hides behind the softmax and P.V, V's behind Q.K^T only): +0.1 .. +2.4 %
 * on the causal hd-256 rows config 18 runs, -0.7 % on the one non-causal row it runs (S 512; H200,
 * bench/NOTES.md v9). On the 32-rows-per-warp tiles that order spills (24-64 bytes, nvcc 13), so
 * they keep 0. */
#ifndef FC_SM80_EARLY_V
#define FC_SM80_EARLY_V 1
#endif

/* The two-phase loop's second hand-over of step t: V(t) landed for every warp, all reads of K(t)
 * done, so K(t+kS) may go into K(t)'s buffer. */
template <int kN, int kCfg, typename T, typename Loader>
static __device__ __forceinline__ void fc_wait_v_issue_k(const Loader &ld, const fc_loop_ctx<T> &c, uint32_t k_base,
                                                         uint32_t kv_bytes, int t) {
    constexpr fc_tile_cfg kC = fc_cfg_get(kCfg);
    constexpr int kS = kC.stages;
    fc_cp_async_wait<2 * kS - 2>(); /* V(t) */
    fc_group_sync<kCfg>();
    const int tk = t + kS;
    if (tk < c.n_tiles)
        fc_load_kv<kN>(ld, k_base + (tk % kS) * kv_bytes, c.kv_smem[0], c.k_row_stride, c.nb_hi - 1 - tk * kC.groups, c);
    fc_cp_async_commit();
}

/*
 * Two-phase mainloop (K runs one buffer ahead of V; kStages buffers each; two barriers per step).
 * Commit groups, oldest first: {Q, K(0)}, V(0), K(1), ..., V(S-2), K(S-1) (Q was issued by the
 * caller, so it joins the first group); then per step V(t+S-1) and K(t+S). Waiting for K(t) or V(t)
 * leaves the 2S-2 younger groups in flight.
 */
template <typename T, int kD, int kCfg, typename Loader, typename Addr, int kMT, int kDT>
static __device__ __forceinline__ void fc_mainloop_two_phase(const fc_sm80_args &a, const fc_loop_ctx<T> &c,
                                                             const Loader &ld, const Addr &la, uint32_t sQ,
                                                             float (&o)[kMT][kDT][4], float (&row_max)[kMT][2],
                                                             float (&row_sum)[kMT][2], float (&row_comp)[kMT][2]) {
    constexpr fc_tile_cfg kC = fc_cfg_get(kCfg);
    constexpr int kM = kC.m, kN = kC.n, kS = kC.stages;
    constexpr int kNT = kN / 8, kKS = kD / 16, kPS = kN / 16;
    constexpr bool kQRegs = kC.q_regs != 0;
    constexpr uint32_t kQBytes = kM * kD * 2, kKVBytes = kN * kD * 2;
    constexpr uint32_t kKOff = kQBytes, kVOff = kQBytes + kS * kKVBytes;
    constexpr int kInFlight = 2 * kS - 2;
    constexpr int kG = kC.groups; /* key block of step t: nb_hi - 1 - t * kG (see fc_loop_ctx) */

    /* prologue (Q already issued by the caller) */
#pragma unroll
    for (int s = 0; s < kS; ++s) {
        if (s < c.n_tiles) fc_load_kv<kN>(ld, sQ + kKOff + s * kKVBytes, c.kg, c.k_row_stride, c.nb_hi - 1 - s * kG, c);
        fc_cp_async_commit();
        if (s < kS - 1) {
            if (s < c.n_tiles) fc_load_kv<kN>(ld, sQ + kVOff + s * kKVBytes, c.vg, c.v_row_stride, c.nb_hi - 1 - s * kG, c);
            fc_cp_async_commit();
        }
    }
    uint32_t qr[kQRegs ? kMT : 1][kQRegs ? kKS : 1][4];
    if constexpr (kQRegs) {
        fc_cp_async_wait<2 * kS - 2>(); /* {Q, K(0)} landed */
        fc_group_sync<kCfg>();
#pragma unroll
        for (int ks = 0; ks < kKS; ++ks) {
            uint32_t f[kMT][4];
            fc_load_q_frag<kMT>(la, c.wrow, ks, f);
#pragma unroll
            for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
                for (int i = 0; i < 4; ++i) qr[mt][ks][i] = f[mt][i];
        }
    }

    for (int t = 0; t < c.n_tiles; ++t) {
        const int nb = c.nb_hi - 1 - t * kG;
        const uint32_t stage = (uint32_t)(t % kS) * kKVBytes;

        fc_cp_async_wait<kInFlight>(); /* K(t) */
        fc_group_sync<kCfg>();
        {
            const int tv = t + kS - 1;
            if (tv < c.n_tiles)
                fc_load_kv<kN>(ld, sQ + kVOff + (tv % kS) * kKVBytes, c.kv_smem[1], c.v_row_stride, c.nb_hi - 1 - tv * kG, c);
            fc_cp_async_commit();
        }
        float s[kMT][kNT][4], corr[kMT][2];
        fc_gemm_qk<T, kMT, kNT, kKS, kQRegs>(s, qr, la, c.wrow, c.k_shift + kKOff + stage);
        constexpr bool kEarlyV = FC_SM80_EARLY_V && kMT == 1;
        if constexpr (kEarlyV) fc_wait_v_issue_k<kN, kCfg>(ld, c, sQ + kKOff, kKVBytes, t);
        fc_score_tile<kM, kN>(s, a, nb, c);
        const bool moved = fc_softmax_step(s, row_max, row_sum, row_comp, a.exp_mult, corr);
        fc_rescale_o(o, corr, moved);
        uint32_t pa[kMT][kPS][4];
        fc_pack_p<T>(s, pa);

        if constexpr (!kEarlyV) fc_wait_v_issue_k<kN, kCfg>(ld, c, sQ + kKOff, kKVBytes, t);
        fc_gemm_pv<T, kMT, kPS, kDT>(o, pa, la, kVOff + stage);
    }
    fc_cp_async_wait<0>();
}

/*
 * Pipelined mainloop (kStages >= 2 buffers each for K and V, one barrier per step). Step t needs
 * K(t+1) (for the scores of tile t+1) and V(t) (for P(t) V(t)); it issues K(t+S) and V(t+S-1)
 * into the buffers of K(t) and V(t-1), whose last readers finished before the step's barrier.
 * Commit groups: {Q, K(0)}, {K(1), V(0)}, ..., {K(S-1), V(S-2)}, then one per step; K(t+1) and
 * V(t) sit in the same group, with S-2 younger ones allowed in flight.
 */
template <typename T, int kD, int kCfg, typename Loader, typename Addr, int kMT, int kDT>
static __device__ __forceinline__ void fc_mainloop_pipelined(const fc_sm80_args &a, const fc_loop_ctx<T> &c,
                                                             const Loader &ld, const Addr &la, uint32_t sQ,
                                                             float (&o)[kMT][kDT][4], float (&row_max)[kMT][2],
                                                             float (&row_sum)[kMT][2], float (&row_comp)[kMT][2]) {
    constexpr fc_tile_cfg kC = fc_cfg_get(kCfg);
    constexpr int kM = kC.m, kN = kC.n, kS = kC.stages;
    static_assert(kS >= 2, "the pipelined mainloop needs two buffers at least");
    static_assert(kC.groups == 1, "the key-group split runs the two-phase mainloop");
    constexpr int kNT = kN / 8, kKS = kD / 16, kPS = kN / 16;
    constexpr bool kQRegs = kC.q_regs != 0;
    constexpr uint32_t kQBytes = kM * kD * 2, kKVBytes = kN * kD * 2;
    constexpr uint32_t kKOff = kQBytes, kVOff = kQBytes + kS * kKVBytes;

    /* prologue (Q already issued by the caller) */
    fc_load_kv<kN>(ld, sQ + kKOff, c.kg, c.k_row_stride, c.nb_hi - 1, c);
    fc_cp_async_commit();
#pragma unroll
    for (int s = 1; s < kS; ++s) {
        if (s < c.n_tiles) fc_load_kv<kN>(ld, sQ + kKOff + s * kKVBytes, c.kg, c.k_row_stride, c.nb_hi - 1 - s, c);
        if (s - 1 < c.n_tiles)
            fc_load_kv<kN>(ld, sQ + kVOff + (s - 1) * kKVBytes, c.vg, c.v_row_stride, c.nb_hi - s, c);
        fc_cp_async_commit();
    }
    fc_cp_async_wait<kS - 1>(); /* {Q, K(0)} */
    __syncthreads();
    uint32_t qr[kQRegs ? kMT : 1][kQRegs ? kKS : 1][4];
    if constexpr (kQRegs) {
#pragma unroll
        for (int ks = 0; ks < kKS; ++ks) {
            uint32_t f[kMT][4];
            fc_load_q_frag<kMT>(la, c.wrow, ks, f);
#pragma unroll
            for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
                for (int i = 0; i < 4; ++i) qr[mt][ks][i] = f[mt][i];
        }
    }

    /* first tile: scores and probabilities only (O is still zero) */
    uint32_t pa[kMT][kPS][4], pb[kMT][kPS][4];
    {
        float s[kMT][kNT][4], corr[kMT][2];
        fc_gemm_qk<T, kMT, kNT, kKS, kQRegs>(s, qr, la, c.wrow, c.k_shift + kKOff);
        fc_score_tile<kM, kN>(s, a, c.nb_hi - 1, c);
        (void)fc_softmax_step(s, row_max, row_sum, row_comp, a.exp_mult, corr);
        fc_pack_p<T>(s, pa);
    }

    /* Steady state, two steps per trip so P(t) and P(t+1) alternate between pa and pb without
     * register copies. */
    auto step = [&](int t, const uint32_t(&p_cur)[kMT][kPS][4], uint32_t(&p_next)[kMT][kPS][4]) {
        fc_cp_async_wait<kS - 2>(); /* K(t+1), V(t) */
        __syncthreads();
        {
            const int tk = t + kS, tv = t + kS - 1;
            if (tk < c.n_tiles)
                fc_load_kv<kN>(ld, sQ + kKOff + (tk % kS) * kKVBytes, c.kv_smem[0], c.k_row_stride, c.nb_hi - 1 - tk, c);
            if (tv < c.n_tiles)
                fc_load_kv<kN>(ld, sQ + kVOff + (tv % kS) * kKVBytes, c.kv_smem[1], c.v_row_stride, c.nb_hi - 1 - tv, c);
            fc_cp_async_commit();
        }
        float s[kMT][kNT][4], corr[kMT][2];
        fc_gemm_qk<T, kMT, kNT, kKS, kQRegs>(s, qr, la, c.wrow, c.k_shift + kKOff + ((t + 1) % kS) * kKVBytes);
        fc_score_tile<kM, kN>(s, a, c.nb_hi - 2 - t, c);
        /* overlapped: P(t) V(t) on the tensor pipe, softmax of tile t+1 on the others */
        fc_gemm_pv<T, kMT, kPS, kDT>(o, p_cur, la, kVOff + (t % kS) * kKVBytes);
        const bool moved = fc_softmax_step(s, row_max, row_sum, row_comp, a.exp_mult, corr);
        fc_pack_p<T>(s, p_next);
        fc_rescale_o(o, corr, moved);
    };
    auto last = [&](const uint32_t(&p_cur)[kMT][kPS][4]) {
        fc_cp_async_wait<0>(); /* V(n-1) */
        __syncthreads();
        fc_gemm_pv<T, kMT, kPS, kDT>(o, p_cur, la, kVOff + ((c.n_tiles - 1) % kS) * kKVBytes);
    };
    for (int t = 0;; t += 2) {
        if (t + 1 >= c.n_tiles) {
            last(pa);
            break;
        }
        step(t, pa, pb);
        if (t + 2 >= c.n_tiles) {
            last(pb);
            break;
        }
        step(t + 1, pb, pa);
    }
}

#endif
