/*
 * Producer and consumer main loops of the sm90 forward kernel, and what they share: the kernel
 * arguments, the shared-memory carve-up and the per-CTA block description.
 *
 * Shared memory (every tile 1024-byte aligned, the 128-byte swizzle atom): a tile of R rows by the
 * padded head dim is stored as head_dim/64 chunks of R rows x 128 bytes, each written by one TMA
 * box {64 columns, R rows} with CU_TENSOR_MAP_SWIZZLE_128B.
 *
 * Pipeline: full_k/full_v[s] complete when the TMA bytes of stage s land (transaction count);
 * empty_k/empty_v[s] complete when all 8 consumer warps are done reading it. K and V have separate
 * barriers so that K of the next block can stream in while P V of the current one still reads V.
 */
#ifndef FC_SM90_MAINLOOP_H
#define FC_SM90_MAINLOOP_H

#include <cuda.h>
#include "params.h"
#include "sm90_config.h"
#include "sm90_primitives.h"
#include "sm90_softmax.h"
#include "wgmma_ops.h"

typedef struct fc_sm90_args {
    CUtensorMap tm_q; /* 4-D {head_dim, rows, heads, batch}, box {64, 128, 1, 1} */
    CUtensorMap tm_k; /* box {64, block_n, 1, 1} */
    CUtensorMap tm_v;
#if FC_SM90_TMA_STORE
    CUtensorMap tm_o; /* box {64, 64, 1, 1}: one consumer warpgroup's rows; valid when o_tma */
#endif
    fc_fwd_params p;
    float c_log2;     /* multiplies a (post-softcap) score into log2 units */
    float cap_pre;    /* softcap: s = cap_post * tanh(s * cap_pre) */
    float cap_post;
    int num_m_blocks; /* ceil(seqlen_q / block_m) (max seqlen in varlen) */
    int num_tiles;    /* num_m_blocks * heads_q * batch */
    int num_splits;   /* CTAs (one cluster) sharing a tile's key blocks; 1 = no split */
    int num_slots;    /* work slots per (sequence, head): num_m_blocks, rounded up to even when paired */
    int chunk;        /* consecutive work items one CTA takes at a time: 2 = causal pairs, else 1 */
    int num_work;     /* num_slots * heads_q * batch * num_splits: work items, one (tile, split) each */
#if FC_SM90_TMA_STORE
    int o_tma;        /* 1: O leaves through tm_o (batched layouts TMA can describe); 0: plain stores */
#endif
} fc_sm90_args;

template <int kD> struct fc_sm90_smem {
    unsigned char *q;
    unsigned char *k; /* stages x (block_n x kD) */
    unsigned char *v;
    uint64_t *bar_q;       /* Q tile landed (one phase per tile) */
    uint64_t *bar_q_empty; /* both consumer warpgroups are done with the Q tile */
    uint64_t *full_k, *full_v, *empty_k, *empty_v;
    float4 *xch; /* query-row split only: the consumers' merge area (fc_sm90_ws_xchg_bytes) */
#if FC_SM90_TMA_STORE
    unsigned char *o; /* O staging tile (fc_sm90_o_staged), right after the Q tile */
#endif
};

template <int kD, int kBN, bool kWS>
static __device__ __forceinline__ fc_sm90_smem<kD> fc_sm90_smem_carve(unsigned char *raw) {
    constexpr fc_sm90_tile T = fc_sm90_kernel_tile(kD, kBN, kWS);
    fc_sm90_smem<kD> s;
    unsigned char *base = (unsigned char *)(((uintptr_t)raw + 1023) & ~(uintptr_t)1023);
    s.q = base;
#if FC_SM90_TMA_STORE
    s.o = s.q + FC_SM90_BLOCK_M * kD * 2;
    s.k = s.q + FC_SM90_BLOCK_M * kD * 2 + fc_sm90_o_stage_bytes(kD, kBN, kWS);
#else
    s.k = s.q + FC_SM90_BLOCK_M * kD * 2;
#endif
    s.v = s.k + T.stages * T.block_n * kD * 2;
    uint64_t *bars = (uint64_t *)(s.v + T.stages * T.block_n * kD * 2);
    s.bar_q = bars;
    s.bar_q_empty = bars + 1;
    s.full_k = bars + 2;
    s.full_v = s.full_k + T.stages;
    s.empty_k = s.full_v + T.stages;
    s.empty_v = s.empty_k + T.stages;
    s.xch = (float4 *)((unsigned char *)bars + 256); /* fc_sm90_smem_bytes reserves 256 for the barriers */
    return s;
}

/* What one CTA computes. Rows and keys are counted within the sequence; q_off/k_off are the row
 * coordinates of the sequence's first token in the tensor maps (varlen), b_coord its batch coord. */
typedef struct fc_sm90_block {
    int m0;          /* first query row */
    int h, hk;       /* query head, kv head */
    int b;           /* sequence */
    int b_coord;     /* batch coordinate in the tensor maps (0 in varlen) */
    int sq, sk;
    int q_off, k_off;
    int nb_min, nb_max; /* key blocks [nb_min, nb_max) this CTA visits (its split's share of those
                         * any row of the tile may see; empty for a split with nothing left) */
} fc_sm90_block;

/* Work item w = (slot w / num_splits, split w % num_splits); query blocks of kBM rows (128, or 64
 * for the query-row split). The slots of one (sequence, head) are
 * consecutive, so the CTAs running at any moment share a few heads' K/V in L2 (ordering query
 * blocks outermost made ~132 heads' K/V stream at once from DRAM: 84% DRAM throughput, 0.74x).
 * Within a head: the last (heaviest under a causal mask) query block first; with chunk 2 (causal
 * pairs) slots 2j, 2j+1 are query blocks nm-1-j and j, so each pair costs about the same; a slot past
 * the last pair's end (odd nm) is empty (m0 beyond any sequence). */
