/*
 * flashcore: exact fused scaled-dot-product attention.
 *
 *   O = softmax(scale * Q K^T + mask) V      (computed without materialising the S x S scores)
 *
 * Public C11 API. Every function returns an fc_status (or is a pure query); the library never
 * aborts, exits or prints. On any error nothing is written to the outputs, and fc_last_error()
 * (thread-local) names the offending argument and its values.
 *
 * Tensors are described by pointer, dtype, shape, strides (in elements, int64) and the device they
 * live on. Q/K/V/O have the layout [batch, seqlen, heads, head_dim] (4-D), or [total_tokens, heads,
 * head_dim] (3-D) for variable-length packed batches; any strides, with the last dimension contiguous.
 * The optional lse output takes any strides (an output must still not overlap itself or another
 * tensor).
 */
#ifndef FLASHCORE_H
#define FLASHCORE_H

#include <stddef.h>
#include <stdint.h>

#define FLASHCORE_VERSION_MAJOR 0
#define FLASHCORE_VERSION_MINOR 1
#define FLASHCORE_VERSION_PATCH 0
/** The version as one number: major*10000 + minor*100 + patch. */
#define FLASHCORE_VERSION_NUMBER \
    (FLASHCORE_VERSION_MAJOR * 10000 + FLASHCORE_VERSION_MINOR * 100 + FLASHCORE_VERSION_PATCH)

#if defined(_WIN32) && defined(FLASHCORE_SHARED_BUILD)
#define FC_API __declspec(dllexport)
#elif defined(__GNUC__)
#define FC_API __attribute__((visibility("default")))
#else
#define FC_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------------
 * Status codes. Grouped by thousands; the numeric values are stable.
 *   0       success
 *   1000s   bad parameter (the call was wrong; fix the arguments)
 *   2000s   not supported (valid, but this build / backend / device cannot do it)
 *   3000s   execution failed (the device reported an error)
 *   4000s   internal error (a flashcore bug: please report)
 * ---------------------------------------------------------------------------------------------- */
typedef enum fc_status {
    FC_SUCCESS = 0,

    FC_ERROR_NULL_POINTER = 1001,     /**< a required pointer (tensor, data, params, out-arg) is NULL */
    FC_ERROR_MISALIGNED = 1002,       /**< a data pointer or stride breaks the alignment rule */
    FC_ERROR_DTYPE_MISMATCH = 1003,   /**< q/k/v/o dtypes differ, or lse is not fp32 */
    FC_ERROR_SHAPE_MISMATCH = 1004,   /**< shapes of q/k/v/o/lse do not agree */
    FC_ERROR_BAD_HEAD_DIM = 1005,     /**< head_dim not a multiple of 8 in [8, 256] */
    FC_ERROR_HEADS_NOT_DIVISIBLE = 1006, /**< q heads not a multiple of kv heads */
    FC_ERROR_BAD_SIZE = 1007,         /**< a negative size, zero heads, or sizes that overflow */
    FC_ERROR_BAD_STRIDE = 1008,       /**< a negative stride, or strides whose extent overflows */
    FC_ERROR_NONCONTIGUOUS = 1009,    /**< the last dimension's stride of q/k/v/out is not 1 */
    FC_ERROR_ALIASING = 1010,         /**< an output overlaps an input, the other output, or itself */
    FC_ERROR_DEVICE_MISMATCH = 1011,  /**< tensors live on different devices */
    FC_ERROR_BAD_CU_SEQLENS = 1012,   /**< cu_seqlens missing, not monotone, or inconsistent */
    FC_ERROR_BAD_VALUE = 1013,        /**< a scalar parameter is out of range (scale, softcap, window) */
    FC_ERROR_BAD_DTYPE = 1014,        /**< an unknown dtype value */
    FC_ERROR_BAD_RANK = 1015,         /**< a tensor has the wrong number of dimensions */
    FC_ERROR_WORKSPACE_TOO_SMALL = 1016, /**< reserved: a smaller workspace selects a plan that needs none */

    FC_ERROR_NOT_SUPPORTED = 2001,    /**< this backend cannot run this combination (e.g. fp32 on CUDA) */
    FC_ERROR_CUDA_UNAVAILABLE = 2002, /**< CUDA tensors, but the build has no CUDA or no GPU is usable */
    FC_ERROR_BAD_DEVICE = 2003,       /**< device ordinal does not exist */

    FC_ERROR_CUDA = 3001,             /**< a CUDA runtime/driver call or kernel launch failed */

    FC_ERROR_INTERNAL = 4001          /**< should not happen */
} fc_status;

/** Element types. */
typedef enum fc_dtype {
    FC_DTYPE_F16 = 1,  /**< IEEE binary16 */
    FC_DTYPE_BF16 = 2, /**< bfloat16 */
    FC_DTYPE_F32 = 3   /**< IEEE binary32 (CPU backend for q/k/v/o; the dtype of lse everywhere) */
} fc_dtype;

/** Where a tensor lives. */
typedef enum fc_device_type {
    FC_DEVICE_CPU = 0,
    FC_DEVICE_CUDA = 1
} fc_device_type;

