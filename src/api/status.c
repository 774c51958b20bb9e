/* Status names and descriptions, and the thread-local last-error message. */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

#define FC_ERROR_MESSAGE_MAX 512

#if defined(_MSC_VER)
#define FC_THREAD_LOCAL __declspec(thread)
#else
#define FC_THREAD_LOCAL _Thread_local
#endif

static FC_THREAD_LOCAL char fc_error_message[FC_ERROR_MESSAGE_MAX];

fc_status fc_set_error(fc_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fc_error_message, sizeof fc_error_message, fmt, ap);
    va_end(ap);
    return status;
}

void fc_clear_error(void) { fc_error_message[0] = '\0'; }

const char *fc_last_error(void) { return fc_error_message; }

typedef struct {
    fc_status status;
    const char *name;
    const char *text;
} fc_status_row;

static const fc_status_row fc_status_table[] = {
    {FC_SUCCESS, "FC_SUCCESS", "success"},
    {FC_ERROR_NULL_POINTER, "FC_ERROR_NULL_POINTER", "a required pointer is NULL"},
    {FC_ERROR_MISALIGNED, "FC_ERROR_MISALIGNED", "a data pointer or stride is not suitably aligned"},
    {FC_ERROR_DTYPE_MISMATCH, "FC_ERROR_DTYPE_MISMATCH", "tensor dtypes do not match"},
    {FC_ERROR_SHAPE_MISMATCH, "FC_ERROR_SHAPE_MISMATCH", "tensor shapes do not agree"},
    {FC_ERROR_BAD_HEAD_DIM, "FC_ERROR_BAD_HEAD_DIM", "head_dim must be a multiple of 8 in [8, 256]"},
    {FC_ERROR_HEADS_NOT_DIVISIBLE, "FC_ERROR_HEADS_NOT_DIVISIBLE",
     "the number of query heads is not a multiple of the number of key/value heads"},
    {FC_ERROR_BAD_SIZE, "FC_ERROR_BAD_SIZE", "a size is negative, zero where it must not be, or too large"},
    {FC_ERROR_BAD_STRIDE, "FC_ERROR_BAD_STRIDE", "a stride is negative or the tensor's extent overflows"},
    {FC_ERROR_NONCONTIGUOUS, "FC_ERROR_NONCONTIGUOUS", "the last dimension of q, k, v or out is not contiguous (stride 1)"},
    {FC_ERROR_ALIASING, "FC_ERROR_ALIASING", "an output overlaps an input or another output"},
    {FC_ERROR_DEVICE_MISMATCH, "FC_ERROR_DEVICE_MISMATCH", "tensors live on different devices"},
    {FC_ERROR_BAD_CU_SEQLENS, "FC_ERROR_BAD_CU_SEQLENS", "cu_seqlens are missing or inconsistent"},
    {FC_ERROR_BAD_VALUE, "FC_ERROR_BAD_VALUE", "a scalar parameter is out of range"},
    {FC_ERROR_BAD_DTYPE, "FC_ERROR_BAD_DTYPE", "unknown dtype"},
    {FC_ERROR_BAD_RANK, "FC_ERROR_BAD_RANK", "a tensor has the wrong number of dimensions"},
    {FC_ERROR_WORKSPACE_TOO_SMALL, "FC_ERROR_WORKSPACE_TOO_SMALL", "the workspace is too small"},
    {FC_ERROR_NOT_SUPPORTED, "FC_ERROR_NOT_SUPPORTED", "not supported by this backend"},
    {FC_ERROR_CUDA_UNAVAILABLE, "FC_ERROR_CUDA_UNAVAILABLE",
     "CUDA is not available (build without CUDA, or no usable GPU)"},
    {FC_ERROR_BAD_DEVICE, "FC_ERROR_BAD_DEVICE", "no such device"},
    {FC_ERROR_CUDA, "FC_ERROR_CUDA", "a CUDA call failed"},
    {FC_ERROR_INTERNAL, "FC_ERROR_INTERNAL", "internal error"},
};

static const fc_status_row *fc_find_status(fc_status status) {
    for (size_t i = 0; i < sizeof fc_status_table / sizeof fc_status_table[0]; ++i)
        if (fc_status_table[i].status == status) return &fc_status_table[i];
    return NULL;
}

const char *fc_status_name(fc_status status) {
    const fc_status_row *row = fc_find_status(status);
    return row ? row->name : "FC_UNKNOWN_STATUS";
}

const char *fc_status_string(fc_status status) {
    const fc_status_row *row = fc_find_status(status);
    return row ? row->text : "unknown status code";
}