template <int kBN, int kBM>
static __device__ __forceinline__ fc_sm90_block fc_sm90_block_info(const fc_sm90_args &a, int work) {
    constexpr int BN = kBN;
    const fc_fwd_params &p = a.p;
    fc_sm90_block k;
    const int slot = work / a.num_splits, split = work - slot * a.num_splits;
    const int bh = slot / a.num_slots, j = slot - bh * a.num_slots;
    const int nm = a.num_m_blocks;
    const int mb = a.chunk == 1 ? nm - 1 - j : (j & 1) ? j / 2 : nm - 1 - j / 2;
    k.m0 = j < nm ? mb * kBM : INT32_MAX - FC_SM90_BLOCK_M; /* empty slot: skipped */
    k.h = bh % p.heads_q;
    k.b = bh / p.heads_q;
    k.hk = k.h / p.head_group;
    if (p.cu_seqlens_q) {
        k.q_off = p.cu_seqlens_q[k.b];
        k.sq = p.cu_seqlens_q[k.b + 1] - k.q_off;
        k.k_off = p.cu_seqlens_k[k.b];
        k.sk = p.cu_seqlens_k[k.b + 1] - k.k_off;
        k.b_coord = 0;
    } else {
        k.q_off = 0;
        k.k_off = 0;
        k.sq = p.seqlen_q;
        k.sk = p.seqlen_k;
        k.b_coord = k.b;
    }
    const int m_last = min(k.m0 + kBM, k.sq) - 1;
    const int off = k.sk - k.sq;
    const int hi = p.window_right < 0 ? k.sk : min(k.sk, m_last + off + p.window_right + 1);
    const int lo = p.window_left < 0 ? 0 : max(0, k.m0 + off - p.window_left);
    k.nb_min = lo / BN;
    k.nb_max = hi <= lo ? k.nb_min : (hi + BN - 1) / BN;
    if (a.num_splits > 1) { /* contiguous shares of ceil(blocks / splits); the last ones may be empty */
        const int per = (k.nb_max - k.nb_min + a.num_splits - 1) / a.num_splits;
        k.nb_min = min(k.nb_max, k.nb_min + split * per);
        k.nb_max = min(k.nb_max, k.nb_min + per);
    }
    return k;
}

/* ------------------------------------------------------------------------------------------------
 * Producer: one thread.
 * ---------------------------------------------------------------------------------------------- */
template <int kD, int kBN, bool kWS>
static __device__ __forceinline__ void fc_sm90_producer(const fc_sm90_args &a, const fc_sm90_smem<kD> &sm,
                                                        const fc_sm90_block &blk, int &q_it, int &kv_it) {
    constexpr fc_sm90_tile T = fc_sm90_kernel_tile(kD, kBN, kWS);
    constexpr int BN = T.block_n;
    constexpr int kChunks = kD / FC_SM90_CHUNK;
    if (blk.nb_max <= blk.nb_min) return;

    fc_mbar_wait(sm.bar_q_empty, (q_it & 1) ^ 1);
    ++q_it;
    fc_mbar_expect_tx(sm.bar_q, FC_SM90_BLOCK_M * kD * 2);
#pragma unroll
    for (int ch = 0; ch < kChunks; ++ch)
        fc_tma_load_4d(sm.q + ch * FC_SM90_BLOCK_M * 128, &a.tm_q, ch * FC_SM90_CHUNK, blk.q_off + blk.m0, blk.h,
                       blk.b_coord, sm.bar_q);

    int it = kv_it;
    for (int n = blk.nb_max - 1; n >= blk.nb_min; --n, ++it) {
        const int st = it % T.stages;
        const uint32_t ph = (it / T.stages) & 1;
        const int row = blk.k_off + n * BN;
        fc_mbar_wait(&sm.empty_k[st], ph ^ 1);
        fc_mbar_expect_tx(&sm.full_k[st], BN * kD * 2);
#pragma unroll
        for (int ch = 0; ch < kChunks; ++ch)
            fc_tma_load_4d(sm.k + st * BN * kD * 2 + ch * BN * 128, &a.tm_k, ch * FC_SM90_CHUNK, row, blk.hk,
                           blk.b_coord, &sm.full_k[st]);
        fc_mbar_wait(&sm.empty_v[st], ph ^ 1);
        fc_mbar_expect_tx(&sm.full_v[st], BN * kD * 2);
#pragma unroll
        for (int ch = 0; ch < kChunks; ++ch)
            fc_tma_load_4d(sm.v + st * BN * kD * 2 + ch * BN * 128, &a.tm_v, ch * FC_SM90_CHUNK, row, blk.hk,
                           blk.b_coord, &sm.full_v[st]);
    }
    kv_it = it;
}

/* ------------------------------------------------------------------------------------------------
 * Consumer: one warpgroup, 64 query rows.
 * ---------------------------------------------------------------------------------------------- */

/* S = Q K^T for this warpgroup's 64 rows and the K tile at k_tile (both K-major, 128-byte swizzle).
 * A k-step of 16 columns advances 32 bytes inside a 128-byte row; every 4 steps move to the next chunk. */
template <int kDtype, int kD, int kBN>
static __device__ __forceinline__ void fc_sm90_issue_qk(float (&s)[kBN / 2], uint32_t q_wg, uint32_t k_tile) {
    constexpr int BN = kBN;
#pragma unroll
    for (int kk = 0; kk < kD / 16; ++kk) {
        const uint32_t ch = kk / 4, w = kk % 4;
        const uint64_t da = fc_gmma_desc(q_wg + ch * FC_SM90_BLOCK_M * 128 + w * 32, 16, 1024);
        const uint64_t db = fc_gmma_desc(k_tile + ch * BN * 128 + w * 32, 16, 1024);
        if (kk == 0)
            fc_wgmma_ss<kDtype, BN>::template run<0>(s, da, db); /* S = Q K^T, not S += */
        else
            fc_wgmma_ss<kDtype, BN>::template run<1>(s, da, db);
    }
}

