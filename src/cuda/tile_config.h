/*
 * Tile shapes of the portable (mma.sync) forward kernel, shared by host and device code.
 *
 * A config is: kM query rows per CTA, kN keys per mainloop step, kWarps warps (each owns
 * kM / kWarps consecutive query rows, i.e. kM / (16 kWarps) m16 tiles), kStages shared buffers
 * for K and for V, whether the Q fragments stay in registers, and which mainloop runs:
 *   two-phase (pipe 0): per step, S = QK^T and softmax, then O += PV; two barriers per step,
 *     K one buffer ahead of V (kStages = 1 is the interleaved single-buffer scheme).
 *   pipelined (pipe 1): softmax of tile t+1 overlaps P(t)V(t) in the same warp; one barrier per
 *     step; loads run kStages - 1 steps ahead. Costs the registers of one more P tile.
 *
 * Reasons behind the numbers (registers per thread are the binding limit; 255 at most), checked
 * on the H100 (bench/NOTES.md, runs 1-3):
 *  - 32 query rows per warp (two m16 tiles) let every K/V fragment read by ldmatrix feed two
 *    mma's: half the shared-memory traffic of 16 rows per warp, which caps a 16-row warp on H100
 *    (128 B/clk/SM of shared bandwidth). Affordable up to head dim 128 with the two-phase loop
 *    (O 128 + S 64 registers at hd 128, kN = 64); the pipelined loop spills there at kN = 64, and at
 *    kN = 32 its steps are too short to hide the loads (run 2: 294 vs 377 TFLOP/s).
 *  - head dims 192 and 256 need 96 / 128 accumulator registers for 16 rows already: 16 rows per
 *    warp, 8 warps for 128 rows per CTA; there the pipelined loop wins (run 2: +10 % at hd 256) on
 *    long key ranges; on short ones (causal S <= 8k, else S <= 512) sm_90 takes 64-row two-phase
 *    tiles, two CTAs per SM, and at hd 64 128-key steps (FC_ALT_SHORT, bench/NOTES.md v8).
 *  - Shared memory per CTA, Q + kStages x (K + V), must fit the per-block opt-in limit of the arch
 *    class: 227 KB on sm_90, 163 KB on sm_80, 99 KB on sm_86/sm_89 (which also have only 100 KB
 *    per SM, so one CTA of > 50 KB there runs alone on its SM).
 *  - Q in registers (hd 64 only: 2 m-tiles * 4 k-steps * 4 = 32 registers) saves re-reading Q
 *    from shared memory at every step; at hd 128 it would cost 64 registers we do not have.
 */
#ifndef FC_CUDA_TILE_CONFIG_H
#define FC_CUDA_TILE_CONFIG_H

/* Arch classes: the per-block shared memory limit decides the tile table. */
enum {
    FC_CLS_SM80 = 0,  /* A100 (sm_80): 163 KB per block, 164 KB per SM */
    FC_CLS_SM8X = 1,  /* sm_86, sm_87, sm_89: 99 KB per block, 100 KB per SM */
    FC_CLS_SM90 = 2,  /* H100/H200 (sm_90a): 227 KB per block, 228 KB per SM */
    FC_CLS_COUNT = 3
};

/* Head dims with compiled kernels; a call with head_dim d runs the smallest one >= d
 * (the padded columns are zero-filled on load and never stored). */
#define FC_SM80_HEAD_DIMS 64, 96, 128, 192, 256
enum { FC_SM80_NUM_HDIMS = 5 };

typedef struct fc_tile_cfg {
    int m;        /* query rows per CTA */
    int n;        /* keys per mainloop step */
    int warps;    /* warps per CTA */
    int stages;   /* shared buffers for K and for V */
    int q_regs;   /* Q fragments kept in registers */
    int pipe;     /* 1: pipelined mainloop (needs stages >= 2); 0: two-phase */
    int min_ctas; /* __launch_bounds__ min blocks per SM (register budget 65536/(32*warps*min_ctas)) */
    int groups;   /* key groups: warps/groups warps own the m rows; group g takes key blocks g, g+groups, ...
                     with its own Q copy and K/V buffers, and the groups merge through shared memory */
} fc_tile_cfg;

/* Distinct configurations. The kernel template is instantiated per config id, so two classes that
 * share a config share one compiled kernel. Ids 9, 10, 13 and 17 are tuning-only: compiled only in
 * tuning builds (fc_cfg_tuning_extra), to compare tiles on a device in one run. Ids of removed
 * experiments stay unused, so that the recorded results keep theirs. */
