/* Entry point of the Hopper (sm_90a) forward kernels, callable from the portable CUDA launcher. */
#ifndef FC_SM90_LAUNCH_H
#define FC_SM90_LAUNCH_H

#include "flashcore.h"
#include <stddef.h>
#include "params.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Runs the forward pass of p on `stream` (a cudaStream_t) with the sm90 wgmma/TMA kernel when this
 * path serves the call: sets *handled = 1 and returns its status. Otherwise (device not sm_90,
 * layout TMA cannot describe, unsupported feature) sets *handled = 0, launches nothing and returns
 * FC_SUCCESS, so the caller runs the portable kernel. The caller has made p->device_ordinal current. */
fc_status fc_sm90_forward(const fc_fwd_params *p, void *stream, int *handled);

/* Bytes of caller workspace the sm90 path needs for p: always 0 now (split-KV merges its partial
 * results through distributed shared memory within a cluster, not through global memory). Kept so
 * the backend's workspace query reports the larger of the two paths' needs. */
fc_status fc_sm90_workspace_size(const fc_fwd_params *p, size_t *bytes);

/* Static text listing the compiled sm90 kernel instances. */
const char *fc_sm90_kernel_list(void);

#ifdef __cplusplus
}
#endif
#endif