/* O += P V: V tile [block_n keys][kD] is MN-major for this product; a k-step of 16 keys is 16 rows
 * (2048 bytes); the 64-column chunks of the head dim are lbo = block_n*128 bytes apart. */
template <int kDtype, int kD, int kBN>
static __device__ __forceinline__ void fc_sm90_issue_pv(float (&o)[kD / 2], const uint32_t (&P)[kBN / 4],
                                                        uint32_t v_tile) {
    constexpr int BN = kBN;
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk) {
        const uint64_t db = fc_gmma_desc(v_tile + kk * 16 * 128, BN * 128, 1024);
        fc_wgmma_rs<kDtype, kD>::run(o, &P[4 * kk], db);
    }
}

static __device__ __forceinline__ void fc_warp_arrive(uint64_t *bar) {
    if ((threadIdx.x & 31) == 0) fc_mbar_arrive(bar);
}

template <int kDtype, int kD, bool kWS, int kC0, int kC1, bool kLse>
static __device__ __forceinline__ void fc_sm90_epilogue(const fc_sm90_args &a, const fc_sm90_block &blk, int cwg,
                                                        const float (&o)[kD / 2], const float (&m)[2],
                                                        const float (&l)[2]);
#if FC_SM90_TMA_STORE
template <int kDtype, int kD, int kW>
static __device__ __forceinline__ void fc_sm90_epilogue_tma(const fc_sm90_args &a, const fc_sm90_smem<kD> &sm,
                                                            const fc_sm90_block &blk, int cwg, const float (&o)[kD / 2],
                                                            const float (&m)[2], const float (&l)[2]);
template <int kDtype, int kD, bool kWS, int kC0, int kC1, int kChunk0>
static __device__ __forceinline__ void fc_sm90_stage_o(const fc_sm90_smem<kD> &sm, int cwg, const float (&o)[kD / 2],
                                                       const float (&l)[2]);
template <int kD, bool kWS, int kCh0, int kNCh>
static __device__ __forceinline__ void fc_sm90_store_o_tma(const fc_sm90_args &a, const fc_sm90_smem<kD> &sm,
                                                           const fc_sm90_block &blk, int cwg);
static __device__ __forceinline__ void fc_sm90_lse_rows(const fc_sm90_args &a, const fc_sm90_block &blk, int row_w0,
                                                        const float (&m)[2], const float (&l)[2]);
#endif
template <int kD, int kBN>
static __device__ __forceinline__ bool fc_sm90_split_combine(const fc_sm90_args &a, const fc_sm90_smem<kD> &sm,
                                                             float (&o)[kD / 2], float (&m)[2], float (&l)[2]);
template <int kDtype, int kD>
static __device__ __forceinline__ void fc_sm90_ws_merge_store(const fc_sm90_args &a, const fc_sm90_smem<kD> &sm,
                                                              const fc_sm90_block &blk, int cwg, float (&o)[kD / 2],
                                                              float (&m)[2], float (&l)[2]);

/* Ping-pong between the two consumer warpgroups: a warpgroup issues its wgmma batch only in its turn
 * and hands the turn over right after, so the tensor cores run one warpgroup's products while the
 * other one does its softmax. Both warpgroups take the same number of turns per tile (one per key
 * block + 1); consumer 1 grants consumer 0 the first turn, consumer 0 absorbs the last hand-over.
 * Not with the query-row split (kWS), where the warpgroups' block counts may differ. */
template <int kD, bool kWS> static __device__ __forceinline__ void fc_sm90_turn_begin(int cwg) {
    if constexpr (fc_sm90_pingpong(kD) && !kWS) fc_named_bar_sync(FC_SM90_BAR_PINGPONG + cwg, 2 * 128);
}
template <int kD, bool kWS> static __device__ __forceinline__ void fc_sm90_turn_end(int cwg) {
    if constexpr (fc_sm90_pingpong(kD) && !kWS) fc_named_bar_arrive(FC_SM90_BAR_PINGPONG + (cwg ^ 1), 2 * 128);
}

/* One tile for one consumer warpgroup. kWS = false: this warpgroup's 64 of the tile's 128 rows, every
 * key block. kWS = true (query-row split): the tile's 64 rows, every other key block (warpgroup c
 * takes the c-th, (c+2)-th, ... block of the tile's visiting order, i.e. ring items kv_it + c,
 * kv_it + c + 2, ...), then the two merge and each writes half of the head dim. */