enum {
    FC_CFG_M128_N64_W4_S2_QR = 0, /* hd 64 everywhere (48 KB) */
    FC_CFG_M128_N64_W4_S1 = 1,    /* hd 96 everywhere (48 KB), hd 128 on sm_80 (64 KB: 2 CTAs/SM) */
    FC_CFG_M128_N64_W4_S2 = 2,    /* hd 128 on sm_90 (96 KB: 2 CTAs/SM) */
    FC_CFG_M128_N32_W4_S1 = 3,    /* hd 128 on sm_86/89 (48 KB: 2 CTAs/SM in 100 KB) */
    FC_CFG_P_M128_N64_W8_S2 = 4,  /* pipelined: hd 192 on sm_80/90 (144 KB), hd 256 on sm_90 (192 KB) */
    FC_CFG_P_M128_N32_W8_S2 = 5,  /* pipelined: hd 256 on sm_80 (128 KB) */
    FC_CFG_P_M64_N32_W4_S2 = 6,   /* pipelined: hd 192 (72 KB), hd 256 (96 KB) on sm_86/89 */
    /* 7, 8: v3's pipelined tiles with three buffers (hd 64 / 128; bench/NOTES.md v3), removed: they
     * spilled with nvcc 13 */
    FC_CFG_P_M128_N128_W8_S2 = 9,   /* tuning: hd 64/128, pipelined, 16 rows per warp */
    FC_CFG_M128_N64_W4_S3_QR = 10,  /* tuning: hd 64, two-phase, three buffers (64 KB) */
    /* production again: the key-group split for small grids (FC_ALT_QSPLIT) */
    FC_CFG_Q_M64_N64_W8_G4_S2_QR = 11, /* hd 64 on sm_90: 64 rows, 4 groups x 2 warps (160.5 KB) */
    /* the key-group split with one-warp groups (bench/NOTES.md, v6), 8 of them on 32 rows (twice
     * config 11's CTAs for the same rows); 8 double K/V buffers of 64 keys would need 256 KB, so
     * either one buffer of 64 keys or two of 32 (161 KB either way). 12 is production (one wave of
     * 32-row CTAs, fc_sm80_take_qsplit), 13 tuning-only (measured no better, v6) */
    FC_CFG_Q_M32_N64_W8_G8_S1_QR = 12, /* hd 64 on sm_90: V(t) issued once K(t) has landed */
    FC_CFG_Q_M32_N32_W8_G8_S2_QR = 13, /* tuning: hd 64 on sm_90: V(0) in the prologue, 32-key steps */
    FC_CFG_M128_N128_W4_S1 = 14,       /* production (FC_ALT_SHORT): hd 64 on sm_90 when the key range
                                          per query tile is short: two-phase, 128-key steps (FA2's hd-64
                                          step), one buffer (48 KB; two buffers spill 56 bytes) */
    /* 15, 16: hd 256 with the head dim split over warp pairs (bench/NOTES.md v8): measured 26-29 % /
     * 15-18 % slower than 4, removed */
    FC_CFG_M128_N64_W8_S1 = 17,        /* tuning: hd 192/256, two-phase, one buffer, 128 rows (128 KB; taken for
                                          FA2's hd-256 tile until ncu showed 64 rows): 7-10 % slower
                                          than 4 at hd 256 (NOTES v8) */
    /* production again: the short-key-range tile (FC_ALT_SHORT) */
    FC_CFG_M64_N64_W4_S1 = 18,         /* hd 192/256 on sm_90 when the key range per query tile is short:
                                          two-phase, one buffer, 64 rows (96 KB: 2 CTAs/SM; the tile FA2
                                          runs at hd 256 on the H200, ncu, NOTES v8) */
    FC_CFG_COUNT = 19
};

