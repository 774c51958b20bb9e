/*
 * Tile table of the Hopper (sm_90a) forward kernel, shared by host and device code.
 *
 * One CTA = one producer warpgroup (TMA only) + two consumer warpgroups of 64 query rows each
 * (wgmma's M is 64 per warpgroup), so block_m = 128. Head dims are served by four padded tile
 * widths (64/128/192/256): shared memory holds the head dim in 64-column chunks of 128 bytes, the
 * width of the 128-byte TMA/wgmma swizzle; a head dim below its tile width (e.g. 96 in the 128
 * tile) is zero-filled by TMA beyond the tensor's last column and never stored.
 */
#ifndef FC_SM90_CONFIG_H
#define FC_SM90_CONFIG_H

#define FC_SM90_CONSUMER_WGS 2
#define FC_SM90_THREADS (128 * (1 + FC_SM90_CONSUMER_WGS)) /* producer WG + consumers */
#define FC_SM90_BLOCK_M (64 * FC_SM90_CONSUMER_WGS)
#define FC_SM90_CHUNK 64                                  /* head-dim columns per 128-byte swizzle row */
#define FC_SM90_PRODUCER_REGS 24   /* setmaxnreg: the producer only issues TMA */
#define FC_SM90_CONSUMER_REGS 240  /* 2*128*240 + 128*24 <= 64K registers of one SM */
#define FC_SM90_SMEM_MAX (227 * 1024)
#define FC_SM90_MAX_DEVICES 64
#ifndef FC_SM90_PINGPONG
#define FC_SM90_PINGPONG 1 /* consumer warpgroups take turns issuing wgmma (0: dev A/B builds only) */
#endif
#ifndef FC_SM90_EARLY_Q_RELEASE
#define FC_SM90_EARLY_Q_RELEASE 1 /* consumers free the Q tile after their last Q K^T, not after the
                                   * last P V (0: dev A/B builds only) */
#endif
#ifndef FC_SM90_TMA_STORE
#define FC_SM90_TMA_STORE 1 /* 1: O leaves through shared memory and TMA bulk tensor stores where the
                             * layout, shared memory and the measurement allow (fc_sm90_o_stage_bytes;
                             * NOTES-sm90 items 17-18); 0: plain stores everywhere (dev A/B builds) */
#endif
#ifndef FC_SM90_TMA_STORE_PARTIAL
#define FC_SM90_TMA_STORE_PARTIAL 0 /* 1: the 192 tile, whose staging tile does not fit whole, stages
                                     * and stores O in passes of the 64-column chunks that fit (two,
                                     * then one); prepared, not yet run on a GPU (NOTES-sm90 item 21).
                                     * 256 and wide 128 spill with it (ptxas: 72 / 40-byte stack) */
#endif
#define FC_SM90_PAIRS_MAX_M_BLOCKS 64 /* causal query-block pairs on a persistent grid up to S = 8192 */
#define FC_SM90_MAX_SPLITS 4  /* CTAs per cluster in split-KV (portable cluster limit is 8; 4 of
                               * ~200 KB each always find room in one GPC of an H100) */

typedef struct fc_sm90_tile {
    int head_dim; /* padded head dim of the tile (multiple of FC_SM90_CHUNK) */
    int block_n;  /* keys per K/V stage */
    int stages;   /* depth of the K/V ring */
} fc_sm90_tile;

/* Why each shape:
 *  64:  block_n 128, 3 stages: 16 KB Q + 3 x 32 KB K/V = 112 KB; S (64 regs) + P + O (32) fit easily.
 *  128: block_n 128, 2 stages: 32 KB Q + 2 x 64 KB = 160 KB (3 stages = 224 KB leaves no room for
 *       the epilogue); per consumer thread O 64 + S 64 + P 32 fp32/b32 registers.
 *  192: block_n 96, 2 stages: 48 KB Q + 2 x 72 KB = 192 KB (block_n 128 needs 240 KB).
 *  256: block_n 64, 2 stages: 64 KB Q + 2 x 64 KB = 192 KB; O alone is 128 registers per thread. */
static constexpr __host__ __device__ fc_sm90_tile fc_sm90_tile_for(int head_dim_pad) {
    return head_dim_pad == 64    ? fc_sm90_tile{64, 128, 3}
           : head_dim_pad == 128 ? fc_sm90_tile{128, 128, 2}
           : head_dim_pad == 192 ? fc_sm90_tile{192, 96, 2}
                                 : fc_sm90_tile{256, 64, 2};
}