template <int kDtype, int kD, int kBN, bool kWS>
static __device__ __forceinline__ void fc_sm90_consumer(const fc_sm90_args &a, const fc_sm90_smem<kD> &sm,
                                                        const fc_sm90_block &blk, int cwg, int &q_it, int &kv_it) {
    constexpr fc_sm90_tile T = fc_sm90_kernel_tile(kD, kBN, kWS);
    constexpr int BN = T.block_n;
    constexpr int kTileBytes = BN * kD * 2;
    constexpr int kStep = kWS ? 2 : 1; /* ring items between two blocks of this warpgroup */
    const fc_fwd_params &p = a.p;

    float o[kD / 2];
#pragma unroll
    for (int k = 0; k < kD / 2; ++k) o[k] = 0.f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};

    if (blk.nb_max > blk.nb_min) {
        const int t = threadIdx.x & 127;
        const int row_w0 = blk.m0 + (kWS ? 0 : 64 * cwg);      /* first row of this warpgroup */
        const int row0 = row_w0 + 16 * (t / 32) + (t & 31) / 4;  /* this thread's row i=0 */
        const int off = blk.sk - blk.sq;
        const int wl = p.window_left, wr = p.window_right;
        const bool softcap = p.softcap > 0.f;
        const uint32_t q_wg = fc_smem_u32(sm.q) + (kWS ? 0 : cwg * 64 * 128);
        const uint32_t k_base = fc_smem_u32(sm.k), v_base = fc_smem_u32(sm.v);

        /* Does key block n need the element-wise mask for any row of this warpgroup? */
        auto need_mask = [&](int n) {
            const int c_lo = n * BN, c_hi = n * BN + BN - 1;
            return !(c_hi < blk.sk && (wr < 0 || c_hi <= row_w0 + off + wr) && (wl < 0 || c_lo >= row_w0 + 63 + off - wl));
        };
        auto scores = [&](float (&s)[BN / 2], int n) {
            if (softcap) fc_sm90_softcap<BN>(s, a.cap_pre, a.cap_post);
            if (need_mask(n)) fc_sm90_apply_mask<BN>(s, row0, n * BN, blk.sk, off, wl, wr);
        };

        fc_mbar_wait(sm.bar_q, q_it & 1);
        ++q_it;

        /* First (last-in-sequence) key block: S, softmax; P V is issued with the next block's S. */
        int n = blk.nb_max - 1 - (kWS ? cwg : 0);
        int it = kv_it + (kWS ? cwg : 0);
        if (!kWS || n >= blk.nb_min) {
            uint32_t P[BN / 4];
            float alpha[2];
            {
                float s[BN / 2];
                fc_mbar_wait(&sm.full_k[it % T.stages], (it / T.stages) & 1);
                fc_sm90_turn_begin<kD, kWS>(cwg);
                fc_reg_fence(s);
                fc_wgmma_fence();
                fc_sm90_issue_qk<kDtype, kD, kBN>(s, q_wg, k_base + (it % T.stages) * kTileBytes);
                fc_wgmma_commit();
                fc_sm90_turn_end<kD, kWS>(cwg);
                fc_wgmma_wait<0>();
                fc_reg_fence(s);
                fc_warp_arrive(&sm.empty_k[it % T.stages]);
                /* Q is read by Q K^T only: once the last one is done the producer may load the next
                 * tile's Q under this tile's last softmax, P V and epilogue. */
                if (fc_sm90_early_q(kD) && n - kStep < blk.nb_min) fc_warp_arrive(sm.bar_q_empty);
                scores(s, n);
                fc_sm90_online_softmax<BN>(s, m, l, alpha, a.c_log2);
                fc_sm90_convert_p<kDtype, BN>(s, P);
            }
            for (n -= kStep; n >= blk.nb_min; n -= kStep) {
                const int st_prev = it % T.stages;
                const uint32_t ph_prev = (it / T.stages) & 1;
                it += kStep;
                const int st = it % T.stages;
                const uint32_t ph = (it / T.stages) & 1;
                float s[BN / 2];
                fc_mbar_wait(&sm.full_k[st], ph);
                fc_mbar_wait(&sm.full_v[st_prev], ph_prev); /* before the fence: no branch inside an issue group */
                fc_sm90_turn_begin<kD, kWS>(cwg);
                fc_reg_fence(s);
                fc_reg_fence(o);
                fc_reg_fence(P);
                fc_wgmma_fence();
                fc_sm90_issue_qk<kDtype, kD, kBN>(s, q_wg, k_base + st * kTileBytes);
                fc_wgmma_commit();
                fc_sm90_issue_pv<kDtype, kD, kBN>(o, P, v_base + st_prev * kTileBytes);
                fc_wgmma_commit();
                fc_sm90_turn_end<kD, kWS>(cwg);
                fc_wgmma_wait<1>(); /* S done; P V may still run under the softmax below */
                fc_reg_fence(s);
                fc_warp_arrive(&sm.empty_k[st]);
                if (fc_sm90_early_q(kD) && n - kStep < blk.nb_min) fc_warp_arrive(sm.bar_q_empty);
                scores(s, n);
                fc_sm90_online_softmax<BN>(s, m, l, alpha, a.c_log2);
                fc_wgmma_wait<0>();
                fc_reg_fence(o);
                fc_warp_arrive(&sm.empty_v[st_prev]);
#pragma unroll
                for (int c = 0; c < kD / 8; ++c) {
                    o[4 * c + 0] *= alpha[0];
                    o[4 * c + 1] *= alpha[0];
                    o[4 * c + 2] *= alpha[1];
                    o[4 * c + 3] *= alpha[1];
                }
                fc_sm90_convert_p<kDtype, BN>(s, P);
            }
            {
                const int st = it % T.stages;
                const uint32_t ph = (it / T.stages) & 1;
                fc_mbar_wait(&sm.full_v[st], ph);
                fc_sm90_turn_begin<kD, kWS>(cwg);
                fc_reg_fence(o);
                fc_reg_fence(P);
                fc_wgmma_fence();
                fc_sm90_issue_pv<kDtype, kD, kBN>(o, P, v_base + st * kTileBytes);
                fc_wgmma_commit();
                fc_sm90_turn_end<kD, kWS>(cwg);
                fc_wgmma_wait<0>();
                fc_reg_fence(o);
                fc_warp_arrive(&sm.empty_v[st]);
                if (!fc_sm90_early_q(kD)) fc_warp_arrive(sm.bar_q_empty); /* the producer may load the next tile's Q */
            }
        } else {
            fc_warp_arrive(sm.bar_q_empty); /* query-row split, no block for this warpgroup: Q seen, released */
        }
        if constexpr (kWS) kv_it += blk.nb_max - blk.nb_min; /* both warpgroups step over the whole tile */
        else kv_it = it + 1;
    }
    l[0] = fc_quad_sum(l[0]); /* full row sums (m is already the same on the 4 lanes of a row) */
    l[1] = fc_quad_sum(l[1]);
    if constexpr (kWS) {
        fc_sm90_ws_merge_store<kDtype, kD>(a, sm, blk, cwg, o, m, l);
    } else {
        if (a.num_splits > 1 && !fc_sm90_split_combine<kD, kBN>(a, sm, o, m, l)) return;
#if FC_SM90_TMA_STORE
        if constexpr (fc_sm90_o_staged(kD, kBN, kWS)) {
            if (a.o_tma) {
                fc_sm90_epilogue_tma<kDtype, kD, fc_sm90_o_window_chunks(kD, kBN, false)>(a, sm, blk, cwg, o, m, l);
                return;
            }
        }
#endif
        fc_sm90_epilogue<kDtype, kD, false, 0, kD / 8, true>(a, blk, cwg, o, m, l);
    }
}

