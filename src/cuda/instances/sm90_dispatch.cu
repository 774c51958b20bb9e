/*
 * fc_sm90_forward: the one decision function of the Hopper path (which calls it serves, and with
 * which instance), and the compiled-instance list.
 */
#include <stdint.h>
#include <cuda_runtime.h>
#include "internal.h"
#include "cuda/cuda_backend.h"
#include "cuda/sm90/sm90_config.h"
#include "cuda/sm90/sm90_instances.h"
#include "cuda/sm90/sm90_launch.h"

#ifdef FC_SM90_DEV
extern "C" int fc_sm90_dev_wide; /* dev harness: 0 never / 1 always the wide instances, -1 the rule */
#endif

/* 1 when device `ordinal` is compute capability 9.0 (the sm_90a SASS runs only there). */
static int fc_sm90_device_ok(int ordinal) {
    static int known[FC_SM90_MAX_DEVICES]; /* 0 unknown, 1 yes, 2 no; benign race: same value written */
    if (ordinal < 0 || ordinal >= FC_SM90_MAX_DEVICES) return 0;
    if (!known[ordinal]) {
        int major = 0, minor = 0;
        cudaError_t e = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, ordinal);
        if (e == cudaSuccess) e = cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, ordinal);
        if (e != cudaSuccess) {
            fc_cuda_clear(e);
            return 0;
        }
        known[ordinal] = (major == 9 && minor == 0) ? 1 : 2;
    }
    return known[ordinal] == 1;
}

static int fc_aligned16(const void *ptr) { return ((uintptr_t)ptr & 15) == 0; }

/* Which padded head-dim tile serves p on this path, or 0 when the portable kernel must take it. */
static int fc_sm90_choose(const fc_fwd_params *p) {
    if (p->dtype != FC_T_F16 && p->dtype != FC_T_BF16) return 0;
    const int d = fc_sm90_head_dim_pad(p->head_dim);
    if (!d || p->head_dim % 8) return 0;
    /* The softmax keeps the running max of raw scores: valid only for a positive scale (softcap
     * folds the scale into tanh's argument and is always increasing). */
    if (!(p->softcap > 0.f) && !(p->scale > 0.f)) return 0;
    /* TMA: 16-byte aligned bases, strides multiples of 16 bytes (guaranteed by the API). */
    if (!fc_aligned16(p->q) || !fc_aligned16(p->k) || !fc_aligned16(p->v) || !fc_aligned16(p->o)) return 0;
    if (p->heads_q > 65535 || p->batch > 65535 || p->seqlen_q <= 0) return 0;
    if (p->total_q > INT32_MAX || p->total_k > INT32_MAX) return 0;
    if (!fc_sm90_device_ok(p->device_ordinal)) return 0;
    /* the three tensor maps fc_sm90_make_args builds (varlen: one batch of packed tokens) */
    const int varlen = p->cu_seqlens_q != NULL;
    const int64_t rq = varlen ? p->total_q : p->seqlen_q, rk = varlen ? p->total_k : p->seqlen_k;
    const int64_t nb = varlen ? 1 : p->batch;
    if (!fc_sm90_tma_layout_ok(p->q, p->head_dim, rq, p->heads_q, nb, p->q_row_stride, p->q_head_stride,
                               p->q_batch_stride) ||
        !fc_sm90_tma_layout_ok(p->k, p->head_dim, rk, p->heads_kv, nb, p->k_row_stride, p->k_head_stride,
                               p->k_batch_stride) ||
        !fc_sm90_tma_layout_ok(p->v, p->head_dim, rk, p->heads_kv, nb, p->v_row_stride, p->v_head_stride,
                               p->v_batch_stride))
        return 0;
    return d;
}

extern "C" int fc_sm90_takes(const fc_fwd_params *p) { return fc_sm90_choose(p) != 0; }

extern "C" fc_status fc_sm90_forward(const fc_fwd_params *p, void *stream, int *handled) {
    *handled = 0;
    const int d = fc_sm90_choose(p);
    if (!d) return FC_SUCCESS;
    cudaStream_t s = (cudaStream_t)stream;
    fc_status st = FC_ERROR_NOT_SUPPORTED;
    /* Wide key blocks pay off on long calls without a sliding window (sm90_config.h). */
    int wide = p->window_left < 0 && (p->window_right < 0 || p->is_causal) &&
               p->seqlen_k >= fc_sm90_wide_min_seqlen_k(d, p->is_causal != 0);
#ifdef FC_SM90_DEV
    if (fc_sm90_dev_wide >= 0) wide = fc_sm90_dev_wide;
#endif
#define FC_SM90_CASE(DT, NAME, D) \
    if (st == FC_ERROR_NOT_SUPPORTED && wide && p->dtype == DT && d == D) st = fc_sm90_fwd_##NAME##_d##D##_wide(p, s);
    FC_SM90_WIDE_INSTANCE_LIST(FC_SM90_CASE)
#undef FC_SM90_CASE
#define FC_SM90_CASE(DT, NAME, D) \
    if (st == FC_ERROR_NOT_SUPPORTED && p->dtype == DT && d == D) st = fc_sm90_fwd_##NAME##_d##D(p, s);
    FC_SM90_INSTANCE_LIST(FC_SM90_CASE)
#undef FC_SM90_CASE
    if (st == FC_ERROR_NOT_SUPPORTED) return FC_SUCCESS; /* TMA cannot describe it: portable path */
    *handled = 1;
    return st;
}


extern "C" const char *fc_sm90_kernel_list(void) {
#define FC_SM90_NAME(DT, NAME, D) "sm90 wgmma " #NAME " hdim<=" #D "; "
#define FC_SM90_WIDE_NAME(DT, NAME, D) "sm90 wgmma " #NAME " hdim<=" #D " wide key block; "
    return FC_SM90_INSTANCE_LIST(FC_SM90_NAME) FC_SM90_WIDE_INSTANCE_LIST(FC_SM90_WIDE_NAME);
#undef FC_SM90_NAME
#undef FC_SM90_WIDE_NAME
}
