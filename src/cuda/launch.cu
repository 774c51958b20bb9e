/*
 * CUDA backend entry points (cuda_backend.h): device queries, the one kernel decision (arch class,
 * dtype, head dim, split-KV) shared by the workspace query and the launch, device switching, and
 * error mapping.
 *
 * Decision (fc_cuda_plan_for, the only place it is made), in order:
 *   1. the Hopper kernel (src/cuda/sm90) when this build has it and it accepts the call;
 *   2. the portable mma.sync kernel: the smallest compiled head dim >= head_dim, the tile config of
 *      the device's arch class (tile_config.h) or, on sm_90, one of its alternatives (fc_cfg_alt):
 *      the key-group split for small grids (fc_sm80_take_qsplit) or the short-key-range tile
 *      (fc_sm80_take_short), and split-KV when the grid would leave SMs idle (fc_sm80_num_splits)
 *      and the workspace it needs is available.
 * The workspace query asks the plan with an unlimited workspace and reports what it uses; the run
 * asks it with the caller's workspace_size. So the run never uses more workspace than the query
 * reported, and with the queried size it runs the plan the query described.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cuda_runtime.h>

#include "internal.h"
#include "cuda/cuda_backend.h"
#include "cuda/tile_config.h"
#include "cuda/sm80/fwd_args.h"
#include "cuda/sm80/instances.h"
#ifdef FC_HAVE_SM90
#include "cuda/sm90/sm90_launch.h"
#endif

/* ---------------------------------------------------------------------------------------------
 * Errors (taken from the failing call's return value: see fc_cuda_clear in cuda_backend.h)
 * ------------------------------------------------------------------------------------------- */
fc_status fc_cuda_status(cudaError_t e, const char *what) {
    if (e == cudaSuccess) return FC_SUCCESS;
    fc_cuda_clear(e);
    if (e == cudaErrorNoKernelImageForDevice || e == cudaErrorInvalidDeviceFunction)
        return fc_set_error(FC_ERROR_NOT_SUPPORTED, "%s: %s (this build has no kernel image for the device)", what,
                            cudaGetErrorName(e));
    return fc_set_error(FC_ERROR_CUDA, "%s: %s (%s)", what, cudaGetErrorName(e), cudaGetErrorString(e));
}

/* ---------------------------------------------------------------------------------------------
 * Device properties, read once per device (attribute queries need no device switch)
 * ------------------------------------------------------------------------------------------- */
typedef struct fc_dev_props {
    int sm;         /* major*10 + minor */
    int sms;        /* multiprocessors */
    int smem_optin; /* max dynamic shared memory per block after opt-in, bytes */
} fc_dev_props;

static fc_dev_props g_props[FC_MAX_DEVICES];
static int g_props_ready[FC_MAX_DEVICES];

static fc_status fc_dev_props_get(int dev, fc_dev_props *out) {
    if (dev >= 0 && dev < FC_MAX_DEVICES && __atomic_load_n(&g_props_ready[dev], __ATOMIC_ACQUIRE)) {
        *out = g_props[dev];
        return FC_SUCCESS;
    }
    int major = 0, minor = 0, sms = 0, smem = 0;
    cudaError_t e = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev);
    if (e != cudaSuccess) return fc_cuda_status(e, "reading device attributes");
    out->sm = major * 10 + minor;
    out->sms = sms;
    out->smem_optin = smem;
    if (dev >= 0 && dev < FC_MAX_DEVICES) {
        g_props[dev] = *out; /* concurrent first calls write the same values */
        __atomic_store_n(&g_props_ready[dev], 1, __ATOMIC_RELEASE);
    }
    return FC_SUCCESS;
}

/* ---------------------------------------------------------------------------------------------
 * The portable kernel's plan
 * ------------------------------------------------------------------------------------------- */
static const int k_hdims[FC_SM80_NUM_HDIMS] = {FC_SM80_HEAD_DIMS};

/* The dispatch table, from the instance list: f16 head dims first, then bf16, each in the order
 * of FC_SM80_HEAD_DIMS (checked at compile time below). */
