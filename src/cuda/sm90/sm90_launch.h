/* Entry point of the Hopper (sm_90a) forward kernels, callable from the portable CUDA launcher. */
#ifndef FC_SM90_LAUNCH_H
#define FC_SM90_LAUNCH_H

#include "flashcore.h"
#include <stddef.h>
#include <stdint.h>
#include "params.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Runs the forward pass of p on `stream` (a cudaStream_t) with the sm90 wgmma/TMA kernel when this
 * path serves the call: sets *handled = 1 and returns its status. Otherwise (device not sm_90,
 * layout TMA cannot describe, unsupported feature) sets *handled = 0, launches nothing and returns
 * FC_SUCCESS, so the caller runs the portable kernel. The caller has made p->device_ordinal current. */
fc_status fc_sm90_forward(const fc_fwd_params *p, void *stream, int *handled);

/* 1 when fc_sm90_forward serves p on this device (the same decision, without launching): the
 * backend's workspace query uses it so that it asks for the portable kernel's workspace only when
 * that kernel will run. The sm90 path itself needs none (split-KV merges its partial results
 * through distributed shared memory within a cluster, not through global memory). */
int fc_sm90_takes(const fc_fwd_params *p);

/* Whether TMA can describe one operand: a 4-D map {head_dim, rows, heads, batch} with element
 * strides (2-byte elements). Every extent >= 1 (Sk = 0 has no K rows), a 16-byte aligned base,
 * strides that are multiples of 16 bytes and below 2^40 bytes, and no broadcast (a zero stride
 * over an extent > 1, e.g. torch's expand). Shared by the encoder and the dispatcher, so that a
 * call the dispatcher takes never meets a failing driver call. */
static inline int fc_sm90_tma_layout_ok(const void *base, int64_t head_dim, int64_t rows, int64_t heads,
                                        int64_t batch, int64_t row_stride, int64_t head_stride,
                                        int64_t batch_stride) {
    const int64_t limit = (int64_t)1 << 39; /* elements of 2 bytes: 2^40 bytes */
    if (head_dim < 1 || rows < 1 || heads < 1 || batch < 1 || ((uintptr_t)base & 15)) return 0;
    if (row_stride % 8 || row_stride >= limit || (rows > 1 && row_stride == 0)) return 0;
    if (heads > 1 && (head_stride % 8 || head_stride >= limit || head_stride == 0)) return 0;
    if (batch > 1 && (batch_stride % 8 || batch_stride >= limit || batch_stride == 0)) return 0;
    return 1;
}

/* Static text listing the compiled sm90 kernel instances. */
const char *fc_sm90_kernel_list(void);

#ifdef __cplusplus
}
#endif
#endif