/* ------------------------------------------------------------------------------------------------
 * Query-row split merge: both consumer warpgroups hold (O unnormalised, m, l) of the same 64 rows
 * over disjoint key blocks; thread t of each holds the same rows and columns. Each parks {m, l} and
 * the half of its O columns the other one finishes (warpgroup 0 the first kD/2 columns, 1 the
 * rest), then merges its own half with the other's like one more online-softmax step and writes
 * it; warpgroup 0 writes the LSE. Two barriers of the 256 consumer threads: partials parked, and
 * read (the area is reused by the next tile of a persistent CTA).
 * ---------------------------------------------------------------------------------------------- */
template <int kD, int kHalf>
static __device__ __forceinline__ void fc_sm90_ws_park(float4 *mine, const float (&o)[kD / 2], const float (&m)[2],
                                                       const float (&l)[2], int t) {
    constexpr int kH = kD / 16;            /* 8-column blocks per half */
    constexpr int kOther = (1 - kHalf) * kH; /* first block of the half the other warpgroup finishes */
#pragma unroll
    for (int j = 0; j < kH; ++j)
        mine[j * 128 + t] = make_float4(o[4 * (kOther + j)], o[4 * (kOther + j) + 1], o[4 * (kOther + j) + 2],
                                        o[4 * (kOther + j) + 3]);
    mine[kH * 128 + t] = make_float4(m[0], m[1], l[0], l[1]);
}
template <int kD, int kHalf>
static __device__ __forceinline__ void fc_sm90_ws_merge(const float4 *theirs, float (&o)[kD / 2], float (&m)[2],
                                                        float (&l)[2], float c_log2, int t) {
    constexpr int kH = kD / 16;
    constexpr int kMine = kHalf * kH;
    const float4 r = theirs[kH * 128 + t];
    const float mo[2] = {r.x, r.y}, lo[2] = {r.z, r.w};
    float w[2], wo[2];
#pragma unroll
    for (int i = 0; i < 2; ++i) {
        const float mx = fmaxf(m[i], mo[i]);
        const float mu = fc_safe_max(fc_log2_max(mx, c_log2));
        w[i] = fc_ex2(fc_log2_max(m[i], c_log2) - mu);
        wo[i] = fc_ex2(fc_log2_max(mo[i], c_log2) - mu);
        l[i] = l[i] * w[i] + lo[i] * wo[i];
        m[i] = mx;
    }
#pragma unroll
    for (int j = 0; j < kH; ++j) {
        const float4 v = theirs[j * 128 + t];
        const int c = kMine + j;
        o[4 * c + 0] = o[4 * c + 0] * w[0] + v.x * wo[0];
        o[4 * c + 1] = o[4 * c + 1] * w[0] + v.y * wo[0];
        o[4 * c + 2] = o[4 * c + 2] * w[1] + v.z * wo[1];
        o[4 * c + 3] = o[4 * c + 3] * w[1] + v.w * wo[1];
    }
}
template <int kDtype, int kD>
static __device__ __forceinline__ void fc_sm90_ws_merge_store(const fc_sm90_args &a, const fc_sm90_smem<kD> &sm,
                                                              const fc_sm90_block &blk, int cwg, float (&o)[kD / 2],
                                                              float (&m)[2], float (&l)[2]) {
    constexpr int kArea = (kD / 16 + 1) * 128; /* float4 per warpgroup */
    const int t = threadIdx.x & 127;
    float4 *mine = sm.xch + cwg * kArea;
    const float4 *theirs = sm.xch + (cwg ^ 1) * kArea;
    if (cwg == 0) fc_sm90_ws_park<kD, 0>(mine, o, m, l, t);
    else fc_sm90_ws_park<kD, 1>(mine, o, m, l, t);
    fc_named_bar_sync(FC_SM90_BAR_CONSUMERS, 2 * 128);
    if (cwg == 0) fc_sm90_ws_merge<kD, 0>(theirs, o, m, l, a.c_log2, t);
    else fc_sm90_ws_merge<kD, 1>(theirs, o, m, l, a.c_log2, t);
#if FC_SM90_TMA_STORE
    /* The staging tile is free once the previous tile's bulk store (issued by this thread) read it;
     * the barrier below tells the other 255 threads. */
    constexpr bool kStaged = fc_sm90_o_staged(kD, fc_sm90_tile_for(kD).block_n, true);
    if (kStaged && a.o_tma && cwg == 0 && t == 0) cuda::ptx::cp_async_bulk_wait_group_read(cuda::ptx::n32_t<0>{});
    __syncwarp(); /* bar.sync is .aligned: the warp must arrive converged, or it is counted twice */
#endif
    fc_named_bar_sync(FC_SM90_BAR_CONSUMERS, 2 * 128);
#if FC_SM90_TMA_STORE
    if constexpr (kStaged) {
        if (a.o_tma) {
            static_assert(fc_sm90_o_window_chunks(kD, fc_sm90_tile_for(kD).block_n, true) == kD / FC_SM90_CHUNK,
                          "query-row split: the whole staging tile fits");
            if (cwg == 0) fc_sm90_stage_o<kDtype, kD, true, 0, kD / 16, 0>(sm, cwg, o, l);
            else fc_sm90_stage_o<kDtype, kD, true, kD / 16, kD / 8, 0>(sm, cwg, o, l);
            fc_sm90_store_o_tma<kD, true, 0, kD / FC_SM90_CHUNK>(a, sm, blk, cwg); /* one barrier instruction for both */
            if (cwg == 0) fc_sm90_lse_rows(a, blk, blk.m0, m, l);
            return;
        }
    }
#endif
    if (cwg == 0) fc_sm90_epilogue<kDtype, kD, true, 0, kD / 16, true>(a, blk, cwg, o, m, l);
    else fc_sm90_epilogue<kDtype, kD, true, kD / 16, kD / 8, false>(a, blk, cwg, o, m, l);
}

