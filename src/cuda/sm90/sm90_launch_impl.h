/*
 * Host side of one sm90 instance: tensor maps (built through the driver entry point, so there is no
 * link-time libcuda dependency; cached per thread while the same pointers and shapes recur), the
 * shared-memory opt-in and the launch. Included once per instance file.
 */
#ifndef FC_SM90_LAUNCH_IMPL_H
#define FC_SM90_LAUNCH_IMPL_H

#include <stdint.h>
#include <string.h>
#include <cuda.h>
#include <cudaTypedefs.h>
#include <cuda_runtime.h>
#include "internal.h"
#include "params.h"
#include "cuda/cuda_backend.h"
#include "sm90_config.h"
#include "sm90_launch.h"
#include "sm90_kernel.h"

/* cuTensorMapEncodeTiled, looked up once (NULL when the driver lacks it). */
static PFN_cuTensorMapEncodeTiled_v12000 fc_sm90_encode_fn(void) {
    static PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
        void *f = nullptr;
        cudaDriverEntryPointQueryResult q;
        if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &f, 12000, cudaEnableDefault, &q) !=
                cudaSuccess ||
            q != cudaDriverEntryPointSuccess)
            f = nullptr;
        return (PFN_cuTensorMapEncodeTiled_v12000)f;
    }();
    return fn;
}

/* One 4-D map {head_dim, rows, heads, batch} over a [batch][rows][heads][head_dim] tensor with the
 * given element strides; box {64, box_rows, 1, 1}, 128-byte swizzle, out-of-range elements read as 0. */
