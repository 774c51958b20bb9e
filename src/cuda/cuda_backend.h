/* CUDA backend entry points, callable from C (implemented in src/cuda/launch.cu). Only declared
 * when the build has CUDA (FC_HAVE_CUDA). Every function maps CUDA errors to fc_status and records
 * the detail with fc_set_error(). */
#ifndef FC_CUDA_BACKEND_H
#define FC_CUDA_BACKEND_H

#include <stddef.h>
#include "flashcore.h"
#include "params.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Number of usable devices (0 if the driver/runtime is absent or reports none). Never fails. */
int fc_cuda_count(void);

/* Device description, including which flashcore kernel family serves its arch. */
fc_status fc_cuda_info(int ordinal, fc_device_info *info);

/* Both calls below take a validated, non-empty p (src/dispatch.c answers empty calls) and make the
 * kernel decision through one plan function (launch.cu), so they cannot disagree. */

/* Bytes of workspace the forward call can use for p: the split-KV partials of the portable kernel
 * (splits x heads_q x total_q x (head_dim + 1) fp32, plus alignment); 0 when the Hopper kernel
 * serves p or the grid fills the GPU. Depends only on p's sizes, layout and the device. */
fc_status fc_cuda_workspace_size(const fc_fwd_params *p, size_t *bytes);

/* Launch the forward pass on `stream` (a cudaStream_t; NULL = default) on device p->device_ordinal.
 * p->workspace holds p->workspace_size bytes: with at least fc_cuda_workspace_size() the plan the
 * query described runs; with less, one that fits (the portable kernel unsplit). Never uses more
 * workspace than the query reported. Restores the caller's current device before returning. On
 * sm_90 the Hopper kernel gets the call first when the build has it; the environment variable
 * FLASHCORE_FORCE_PORTABLE=1 skips it (tests and benchmarks of the portable kernel). Builds with
 * -DFC_CUDA_TUNING also read FC_TUNE_SPLITS, FC_TUNE_CFG, FC_TUNE_QSPLIT, FC_TUNE_SHORT and
 * FC_TUNE_CLASS (benchmarks and dev checks; launch.cu, tile_config.h). */
fc_status fc_cuda_forward(const fc_fwd_params *p, void *stream);

/* Static text listing the compiled kernel instances (for fc_build_info). */
const char *fc_cuda_kernel_list(void);

#ifdef __cplusplus
}
#endif

#if defined(__cplusplus) && defined(__CUDACC__)
/* For the backend's CUDA sources. Header-only, so that any subset of them links on its own (the
 * sm90 dev harness builds the sm90 instances without launch.cu). Errors are taken from the return
 * value of the call that failed, never from the runtime's pending-error state (cudaGetLastError),
 * which may hold an earlier, unrelated error of the caller's when the caller shares this runtime
 * (static linking); that error is left alone. */
#include <stdint.h>
#include <cuda_runtime.h>

enum { FC_DEFAULT_DYNAMIC_SMEM = 48 * 1024 }; /* dynamic shared memory a kernel gets without opting in */

/* ceil(a / b) for a >= 0, b > 0, in 64 bits (tile counts of sequence lengths up to INT32_MAX). */
static inline int64_t fc_ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* Clear the runtime's pending error if it is e, the error a call of ours just returned, so that a
 * failure reported through fc_status is not reported again by the caller's next cudaGetLastError.
 * Sticky errors (a corrupted context) cannot be cleared and keep failing calls. */
static inline void fc_cuda_clear(cudaError_t e) {
    if (e != cudaSuccess && cudaPeekAtLastError() == e) (void)cudaGetLastError();
}

/* Every kernel launch of the backend: cudaLaunchKernelExC(cfg, kernel, args), returning that
 * launch's own error (an error pending from earlier calls is neither returned nor cleared).
 * The shared-memory opt-in (cudaFuncSetAttribute) lives in the device's context, and
 * cudaDeviceReset() drops it while the launchers remember per device that they opted in (the
 * refusal is cudaErrorInvalidValue). So a refused launch of a kernel that needs the opt-in opts in
 * again and retries, once; a launch that fails for another reason fails again the same way. Costs
 * nothing while launches succeed; the callers' opt-in on first use stays a flag check. */
static inline cudaError_t fc_cuda_launch(const cudaLaunchConfig_t *cfg, const void *kernel, void **args) {
    cudaError_t e = cudaLaunchKernelExC(cfg, kernel, args);
    if (e != cudaSuccess && cfg->dynamicSmemBytes > FC_DEFAULT_DYNAMIC_SMEM) {
        fc_cuda_clear(e);
        e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)cfg->dynamicSmemBytes);
        if (e == cudaSuccess) e = cudaLaunchKernelExC(cfg, kernel, args);
    }
    return e;
}
#endif /* __cplusplus && __CUDACC__ */
#endif
