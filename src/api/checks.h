/* Argument-checking helpers of the API layer (overflow-safe arithmetic, extents, overlap). */
#ifndef FC_API_CHECKS_H
#define FC_API_CHECKS_H

#include <stdint.h>

#include "flashcore.h"
#include "params.h"

/* CUDA kernels read rows as 16-byte vectors: base pointers and non-last strides must allow that. */
#define FC_CUDA_ALIGN_BYTES 16
/* The workspace holds fp32 partials read as vectors (cudaMalloc gives 256). */
#define FC_WORKSPACE_ALIGN_BYTES 16

/* a*b into *r for non-negative a, b; returns 0 on int64 overflow. */
static inline int fc_mul_ok(int64_t a, int64_t b, int64_t *r) {
    if (a != 0 && b > INT64_MAX / a) return 0;
    *r = a * b;
    return 1;
}

/* Largest element offset + 1 of a tensor (0 when it has no elements), in elements, checking that
 * the byte extent fits in int64. Assumes non-negative shapes and strides. Returns 0 on overflow. */
static inline int fc_tensor_extent(const fc_tensor *t, int64_t *extent) {
    int64_t last = 0;
    for (int d = 0; d < t->ndim; ++d) {
        if (t->shape[d] == 0) {
            *extent = 0;
            return 1;
        }
    }
    for (int d = 0; d < t->ndim; ++d) {
        int64_t term;
        if (!fc_mul_ok(t->shape[d] - 1, t->stride[d], &term)) return 0;
        if (term > INT64_MAX - last) return 0;
        last += term;
    }
    int64_t bytes;
    if (last == INT64_MAX || !fc_mul_ok(last + 1, (int64_t)fc_dtype_size(t->dtype), &bytes)) return 0;
    *extent = last + 1;
    return 1;
}

/* Whether the byte ranges spanned by two tensors intersect (conservative: spans, not elements). */
static inline int fc_tensors_overlap(const fc_tensor *a, const fc_tensor *b) {
    int64_t ea, eb;
    if (!fc_tensor_extent(a, &ea) || !fc_tensor_extent(b, &eb)) return 1;
    if (ea == 0 || eb == 0) return 0;
    uintptr_t a0 = (uintptr_t)a->data, a1 = a0 + (uintptr_t)ea * fc_dtype_size(a->dtype);
    uintptr_t b0 = (uintptr_t)b->data, b1 = b0 + (uintptr_t)eb * fc_dtype_size(b->dtype);
    return a0 < b1 && b0 < a1;
}

/* Whether distinct indices of t can reach the same element (zero or interleaved strides): such a
 * tensor cannot be an output, because its rows would be written concurrently. Sufficient test:
 * with the dims of extent > 1 sorted by stride, each stride exceeds the span of the dims inside it. */
static inline int fc_tensor_self_overlaps(const fc_tensor *t) {
    int dims[FC_MAX_DIMS], n = 0;
    for (int d = 0; d < t->ndim; ++d) {
        if (t->shape[d] == 0) return 0; /* no elements */
        if (t->shape[d] > 1) dims[n++] = d;
    }
    for (int i = 1; i < n; ++i) /* insertion sort by stride: at most four dims */
        for (int j = i; j > 0 && t->stride[dims[j]] < t->stride[dims[j - 1]]; --j) {
            int tmp = dims[j];
            dims[j] = dims[j - 1], dims[j - 1] = tmp;
        }
    int64_t span = 1; /* elements covered by the dims inside the current one */
    for (int i = 0; i < n; ++i) {
        const int64_t st = t->stride[dims[i]];
        if (st < span) return 1;
        span = st * (t->shape[dims[i]] - 1) + span; /* no overflow: the extent check passed */
    }
    return 0;
}

/* Check every argument and fill *p (src/api/api.c). Writes nothing but *p. */
fc_status fc_build_fwd_params(const fc_tensor *q, const fc_tensor *k, const fc_tensor *v, const fc_tensor *out,
                              const fc_tensor *lse, const fc_attention_params *user, void *workspace,
                              fc_fwd_params *p);

#endif