/* ------------------------------------------------------------------------------------------------
 * Split-KV combine: the CTAs of one cluster hold (O unnormalised, row max m, row sum l) of disjoint
 * key ranges of the same tile. Ranks 1.. park theirs in their own shared memory (the K/V ring, free
 * once both consumer warpgroups are done; m and l in the Q tile); rank 0 reads them through
 * distributed shared memory and merges them into its registers like one more online-softmax step.
 * Thread t of every rank holds the same rows and columns, so each thread reads back its own slots.
 * Returns true on rank 0, which then writes the tile. Cluster barriers: (1) partials parked,
 * (2) rank 0 done reading; the producer warpgroup takes part in both (fc_sm90_split_producer_sync).
 * ---------------------------------------------------------------------------------------------- */
template <int kD, int kBN>
static __device__ __forceinline__ bool fc_sm90_split_combine(const fc_sm90_args &a, const fc_sm90_smem<kD> &sm,
                                                             float (&o)[kD / 2], float (&m)[2], float (&l)[2]) {
    static_assert(kD * 128 * 2 * 2 <= 2 * fc_sm90_tile_of(kD, kBN).stages * kBN * kD * 2,
                  "split partials must fit in the K/V ring");
    const unsigned rank = cuda::ptx::get_sreg_cluster_ctarank();
    const int t = threadIdx.x - 128; /* consumer thread 0..255 */
    float4 *part = (float4 *)sm.k;   /* [kD/8][256] float4: o[4j..4j+3] of thread t at j*256 + t */
    float4 *ml = (float4 *)sm.q;     /* [256] {m0, m1, l0, l1} */
    if (rank != 0) {
        fc_named_bar_sync(FC_SM90_BAR_CONSUMERS, 2 * 128); /* the other warpgroup is done with the ring */
#pragma unroll
        for (int j = 0; j < kD / 8; ++j) part[j * 256 + t] = make_float4(o[4 * j], o[4 * j + 1], o[4 * j + 2], o[4 * j + 3]);
        ml[t] = make_float4(m[0], m[1], l[0], l[1]);
    }
    fc_cluster_arrive();
    fc_cluster_wait();
    if (rank == 0) {
        /* Pass 1: the row max over all ranks; then rescale this rank's own (O, l) to it. */
        float mx[2] = {m[0], m[1]};
#pragma unroll 1
        for (unsigned r = 1; r < (unsigned)a.num_splits; ++r) {
            const float4 rml = ((const float4 *)__cluster_map_shared_rank(ml, r))[t];
            mx[0] = fmaxf(mx[0], rml.x);
            mx[1] = fmaxf(mx[1], rml.y);
        }
        const float mu[2] = {fc_safe_max(fc_log2_max(mx[0], a.c_log2)),
                             fc_safe_max(fc_log2_max(mx[1], a.c_log2))};
#pragma unroll
        for (int i = 0; i < 2; ++i) {
            const float w = fc_ex2(fc_log2_max(m[i], a.c_log2) - mu[i]);
            l[i] *= w;
#pragma unroll
            for (int c = 0; c < kD / 8; ++c) {
                o[4 * c + 2 * i] *= w;
                o[4 * c + 2 * i + 1] *= w;
            }
            m[i] = mx[i];
        }
        /* Pass 2: add the other ranks' (O, l), each weighted by exp2(its max - the row max). */
#pragma unroll 1
        for (unsigned r = 1; r < (unsigned)a.num_splits; ++r) {
            const float4 rml = ((const float4 *)__cluster_map_shared_rank(ml, r))[t];
            const float w0 = fc_ex2(fc_log2_max(rml.x, a.c_log2) - mu[0]);
            const float w1 = fc_ex2(fc_log2_max(rml.y, a.c_log2) - mu[1]);
            l[0] += rml.z * w0;
            l[1] += rml.w * w1;
            const float4 *rpart = (const float4 *)__cluster_map_shared_rank(part, r);
#pragma unroll
            for (int j = 0; j < kD / 8; ++j) {
                const float4 v = rpart[j * 256 + t];
                o[4 * j + 0] += v.x * w0;
                o[4 * j + 1] += v.y * w0;
                o[4 * j + 2] += v.z * w1;
                o[4 * j + 3] += v.w * w1;
            }
        }
    }
    fc_cluster_arrive(); /* rank 0 is done reading; the others may exit once everyone arrived */
    fc_cluster_wait();
    return rank == 0;
}

/* The producer warpgroup's part in the two cluster barriers of fc_sm90_split_combine. */
static __device__ __forceinline__ void fc_sm90_split_producer_sync() {
    fc_cluster_arrive();
    fc_cluster_wait();
    fc_cluster_arrive();
    fc_cluster_wait();
}