#define FC_SM80_FN(tag, type, hd) fc_sm80_fwd_##tag##_hd##hd,
static const fc_sm80_fwd_fn k_fns[] = {FC_SM80_INSTANCES(FC_SM80_FN)};
#undef FC_SM80_FN
#define FC_SM80_HD(tag, type, hd) hd,
#define FC_SM80_BF(tag, type, hd) (sizeof(#tag) == sizeof("bf16")),
static constexpr int k_inst_hd[] = {FC_SM80_INSTANCES(FC_SM80_HD)};
static constexpr int k_inst_bf[] = {FC_SM80_INSTANCES(FC_SM80_BF)};
#undef FC_SM80_HD
#undef FC_SM80_BF
static constexpr bool fc_table_consistent() {
    constexpr int hd[FC_SM80_NUM_HDIMS] = {FC_SM80_HEAD_DIMS};
    for (int t = 0; t < 2; ++t)
        for (int i = 0; i < FC_SM80_NUM_HDIMS; ++i)
            if (k_inst_hd[t * FC_SM80_NUM_HDIMS + i] != hd[i] || k_inst_bf[t * FC_SM80_NUM_HDIMS + i] != t)
                return false;
    return true;
}
static_assert(sizeof(k_fns) / sizeof(k_fns[0]) == 2 * FC_SM80_NUM_HDIMS, "instance list and head dims disagree");
static_assert(fc_table_consistent(), "FC_SM80_INSTANCES must list f16 then bf16, head dims in FC_SM80_HEAD_DIMS order");

typedef struct fc_sm80_plan {
    int cls;          /* arch class */
    int hdim;         /* compiled head dim serving the call */
    fc_sm80_fwd_fn fn;
    int num_m_blocks;
    int num_splits;
    int alt;             /* which of the class's tiles (FC_ALT_*, fc_cfg_alt); a key-group split never
                            takes split-KV */
    size_t o_part_bytes; /* workspace layout under split-KV: o partials, then lse partials */
    size_t ws_bytes;
} fc_sm80_plan;

enum { FC_WS_ALIGN = 256 };

/*
 * Split-KV heuristic. At least one CTA per SM is needed to hide latency; below that, split every
 * CTA's key range in 4 (2 when 4 would put more than two CTAs on an SM), never more parts than
 * key blocks. Measured on the H100 at the seed shape (fp16 B=1 H=8 D=64, graph replay, runs 1-2):
 * 4 parts beat 1, 2 and 8 at S = 256, 512 and 1024 (e.g. S=1024: 24.0 / 19.7 / 18.5 / 23.8 us for
 * 1 / 2 / 4 / 8); more parts add partials to combine and per-CTA fixed cost.
 */
static int fc_sm80_num_splits(int64_t ctas, int64_t n_blocks, int sms) {
    if (ctas <= 0 || ctas >= sms) return 1;
    int64_t s = 4;
    while (s > 2 && ctas * s > 2 * (int64_t)sms) s /= 2;
    if (s > n_blocks) s = n_blocks;
#ifdef FC_CUDA_TUNING
    /* Benchmark builds only: force the split count (1 disables). */
    const char *force = getenv("FC_TUNE_SPLITS");
    if (force && atoi(force) >= 1) s = atoi(force) > FC_MAX_SPLITS ? FC_MAX_SPLITS : atoi(force);
#endif
    return s >= 2 ? (int)s : 1;
}

/* CTAs of config c over p's query rows (before split-KV), and c's key blocks over seqlen_k. */
static int64_t fc_cfg_ctas(const fc_fwd_params *p, fc_tile_cfg c) {
    return fc_ceil_div(p->seqlen_q, c.m) * p->heads_q * p->batch;
}
static int64_t fc_cfg_key_blocks(const fc_fwd_params *p, fc_tile_cfg c) { return fc_ceil_div(p->seqlen_k, c.n); }

