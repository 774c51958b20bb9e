/*
 * Host-side launch of one portable-kernel instance: picks the config of the arch class, opts into
 * dynamic shared memory above 48 KB once per kernel and device, launches (in chunks of 65535
 * sequences, the grid.z limit) through fc_cuda_launch and checks its return value. Included by the
 * instance files only.
 */
#ifndef FC_CUDA_SM80_LAUNCH_TEMPLATE_CUH
#define FC_CUDA_SM80_LAUNCH_TEMPLATE_CUH

#include <cuda_runtime.h>
#include "cuda/cuda_backend.h"
#include "cuda/tile_config.h"
#include "cuda/sm80/instances.h"
#include "cuda/sm80/fwd_kernel.cuh"

enum { FC_GRID_Z_MAX = 65535 };

template <typename T, int kD, int kCfg>
static fc_status fc_sm80_launch_cfg(const fc_sm80_args &a, int device, cudaStream_t stream) {
    constexpr fc_tile_cfg kC = fc_cfg_get(kCfg);
    constexpr int kSmem = fc_cfg_smem_launch(kC, kD);
    constexpr int kDefaultSmem = 48 * 1024; /* above this a kernel must opt in */
    void (*kernel)(fc_sm80_args) = fc_sm80_fwd_kernel<T, kD, kCfg>;

    /* Opt in once per device (fc_cuda_launch opts in again when a device reset dropped it).
     * Concurrent first calls may both set the (same) attribute: harmless. */
    static volatile int opted[FC_MAX_DEVICES];
    if (kSmem > kDefaultSmem && (device >= FC_MAX_DEVICES || !opted[device])) {
        const cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem);
        if (e != cudaSuccess) return fc_cuda_status(e, "opting the forward kernel into dynamic shared memory");
        if (device < FC_MAX_DEVICES) opted[device] = 1;
    }
    fc_sm80_args chunk = a;
    for (int64_t b0 = 0; b0 < a.p.batch; b0 += FC_GRID_Z_MAX) {
        const int64_t nb = a.p.batch - b0 < FC_GRID_Z_MAX ? a.p.batch - b0 : FC_GRID_Z_MAX;
        chunk.batch_offset = (int)b0;
        cudaLaunchConfig_t cfg = {};
        cfg.gridDim = dim3((unsigned)(a.num_m_blocks * a.num_splits), (unsigned)a.p.heads_q, (unsigned)nb);
        cfg.blockDim = dim3(kC.warps * 32);
        cfg.dynamicSmemBytes = kSmem;
        cfg.stream = stream;
        void *args[] = {&chunk};
        const cudaError_t e = fc_cuda_launch(&cfg, (const void *)kernel, args);
        if (e != cudaSuccess) return fc_cuda_status(e, "launching the forward kernel");
    }
    return FC_SUCCESS;
}

#ifdef FC_CUDA_TUNING
/* Tuning builds: FC_TUNE_CFG (fc_tune_cfg_env) runs config id (when it is compiled for this head
 * dim) on sm_90. */
template <typename T, int kD, int kId>
static fc_status fc_sm80_launch_tuned(const fc_sm80_args &a, int id, int device, cudaStream_t stream) {
    if constexpr (kId < FC_CFG_COUNT) {
        if (id == kId) {
            if constexpr (fc_cfg_used_on(kId, kD, 90)) return fc_sm80_launch_cfg<T, kD, kId>(a, device, stream);
            else return fc_cuda_status(cudaErrorInvalidValue, "FC_TUNE_CFG: config not compiled for this head dim");
        }
        return fc_sm80_launch_tuned<T, kD, kId + 1>(a, id, device, stream);
    }
    return fc_cuda_status(cudaErrorInvalidValue, "FC_TUNE_CFG: no such config");
}
#endif

/* Alternative kAlt of arch class kCls (fc_cfg_alt gives -1 where the class has none: the plan never
 * asks for it then). */
template <typename T, int kD, int kCls, int kAlt>
static fc_status fc_sm80_launch_alt(const fc_sm80_args &a, int device, cudaStream_t stream) {
    constexpr int kCfg = fc_cfg_alt(kCls, kD, kAlt);
    if constexpr (kCfg >= 0) return fc_sm80_launch_cfg<T, kD, kCfg>(a, device, stream);
    else return fc_cuda_status(cudaErrorInvalidValue, "no such alternative tile config for this arch class and head dim");
}
/* The tile the plan chose for the arch class (a.alt). */
template <typename T, int kD, int kCls>
static fc_status fc_sm80_launch_class(const fc_sm80_args &a, int device, cudaStream_t stream) {
    switch (a.alt) {
    case FC_ALT_TABLE: return fc_sm80_launch_alt<T, kD, kCls, FC_ALT_TABLE>(a, device, stream);
    case FC_ALT_QSPLIT: return fc_sm80_launch_alt<T, kD, kCls, FC_ALT_QSPLIT>(a, device, stream);
    case FC_ALT_QSPLIT_1W: return fc_sm80_launch_alt<T, kD, kCls, FC_ALT_QSPLIT_1W>(a, device, stream);
#ifdef FC_CUDA_TUNING
    case FC_ALT_QSPLIT_1W32: return fc_sm80_launch_alt<T, kD, kCls, FC_ALT_QSPLIT_1W32>(a, device, stream);
#endif
    case FC_ALT_SHORT: return fc_sm80_launch_alt<T, kD, kCls, FC_ALT_SHORT>(a, device, stream);
    default: return fc_cuda_status(cudaErrorInvalidValue, "unknown tile choice of the plan");
    }
}

template <typename T, int kD>
static fc_status fc_sm80_launch(const fc_sm80_args &a, int cls, int device, cudaStream_t stream) {
#ifdef FC_CUDA_TUNING
    const int tune = cls == FC_CLS_SM90 ? fc_tune_cfg_env(kD) : -1;
    if (tune >= 0) return fc_sm80_launch_tuned<T, kD, 0>(a, tune, device, stream);
#endif
    switch (cls) {
    case FC_CLS_SM80: return fc_sm80_launch_class<T, kD, FC_CLS_SM80>(a, device, stream);
    case FC_CLS_SM8X: return fc_sm80_launch_class<T, kD, FC_CLS_SM8X>(a, device, stream);
    case FC_CLS_SM90: return fc_sm80_launch_class<T, kD, FC_CLS_SM90>(a, device, stream);
    default: return fc_cuda_status(cudaErrorInvalidValue, "no tile configuration for this arch class");
    }
}

#define FC_SM80_DEFINE(tag, type, hd)                                                                    \
    fc_status fc_sm80_fwd_##tag##_hd##hd(const fc_sm80_args *a, int cls, int device, cudaStream_t stream) { \
        return fc_sm80_launch<type, hd>(*a, cls, device, stream);                                        \
    }

#endif