/* LSE of row r (token tok) from its max m (raw units) and full row sum. */
static __device__ __forceinline__ void fc_sm90_store_lse(const fc_sm90_args &a, const fc_sm90_block &blk, bool varlen,
                                                         int r, int64_t tok, float m, float lsum) {
    const fc_fwd_params &p = a.p;
    const float lse = lsum > 0.f ? (fc_log2_max(m, a.c_log2) + __log2f(lsum)) * 0.69314718055994531f : -INFINITY;
    const int64_t li = varlen ? (int64_t)blk.h * p.lse_head_stride + tok * p.lse_row_stride
                              : (int64_t)blk.b * p.lse_batch_stride + (int64_t)blk.h * p.lse_head_stride +
                                    (int64_t)r * p.lse_row_stride;
    p.lse[li] = lse;
}

/* ------------------------------------------------------------------------------------------------
 * Epilogue: normalise, write O's 8-column blocks [kC0, kC1) (plain 4-byte stores) and, with kLse,
 * the LSE. l holds full row sums.
 * ---------------------------------------------------------------------------------------------- */
template <int kDtype, int kD, bool kWS, int kC0, int kC1, bool kLse>
static __device__ __forceinline__ void fc_sm90_epilogue(const fc_sm90_args &a, const fc_sm90_block &blk, int cwg,
                                                        const float (&o)[kD / 2], const float (&m)[2],
                                                        const float (&l)[2]) {
    const fc_fwd_params &p = a.p;
    const int t = threadIdx.x & 127;
    const int lane = t & 31;
    const int row0 = blk.m0 + (kWS ? 0 : 64 * cwg) + 16 * (t / 32) + lane / 4;
    const bool varlen = p.cu_seqlens_q != nullptr;
    unsigned char *obase = (unsigned char *)p.o;
#pragma unroll
    for (int i = 0; i < 2; ++i) {
        const float lsum = l[i]; /* already summed over the quad */
        const float inv = lsum > 0.f ? 1.f / lsum : 0.f;
        const int r = row0 + 8 * i;
        if (r < blk.sq) {
            const int64_t tok = (int64_t)blk.q_off + r;
            const int64_t orow = (varlen ? 0 : (int64_t)blk.b * p.o_batch_stride) + tok * p.o_row_stride +
                                 (int64_t)blk.h * p.o_head_stride;
            uint32_t *optr = (uint32_t *)(obase + orow * 2);
#pragma unroll
            for (int c = kC0; c < kC1; ++c) {
                const int col = 8 * c + 2 * (lane & 3);
                if (col < p.head_dim)
                    optr[col / 2] = fc_pack2<kDtype>(o[4 * c + 2 * i] * inv, o[4 * c + 2 * i + 1] * inv);
            }
            if (kLse && p.lse && (lane & 3) == 0) fc_sm90_store_lse(a, blk, varlen, r, tok, m[i], lsum);
        }
    }
}

#if FC_SM90_TMA_STORE
/* ------------------------------------------------------------------------------------------------
 * TMA-store epilogue (FC_SM90_TMA_STORE, batched layouts with a tensor map for O), in three parts:
 * fc_sm90_stage_o normalises O's 8-column blocks [kC0, kC1) and writes them into the staging tile
 * with stmatrix (x4: two 8-column blocks of the warp's 16 rows); fc_sm90_store_o_tma waits for every
 * writer and lets one thread store the rows (kWS: the tile's 64 rows, both halves) with one bulk
 * tensor store per 64-column chunk, the tensor map clipping rows past seqlen_q and columns past the
 * head dim; fc_sm90_lse_rows writes the LSE with plain stores as before.
 * Staging tile: 64-column chunks of 128 rows (64 with kWS) x 128 bytes, 128-byte swizzle (the 16-byte unit u of
 * row r sits at unit u ^ (r & 7)), the tensor map's layout; a warpgroup's 64 rows start at row
 * 64 * cwg (kWS: 0). Ordering: (1) the previous bulk store from the tile must have read it
 * (the issuing thread waits for its bulk group, then barrier EPI_FREE; kWS: the merge's second
 * barrier); (2) every writer fences its generic-proxy writes
 * for the async proxy, then barrier EPI_FULL, then the store. Warp 0 (of warpgroup 0 with kWS)
 * holds the issuing thread. Per warpgroup it arrives at EPI_FREE and waits at EPI_FULL, the other
 * warps wait at EPI_FREE and arrive at EPI_FULL (distinct ids, so a warp that runs ahead never
 * counts twice); every warp reaches a barrier converged. With kWS every thread waits at EPI_FULL,
 * at one barrier instruction for both warpgroups, which write different column halves (different
 * code): with that barrier reached from two code sites, synccheck reported divergent threads
 * (all waiting there) and racecheck hazards in the merge area (warp 0 waiting, the others
 * arriving), H200 2026-11-29, NOTES-sm90 item 18.
 * ---------------------------------------------------------------------------------------------- */
