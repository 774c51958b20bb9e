// Split-KV combine kernels (portable path), one per output dtype, and the portable launches'
// programmatic-dependent-launch switch (instances.h).
#include <stdlib.h>
#include "cuda/sm80/combine.cuh"

int fc_sm80_pdl(int device) {
#ifdef FC_CUDA_TUNING
    const char *off = getenv("FC_TUNE_PDL");
    if (off && off[0] == '0') return 0;
#endif
    static volatile int known[FC_MAX_DEVICES]; /* 0 not asked yet, 1 no, 2 yes */
    if (device >= 0 && device < FC_MAX_DEVICES && known[device]) return known[device] == 2;
    int major = 0;
    if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    if (device >= 0 && device < FC_MAX_DEVICES) known[device] = major >= 9 ? 2 : 1;
    return major >= 9;
}

template <typename T>
static fc_status fc_sm80_combine(const fc_sm80_args *a, cudaStream_t stream) {
    const int64_t rows = a->p.total_q * a->p.heads_q;
    const int64_t blocks = (rows + FC_COMBINE_WARPS - 1) / FC_COMBINE_WARPS;
    if (blocks > 0x7fffffff) return fc_cuda_status(cudaErrorInvalidConfiguration, "split-KV combine grid");
    cudaLaunchConfig_t cfg;
    cudaLaunchAttribute attr;
    fc_sm80_launch_config(&cfg, &attr, dim3((unsigned)blocks), dim3(FC_COMBINE_WARPS * 32), 0, stream,
                          fc_sm80_pdl(a->p.device_ordinal));
    const cudaError_t e = fc_sm80_launch_error(cudaLaunchKernelEx(&cfg, fc_sm80_combine_kernel<T>, *a));
    return e == cudaSuccess ? FC_SUCCESS : fc_cuda_status(e, "launching the split-KV combine kernel");
}

fc_status fc_sm80_combine_f16(const fc_sm80_args *a, cudaStream_t stream) { return fc_sm80_combine<__half>(a, stream); }
fc_status fc_sm80_combine_bf16(const fc_sm80_args *a, cudaStream_t stream) {
    return fc_sm80_combine<__nv_bfloat16>(a, stream);
}
