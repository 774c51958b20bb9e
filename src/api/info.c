/* Version, build and device queries, tensor conveniences, and the device memory helpers. */
#include <string.h>

#include "internal.h"
#ifdef FC_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "cuda/cuda_backend.h"
#endif

#ifndef FC_VERSION_STRING
#define FC_VERSION_STRING "unknown"
#endif

int fc_version(void) { return FLASHCORE_VERSION_NUMBER; }

const char *fc_version_string(void) { return FC_VERSION_STRING; }

int fc_has_cuda(void) {
#ifdef FC_HAVE_CUDA
    return 1;
#else
    return 0;
#endif
}

size_t fc_dtype_size(fc_dtype dtype) {
    switch (dtype) {
    case FC_DTYPE_F16:
    case FC_DTYPE_BF16: return 2;
    case FC_DTYPE_F32: return 4;
    }
    return 0;
}

void fc_tensor_contiguous(fc_tensor *t, void *data, fc_dtype dtype, int ndim, const int64_t *shape,
                          fc_device_type device, int device_ordinal) {
    if (!t) return;
    memset(t, 0, sizeof *t);
    t->data = data;
    t->dtype = dtype;
    t->ndim = ndim;
    t->device = device;
    t->device_ordinal = device_ordinal;
    if (ndim < 1 || ndim > FC_MAX_DIMS || !shape) return;
    int64_t stride = 1;
    for (int d = ndim - 1; d >= 0; --d) {
        t->shape[d] = shape[d];
        t->stride[d] = stride;
        stride *= shape[d] > 0 ? shape[d] : 1;
    }
}

#ifndef FC_HAVE_CUDA
/* The error every CUDA entry point returns in a build without CUDA. */
static fc_status fc_no_cuda(void) {
    return fc_set_error(FC_ERROR_CUDA_UNAVAILABLE, "this flashcore was built without CUDA");
}
#else
/* FC_SUCCESS when `device` names a usable CUDA device. */
static fc_status fc_check_device(int device) {
    int count = fc_cuda_count();
    if (count == 0) return fc_set_error(FC_ERROR_CUDA_UNAVAILABLE, "no CUDA device is usable");
    if (device < 0 || device >= count)
        return fc_set_error(FC_ERROR_BAD_DEVICE, "device %d requested but %d CUDA device(s) exist", device, count);
    return FC_SUCCESS;
}
#endif

fc_status fc_cuda_device_count(int *count) {
    fc_clear_error();
    if (!count) return fc_set_error(FC_ERROR_NULL_POINTER, "count is NULL");
#ifdef FC_HAVE_CUDA
    *count = fc_cuda_count();
#else
    *count = 0;
#endif
    return FC_SUCCESS;
}

fc_status fc_cuda_device_info(int ordinal, fc_device_info *info) {
    fc_clear_error();
    if (!info) return fc_set_error(FC_ERROR_NULL_POINTER, "info is NULL");
#ifdef FC_HAVE_CUDA
    fc_status s = fc_check_device(ordinal);
    return s ? s : fc_cuda_info(ordinal, info);
#else
    (void)ordinal;
    return fc_no_cuda();
#endif
}

const char *fc_build_info(void) {
#ifdef FC_HAVE_CUDA
    static char text[4096];
    if (!text[0]) {
        /* Benign if two threads race here: both write the same bytes. */
        const char *kernels = fc_cuda_kernel_list();
        char tmp[4096];
        size_t n = 0;
        const char *parts[] = {"backends: cpu (tiled online softmax, OpenMP), cuda\ncuda archs: ",
                               FC_CUDA_ARCHS_STRING, "\nkernels: ", kernels ? kernels : "(none)"};
        for (size_t i = 0; i < sizeof parts / sizeof parts[0]; ++i) {
            size_t len = strlen(parts[i]);
            if (n + len >= sizeof tmp) len = sizeof tmp - 1 - n;
            memcpy(tmp + n, parts[i], len);
            n += len;
        }
        tmp[n] = '\0';
        memcpy(text, tmp, n + 1);
    }
    return text;
#else
    return "backends: cpu (tiled online softmax, OpenMP)\ncuda: not built";
#endif
}

/* ---- device memory helpers (tools and bindings; the library never calls these) ---- */

#ifdef FC_HAVE_CUDA
static fc_status fc_cuda_result(cudaError_t e, const char *what) {
    if (e == cudaSuccess) return FC_SUCCESS;
    if (cudaPeekAtLastError() == e) (void)cudaGetLastError(); /* ours: clear it; leave a caller's alone */
    return fc_set_error(FC_ERROR_CUDA, "%s: %s (%s)", what, cudaGetErrorName(e), cudaGetErrorString(e));
}
#endif

fc_status fc_cuda_malloc(void **ptr, size_t bytes, int device) {
    fc_clear_error();
    if (!ptr) return fc_set_error(FC_ERROR_NULL_POINTER, "ptr is NULL");
    *ptr = NULL;
#ifdef FC_HAVE_CUDA
    fc_status s = fc_check_device(device);
    if (s) return s;
    int prev = 0;
    cudaGetDevice(&prev);
    cudaSetDevice(device);
    s = fc_cuda_result(cudaMalloc(ptr, bytes ? bytes : 1), "cudaMalloc");
    cudaSetDevice(prev);
    if (s) *ptr = NULL;
    return s;
#else
    (void)bytes, (void)device;
    return fc_no_cuda();
#endif
}

fc_status fc_cuda_free(void *ptr) {
    fc_clear_error();
    if (!ptr) return FC_SUCCESS;
#ifdef FC_HAVE_CUDA
    return fc_cuda_result(cudaFree(ptr), "cudaFree");
#else
    return fc_no_cuda();
#endif
}

fc_status fc_cuda_memcpy(void *dst, const void *src, size_t bytes, int kind) {
    fc_clear_error();
    if ((!dst || !src) && bytes) return fc_set_error(FC_ERROR_NULL_POINTER, "%s is NULL", dst ? "src" : "dst");
#ifdef FC_HAVE_CUDA
    enum cudaMemcpyKind k;
    switch (kind) {
    case FC_MEMCPY_H2D: k = cudaMemcpyHostToDevice; break;
    case FC_MEMCPY_D2H: k = cudaMemcpyDeviceToHost; break;
    case FC_MEMCPY_D2D: k = cudaMemcpyDeviceToDevice; break;
    default: return fc_set_error(FC_ERROR_BAD_VALUE, "kind = %d is not an FC_MEMCPY_* value", kind);
    }
    if (!bytes) return FC_SUCCESS;
    return fc_cuda_result(cudaMemcpy(dst, src, bytes, k), "cudaMemcpy");
#else
    (void)kind;
    return fc_no_cuda();
#endif
}

fc_status fc_cuda_synchronize(int device) {
    fc_clear_error();
#ifdef FC_HAVE_CUDA
    fc_status s = fc_check_device(device);
    if (s) return s;
    int prev = 0;
    cudaGetDevice(&prev);
    cudaSetDevice(device);
    s = fc_cuda_result(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    cudaSetDevice(prev);
    return s;
#else
    (void)device;
    return fc_no_cuda();
#endif
}