template <int kDtype, int kD, bool kWS, int kC0, int kC1, int kChunk0>
static __device__ __forceinline__ void fc_sm90_stage_o(const fc_sm90_smem<kD> &sm, int cwg, const float (&o)[kD / 2],
                                                       const float (&l)[2]) {
    static_assert(kC0 % 2 == 0 && kC1 % 2 == 0, "stmatrix.x4 writes 8-column blocks in pairs");
    constexpr int kChunkBytes = fc_sm90_o_chunk_bytes(kWS);
    const int t = threadIdx.x & 127;
    const int lane = t & 31, warp = t / 32;
    const float inv0 = l[0] > 0.f ? 1.f / l[0] : 0.f, inv1 = l[1] > 0.f ? 1.f / l[1] : 0.f;
    /* stmatrix.x4 for blocks (c, c+1): lane 8i+k addresses row k of matrix i = (rows 8(i&1).., block
     * c + (i>>1)); registers: (rows 0-7, c), (rows 8-15, c), (rows 0-7, c+1), (rows 8-15, c+1). */
    const int row = 16 * warp + 8 * ((lane >> 3) & 1) + (lane & 7); /* within this warpgroup's 64 rows */
    const uint32_t u = (uint32_t)((lane >> 4) ^ (lane & 7));       /* (block parity) ^ (row & 7) */
    const uint32_t rbase = fc_smem_u32(sm.o + (kWS ? 0 : cwg * 64 * 128)) + row * 128;
#pragma unroll
    for (int c = kC0; c < kC1; c += 2) {
        const uint32_t addr = rbase + (c / 8 - kChunk0) * kChunkBytes + ((((uint32_t)c & 7) ^ u) << 4);
        fc_stmatrix_x4(addr, fc_pack2<kDtype>(o[4 * c] * inv0, o[4 * c + 1] * inv0),
                       fc_pack2<kDtype>(o[4 * c + 2] * inv1, o[4 * c + 3] * inv1),
                       fc_pack2<kDtype>(o[4 * c + 4] * inv0, o[4 * c + 5] * inv0),
                       fc_pack2<kDtype>(o[4 * c + 6] * inv1, o[4 * c + 7] * inv1));
    }
    cuda::ptx::fence_proxy_async(cuda::ptx::space_shared);
}
template <int kD, bool kWS, int kCh0, int kNCh>
static __device__ __forceinline__ void fc_sm90_store_o_tma(const fc_sm90_args &a, const fc_sm90_smem<kD> &sm,
                                                           const fc_sm90_block &blk, int cwg) {
    constexpr int kChunkBytes = fc_sm90_o_chunk_bytes(kWS);
    const int t = threadIdx.x & 127;
    const bool issuer_warp = t / 32 == 0 && (!kWS || cwg == 0);
    const int bar_full = FC_SM90_BAR_EPI_FULL + (kWS ? 0 : cwg);
    if (kWS || issuer_warp) fc_named_bar_sync(bar_full, kWS ? 256 : 128);
    else fc_named_bar_arrive(bar_full, 128);
    if (issuer_warp) {
        if (t == 0) {
            const int row_w0 = blk.m0 + (kWS ? 0 : 64 * cwg);
            unsigned char *stage = sm.o + (kWS ? 0 : cwg * 64 * 128);
            if (row_w0 < blk.sq) {
#pragma unroll
                for (int ch = 0; ch < kNCh; ++ch)
                    fc_tma_store_4d(&a.tm_o, stage + ch * kChunkBytes, (kCh0 + ch) * FC_SM90_CHUNK, blk.q_off + row_w0,
                                    blk.h, blk.b_coord);
            }
            cuda::ptx::cp_async_bulk_commit_group();
        }
        __syncwarp();
    }
}
/* LSE of the 64 rows starting at row_w0 (plain stores; batched layouts only). */
static __device__ __forceinline__ void fc_sm90_lse_rows(const fc_sm90_args &a, const fc_sm90_block &blk, int row_w0,
                                                        const float (&m)[2], const float (&l)[2]) {
    const int t = threadIdx.x & 127;
    if (a.p.lse && (t & 3) == 0) {
        const int r0 = row_w0 + 16 * (t / 32) + (t & 31) / 4;
        if (r0 < blk.sq) fc_sm90_store_lse(a, blk, false, r0, (int64_t)blk.q_off + r0, m[0], l[0]);
        if (r0 + 8 < blk.sq) fc_sm90_store_lse(a, blk, false, r0 + 8, (int64_t)blk.q_off + r0 + 8, m[1], l[1]);
    }
}
/* The whole epilogue of one warpgroup's 64 rows (no query-row split), in passes of kW 64-column
 * chunks (kW = kD / 64: one pass; fewer with FC_SM90_TMA_STORE_PARTIAL where the whole staging tile
 * does not fit). Before each pass the staging tile must be free: the issuing thread waits for the
 * previous bulk store's reads (the previous tile's, or the previous pass's) and barrier EPI_FREE
 * tells the warps. */
template <int kDtype, int kD, int kW, int kPass>
static __device__ __forceinline__ void fc_sm90_epilogue_tma_pass(const fc_sm90_args &a, const fc_sm90_smem<kD> &sm,
                                                                 const fc_sm90_block &blk, int cwg,
                                                                 const float (&o)[kD / 2], const float (&l)[2]) {
    constexpr int kNCh = kD / FC_SM90_CHUNK, kCh0 = kPass * kW, kCh1 = kCh0 + kW < kNCh ? kCh0 + kW : kNCh;
    static_assert(kW >= 1, "TMA-store epilogue: at least one chunk per pass");
    const int bar_free = FC_SM90_BAR_EPI_FREE + cwg;
    if ((threadIdx.x & 127) < 32) {
        if ((threadIdx.x & 127) == 0) cuda::ptx::cp_async_bulk_wait_group_read(cuda::ptx::n32_t<0>{});
        __syncwarp();
        fc_named_bar_arrive(bar_free, 128);
    } else {
        fc_named_bar_sync(bar_free, 128);
    }
    fc_sm90_stage_o<kDtype, kD, false, 8 * kCh0, 8 * kCh1, kCh0>(sm, cwg, o, l);
    fc_sm90_store_o_tma<kD, false, kCh0, kCh1 - kCh0>(a, sm, blk, cwg);
    if constexpr (kCh1 < kNCh) fc_sm90_epilogue_tma_pass<kDtype, kD, kW, kPass + 1>(a, sm, blk, cwg, o, l);
}
template <int kDtype, int kD, int kW>
static __device__ __forceinline__ void fc_sm90_epilogue_tma(const fc_sm90_args &a, const fc_sm90_smem<kD> &sm,
                                                            const fc_sm90_block &blk, int cwg, const float (&o)[kD / 2],
                                                            const float (&m)[2], const float (&l)[2]) {
    fc_sm90_epilogue_tma_pass<kDtype, kD, kW, 0>(a, sm, blk, cwg, o, l);
    fc_sm90_lse_rows(a, blk, blk.m0 + 64 * cwg, m, l);
}
#endif

#endif
