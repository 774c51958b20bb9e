/*
 * Tile shapes of the portable (mma.sync) forward kernel, shared by host and device code.
 *
 * A config is: kM query rows per CTA, kN keys per mainloop step, kWarps warps (each owns
 * kM / kWarps consecutive query rows, i.e. kM / (16 kWarps) m16 tiles), kStages shared-memory
 * buffers for K and for V, and whether the Q fragments stay in registers for the whole CTA.
 *
 * Reasons behind the numbers (registers per thread are the binding limit; 255 at most):
 *  - 32 query rows per warp (two m16 tiles) let every K/V fragment read by ldmatrix feed two
 *    mma's: half the shared-memory traffic of 16 rows per warp. On H100 that traffic, not the
 *    tensor cores, caps a 16-row warp (128 B/clk/SM of shared bandwidth against ~1.5 clk per
 *    m16n8k16). Affordable up to head dim 128: O accumulators 2*16*4 = 128 fp32 registers plus
 *    S 2*8*4 = 64 at kN = 64.
 *  - head dims 192 and 256 need 96 / 128 accumulator registers for 16 rows already: 16 rows per
 *    warp, 8 warps to keep 128 rows per CTA.
 *  - kStages = 2 double-buffers K and V (loads for step i+1 overlap step i entirely); kStages = 1
 *    is the interleaved scheme (V(i) loads during Q K(i)^T, K(i+1) during softmax and P V(i)),
 *    used where shared memory is short.
 *  - Shared memory per CTA must fit the per-block opt-in limit of the arch class: 227 KB on
 *    sm_90, 163 KB on sm_80, 99 KB on sm_86/sm_89 (which also have only 100 KB per SM, so one
 *    CTA of > 50 KB there runs alone on its SM).
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
    int stages;   /* K and V shared buffers */
    int q_regs;   /* Q fragments kept in registers */
    int min_ctas; /* __launch_bounds__ min blocks per SM (register budget 65536/(32*warps*min_ctas)) */
} fc_tile_cfg;

/* Distinct configurations. The kernel template is instantiated per config id, so two classes that
 * share a config share one compiled kernel. */
enum {
    FC_CFG_M128_N64_W4_S2_QR = 0, /* hd 64 everywhere */
    FC_CFG_M128_N64_W4_S2 = 1,    /* hd 128 on sm_90 (96 KB: 2 CTAs/SM) */
    FC_CFG_M128_N64_W4_S1 = 2,    /* hd 96 everywhere (48 KB; the 2-stage variant spills 4 bytes at hd 96),
                                     hd 128 on sm_80 (64 KB: 2 CTAs/SM in 164 KB) */
    FC_CFG_M128_N32_W4_S1 = 3,    /* hd 128 on sm_86/89 (48 KB: 2 CTAs/SM in 100 KB) */
    FC_CFG_M128_N64_W8_S2 = 4,    /* hd 192 (144 KB), hd 256 (192 KB) on sm_90; hd 192 on sm_80 */
    FC_CFG_M128_N64_W8_S1 = 5,    /* hd 256 on sm_80 (128 KB) */
    FC_CFG_M64_N64_W4_S1 = 6,     /* hd 192 (72 KB), hd 256 (96 KB) on sm_86/89 */
    FC_CFG_COUNT = 7
};

static __host__ __device__ __forceinline__ constexpr fc_tile_cfg fc_cfg_get(int id) {
    /*                 m    n  warps stages qregs min_ctas */
    return id == FC_CFG_M128_N64_W4_S2_QR ? fc_tile_cfg{128, 64, 4, 2, 1, 2}
         : id == FC_CFG_M128_N64_W4_S2    ? fc_tile_cfg{128, 64, 4, 2, 0, 2}
         : id == FC_CFG_M128_N64_W4_S1    ? fc_tile_cfg{128, 64, 4, 1, 0, 2}
         : id == FC_CFG_M128_N32_W4_S1    ? fc_tile_cfg{128, 32, 4, 1, 0, 2}
         : id == FC_CFG_M128_N64_W8_S2    ? fc_tile_cfg{128, 64, 8, 2, 0, 1}
         : id == FC_CFG_M128_N64_W8_S1    ? fc_tile_cfg{128, 64, 8, 1, 0, 1}
         :                                  fc_tile_cfg{64, 64, 4, 1, 0, 1};
}

/* The tile table: config id for (arch class, compiled head dim). */
static __host__ __device__ __forceinline__ constexpr int fc_cfg_for(int cls, int hdim) {
    return hdim <= 64 ? FC_CFG_M128_N64_W4_S2_QR
         : hdim <= 96 ? FC_CFG_M128_N64_W4_S1
         : hdim <= 128 ? (cls == FC_CLS_SM90 ? FC_CFG_M128_N64_W4_S2
                        : cls == FC_CLS_SM80 ? FC_CFG_M128_N64_W4_S1
                                             : FC_CFG_M128_N32_W4_S1)
         : hdim <= 192 ? (cls == FC_CLS_SM8X ? FC_CFG_M64_N64_W4_S1 : FC_CFG_M128_N64_W8_S2)
                       : (cls == FC_CLS_SM90 ? FC_CFG_M128_N64_W8_S2
                        : cls == FC_CLS_SM80 ? FC_CFG_M128_N64_W8_S1
                                             : FC_CFG_M64_N64_W4_S1);
}

/* Dynamic shared memory of a config at head dim hdim: Q tile + kStages (K + V) tiles. */
static __host__ __device__ __forceinline__ constexpr int fc_cfg_smem(fc_tile_cfg c, int hdim) {
    return (c.m + 2 * c.stages * c.n) * hdim * 2;
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
 * for an arch that never launches them get an empty body (keeps the 4-arch build fast). */
static __host__ __device__ __forceinline__ constexpr bool fc_cfg_used_on(int id, int hdim, int sm) {
    return fc_arch_class(sm) >= 0 && fc_cfg_for(fc_arch_class(sm), hdim) == id;
}

#endif