static bool fc_sm90_encode(CUtensorMap *map, int dtype, const void *base, int head_dim, int64_t rows, int heads,
                           int batch, int64_t row_stride, int64_t head_stride, int64_t batch_stride, int box_rows) {
    PFN_cuTensorMapEncodeTiled_v12000 enc = fc_sm90_encode_fn();
    if (!enc) return false;
    /* Layouts TMA cannot describe go to the portable kernel without a failing driver call (which
     * compute-sanitizer reports). */
    if (!fc_sm90_tma_layout_ok(base, head_dim, rows, heads, batch, row_stride, head_stride, batch_stride))
        return false;
    /* A stride of an extent-1 dim is never used; TMA still wants a valid one. */
    if (heads == 1) head_stride = row_stride;
    if (batch == 1) batch_stride = head_stride;
    const cuuint64_t dims[4] = {(cuuint64_t)head_dim, (cuuint64_t)rows, (cuuint64_t)heads, (cuuint64_t)batch};
    const cuuint64_t strides[3] = {(cuuint64_t)row_stride * 2, (cuuint64_t)head_stride * 2,
                                   (cuuint64_t)batch_stride * 2};
    const cuuint32_t box[4] = {FC_SM90_CHUNK, (cuuint32_t)box_rows, 1, 1};
    const cuuint32_t estr[4] = {1, 1, 1, 1};
    CUresult r = enc(map, dtype == FC_T_BF16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 4,
                     (void *)base, dims, strides, box, estr, CU_TENSOR_MAP_INTERLEAVE_NONE,
                     CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                     CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    return r == CUDA_SUCCESS;
}

/* Fills args for p. Returns false when TMA cannot describe the layout (the caller falls back).
 * with_o: the instance has a TMA-store epilogue (FC_SM90_TMA_STORE); then O gets a tensor map too
 * when the call is batched and TMA can describe O (else args.o_tma = 0: plain stores). */
template <int kBN> static bool fc_sm90_make_args(const fc_fwd_params *p, fc_sm90_args *a, bool with_o) {
    constexpr int BN = kBN;
    const bool varlen = p->cu_seqlens_q != nullptr;
    const int64_t rq = varlen ? p->total_q : p->seqlen_q, rk = varlen ? p->total_k : p->seqlen_k;
    const int nb = varlen ? 1 : p->batch;
    if (!fc_sm90_encode(&a->tm_q, p->dtype, p->q, p->head_dim, rq, p->heads_q, nb, p->q_row_stride, p->q_head_stride,
                        p->q_batch_stride, FC_SM90_BLOCK_M))
        return false;
    if (!fc_sm90_encode(&a->tm_k, p->dtype, p->k, p->head_dim, rk, p->heads_kv, nb, p->k_row_stride, p->k_head_stride,
                        p->k_batch_stride, BN))
        return false;
    if (!fc_sm90_encode(&a->tm_v, p->dtype, p->v, p->head_dim, rk, p->heads_kv, nb, p->v_row_stride, p->v_head_stride,
                        p->v_batch_stride, BN))
        return false;
#if FC_SM90_TMA_STORE
    /* Varlen: one map cannot clip at each sequence's end (rows would spill into the next sequence). */
    a->o_tma = with_o && !varlen &&
               fc_sm90_encode(&a->tm_o, p->dtype, p->o, p->head_dim, rq, p->heads_q, nb, p->o_row_stride,
                              p->o_head_stride, p->o_batch_stride, 64);
#else
    (void)with_o;
#endif
    a->p = *p;
    a->num_m_blocks = (int)fc_ceil_div(p->seqlen_q, FC_SM90_BLOCK_M);
    const int64_t tiles = (int64_t)a->num_m_blocks * p->heads_q * p->batch;
    /* pair slots and splits stay in int, also with the query-row split's twice as many tiles */
    if (tiles <= 0 || tiles > INT32_MAX / 4) return false;
    a->num_tiles = (int)tiles;
    a->num_splits = 1; /* scheduling fields: set per launch in fc_sm90_run */
    a->num_work = (int)tiles;
    a->num_slots = a->num_m_blocks;
    a->chunk = 1;
    if (p->softcap > 0.f) {
        a->cap_pre = p->softcap_scale;
        a->cap_post = p->softcap;
        a->c_log2 = FC_LOG2E;
    } else {
        a->cap_pre = a->cap_post = 0.f;
        a->c_log2 = p->scale_log2;
    }
    return true;
}

#ifdef FC_SM90_DEV
/* Dev harness only (src/cuda/sm90/dev/fcdev.cu), for same-process A/B runs. */
extern "C" int fc_sm90_dev_splits; /* > 0 forces the split count (1 = never split) */
extern "C" int fc_sm90_dev_paired; /* 0: causal keeps one CTA per tile; -1: the library's choice */
extern "C" int fc_sm90_dev_pdl;    /* 0: launch without programmatic dependent launch */
extern "C" int fc_sm90_dev_wgsplit; /* 0 never / 1 always the query-row split (where compiled); -1 the rule */
#endif

/* Split-KV: when the tiles fill at most half of the SMs, give each tile's key blocks to
 * s = min(SMs / tiles, key blocks / 4, FC_SM90_MAX_SPLITS) CTAs of one cluster, and fewer while the
 * tiles' clusters of s would not all fit at once (fit[s]: clusters of s that fit). Each share keeps
 * at least four key blocks: shorter shares lost to the unsplit kernel (seed, graph replay: S=256 in
 * 2 shares of 1 block 7.97 us vs 6.60, run 5; S=512 in 2 shares of 2 blocks 8.69 vs 8.12, run 6),
 * longer ones won (S=1024, 2 shares of 4 blocks: 11.23 vs 12.53 us, run 6). */
static int fc_sm90_num_splits(int64_t tiles, int64_t n_blocks, int sms, const int *fit) {
    if (tiles <= 0 || tiles * 2 > sms) return 1;
    int64_t s = sms / tiles;
    if (s > n_blocks / 4) s = n_blocks / 4;
    if (s > FC_SM90_MAX_SPLITS) s = FC_SM90_MAX_SPLITS;
    while (s >= 2 && fit[s] < tiles) --s;
    return s >= 2 ? (int)s : 1;
}

/* Runs instance <kDtype, kD, kBN>. Returns FC_ERROR_NOT_SUPPORTED (nothing launched, no error recorded)
 * when the tensor maps cannot be built, so the dispatcher can fall back. */
/* The shared-memory opt-in of one kernel, once per device (benign race). */
template <int kDtype, int kD, int kBN, bool kWS> static bool fc_sm90_smem_opt_in(int dev) {
    static bool smem_set[FC_SM90_MAX_DEVICES];
    if (!smem_set[dev]) {
        const cudaError_t e = cudaFuncSetAttribute(fc_sm90_fwd_kernel<kDtype, kD, kBN, kWS>,
                                                   cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                   fc_sm90_smem_bytes_ws(kD, kBN, kWS));
        if (e != cudaSuccess) {
            fc_cuda_clear(e); /* cannot opt in: leave no error of ours behind, let the portable kernel run */
            return false;
        }
        smem_set[dev] = true;
    }
    return true;
}

template <int kDtype, int kD, int kBN> static fc_status fc_sm90_run(const fc_fwd_params *p, cudaStream_t stream) {
    constexpr int kSmem = fc_sm90_smem_bytes(kD, kBN);
    constexpr bool kHasWS = fc_sm90_has_wg_split(kD, kBN);
    /* Tensor maps cost a few microseconds to encode; reuse them while the same call recurs. */
    struct cache_t {
        bool valid;
        fc_fwd_params key;
        fc_sm90_args args;
    };
    static thread_local cache_t cache;
    if (p->device_ordinal < 0 || p->device_ordinal >= FC_SM90_MAX_DEVICES) return FC_ERROR_NOT_SUPPORTED;
    if (!cache.valid || memcmp(&cache.key, p, sizeof *p) != 0) {
        cache.valid = false;
        if (!fc_sm90_make_args<kBN>(p, &cache.args,
                                    fc_sm90_o_staged(kD, kBN, false) || fc_sm90_o_staged(kD, kBN, kHasWS)))
            return FC_ERROR_NOT_SUPPORTED;
        cache.key = *p;
        cache.valid = true;
    }
    /* The shared-memory opt-in is per device: once per (instance, device); fc_cuda_launch opts in
     * again when a device reset dropped it. */
    if (!fc_sm90_smem_opt_in<kDtype, kD, kBN, false>(p->device_ordinal)) return FC_ERROR_NOT_SUPPORTED;
    static int sm_count[FC_SM90_MAX_DEVICES]; /* benign race: every writer stores the same value */
    if (!sm_count[p->device_ordinal]) {
        int n = 0;
        const cudaError_t e = cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, p->device_ordinal);
        if (e != cudaSuccess || n <= 0) {
            fc_cuda_clear(e);
            return FC_ERROR_NOT_SUPPORTED;
        }
        sm_count[p->device_ordinal] = n;
    }
    /* How many clusters of 2..FC_SM90_MAX_SPLITS CTAs of this size fit at once (GPCs hold whole
     * clusters, so 4-CTA clusters fill fewer than SMs/4 slots: run 5 ran the seed's 32 clusters of 4
     * in two waves, 15.8 us against 8.8 unsplit). Once per (instance, device); 0 = none fits. */
    static int max_clusters[FC_SM90_MAX_DEVICES][FC_SM90_MAX_SPLITS + 1];
    static bool clusters_known[FC_SM90_MAX_DEVICES];
    if (!clusters_known[p->device_ordinal]) {
        for (int c = 2; c <= FC_SM90_MAX_SPLITS; ++c) {
            cudaLaunchConfig_t cfg;
            memset(&cfg, 0, sizeof cfg);
            cudaLaunchAttribute at;
            memset(&at, 0, sizeof at);
            at.id = cudaLaunchAttributeClusterDimension;
            at.val.clusterDim.x = (unsigned)c;
            at.val.clusterDim.y = at.val.clusterDim.z = 1;
            cfg.gridDim = dim3((unsigned)c);
            cfg.blockDim = dim3(FC_SM90_THREADS);
            cfg.dynamicSmemBytes = kSmem;
            cfg.attrs = &at;
            cfg.numAttrs = 1;
            int n = 0;
            const cudaError_t e = cudaOccupancyMaxActiveClusters(&n, fc_sm90_fwd_kernel<kDtype, kD, kBN, false>, &cfg);
            if (e != cudaSuccess) {
                fc_cuda_clear(e);
                n = 0;
            }
            max_clusters[p->device_ordinal][c] = n;
        }
        clusters_known[p->device_ordinal] = true;
    }
    const int sms = sm_count[p->device_ordinal];
    constexpr int BN = kBN;
    const int64_t n_blocks = fc_ceil_div(p->seqlen_k, BN);
    const int64_t tiles128 = fc_ceil_div(p->seqlen_q, FC_SM90_BLOCK_M) * p->heads_q * p->batch;
    /* Query-row split: when 128-row tiles would fill at most half of the SMs and there are >= 2 key
     * blocks, 64-row tiles whose two consumer warpgroups share the key blocks: twice the CTAs, half
     * the dependent chain per warpgroup, merged through shared memory instead of a cluster. */
    bool ws = kHasWS && tiles128 * 2 <= sms && n_blocks >= 2;
#ifdef FC_SM90_DEV
    if (fc_sm90_dev_wgsplit >= 0) ws = kHasWS && fc_sm90_dev_wgsplit;
    else if (fc_sm90_dev_splits > 0) ws = false; /* forced cluster split / no split: as before this mode */
#endif
    if (ws && !fc_sm90_smem_opt_in<kDtype, kD, kBN, kHasWS>(p->device_ordinal)) ws = false;
    const int bm = ws ? FC_SM90_WS_BLOCK_M : FC_SM90_BLOCK_M;
    cache.args.num_m_blocks = (int)fc_ceil_div(p->seqlen_q, bm); /* max seqlen_q in varlen */
    const int64_t tiles = (int64_t)cache.args.num_m_blocks * p->heads_q * p->batch;
    cache.args.num_tiles = (int)tiles;
    const int *fit = max_clusters[p->device_ordinal];
    int splits = ws ? 1 : fc_sm90_num_splits(tiles, n_blocks, sms, fit);
#ifdef FC_SM90_DEV
    if (fc_sm90_dev_splits > 0 && !ws)
        splits = fc_sm90_dev_splits <= FC_SM90_MAX_SPLITS && fit[fc_sm90_dev_splits] > 0 ? fc_sm90_dev_splits : 1;
#endif
    if (tiles * splits > INT32_MAX) splits = 1;
    /* Causal tiles (lengths ramp with the query block) on a persistent grid: each CTA takes the
     * query blocks of a head in pairs (heaviest, lightest), (2nd heaviest, 2nd lightest), ..., so
     * every pair costs about the same and a static round-robin over pairs stays balanced (over
     * single tiles it did not: up to 30% lost on long causal rows, run 3), and the next tile's loads
     * still run under the current epilogue. Windows and varlen keep one CTA per tile, and so do
     * long sequences, where the hardware's dynamic balance won (run 6 A/B, bf16 causal: S=512 +22%
     * d64 / +13% d128, S=2k +10%, S=8k +1% d128 / +3% d256, S=16k d128 -5%). */
    const bool equal_tiles = !p->has_window && p->cu_seqlens_q == nullptr;
    bool paired = splits == 1 && p->is_causal && p->window_left < 0 && p->cu_seqlens_q == nullptr &&
                  tiles > sms && cache.args.num_m_blocks <= FC_SM90_PAIRS_MAX_M_BLOCKS;
#ifdef FC_SM90_DEV
    if (fc_sm90_dev_paired >= 0) paired = paired && fc_sm90_dev_paired;
#endif
    fc_sm90_args &a = cache.args;
    a.num_splits = splits;
    a.chunk = paired ? 2 : 1;
    a.num_slots = paired ? 2 * ((a.num_m_blocks + 1) / 2) : a.num_m_blocks;
    a.num_work = (int)(tiles / a.num_m_blocks * a.num_slots * splits); /* tiles = m blocks x heads x batch */
    int64_t ctas = a.num_work;                                         /* one CTA per work item */
    if (paired) ctas = (a.num_work / 2 < sms) ? a.num_work / 2 : sms;  /* persistent over pairs */
    else if (equal_tiles && splits == 1 && tiles > sms) ctas = sms;    /* persistent over tiles */

    /* Programmatic dependent launch: this grid may start (barrier setup) while the previous kernel
     * of the stream finishes; the kernel waits for it (griddepcontrol.wait) before reading memory. */
    cudaLaunchAttribute at[2];
    memset(at, 0, sizeof at);
    int nat = 0;
    bool pdl = true;
#ifdef FC_SM90_DEV
    pdl = fc_sm90_dev_pdl != 0;
#endif
    if (pdl) {
        at[nat].id = cudaLaunchAttributeProgrammaticStreamSerialization;
        at[nat].val.programmaticStreamSerializationAllowed = 1;
        ++nat;
    }
    if (splits > 1) { /* one CTA per (tile, split); one cluster per tile */
        at[nat].id = cudaLaunchAttributeClusterDimension;
        at[nat].val.clusterDim.x = (unsigned)splits;
        at[nat].val.clusterDim.y = at[nat].val.clusterDim.z = 1;
        ++nat;
    }
    cudaLaunchConfig_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.gridDim = dim3((unsigned)ctas);
    cfg.blockDim = dim3(FC_SM90_THREADS);
    cfg.dynamicSmemBytes = ws ? fc_sm90_smem_bytes_ws(kD, kBN, true) : kSmem;
    cfg.stream = stream;
    cfg.attrs = at;
    cfg.numAttrs = (unsigned)nat;
    void *args[] = {&a};
    const void *kernel = ws ? (const void *)fc_sm90_fwd_kernel<kDtype, kD, kBN, kHasWS>
                            : (const void *)fc_sm90_fwd_kernel<kDtype, kD, kBN, false>;
    const cudaError_t e = fc_cuda_launch(&cfg, kernel, args);
    if (e != cudaSuccess) {
        fc_cuda_clear(e);
        return fc_set_error(FC_ERROR_CUDA, "sm90 forward (hdim tile %d) launch: %s", kD, cudaGetErrorString(e));
    }
    return FC_SUCCESS;
}

#define FC_SM90_DEFINE_INSTANCE(DT, NAME, D)                                        \
    fc_status fc_sm90_fwd_##NAME##_d##D(const fc_fwd_params *p, cudaStream_t stream) { \
        return fc_sm90_run<DT, D, fc_sm90_tile_for(D).block_n>(p, stream);           \
    }
#define FC_SM90_DEFINE_WIDE_INSTANCE(DT, NAME, D)                                        \
    fc_status fc_sm90_fwd_##NAME##_d##D##_wide(const fc_fwd_params *p, cudaStream_t stream) { \
        return fc_sm90_run<DT, D, fc_sm90_wide_block_n(D)>(p, stream);                       \
    }

#endif
