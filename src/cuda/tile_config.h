/*
 * Tile shapes of the portable (mma.sync) forward kernel, shared by host and device code.
 *
 * A config is: kM query rows per CTA, kN keys per mainloop step, kWarps warps (each owns
 * kM / kWarps consecutive query rows, i.e. kM / (16 kWarps) m16 tiles), and whether the Q
 * fragments stay in registers for the whole CTA. K and V are always double-buffered (the
 * pipelined mainloop reads K(t+1) and V(t) while K(t+2) and V(t+1) load).
 *
 * Reasons behind the numbers (registers per thread are the binding limit; 255 at most):
 *  - 32 query rows per warp (two m16 tiles) let every K/V fragment read by ldmatrix feed two
 *    mma's: half the shared-memory traffic of 16 rows per warp. On H100 that traffic, not the
 *    tensor cores, caps a 16-row warp (128 B/clk/SM of shared bandwidth against ~1.5 clk per
 *    m16n8k16). Affordable up to head dim 128.
 *  - The pipelined step keeps O, the packed P of the previous tile and the fp32 S of the next one
 *    live together: O (kMT*kD/2 regs) + P (kMT*kN/4) + S (kMT*kN/2). At hd 128 with two m-tiles
 *    that is 128 + 16 + 32 at kN = 32 (kN = 64 spills); at hd 64, 64 + 32 + 64 at kN = 64 plus
 *    32 registers of Q fragments.
 *  - head dims 192 and 256 need 96 / 128 accumulator registers for 16 rows already: 16 rows per
 *    warp, 8 warps to keep 128 rows per CTA.
 *  - Shared memory per CTA, Q + 2 x (K + V), must fit the per-block opt-in limit of the arch
 *    class: 227 KB on sm_90, 163 KB on sm_80, 99 KB on sm_86/sm_89 (which also have only 100 KB
 *    per SM).
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
    int q_regs;   /* Q fragments kept in registers */
    int min_ctas; /* __launch_bounds__ min blocks per SM (register budget 65536/(32*warps*min_ctas)) */
} fc_tile_cfg;

/* Distinct configurations. The kernel template is instantiated per config id, so two classes that
 * share a config share one compiled kernel. Ids >= FC_CFG_PRODUCTION are compiled only in tuning
 * builds (-DFC_CUDA_TUNING), to compare tiles on a device in one run. */
enum {
    FC_CFG_M128_N64_W4_QR = 0, /* hd 64 everywhere (48 KB smem, 2 CTAs/SM by registers) */
    FC_CFG_M128_N32_W4 = 1,    /* hd 96, hd 128 everywhere (hd 128: 64 KB) */
    FC_CFG_M128_N64_W8 = 2,    /* hd 192 on sm_80/sm_90 (144 KB), hd 256 on sm_90 (192 KB) */
    FC_CFG_M128_N32_W8 = 3,    /* hd 256 on sm_80 (128 KB) */
    FC_CFG_M64_N32_W4 = 4,     /* hd 192 (72 KB), hd 256 (96 KB) on sm_86/89 */
    FC_CFG_PRODUCTION = 5,
    /* tuning-only alternatives */
    FC_CFG_M128_N64_W4 = 5,
    FC_CFG_M64_N64_W4_QR = 6,
    FC_CFG_M128_N128_W8 = 7,
    FC_CFG_M64_N64_W4 = 8,
    FC_CFG_M128_N32_W4_QR = 9,
    FC_CFG_M64_N32_W4_QR = 10,
    FC_CFG_COUNT = 11
};