/*
 * Key-group split (FC_ALT_QSPLIT: 64-row tiles whose 4 warp groups take alternate key blocks
 * and merge in shared memory) instead of split-KV + combine, when its CTAs fit in one wave (one
 * CTA per SM: 8 warps of ~250 registers) and each group has at most 4 key blocks; with 3-4 blocks
 * per group only where split-KV would put two CTAs on an SM as well. Why (H200, bench/NOTES.md v5):
 * a group's key block costs ~2.4 us (two warps share each SM sub-partition: throughput, not
 * latency, bound), the combine path ~2-5 us; with <= 2 blocks per group the split always won
 * (0.58-0.86x the time of split-KV on 7 shapes), with 4 it won where split-KV also ran 2 CTAs per
 * SM (0.73-0.76x) and lost where split-KV had one wave of single CTAs (1.08x, H4 S1024 D32).
 * split_cfg: the config split-KV would run. Returns the plan's FC_ALT_* (FC_ALT_TABLE: not taken;
 * FC_ALT_QSPLIT; FC_ALT_QSPLIT_1W, first rule below). Tuning builds: FC_TUNE_QSPLIT=0 never takes it, =1 takes it
 * wherever it is compiled, =2 / =3 take the one-warp-group variants (configs 12 / 13) wherever they
 * are compiled; without any, FC_TUNE_SPLITS (the split-KV sweep) keeps it off.
 */
static int fc_sm80_take_qsplit(const fc_fwd_params *p, const fc_dev_props *d, int cls, int hdim, fc_tile_cfg split_cfg) {
#ifdef FC_CUDA_TUNING
    /* =2 / =3: the one-warp-group variants (configs 12 / 13, v6), wherever they are compiled */
    const char *force = getenv("FC_TUNE_QSPLIT");
    if (force && (force[0] == '2' || force[0] == '3')) {
        const int v = force[0] - '0', tid = fc_cfg_alt(cls, hdim, v); /* FC_ALT_QSPLIT_1W / _1W32 */
        return tid >= 0 && fc_cfg_smem_launch(fc_cfg_get(tid), hdim) <= d->smem_optin ? v : FC_ALT_TABLE;
    }
#endif
    const int id = fc_cfg_alt(cls, hdim, FC_ALT_QSPLIT);
    if (id < 0) return FC_ALT_TABLE;
    const fc_tile_cfg c = fc_cfg_get(id);
    if (fc_cfg_smem_launch(c, hdim) > d->smem_optin) return FC_ALT_TABLE;
#ifdef FC_CUDA_TUNING
    if (force && (force[0] == '0' || force[0] == '1')) return force[0] == '1' ? FC_ALT_QSPLIT : FC_ALT_TABLE;
    if (getenv("FC_TUNE_SPLITS")) return FC_ALT_TABLE;
#endif
    /* One-warp groups (config 12: 32-row CTAs, 8 groups of one warp, one 64-key buffer each) when its
     * CTAs make one wave that fills more than half the GPU and every group gets one or two key
     * blocks: measured there (H200, bench/NOTES.md v6: 128 CTAs) 0.87-0.93x the time of config 11
     * or split-KV; with idle groups (4 key blocks) or half a wave it was no faster. Not for sliding
     * windows and varlen, where seqlen_k overstates the blocks a group gets (unmeasured; causal is
     * measured: 0.91x at the seed shape). */
    const int id2 = fc_cfg_alt(cls, hdim, FC_ALT_QSPLIT_1W);
    if (id2 >= 0 && fc_cfg_smem_launch(fc_cfg_get(id2), hdim) <= d->smem_optin && p->window_left < 0 &&
        (p->window_right < 0 || p->is_causal) && p->cu_seqlens_q == NULL) {
        const fc_tile_cfg c2 = fc_cfg_get(id2);
        const int64_t ctas2 = fc_cfg_ctas(p, c2), blocks2 = fc_cfg_key_blocks(p, c2);
        if (2 * ctas2 > d->sms && ctas2 <= d->sms && blocks2 >= c2.groups && blocks2 <= 2 * (int64_t)c2.groups)
            return FC_ALT_QSPLIT_1W;
    }
    const int64_t ctas = fc_cfg_ctas(p, c), n_blocks = fc_cfg_key_blocks(p, c);
    if (ctas > d->sms || n_blocks < 2 || n_blocks > 4 * (int64_t)c.groups) return FC_ALT_TABLE;
    if (n_blocks <= 2 * (int64_t)c.groups) return FC_ALT_QSPLIT;
    const int64_t main_ctas = fc_cfg_ctas(p, split_cfg);
    return main_ctas * fc_sm80_num_splits(main_ctas, fc_cfg_key_blocks(p, split_cfg), d->sms) > d->sms ? FC_ALT_QSPLIT
                                                                                                       : FC_ALT_TABLE;
}

