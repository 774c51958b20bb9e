// Split-KV combine kernels (portable path), one per output dtype.
#include "cuda/cuda_backend.h"
#include "cuda/sm80/combine.cuh"

template <typename T>
static fc_status fc_sm80_combine(const fc_sm80_args *a, cudaStream_t stream) {
    const int64_t rows = a->p.total_q * a->p.heads_q;
    const int64_t blocks = (rows + FC_COMBINE_WARPS - 1) / FC_COMBINE_WARPS;
    if (blocks > 0x7fffffff) return fc_cuda_status(cudaErrorInvalidConfiguration, "split-KV combine grid");
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3((unsigned)blocks);
    cfg.blockDim = dim3(FC_COMBINE_WARPS * 32);
    cfg.stream = stream;
    void *args[] = {const_cast<fc_sm80_args *>(a)};
    const cudaError_t e = fc_cuda_launch(&cfg, (const void *)fc_sm80_combine_kernel<T>, args);
    return e == cudaSuccess ? FC_SUCCESS : fc_cuda_status(e, "launching the split-KV combine kernel");
}

fc_status fc_sm80_combine_f16(const fc_sm80_args *a, cudaStream_t stream) { return fc_sm80_combine<__half>(a, stream); }
fc_status fc_sm80_combine_bf16(const fc_sm80_args *a, cudaStream_t stream) {
    return fc_sm80_combine<__nv_bfloat16>(a, stream);
}