/* Ping-pong between the consumer warpgroups (sm90_mainloop.h), per tile. Off for 256: with 64-key
 * blocks the softmax is short next to the two 64x64x256 / 64x256x64 products, so the turns only
 * add hand-over bubbles (run 5/6 A/B, same process: 581 vs 623 and 587 vs 613 TF at S=8k; on for
 * 128: 606 vs 515 and 605 vs 531 TF). */
#ifndef FC_SM90_PINGPONG_256
#define FC_SM90_PINGPONG_256 0 /* 1: ping-pong for the 256 tile too (dev A/B builds only, run 11c) */
#endif
static constexpr __host__ __device__ bool fc_sm90_pingpong(int head_dim_pad) {
    return FC_SM90_PINGPONG && (head_dim_pad != 256 || FC_SM90_PINGPONG_256);
}

/* Free the Q tile right after the tile's last Q K^T (not after its last P V), so the producer loads
 * the next tile's Q (and, behind it, K/V) under the last softmax, P V and epilogue. Off for 256:
 * run 11 A/B (same process) +2..6% on S=512/1024 for 64/128, but 256 flat to -1.8% (causal rows). */
static constexpr __host__ __device__ bool fc_sm90_early_q(int head_dim_pad) {
    return FC_SM90_EARLY_Q_RELEASE && head_dim_pad != 256;
}

/* The tile of an instance: the table's, or a wider key block for the same head dim (fewer
 * per-block fixed costs: barrier waits, row max/sum shuffles, O rescale), all 0 spills:
 *  64:  192 keys, 3 stages: 16 KB Q + 3 x 2 x 24 KB = 160 KB; S 96 + P 48 + O 32 registers.
 *  128: 176 keys, 2 stages: 32 KB Q + 2 x 2 x 44 KB = 208 KB; S 88 + P 44 + O 64.
 *  256:  80 keys, 2 stages: 64 KB Q + 2 x 2 x 40 KB = 224 KB; S 40 + P 20 + O 128.
 * Same-process A/B (bf16, runs 7-9): 128 non-causal +4/+5% at S=8k/16k in runs 7-8 (flat in run 9),
 * 256 +12% / +7% non-causal S=8k/16k and +10% causal S=16k, 64 +3% at S=16k but -2..3% at 2k/8k;
 * every width loses on short causal rows (128 at S=512: -21%, the diagonal block mostly masked). */
static constexpr __host__ __device__ int fc_sm90_wide_block_n(int head_dim_pad) {
    return head_dim_pad == 64 ? 192 : head_dim_pad == 128 ? 176 : head_dim_pad == 256 ? 80 : 0;
}
/* Shortest seqlen_k that takes the wide tile (no sliding window; causal needs longer keys). */
static constexpr __host__ __device__ int fc_sm90_wide_min_seqlen_k(int head_dim_pad, bool causal) {
    return head_dim_pad == 64 ? 16384 : causal ? 8192 : 4096;
}
static constexpr __host__ __device__ fc_sm90_tile fc_sm90_tile_of(int head_dim_pad, int block_n) {
    return fc_sm90_tile{head_dim_pad, block_n, fc_sm90_tile_for(head_dim_pad).stages};
}

/* Padded tile width that serves a head dim (0 when none does). */
static constexpr __host__ __device__ int fc_sm90_head_dim_pad(int d) {
    return d <= 0 ? 0 : d <= 64 ? 64 : d <= 128 ? 128 : d <= 192 ? 192 : d <= 256 ? 256 : 0;
}

/* Query-row split of latency-bound calls (few tiles): a CTA serves 64 query rows, and its two
 * consumer warpgroups take alternate key blocks of those rows, merging (O, m, l) through shared
 * memory at the end (no ping-pong: the warpgroups' block counts may differ by one). Twice the CTAs
 * of the 128-row tile, each with half the dependent chain per warpgroup. Compiled for the 64/128
 * tiles only (the 64-row query tile: FC_SM90_WS_BLOCK_M). */