static __host__ __device__ __forceinline__ constexpr fc_tile_cfg fc_cfg_get(int id) {
    /*                 m    n  warps qregs min_ctas */
    return id == FC_CFG_M128_N64_W4_QR  ? fc_tile_cfg{128, 64, 4, 1, 2}
         : id == FC_CFG_M128_N32_W4     ? fc_tile_cfg{128, 32, 4, 0, 2}
         : id == FC_CFG_M128_N64_W8     ? fc_tile_cfg{128, 64, 8, 0, 1}
         : id == FC_CFG_M128_N32_W8     ? fc_tile_cfg{128, 32, 8, 0, 1}
         : id == FC_CFG_M64_N32_W4      ? fc_tile_cfg{64, 32, 4, 0, 1}
         : id == FC_CFG_M128_N64_W4     ? fc_tile_cfg{128, 64, 4, 0, 2}
         : id == FC_CFG_M64_N64_W4_QR   ? fc_tile_cfg{64, 64, 4, 1, 2}
         : id == FC_CFG_M128_N128_W8    ? fc_tile_cfg{128, 128, 8, 0, 1}
         : id == FC_CFG_M64_N64_W4      ? fc_tile_cfg{64, 64, 4, 0, 2}
         : id == FC_CFG_M128_N32_W4_QR  ? fc_tile_cfg{128, 32, 4, 1, 2}
         :                                fc_tile_cfg{64, 32, 4, 1, 2};
}

/* The tile table: config id for (arch class, compiled head dim). */
static __host__ __device__ __forceinline__ constexpr int fc_cfg_for(int cls, int hdim) {
    return hdim <= 64 ? FC_CFG_M128_N64_W4_QR
         : hdim <= 128 ? FC_CFG_M128_N32_W4
         : hdim <= 192 ? (cls == FC_CLS_SM8X ? FC_CFG_M64_N32_W4 : FC_CFG_M128_N64_W8)
                       : (cls == FC_CLS_SM90 ? FC_CFG_M128_N64_W8
                        : cls == FC_CLS_SM80 ? FC_CFG_M128_N32_W8
                                             : FC_CFG_M64_N32_W4);
}

/* Dynamic shared memory of a config at head dim hdim: Q tile + 2 x (K + V) tiles. */
static __host__ __device__ __forceinline__ constexpr int fc_cfg_smem(fc_tile_cfg c, int hdim) {
    return (c.m + 4 * c.n) * hdim * 2;
}

/* Output accumulator registers per thread of a config at head dim hdim (tuning builds skip
 * alternatives above 128: they cannot be spill-free). */
static __host__ __device__ __forceinline__ constexpr int fc_cfg_o_regs(fc_tile_cfg c, int hdim) {
    return (c.m / c.warps / 16) * (hdim / 8) * 4;
}

/* The tile loader (common/smem.cuh) gives each thread rows kStep apart, kStep = threads / chunks
 * per swizzle group (8, or 4 when the row has 4 mod 8 chunks); tiles must hold whole multiples. */
static __host__ __device__ __forceinline__ constexpr bool fc_cfg_loadable(fc_tile_cfg c, int hdim) {
    return c.n % (c.warps * 32 / ((hdim / 8) % 8 == 0 ? 8 : 4)) == 0 &&
           c.m % (c.warps * 32 / ((hdim / 8) % 8 == 0 ? 8 : 4)) == 0;
}

/* Arch class of a compute capability (major*10+minor); -1 when no portable kernel serves it
 * (pre-Ampere; and sm_100+, for which this build has no SASS and ships no PTX). */
static __host__ __device__ __forceinline__ constexpr int fc_arch_class(int sm) {
    return sm == 80 ? FC_CLS_SM80
         : (sm == 86 || sm == 87 || sm == 89) ? FC_CLS_SM8X
         : sm == 90 ? FC_CLS_SM90
                    : -1;
}

/* Does any arch class that `sm` belongs to use config `id` at head dim `hdim`? Kernels compiled
 * for an arch that never launches them get an empty body (keeps the 4-arch build fast). Tuning
 * builds compile every alternative that fits on sm_90. */
static __host__ __device__ __forceinline__ constexpr bool fc_cfg_used_on(int id, int hdim, int sm) {
#ifdef FC_CUDA_TUNING
    if (sm == 90)
        return fc_cfg_for(FC_CLS_SM90, hdim) == id ||
               (fc_cfg_smem(fc_cfg_get(id), hdim) <= 227 * 1024 && fc_cfg_o_regs(fc_cfg_get(id), hdim) <= 128 &&
                fc_cfg_loadable(fc_cfg_get(id), hdim));
#endif
    return fc_arch_class(sm) >= 0 && fc_cfg_for(fc_arch_class(sm), hdim) == id;
}

#endif