static __host__ __device__ __forceinline__ constexpr fc_tile_cfg fc_cfg_get(int id) {
    /*                    m    n  warps stages qregs pipe min_ctas groups */
    return id == FC_CFG_M128_N64_W4_S2_QR   ? fc_tile_cfg{128, 64, 4, 2, 1, 0, 2, 1}
         : id == FC_CFG_M128_N64_W4_S1      ? fc_tile_cfg{128, 64, 4, 1, 0, 0, 2, 1}
         : id == FC_CFG_M128_N64_W4_S2      ? fc_tile_cfg{128, 64, 4, 2, 0, 0, 2, 1}
         : id == FC_CFG_M128_N32_W4_S1      ? fc_tile_cfg{128, 32, 4, 1, 0, 0, 2, 1}
         : id == FC_CFG_P_M128_N64_W8_S2    ? fc_tile_cfg{128, 64, 8, 2, 0, 1, 1, 1}
         : id == FC_CFG_P_M128_N32_W8_S2    ? fc_tile_cfg{128, 32, 8, 2, 0, 1, 1, 1}
         : id == FC_CFG_P_M64_N32_W4_S2     ? fc_tile_cfg{64, 32, 4, 2, 0, 1, 1, 1}
         : id == FC_CFG_P_M128_N128_W8_S2   ? fc_tile_cfg{128, 128, 8, 2, 0, 1, 1, 1}
         : id == FC_CFG_M128_N64_W4_S3_QR   ? fc_tile_cfg{128, 64, 4, 3, 1, 0, 2, 1}
         : id == FC_CFG_Q_M64_N64_W8_G4_S2_QR ? fc_tile_cfg{64, 64, 8, 2, 1, 0, 1, 4}
         : id == FC_CFG_Q_M32_N64_W8_G8_S1_QR ? fc_tile_cfg{32, 64, 8, 1, 1, 0, 1, 8}
         : id == FC_CFG_Q_M32_N32_W8_G8_S2_QR ? fc_tile_cfg{32, 32, 8, 2, 1, 0, 1, 8}
         : id == FC_CFG_M128_N128_W4_S1     ? fc_tile_cfg{128, 128, 4, 1, 0, 0, 2, 1}
         : id == FC_CFG_M128_N64_W8_S1      ? fc_tile_cfg{128, 64, 8, 1, 0, 0, 1, 1}
         :                                    fc_tile_cfg{64, 64, 4, 1, 0, 0, 2, 1};
}

/* The tile table: config id for (arch class, compiled head dim). */
static __host__ __device__ __forceinline__ constexpr int fc_cfg_for(int cls, int hdim) {
    return hdim <= 64 ? FC_CFG_M128_N64_W4_S2_QR
         : hdim <= 96 ? FC_CFG_M128_N64_W4_S1
         : hdim <= 128 ? (cls == FC_CLS_SM90 ? FC_CFG_M128_N64_W4_S2
                        : cls == FC_CLS_SM80 ? FC_CFG_M128_N64_W4_S1
                                             : FC_CFG_M128_N32_W4_S1)
         : hdim <= 192 ? (cls == FC_CLS_SM8X ? FC_CFG_P_M64_N32_W4_S2 : FC_CFG_P_M128_N64_W8_S2)
                       : (cls == FC_CLS_SM90 ? FC_CFG_P_M128_N64_W8_S2
                        : cls == FC_CLS_SM80 ? FC_CFG_P_M128_N32_W8_S2
                                             : FC_CFG_P_M64_N32_W4_S2);
}

/* The plan's choice among the tiles of an arch class for a compiled head dim (launch.cu): the
 * table's, or one of the alternatives below, each measured on sm_90 and only there (on sm_80 they
 * would be unmeasured; on sm_86/89 the key-group splits do not fit in 99 KB and hd 192/256 already
 * run 64-row tiles):
 *  - the key-group split (config 11: 64-row tiles whose 4 warp groups take alternate key blocks and
 *    merge in shared memory) instead of split-KV when its CTAs fit in one wave and the key range is
 *    short (bench/NOTES.md v5); its one-warp-group variant (config 12, v6); in tuning builds that
 *    one's 32-key variant (config 13, forced by FC_TUNE_QSPLIT=3 for an A/B);
 *  - the short-key-range tile, when each query tile sees few keys (v8): hd 64 config 14 (128-key
 *    steps: half the per-step work that a short loop cannot amortise), hd 192/256 config 18 (64
 *    rows, two CTAs per SM).
 * The values of the key-group splits are those of FC_TUNE_QSPLIT (launch.cu). */