#define FC_SM90_WS_BLOCK_M 64
static constexpr __host__ __device__ bool fc_sm90_has_wg_split(int head_dim_pad, int block_n) {
    return (head_dim_pad == 64 || head_dim_pad == 128) && block_n == fc_sm90_tile_for(head_dim_pad).block_n;
}
/* The K/V ring of the query-row split has an even number of stages: warpgroup c takes ring items
 * c, c+2, ..., so with an even depth every stage belongs to one warpgroup, which then waits on every
 * phase of that stage's barriers (parity waits are only sound when no phase is skipped; with 3
 * stages a warpgroup could see an older phase of the right parity and read a stage early).
 * 64: 4 stages (16 KB Q + 4 x 32 KB + merge 20 KB = 165 KB): every block of S <= 512 in flight at
 * once; 128: 2 stages (32 KB + 2 x 64 KB + 36 KB = 197 KB). */
static constexpr __host__ __device__ int fc_sm90_ws_stages(int head_dim_pad) { return head_dim_pad == 64 ? 4 : 2; }
/* The tile of a kernel: the instance's (fc_sm90_tile_of), with the split's ring depth when kWS. */
static constexpr __host__ __device__ fc_sm90_tile fc_sm90_kernel_tile(int head_dim_pad, int block_n, bool wg_split) {
    return wg_split ? fc_sm90_tile{head_dim_pad, block_n, fc_sm90_ws_stages(head_dim_pad)}
                    : fc_sm90_tile_of(head_dim_pad, block_n);
}

/* Shared memory of the merge: per consumer warpgroup, per thread, half of its O columns (the half
 * the other warpgroup finishes) and {m0, m1, l0, l1}: float4 x (kD/16 + 1) x 128 threads. */
static constexpr __host__ __device__ int fc_sm90_ws_xchg_bytes(int head_dim_pad) {
    return 2 * (head_dim_pad / 16 + 1) * 128 * 16;
}

/* Shared memory of one CTA: Q tile, K and V rings, barriers; +1024 to align the tiles to the
 * 1024-byte swizzle atom. */
static constexpr __host__ __device__ int fc_sm90_smem_bytes_st(int head_dim_pad, int block_n, int stages) {
    return 1024 + FC_SM90_BLOCK_M * head_dim_pad * 2 + 2 * stages * block_n * head_dim_pad * 2 + 256;
}
/* Without the O staging tile (below). */
static constexpr __host__ __device__ int fc_sm90_smem_bytes_base(int head_dim_pad, int block_n, bool wg_split) {
    return wg_split ? fc_sm90_smem_bytes_st(head_dim_pad, block_n, fc_sm90_ws_stages(head_dim_pad)) +
                          fc_sm90_ws_xchg_bytes(head_dim_pad)
                    : fc_sm90_smem_bytes_st(head_dim_pad, block_n, fc_sm90_tile_for(head_dim_pad).stages);
}

/* TMA-store epilogue (FC_SM90_TMA_STORE): each consumer warpgroup writes its normalised O with
 * stmatrix into a shared-memory staging tile laid out like the Q tile (64-column chunks of 128-byte
 * rows, 128-byte swizzle) and one thread stores it with bulk tensor stores (boxes of 64 columns x 64
 * rows, clipped by the tensor map at seqlen_q and at the real head dim). Where the kernel's shared
 * memory + a staging tile of its query rows (64 x kD x 2 bytes per warpgroup) fits in 227 KB: 128
 * (192 KB), query-row split 64 (173 KB) and 128 (213 KB); not 64 and wide 64 outside the query-row
 * split (room, but measured 1.5-4% slower than the plain stores on the H200, NOTES-sm90 item 18);
 * with FC_SM90_TMA_STORE_PARTIAL also 192, in passes of the chunks that fit
 * (fc_sm90_o_window_chunks). The others keep plain stores: no room for the whole tile (192: 240 KB,
 * wide 128: 240 KB, 256 and wide 256; staging in the Q tile there spilled 80 / 144 bytes, O being
 * 128 registers per thread: NOTES-sm90 items 17-18, removed since). Varlen calls and O layouts TMA
 * cannot describe take the plain stores at run time (args.o_tma). */
/* 64-column chunks of O staged at a time (the staging window): all kD/64 where they fit; with
 * FC_SM90_TMA_STORE_PARTIAL (dev, default 0) and the 192 tile as many as fit, the epilogue then
 * staging and storing O in passes of that many chunks; 0: no staging tile. A chunk holds the tile's
 * rows (128, or 64 with the query-row split) x 128 bytes. */
