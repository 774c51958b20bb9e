/*
 * The compiled instances of the portable kernel, as one X-macro list. It is the single source of
 * truth: launch.cu builds its dispatch table from it, each entry's launcher is defined in
 * instances/sm80_<dtype>_hd<N>.cu (written by instances/generate.sh from this same list), and a
 * missing file fails the link.
 */
#ifndef FC_CUDA_SM80_INSTANCES_H
#define FC_CUDA_SM80_INSTANCES_H

#include <cuda_runtime.h>
#include "flashcore.h"
#include "cuda/sm80/fwd_args.h"

/* X(dtype tag, element type, head dim) */
#define FC_SM80_INSTANCES(X)                                                                       \
    X(f16, __half, 64) X(f16, __half, 96) X(f16, __half, 128) X(f16, __half, 192) X(f16, __half, 256) \
    X(bf16, __nv_bfloat16, 64) X(bf16, __nv_bfloat16, 96) X(bf16, __nv_bfloat16, 128)              \
    X(bf16, __nv_bfloat16, 192) X(bf16, __nv_bfloat16, 256)

/* Launch the forward kernel of one instance for arch class `cls` on the current device `device`. */
typedef fc_status (*fc_sm80_fwd_fn)(const fc_sm80_args *a, int cls, int device, cudaStream_t stream);

#define FC_SM80_DECLARE(tag, type, hd) \
    fc_status fc_sm80_fwd_##tag##_hd##hd(const fc_sm80_args *a, int cls, int device, cudaStream_t stream);
FC_SM80_INSTANCES(FC_SM80_DECLARE)
#undef FC_SM80_DECLARE

/* Split-KV combine (instances/sm80_combine.cu). */
fc_status fc_sm80_combine_f16(const fc_sm80_args *a, cudaStream_t stream);
fc_status fc_sm80_combine_bf16(const fc_sm80_args *a, cudaStream_t stream);

/* Map a CUDA error to an fc_status, recording `what` and the CUDA error for fc_last_error()
 * (launch.cu). */
fc_status fc_cuda_status(cudaError_t e, const char *what);

enum {
    FC_MAX_DEVICES = 64, /* devices whose properties and per-kernel smem opt-in are remembered */
    FC_MAX_SPLITS = 32   /* split-KV ranges at most (the combine keeps one per lane) */
};

#endif