/*
 * Short-key-range tile (FC_ALT_SHORT) instead of the table's tile, on sm_90, when each query tile
 * sees few keys: causal up to seqlen_k 8192 (hd 192: 4096, measured to there), otherwise up to 2048
 * keys at hd 64 and 512 at hd 192/256. Causal counts as such only with seqlen_q >= seqlen_k / 2 (the
 * mask is bottom-right aligned: fewer queries than that see nearly all keys, like a non-causal
 * call). Only where the table tile's grid has at least one CTA per SM (every A/B row had >= 1024):
 * smaller grids keep the table tile's split-KV or key-group split. Measured (H200, bf16, same
 * process, Sq = Sk, bench/NOTES.md v8), time against the table tile:
 *  - hd 64, config 14 (128-key steps): causal 0.94 / 0.94 / 0.96 / 0.97 / 0.99 / 1.00x at S = 512 ..
 *    16k, not causal 0.98 / 0.99 / 0.99x at S = 512 / 1k / 2k and 1.00-1.01x beyond;
 *  - hd 256, config 18 (64 rows, two CTAs per SM: half the masked-diagonal work of 128-row tiles, and
 *    a second CTA to overlap each one's first loads and last stores): causal 0.89 / 0.92 / 0.94 /
 *    0.96 / 0.98x at S = 512 .. 8k and 1.03x at 16k; not causal 0.98x at 512, 1.01-1.02x from 1k
 *    on (the pipelined tile's overlap of softmax and P.V wins once the loop is long); hd 192 alike
 *    (causal S = 512 0.86x, 4k 0.99x; not causal 0.99x at 512, 1.05x at 4k).
 * Tuning builds: FC_TUNE_SHORT=0 / 1 never / always takes it where it exists.
 */
static int fc_sm80_take_short(const fc_fwd_params *p, const fc_dev_props *d, int cls, int hdim, fc_tile_cfg table_cfg) {
    const int id = fc_cfg_alt(cls, hdim, FC_ALT_SHORT);
    if (id < 0 || fc_cfg_smem_launch(fc_cfg_get(id), hdim) > d->smem_optin) return 0;
#ifdef FC_CUDA_TUNING
    const char *force = getenv("FC_TUNE_SHORT");
    if (force && (force[0] == '0' || force[0] == '1')) return force[0] == '1';
#endif
    if (fc_cfg_ctas(p, table_cfg) < d->sms) return 0;
    const int causal = p->is_causal && 2 * (int64_t)p->seqlen_q >= p->seqlen_k;
    return p->seqlen_k <= (causal ? (hdim == 192 ? 4096 : 8192) : hdim <= 64 ? 2048 : 512);
}

/*
 * The arch class of the SASS the driver runs on a device of compute capability sm: the newest
 * compiled arch of the same major version not above sm (FC_PORTABLE_ARCH_<n>, from the build's
 * FLASHCORE_CUDA_ARCHS), -1 when there is none; sm_87 (Jetson Orin, Tegra) runs only sm_87 SASS and
 * sm_87 SASS only there (no minor-version compatibility between Tegra and desktop parts, CUDA
 * programming guide). Each tile config is compiled only for the classes
 * that use it (an empty body elsewhere), so the plan must be that of the SASS's class, and it is the
 * device's: a build with 80-real but not 89-real would run sm_80's kernels on an sm_89 device, whose
 * table names configs that are empty there. The plan refuses that case instead.
 */