static constexpr __host__ __device__ int fc_sm90_o_chunk_bytes(bool wg_split) {
    return (wg_split ? FC_SM90_WS_BLOCK_M : FC_SM90_BLOCK_M) * 128;
}
static constexpr __host__ __device__ int fc_sm90_o_window_chunks(int head_dim_pad, int block_n, bool wg_split) {
    return !FC_SM90_TMA_STORE || !(wg_split || head_dim_pad > 64) ? 0
           : fc_sm90_smem_bytes_base(head_dim_pad, block_n, wg_split) +
                     (head_dim_pad / FC_SM90_CHUNK) * fc_sm90_o_chunk_bytes(wg_split) <=
                 FC_SM90_SMEM_MAX
               ? head_dim_pad / FC_SM90_CHUNK
           : FC_SM90_TMA_STORE_PARTIAL && head_dim_pad == 192 && !wg_split
               ? (FC_SM90_SMEM_MAX - fc_sm90_smem_bytes_base(head_dim_pad, block_n, wg_split)) /
                     fc_sm90_o_chunk_bytes(wg_split)
               : 0;
}
static constexpr __host__ __device__ int fc_sm90_o_stage_bytes(int head_dim_pad, int block_n, bool wg_split) {
    return fc_sm90_o_window_chunks(head_dim_pad, block_n, wg_split) * fc_sm90_o_chunk_bytes(wg_split);
}
/* Does this instance stage O for bulk tensor stores (else plain stores)? */
static constexpr __host__ __device__ bool fc_sm90_o_staged(int head_dim_pad, int block_n, bool wg_split) {
    return fc_sm90_o_stage_bytes(head_dim_pad, block_n, wg_split) > 0;
}

static constexpr __host__ __device__ int fc_sm90_smem_bytes_ws(int head_dim_pad, int block_n, bool wg_split) {
    return fc_sm90_smem_bytes_base(head_dim_pad, block_n, wg_split) + fc_sm90_o_stage_bytes(head_dim_pad, block_n, wg_split);
}
static constexpr __host__ __device__ int fc_sm90_smem_bytes(int head_dim_pad, int block_n) {
    return fc_sm90_smem_bytes_ws(head_dim_pad, block_n, false);
}
static constexpr __host__ __device__ int fc_sm90_smem_bytes(int head_dim_pad) {
    return fc_sm90_smem_bytes(head_dim_pad, fc_sm90_tile_for(head_dim_pad).block_n);
}

static_assert(fc_sm90_smem_bytes(64) <= FC_SM90_SMEM_MAX, "hdim 64 tile exceeds shared memory");
static_assert(fc_sm90_smem_bytes(128) <= FC_SM90_SMEM_MAX, "hdim 128 tile exceeds shared memory");
static_assert(fc_sm90_smem_bytes(192) <= FC_SM90_SMEM_MAX, "hdim 192 tile exceeds shared memory");
static_assert(fc_sm90_smem_bytes(256) <= FC_SM90_SMEM_MAX, "hdim 256 tile exceeds shared memory");
static_assert(fc_sm90_smem_bytes(64, fc_sm90_wide_block_n(64)) <= FC_SM90_SMEM_MAX, "wide hdim 64 tile exceeds shared memory");
static_assert(fc_sm90_smem_bytes(128, fc_sm90_wide_block_n(128)) <= FC_SM90_SMEM_MAX, "wide hdim 128 tile exceeds shared memory");
static_assert(fc_sm90_smem_bytes(256, fc_sm90_wide_block_n(256)) <= FC_SM90_SMEM_MAX, "wide hdim 256 tile exceeds shared memory");
static_assert(fc_sm90_wide_block_n(64) % 16 == 0 && fc_sm90_wide_block_n(128) % 16 == 0 &&
              fc_sm90_wide_block_n(256) % 16 == 0, "block_n must be a multiple of the wgmma K step (16)");
static_assert(fc_sm90_tile_for(192).block_n % 16 == 0 && fc_sm90_tile_for(256).block_n % 16 == 0,
              "block_n must be a multiple of the wgmma K step (16)");
static_assert(fc_sm90_ws_stages(64) % 2 == 0 && fc_sm90_ws_stages(128) % 2 == 0, "query-row split: even ring depth");
static_assert(fc_sm90_smem_bytes_ws(64, 128, true) <= FC_SM90_SMEM_MAX &&
              fc_sm90_smem_bytes_ws(128, 128, true) <= FC_SM90_SMEM_MAX, "query-row split tile exceeds shared memory");
static_assert(2 * 128 * FC_SM90_CONSUMER_REGS + 128 * FC_SM90_PRODUCER_REGS <= 65536, "register split");

#endif