/** Maximum rank of an fc_tensor. */
#define FC_MAX_DIMS 4

/**
 * A strided view of memory. Strides are in elements (not bytes). Only the first `ndim` entries
 * of shape/stride are read.
 */
typedef struct fc_tensor {
    void *data;
    fc_dtype dtype;
    int ndim;
    int64_t shape[FC_MAX_DIMS];
    int64_t stride[FC_MAX_DIMS];
    fc_device_type device;
    int device_ordinal; /**< CUDA device index; ignored for FC_DEVICE_CPU */
} fc_tensor;

/**
 * Options of a forward attention call. Initialise with fc_attention_params_init(), then set fields.
 *
 * Masking: query row i (0-based, within its sequence) may attend to key j iff
 *     i + (Sk - Sq) - window_left <= j <= i + (Sk - Sq) + window_right
 * where a window edge of -1 is unbounded. `causal` is window_right = 0 (bottom-right aligned when
 * Sq != Sk: the last query row sees every key, as in FlashAttention >= 2.1). A query row that may
 * attend to no key gets an output of 0 and an LSE of -inf.
 */
typedef struct fc_attention_params {
    float softmax_scale;  /**< 0 selects the default 1/sqrt(head_dim); otherwise any finite value */
    int causal;           /**< non-zero: causal (bottom-right aligned) */
    int window_left;      /**< -1 = unbounded; otherwise >= 0 keys to the left */
    int window_right;     /**< -1 = unbounded; otherwise >= 0 keys to the right (causal forces 0) */
    float softcap;        /**< 0 = off; > 0: scores become softcap * tanh(scores / softcap) */

    /* Variable-length packed batches (all NULL / 0 for the 4-D batched layout). When set, q/k/v/o
     * are 3-D [total_tokens, heads, head_dim] and lse is [heads_q, total_q]. cu_seqlens_* are int32
     * arrays of num_seqs+1 cumulative offsets, starting at 0, on the same device as q. Tokens after
     * cu_seqlens_q[num_seqs] belong to no sequence: their out rows and lse entries are not written.
     * An empty sequence (length 0) is valid; an empty key sequence gives out 0 and lse -inf. */
    const int32_t *cu_seqlens_q;
    const int32_t *cu_seqlens_k;
    int num_seqs;         /**< number of sequences (cu_seqlens arrays hold num_seqs + 1 entries) */
    int max_seqlen_q;     /**< upper bound of every q sequence length */
    int max_seqlen_k;     /**< upper bound of every k sequence length */
} fc_attention_params;

/* ------------------------------------------------------------------------------------------------
 * Library information
 * ---------------------------------------------------------------------------------------------- */

/** @return the run-time version as major*10000 + minor*100 + patch. */
FC_API int fc_version(void);

/** @return a static string such as "0.1.0". */
FC_API const char *fc_version_string(void);

/** @return the name of a status code ("FC_ERROR_BAD_HEAD_DIM"), or "FC_UNKNOWN_STATUS". */
FC_API const char *fc_status_name(fc_status status);

/** @return a one-line description of a status code. Never NULL. */
FC_API const char *fc_status_string(fc_status status);

/**
 * @return the detailed message of the last failing call on this thread (naming the argument and
 * values), or "" if the last call succeeded. Valid until the next flashcore call on this thread.
 */
FC_API const char *fc_last_error(void);

/** @return non-zero if the library was built with the CUDA backend. */
FC_API int fc_has_cuda(void);

/**
 * Number of usable CUDA devices (0 when the build has no CUDA or the machine has no GPU).
 * @return FC_SUCCESS; *count is set.
 */
FC_API fc_status fc_cuda_device_count(int *count);

/** Description of a CUDA device. */
typedef struct fc_device_info {
    char name[256];
    int sm;                 /**< compute capability as major*10 + minor (e.g. 90) */
    int multiprocessors;
    int64_t global_memory_bytes;
    int max_shared_memory_per_block; /**< opt-in maximum, bytes */
    char kernels[512];      /**< the flashcore kernel family that serves this arch, e.g. "sm80 mma.sync" */
} fc_device_info;

/** Fill *info for CUDA device `ordinal`. @return FC_SUCCESS, FC_ERROR_CUDA_UNAVAILABLE, FC_ERROR_BAD_DEVICE. */
FC_API fc_status fc_cuda_device_info(int ordinal, fc_device_info *info);

/** @return a static description of the build: backends, CUDA archs compiled, kernel instances. */
FC_API const char *fc_build_info(void);

/* ------------------------------------------------------------------------------------------------
 * Forward attention
 * ---------------------------------------------------------------------------------------------- */

/** Set every field of *params to its default (scale 0 = 1/sqrt(d), no mask, no softcap, no varlen). */
FC_API void fc_attention_params_init(fc_attention_params *params);

/**
 * Workspace the forward call needs for these arguments (0 for most shapes; the CUDA split-KV path
 * needs scratch for partial results). Performs the same argument checks as fc_attention_forward.
 * @return FC_SUCCESS and *size, or the error the forward call would return.
 */