#if !defined(FC_PORTABLE_ARCH_80) && !defined(FC_PORTABLE_ARCH_86) && !defined(FC_PORTABLE_ARCH_87) && \
    !defined(FC_PORTABLE_ARCH_89) && !defined(FC_PORTABLE_ARCH_90)
#error "FC_PORTABLE_ARCH_<n> (the build's portable archs) come from CMakeLists.txt"
#endif
static constexpr bool fc_sass_runs_on(int arch, int sm) {
    return arch == 87 || sm == 87 ? arch == sm : arch / 10 == sm / 10 && arch <= sm;
}
static constexpr int fc_sass_class_in(const int *archs, int n, int sm) {
    int best = -1;
    for (int i = 0; i < n; ++i)
        if (fc_sass_runs_on(archs[i], sm) && archs[i] > best) best = archs[i];
    return best < 0 ? -1 : fc_arch_class(best);
}
static constexpr int k_all_archs[] = {80, 86, 89, 90}, k_sm80_only[] = {80}, k_sm86_only[] = {86},
                     k_sm80_87[] = {80, 87};
static_assert(fc_sass_class_in(k_all_archs, 4, 89) == FC_CLS_SM8X && fc_sass_class_in(k_all_archs, 4, 90) == FC_CLS_SM90 &&
                  fc_sass_class_in(k_all_archs, 4, 87) == -1,
              "the default arch list serves sm_80/86/89/90 with their own class's SASS, sm_87 (Tegra) not");
static_assert(fc_sass_class_in(k_sm80_87, 2, 89) == FC_CLS_SM80 && fc_sass_class_in(k_sm80_87, 2, 87) == FC_CLS_SM8X,
              "sm_87 SASS serves only sm_87");
static_assert(fc_sass_class_in(k_sm80_only, 1, 89) == FC_CLS_SM80 && fc_sass_class_in(k_sm80_only, 1, 90) == -1,
              "sm_80 SASS alone runs on sm_89 as the sm_80 class (refused), on sm_90 not at all");
static_assert(fc_sass_class_in(k_sm86_only, 1, 89) == FC_CLS_SM8X && fc_sass_class_in(k_sm86_only, 1, 80) == -1,
              "sm_86 SASS serves sm_89, not sm_80");
static int fc_sass_class(int sm) {
    static const int archs[] = {
#ifdef FC_PORTABLE_ARCH_80
        80,
#endif
#ifdef FC_PORTABLE_ARCH_86
        86,
#endif
#ifdef FC_PORTABLE_ARCH_87
        87,
#endif
#ifdef FC_PORTABLE_ARCH_89
        89,
#endif
#ifdef FC_PORTABLE_ARCH_90
        90,
#endif
    };
    return fc_sass_class_in(archs, (int)(sizeof archs / sizeof archs[0]), sm);
}

/* The portable kernel's plan for p on a device with properties d, using at most workspace_avail
 * bytes of workspace (split-KV only when its partials fit). */