enum {
    FC_ALT_TABLE = 0,
    FC_ALT_QSPLIT = 1,       /* key-group split: never with split-KV */
    FC_ALT_QSPLIT_1W = 2,    /* one-warp groups */
    FC_ALT_QSPLIT_1W32 = 3,  /* one-warp groups, 32-key steps (tuning builds) */
    FC_ALT_SHORT = 4
};
static __host__ __device__ __forceinline__ constexpr bool fc_alt_is_qsplit(int alt) {
    return alt >= FC_ALT_QSPLIT && alt <= FC_ALT_QSPLIT_1W32;
}
/* Config id of alternative alt for (arch class, compiled head dim), -1 where there is none. */
static __host__ __device__ __forceinline__ constexpr int fc_cfg_alt(int cls, int hdim, int alt) {
    return alt == FC_ALT_TABLE ? fc_cfg_for(cls, hdim)
         : cls != FC_CLS_SM90 ? -1
         : alt == FC_ALT_QSPLIT ? (hdim <= 64 ? FC_CFG_Q_M64_N64_W8_G4_S2_QR : -1)
         : alt == FC_ALT_QSPLIT_1W ? (hdim <= 64 ? FC_CFG_Q_M32_N64_W8_G8_S1_QR : -1)
#ifdef FC_CUDA_TUNING
         : alt == FC_ALT_QSPLIT_1W32 ? (hdim <= 64 ? FC_CFG_Q_M32_N32_W8_G8_S2_QR : -1)
#endif
         : alt == FC_ALT_SHORT ? (hdim <= 64 ? FC_CFG_M128_N128_W4_S1 : hdim > 128 ? FC_CFG_M64_N64_W4_S1 : -1)
                               : -1;
}

/* Shared memory of the tiles of one key group of a config at head dim hdim: Q tile + stages x
 * (K + V) tiles. */
static __host__ __device__ __forceinline__ constexpr int fc_cfg_smem(fc_tile_cfg c, int hdim) {
    return (c.m + 2 * c.stages * c.n) * hdim * 2;
}
/* A key group's share of the dynamic shared memory: its tiles plus a 16-byte slot for the K/V base
 * pointers (see fc_loop_ctx in sm80/mainloop.cuh); with several groups, rounded up to 128 bytes so
 * that every group's tiles start on the same bank alignment. */
enum { FC_SMEM_SLOT_BYTES = 16 };
static __host__ __device__ __forceinline__ constexpr int fc_cfg_group_bytes(fc_tile_cfg c, int hdim) {
    return c.groups == 1 ? fc_cfg_smem(c, hdim) + FC_SMEM_SLOT_BYTES
                         : (fc_cfg_smem(c, hdim) + FC_SMEM_SLOT_BYTES + 127) / 128 * 128;
}
/* Dynamic shared memory a launch asks for. */
static __host__ __device__ __forceinline__ constexpr int fc_cfg_smem_launch(fc_tile_cfg c, int hdim) {
    return c.groups * fc_cfg_group_bytes(c, hdim);
}

/* Warps and threads of one key group (all of the CTA's warps when groups = 1). */
static __host__ __device__ __forceinline__ constexpr int fc_cfg_group_warps(fc_tile_cfg c) { return c.warps / c.groups; }

/* Output accumulator registers per thread of a config at head dim hdim (tuning builds skip
 * alternatives above 128: they cannot be spill-free). */
static __host__ __device__ __forceinline__ constexpr int fc_cfg_o_regs(fc_tile_cfg c, int hdim) {
    return (c.m / fc_cfg_group_warps(c) / 16) * (hdim / 8) * 4;
}

/* The tile loader (common/smem.cuh) gives each thread of a key group rows kStep apart, kStep =
 * group threads / chunks per swizzle group (8, or 4 when the row has 4 mod 8 chunks), and needs kStep
 * to be a multiple of 8; a one-warp group at 8 chunks a row (kStep 4) loads as two 64-thread halves
 * (fc_group_loader, sm80/mainloop.cuh), i.e. with 8-row steps. Tiles must hold whole steps. */
static __host__ __device__ __forceinline__ constexpr int fc_cfg_thread_step(fc_tile_cfg c, int hdim) {
    return fc_cfg_group_warps(c) * 32 / ((hdim / 8) % 8 == 0 ? 8 : 4);
}
static __host__ __device__ __forceinline__ constexpr int fc_cfg_load_step(fc_tile_cfg c, int hdim) {
    return fc_cfg_thread_step(c, hdim) % 8 == 0 ? fc_cfg_thread_step(c, hdim) : 2 * fc_cfg_thread_step(c, hdim);
}
static __host__ __device__ __forceinline__ constexpr bool fc_cfg_loadable(fc_tile_cfg c, int hdim) {
    return fc_cfg_load_step(c, hdim) % 8 == 0 && c.n % fc_cfg_load_step(c, hdim) == 0 &&
           c.m % fc_cfg_load_step(c, hdim) == 0;
}

/* Arch class of a compute capability (major*10+minor); -1 when no portable kernel serves it
 * (pre-Ampere; and sm_100+, for which this build has no SASS and ships no PTX). */
static __host__ __device__ __forceinline__ constexpr int fc_arch_class(int sm) {
    return sm == 80 ? FC_CLS_SM80
         : (sm == 86 || sm == 87 || sm == 89) ? FC_CLS_SM8X
         : sm == 90 ? FC_CLS_SM90
                    : -1;
}

