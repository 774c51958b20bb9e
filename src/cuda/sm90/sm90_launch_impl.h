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
#include "sm90_config.h"
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
    /* A stride of an extent-1 dim is never used; TMA still wants a valid one. */
    if (heads == 1 || head_stride == 0) head_stride = row_stride;
    if (batch == 1 || batch_stride == 0) batch_stride = head_stride;
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

/* Fills args for p. Returns false when TMA cannot describe the layout (the caller falls back). */
template <int kD> static bool fc_sm90_make_args(const fc_fwd_params *p, fc_sm90_args *a) {
    constexpr int BN = fc_sm90_tile_for(kD).block_n;
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
    a->p = *p;
    a->num_m_blocks = (p->seqlen_q + FC_SM90_BLOCK_M - 1) / FC_SM90_BLOCK_M;
    const int64_t tiles = (int64_t)a->num_m_blocks * p->heads_q * p->batch;
    if (tiles <= 0 || tiles > INT32_MAX) return false;
    a->num_tiles = (int)tiles;
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

/* Runs instance <kDtype, kD>. Returns FC_ERROR_NOT_SUPPORTED (nothing launched, no error recorded)
 * when the tensor maps cannot be built, so the dispatcher can fall back. */
template <int kDtype, int kD> static fc_status fc_sm90_run(const fc_fwd_params *p, cudaStream_t stream) {
    constexpr int kSmem = fc_sm90_smem_bytes(kD);
    /* Tensor maps cost a few microseconds to encode; reuse them while the same call recurs. */
    struct cache_t {
        bool valid;
        fc_fwd_params key;
        fc_sm90_args args;
    };
    static thread_local cache_t cache;
    if (!cache.valid || memcmp(&cache.key, p, sizeof *p) != 0) {
        cache.valid = false;
        if (!fc_sm90_make_args<kD>(p, &cache.args)) return FC_ERROR_NOT_SUPPORTED;
        cache.key = *p;
        cache.valid = true;
    }
    if (p->device_ordinal < 0 || p->device_ordinal >= FC_SM90_MAX_DEVICES) return FC_ERROR_NOT_SUPPORTED;
    /* The shared-memory opt-in is per device: once per (instance, device). Benign race. */
    static bool smem_set[FC_SM90_MAX_DEVICES];
    if (!smem_set[p->device_ordinal]) {
        const cudaError_t attr_err = cudaFuncSetAttribute(fc_sm90_fwd_kernel<kDtype, kD>,
                                                          cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem);
        if (attr_err != cudaSuccess)
            return fc_set_error(FC_ERROR_CUDA, "sm90 forward (hdim tile %d): cudaFuncSetAttribute: %s", kD,
                                cudaGetErrorString(attr_err));
        smem_set[p->device_ordinal] = true;
    }
    static int sm_count[FC_SM90_MAX_DEVICES]; /* benign race: every writer stores the same value */
    if (!sm_count[p->device_ordinal]) {
        int n = 0;
        if (cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, p->device_ordinal) != cudaSuccess || n <= 0) {
            (void)cudaGetLastError();
            return FC_ERROR_NOT_SUPPORTED;
        }
        sm_count[p->device_ordinal] = n;
    }
    /* Equal tiles (no mask window, fixed lengths): persistent grid, one CTA per SM, so the producer
     * loads the next tile under the current epilogue. Unequal tiles (causal/window, varlen): one CTA
     * per tile, heaviest first, and the hardware's dynamic block scheduler balances the load (a
     * static round-robin lost up to 30% on long causal rows: measured, bench/NOTES-sm90.md). */
    const int64_t tiles = (int64_t)cache.args.num_tiles;
    const bool equal_tiles = !p->has_window && p->cu_seqlens_q == nullptr;
    const int64_t ctas = equal_tiles && tiles > sm_count[p->device_ordinal] ? sm_count[p->device_ordinal] : tiles;
    dim3 grid((unsigned)ctas);
    fc_sm90_fwd_kernel<kDtype, kD><<<grid, FC_SM90_THREADS, kSmem, stream>>>(cache.args);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess)
        return fc_set_error(FC_ERROR_CUDA, "sm90 forward (hdim tile %d) launch: %s", kD, cudaGetErrorString(e));
    return FC_SUCCESS;
}

#define FC_SM90_DEFINE_INSTANCE(DT, NAME, D) \
    fc_status fc_sm90_fwd_##NAME##_d##D(const fc_fwd_params *p, cudaStream_t stream) { return fc_sm90_run<DT, D>(p, stream); }

#endif