static fc_status fc_sm80_make_plan(const fc_fwd_params *p, const fc_dev_props *d, int64_t workspace_avail,
                                   fc_sm80_plan *pl) {
    memset(pl, 0, sizeof *pl);
    if (p->dtype != FC_T_F16 && p->dtype != FC_T_BF16)
        return fc_set_error(FC_ERROR_NOT_SUPPORTED, "the CUDA kernels take fp16 or bf16 (dtype %d)", p->dtype);
    pl->cls = fc_arch_class(d->sm);
    if (pl->cls < 0)
        return fc_set_error(FC_ERROR_NOT_SUPPORTED,
                            "compute capability %d.%d: the portable kernels are for sm_80, sm_86, sm_87, sm_89 and sm_90",
                            d->sm / 10, d->sm % 10);
    if (fc_sass_class(d->sm) != pl->cls)
        return fc_set_error(FC_ERROR_NOT_SUPPORTED,
                            "compute capability %d.%d: this build's portable kernels (FLASHCORE_CUDA_ARCHS) have no "
                            "SASS of its arch class; rebuild with %d%s-real in the list",
                            d->sm / 10, d->sm % 10, d->sm, d->sm == 90 ? "a" : "");
#ifdef FC_CUDA_TUNING
    /* Benchmark builds only: FC_TUNE_CLASS runs sm_80's or sm_86/89's plan on sm_90 (tile_config.h). */
    if (pl->cls == FC_CLS_SM90) {
        const int tune_cls = fc_tune_class_env();
        if (tune_cls >= 0) pl->cls = tune_cls;
    }
#endif
    int idx = -1;
    for (int i = 0; i < FC_SM80_NUM_HDIMS; ++i)
        if (k_hdims[i] >= p->head_dim) {
            idx = i;
            break;
        }
    if (idx < 0 || p->head_dim <= 0)
        return fc_set_error(FC_ERROR_NOT_SUPPORTED, "head_dim = %d: the CUDA kernels take head dims up to %d",
                            p->head_dim, k_hdims[FC_SM80_NUM_HDIMS - 1]);
    if (p->heads_q > 65535)
        return fc_set_error(FC_ERROR_NOT_SUPPORTED, "heads_q = %d: the CUDA kernels take at most 65535 heads",
                            p->heads_q);
    pl->hdim = k_hdims[idx];
    pl->fn = k_fns[(p->dtype == FC_T_BF16) * FC_SM80_NUM_HDIMS + idx];
    int cfg = fc_cfg_for(pl->cls, pl->hdim);
    int forced = 0;
#ifdef FC_CUDA_TUNING
    /* Benchmark builds only: FC_TUNE_CFG picks another compiled tile config on sm_90 (tile_config.h);
     * the launch runs exactly that one, so the plan takes no key-group split then. */
    const int tune = pl->cls == FC_CLS_SM90 ? fc_tune_cfg_env(pl->hdim) : -1;
    if (tune >= 0 && tune < FC_CFG_COUNT) {
        cfg = tune;
        forced = 1;
    }
#endif
    if (!forced) {
        pl->alt = fc_sm80_take_qsplit(p, d, pl->cls, pl->hdim, fc_cfg_get(cfg));
        if (pl->alt == FC_ALT_TABLE && fc_sm80_take_short(p, d, pl->cls, pl->hdim, fc_cfg_get(cfg)))
            pl->alt = FC_ALT_SHORT;
        cfg = fc_cfg_alt(pl->cls, pl->hdim, pl->alt);
    }
    const fc_tile_cfg c = fc_cfg_get(cfg);
    if (fc_cfg_smem_launch(c, pl->hdim) > d->smem_optin)
        return fc_set_error(FC_ERROR_INTERNAL, "tile config needs %d bytes of shared memory, the device allows %d",
                            fc_cfg_smem_launch(c, pl->hdim), d->smem_optin);
    pl->num_m_blocks = (int)fc_ceil_div(p->seqlen_q, c.m);
    const int64_t ctas = fc_cfg_ctas(p, c), n_blocks = fc_cfg_key_blocks(p, c);
    pl->num_splits = fc_alt_is_qsplit(pl->alt) ? 1 : fc_sm80_num_splits(ctas, n_blocks, d->sms);
    if (pl->num_splits > 1) {
        const int64_t rows = (int64_t)pl->num_splits * p->heads_q * p->total_q;
        pl->o_part_bytes = ((size_t)rows * p->head_dim * sizeof(float) + FC_WS_ALIGN - 1) / FC_WS_ALIGN * FC_WS_ALIGN;
        pl->ws_bytes = pl->o_part_bytes + (size_t)rows * sizeof(float);
        /* Without the workspace the split path needs, run unsplit (correct, just less parallel). */
        if (workspace_avail < 0 || (uint64_t)workspace_avail < (uint64_t)pl->ws_bytes) {
            pl->num_splits = 1;
            pl->o_part_bytes = pl->ws_bytes = 0;
        }
    }
    return FC_SUCCESS;
}

/* Window edges beyond any reachable distance are unbounded (keeps index arithmetic in range). */
static int fc_clamp_window(int w, int64_t reach) { return (w < 0 || (int64_t)w > reach) ? -1 : w; }