FC_API fc_status fc_attention_workspace_size(const fc_tensor *q, const fc_tensor *k, const fc_tensor *v,
                                             const fc_tensor *out, const fc_tensor *lse,
                                             const fc_attention_params *params, size_t *size);

/**
 * Forward attention: out = softmax(scale * q k^T + mask) v, and optionally lse = log(sum(exp(...)))
 * per query row (natural log, fp32).
 *
 * Sizes: batch, seqlen_q and seqlen_k may be 0 (Sk = 0: every row is fully masked, out 0 and lse
 * -inf); heads >= 1.
 *
 * q:   [B, Sq, Hq, D]  or varlen [total_q, Hq, D]
 * k,v: [B, Sk, Hkv, D] or varlen [total_k, Hkv, D]    (Hq % Hkv == 0: GQA / MQA)
 * out: same shape and dtype as q
 * lse: NULL, or fp32 [B, Hq, Sq] (varlen: [Hq, total_q]), any strides: e.g. a [B, Sq, Hq] buffer
 *      viewed as [B, Hq, Sq] (strides {Sq*Hq, 1, Hq})
 * dtypes: fp16 or bf16 (both backends), fp32 (CPU backend); q/k/v/out share one dtype.
 * head_dim D: a multiple of 8, at most 256.
 * params: NULL for the defaults.
 * workspace: optional device scratch. With at least fc_attention_workspace_size() bytes the CUDA
 *            backend may split the keys of a small grid across more blocks; with less (or NULL and 0)
 *            it runs a plan that needs none. A non-zero workspace_size needs a 16-byte aligned,
 *            non-NULL workspace on the tensors' device.
 * stream: a cudaStream_t for CUDA tensors (NULL = default stream); ignored on the CPU.
 *
 * Alignment: CPU data must be aligned to the element size. CUDA data pointers must be 16-byte
 * aligned and every non-last stride a multiple of 8 elements (16 bytes of fp16/bf16).
 *
 * CUDA calls are asynchronous on `stream`: errors detected at launch are returned; errors of the
 * running kernel surface at the caller's next synchronisation.
 *
 * CUDA error state: flashcore reports the error of the CUDA call that failed (its return value,
 * FC_ERROR_CUDA or FC_ERROR_NOT_SUPPORTED, detail in fc_last_error()) and clears it from the
 * runtime's pending error, so the failure is not reported twice. It never reads errors from
 * cudaGetLastError(): an error left pending by an earlier call of yours is never reported as
 * flashcore's, and a successful call leaves it pending, except the first call that uses a kernel
 * on a device: its once-per-kernel set-up calls into the CUDA runtime may reset it (seen on an
 * H200). A failing CUDA call, flashcore's included, replaces it. The shared library carries its
 * own CUDA runtime, whose pending error your cudaGetLastError() does not see at all; the static
 * library shares yours when you link the static CUDA runtime too. A sticky error (a corrupted
 * context, e.g. after a kernel's illegal address) fails every CUDA call, flashcore's included,
 * until the context is reset; after cudaDeviceReset() flashcore works again on memory allocated
 * afresh (tested with the static library, where the reset goes through the runtime flashcore uses).
 */
FC_API fc_status fc_attention_forward(const fc_tensor *q, const fc_tensor *k, const fc_tensor *v,
                                      const fc_tensor *out, const fc_tensor *lse,
                                      const fc_attention_params *params, void *workspace,
                                      size_t workspace_size, void *stream);

/* ------------------------------------------------------------------------------------------------
 * Convenience
 * ---------------------------------------------------------------------------------------------- */

/** Fill a contiguous tensor description for the given shape (row-major strides). */
FC_API void fc_tensor_contiguous(fc_tensor *t, void *data, fc_dtype dtype, int ndim, const int64_t *shape,
                                 fc_device_type device, int device_ordinal);

/** @return the size in bytes of one element of dtype, or 0 for an unknown dtype. */
FC_API size_t fc_dtype_size(fc_dtype dtype);

/* ------------------------------------------------------------------------------------------------
 * Device memory helpers (tools and bindings)
 *
 * Conveniences for programs that use only this header (the CLI, ctypes bindings). The library never
 * calls them itself: fc_attention_forward allocates nothing. Without CUDA they return
 * FC_ERROR_CUDA_UNAVAILABLE.
 * ---------------------------------------------------------------------------------------------- */
enum { FC_MEMCPY_H2D = 1, FC_MEMCPY_D2H = 2, FC_MEMCPY_D2D = 3 };

/** Allocate `bytes` of device memory on `device`. @return FC_SUCCESS or an error; *ptr NULL on error. */
FC_API fc_status fc_cuda_malloc(void **ptr, size_t bytes, int device);
/** Free memory from fc_cuda_malloc. NULL is accepted. */
FC_API fc_status fc_cuda_free(void *ptr);
/** Synchronous copy of `bytes` (kind: FC_MEMCPY_*). */
FC_API fc_status fc_cuda_memcpy(void *dst, const void *src, size_t bytes, int kind);
/** Wait for all work on `device` to finish; reports errors of kernels that ran. */
FC_API fc_status fc_cuda_synchronize(int device);

#ifdef __cplusplus
}
#endif

#endif /* FLASHCORE_H */