/* The configs a tuning build (-DFC_CUDA_TUNING) adds on sm_90 at head dim hdim, to compare tiles on
 * a device in one run (besides the production ones; only where they fit, fc_cfg_used_on): the
 * tuning-only configs and sm_86/89's hd-192/256 tile (config 6), at the head dims they were written
 * for (config 10 spills at hd 128: 420 bytes with nvcc 13). */
static __host__ __device__ __forceinline__ constexpr bool fc_cfg_tuning_extra(int id, int hdim) {
    return id == FC_CFG_P_M128_N128_W8_S2 || id == FC_CFG_Q_M32_N32_W8_G8_S2_QR ||
           (id == FC_CFG_M128_N64_W4_S3_QR && hdim <= 64) ||
           ((id == FC_CFG_M128_N64_W8_S1 || id == FC_CFG_P_M64_N32_W4_S2) && hdim >= 192);
}

/* Can a plan of arch class cls run config id at head dim hdim (one of its production alternatives;
 * tuning builds compile config 13 as a tuning-only config)? */
static __host__ __device__ __forceinline__ constexpr bool fc_cfg_launched_by(int cls, int id, int hdim) {
    return fc_cfg_alt(cls, hdim, FC_ALT_TABLE) == id || fc_cfg_alt(cls, hdim, FC_ALT_QSPLIT) == id ||
           fc_cfg_alt(cls, hdim, FC_ALT_QSPLIT_1W) == id || fc_cfg_alt(cls, hdim, FC_ALT_SHORT) == id;
}
/* Does any arch class that `sm` belongs to use config `id` at head dim `hdim`? Kernels compiled
 * for an arch that never launches them get an empty body (keeps the 4-arch build fast). Tuning
 * builds add on sm_90 fc_cfg_tuning_extra's configs and the sm_80 and sm_86/89 tile tables (run
 * there by FC_TUNE_CLASS, below). */
static __host__ __device__ __forceinline__ constexpr bool fc_cfg_used_on(int id, int hdim, int sm) {
#ifdef FC_CUDA_TUNING
    if (sm == 90)
        return fc_cfg_launched_by(FC_CLS_SM90, id, hdim) || fc_cfg_launched_by(FC_CLS_SM80, id, hdim) ||
               fc_cfg_launched_by(FC_CLS_SM8X, id, hdim) ||
               (fc_cfg_tuning_extra(id, hdim) && fc_cfg_smem_launch(fc_cfg_get(id), hdim) <= 227 * 1024 &&
                fc_cfg_o_regs(fc_cfg_get(id), hdim) <= 128 && fc_cfg_loadable(fc_cfg_get(id), hdim));
#endif
    return fc_arch_class(sm) >= 0 && fc_cfg_launched_by(fc_arch_class(sm), id, hdim);
}

#ifdef FC_CUDA_TUNING
#include <stdlib.h>
/* Tuning builds (host side): the config FC_TUNE_CFG forces on sm_90 for compiled head dim hdim, -1
 * for none. FC_TUNE_CFG=<id> forces it on every call (benchmarks); <id>:<hdim> only on that head
 * dim's calls, so that the test grid can run a tuning config where it exists and the plan elsewhere
 * (scripts/dev-gpu.sh check). */
static inline int fc_tune_cfg_env(int hdim) {
    const char *e = getenv("FC_TUNE_CFG");
    if (!e || !*e) return -1;
    char *end;
    const long id = strtol(e, &end, 10);
    if (end == e || id < 0 || id > 1000) return -1; /* ids past the table: the launch reports them */
    if (*end == ':' && strtol(end + 1, NULL, 10) != hdim) return -1;
    return (int)id;
}
/* Tuning builds (host side): FC_TUNE_CLASS=80 or 86 (or 89) makes the portable plan on sm_90 that
 * of the sm_80 or sm_86/89 class: its tile table, none of sm_90's alternative tiles, the same
 * split-KV rule. The kernels are sm_90 SASS of the same source, so the test grid and the
 * sanitizers can run every config of those tables on a Hopper GPU when no sm_80/86/89 part is at
 * hand (scripts/dev-gpu.sh check); their speed there says nothing about those GPUs. -1: not set. */
static inline int fc_tune_class_env(void) {
    const char *e = getenv("FC_TUNE_CLASS");
    if (!e || !*e) return -1;
    const long sm = strtol(e, NULL, 10);
    return sm == 80 ? FC_CLS_SM80 : (sm == 86 || sm == 89) ? FC_CLS_SM8X : -1;
}
#endif

#endif