#ifdef FC_HAVE_SM90
/* 1 when the caller asked for the portable kernel even where a specialised one exists
 * (FLASHCORE_FORCE_PORTABLE=1: benchmarks and tests of this kernel on Hopper). */
static inline int fc_force_portable(void) {
    const char *e = getenv("FLASHCORE_FORCE_PORTABLE");
    return e && e[0] == '1';
}
#endif

/* ---------------------------------------------------------------------------------------------
 * The one decision: which kernel serves p, with which plan and workspace
 * ------------------------------------------------------------------------------------------- */
typedef enum { FC_KERNEL_SM90 = 1, FC_KERNEL_PORTABLE = 2 } fc_kernel_kind;

typedef struct fc_cuda_plan {
    fc_kernel_kind kernel;
    size_t workspace_bytes; /* what the plan uses of the caller's workspace */
    fc_sm80_plan sm80;      /* FC_KERNEL_PORTABLE only */
} fc_cuda_plan;

static fc_status fc_portable_plan(const fc_fwd_params *p, int64_t workspace_avail, fc_cuda_plan *pl) {
    memset(pl, 0, sizeof *pl);
    pl->kernel = FC_KERNEL_PORTABLE;
    fc_dev_props d;
    fc_status s = fc_dev_props_get(p->device_ordinal, &d);
    if (s) return s;
    s = fc_sm80_make_plan(p, &d, workspace_avail, &pl->sm80);
    pl->workspace_bytes = pl->sm80.ws_bytes;
    return s;
}

/* workspace_avail: bytes of workspace the plan may use (the query passes INT64_MAX). */
static fc_status fc_cuda_plan_for(const fc_fwd_params *p, int64_t workspace_avail, fc_cuda_plan *pl) {
#ifdef FC_HAVE_SM90
    if (!fc_force_portable() && fc_sm90_takes(p)) { /* the Hopper path needs no workspace */
        memset(pl, 0, sizeof *pl);
        pl->kernel = FC_KERNEL_SM90;
        return FC_SUCCESS;
    }
#endif
    return fc_portable_plan(p, workspace_avail, pl);
}

static fc_status fc_forward_on_device(const fc_fwd_params *p, cudaStream_t stream) {
    const int64_t ws_avail = p->workspace ? p->workspace_size : 0;
    fc_cuda_plan plan;
    fc_status s = fc_cuda_plan_for(p, ws_avail, &plan);
    if (s) return s;
#ifdef FC_HAVE_SM90
    if (plan.kernel == FC_KERNEL_SM90) {
        int handled = 0;
        s = fc_sm90_forward(p, (void *)stream, &handled);
        if (handled) return s;
        /* The driver refused what the Hopper path needs (a tensor map, the shared-memory opt-in):
         * the portable kernel runs, within the caller's workspace as always. */
        s = fc_portable_plan(p, ws_avail, &plan);
        if (s) return s;
    }
#endif
    const fc_sm80_plan pl = plan.sm80;

    fc_sm80_args a;
    memset(&a, 0, sizeof a);
    a.p = *p;
    a.softcap_on = p->softcap > 0.0f;
    a.exp_mult = a.softcap_on ? p->softcap * FC_LOG2E : fabsf(p->scale_log2);
    a.flip_sign = !a.softcap_on && p->scale < 0.0f;
    const int64_t reach = (int64_t)p->seqlen_q + p->seqlen_k;
    a.window_left = fc_clamp_window(p->window_left, reach);
    a.window_right = fc_clamp_window(p->window_right, reach);
    a.num_m_blocks = pl.num_m_blocks;
    a.num_splits = pl.num_splits;
    a.alt = pl.alt;
    if (pl.num_splits > 1) {
        a.o_part = (float *)p->workspace;
        a.lse_part = (float *)((char *)p->workspace + pl.o_part_bytes);
    }
    s = pl.fn(&a, pl.cls, p->device_ordinal, stream);
    if (s || pl.num_splits == 1) return s;
    return p->dtype == FC_T_BF16 ? fc_sm80_combine_bf16(&a, stream) : fc_sm80_combine_f16(&a, stream);
}

/* ---------------------------------------------------------------------------------------------
 * Entry points
 * ------------------------------------------------------------------------------------------- */
extern "C" int fc_cuda_count(void) {
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        fc_cuda_clear(e);
        return 0;
    }
    return n;
}

extern "C" fc_status fc_cuda_info(int ordinal, fc_device_info *info) {
    const int n = fc_cuda_count();
    if (n == 0) return fc_set_error(FC_ERROR_CUDA_UNAVAILABLE, "no CUDA device is usable");
    if (ordinal < 0 || ordinal >= n)
        return fc_set_error(FC_ERROR_BAD_DEVICE, "device ordinal %d but %d CUDA device(s) exist", ordinal, n);
    cudaDeviceProp prop;
    const cudaError_t e = cudaGetDeviceProperties(&prop, ordinal);
    if (e != cudaSuccess) return fc_cuda_status(e, "cudaGetDeviceProperties");
    memset(info, 0, sizeof *info);
    strncpy(info->name, prop.name, sizeof info->name - 1);
    info->sm = prop.major * 10 + prop.minor;
    info->multiprocessors = prop.multiProcessorCount;
    info->global_memory_bytes = (int64_t)prop.totalGlobalMem;
    info->max_shared_memory_per_block = (int)prop.sharedMemPerBlockOptin;
    const int cls = fc_arch_class(info->sm);
    const char *k = cls < 0 ? "none (no kernel for this compute capability in this build)"
#ifdef FC_HAVE_SM90
                  : info->sm == 90 ? "sm90 wgmma (Hopper), sm80 mma.sync (portable fallback)"
#endif
                                   : "sm80 mma.sync (portable)";
    strncpy(info->kernels, k, sizeof info->kernels - 1);
    return FC_SUCCESS;
}

extern "C" fc_status fc_cuda_workspace_size(const fc_fwd_params *p, size_t *bytes) {
    *bytes = 0;
    fc_cuda_plan plan;
    const fc_status s = fc_cuda_plan_for(p, INT64_MAX, &plan);
    if (s) return s;
    *bytes = plan.workspace_bytes;
    return FC_SUCCESS;
}

extern "C" fc_status fc_cuda_forward(const fc_fwd_params *p, void *stream) {
    int prev = -1;
    cudaError_t e = cudaGetDevice(&prev);
    if (e != cudaSuccess) return fc_cuda_status(e, "cudaGetDevice");
    const int dev = p->device_ordinal;
    if (prev != dev) {
        e = cudaSetDevice(dev);
        if (e != cudaSuccess) return fc_cuda_status(e, "cudaSetDevice");
    }
    fc_status s = fc_forward_on_device(p, (cudaStream_t)stream);
    if (prev != dev) {
        e = cudaSetDevice(prev);
        if (e != cudaSuccess && s == FC_SUCCESS) s = fc_cuda_status(e, "restoring the caller's device");
    }
    return s;
}

extern "C" const char *fc_cuda_kernel_list(void) {
#define FC_SM80_NAME(tag, type, hd) "sm80 mma.sync " #tag " hdim<=" #hd "; "
    static const char portable[] = FC_SM80_INSTANCES(FC_SM80_NAME) "sm80 split-KV combine f16, bf16";
#undef FC_SM80_NAME
#ifdef FC_HAVE_SM90
    static char text[2048];
    if (!text[0]) {
        /* Benign if two threads race here: both write the same bytes. */
        char tmp[2048];
        const char *h = fc_sm90_kernel_list();
        size_t n1 = strlen(h), n2 = strlen(portable);
        if (n1 + n2 + 1 > sizeof tmp) n1 = sizeof tmp - n2 - 1;
        memcpy(tmp, h, n1);
        memcpy(tmp + n1, portable, n2 + 1);
        memcpy(text, tmp, n1 + n2 + 1);
    }
    return text;
#else
    return portable;
#endif
}
