/*
 * The public forward call: check every argument, normalise into one fc_fwd_params, hand it to the
 * dispatcher. Nothing is written to any output before every check has passed.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "api/checks.h"
#include "dispatch.h"
#include "internal.h"

/* Largest sequence length / head count / batch the int fields of fc_fwd_params can carry. */
#define FC_MAX_INT_SIZE INT32_MAX

void fc_attention_params_init(fc_attention_params *params) {
    if (!params) return;
    memset(params, 0, sizeof *params);
    params->softmax_scale = 0.0f;
    params->window_left = -1;
    params->window_right = -1;
}

/* Tensor names for messages, in argument order. */
enum { T_Q, T_K, T_V, T_O, T_LSE, T_COUNT };
static const char *const fc_tensor_names[T_COUNT] = {"q", "k", "v", "out", "lse"};

/* ---- per-tensor checks -------------------------------------------------------------------- */

/* is_lse: the fp32 lse output may have any strides (every backend indexes it with all three, the
 * last included); q/k/v/out need a contiguous last dimension (vector loads and stores along it). */
static fc_status check_tensor_basic(const fc_tensor *t, const char *name, int want_ndim, int is_lse) {
    if (t->dtype != FC_DTYPE_F16 && t->dtype != FC_DTYPE_BF16 && t->dtype != FC_DTYPE_F32)
        return fc_set_error(FC_ERROR_BAD_DTYPE, "%s.dtype = %d is not a flashcore dtype", name, (int)t->dtype);
    if (t->ndim != want_ndim)
        return fc_set_error(FC_ERROR_BAD_RANK, "%s.ndim = %d, expected %d", name, t->ndim, want_ndim);
    if (t->device != FC_DEVICE_CPU && t->device != FC_DEVICE_CUDA)
        return fc_set_error(FC_ERROR_BAD_VALUE, "%s.device = %d is not a flashcore device type", name,
                            (int)t->device);
    for (int d = 0; d < t->ndim; ++d)
        if (t->shape[d] < 0)
            return fc_set_error(FC_ERROR_BAD_SIZE, "%s.shape[%d] = %lld is negative", name, d,
                                (long long)t->shape[d]);
    for (int d = 0; d < t->ndim; ++d)
        if (t->stride[d] < 0)
            return fc_set_error(FC_ERROR_BAD_STRIDE, "%s.stride[%d] = %lld is negative", name, d,
                                (long long)t->stride[d]);
    int64_t numel = 1;
    for (int d = 0; d < t->ndim; ++d)
        if (!fc_mul_ok(numel, t->shape[d], &numel))
            return fc_set_error(FC_ERROR_BAD_SIZE, "%s: the element count overflows int64", name);
    if (!is_lse && t->stride[t->ndim - 1] != 1 && t->shape[t->ndim - 1] > 1)
        return fc_set_error(FC_ERROR_NONCONTIGUOUS, "%s.stride[%d] = %lld: the last dimension must be contiguous",
                            name, t->ndim - 1, (long long)t->stride[t->ndim - 1]);
    int64_t extent;
    if (!fc_tensor_extent(t, &extent))
        return fc_set_error(FC_ERROR_BAD_STRIDE, "%s: strides x shape overflow the addressable range", name);
    if (t->data == NULL && numel > 0)
        return fc_set_error(FC_ERROR_NULL_POINTER, "%s.data is NULL", name);
    return FC_SUCCESS;
}

static fc_status check_alignment(const fc_tensor *t, const char *name, int is_lse) {
    size_t es = fc_dtype_size(t->dtype);
    uintptr_t addr = (uintptr_t)t->data;
    if (t->device == FC_DEVICE_CUDA && !is_lse) {
        /* CUDA kernels load 16-byte vectors along head_dim from every row. */
        if (addr % FC_CUDA_ALIGN_BYTES)
            return fc_set_error(FC_ERROR_MISALIGNED, "%s.data = %p is not %d-byte aligned (CUDA tensors)", name,
                                t->data, FC_CUDA_ALIGN_BYTES);
        int64_t elems = FC_CUDA_ALIGN_BYTES / (int64_t)es;
        for (int d = 0; d + 1 < t->ndim; ++d)
            if (t->shape[d] > 1 && t->stride[d] % elems)
                return fc_set_error(FC_ERROR_MISALIGNED,
                                    "%s.stride[%d] = %lld is not a multiple of %lld elements (CUDA tensors)", name,
                                    d, (long long)t->stride[d], (long long)elems);
    } else if (addr % es) {
        return fc_set_error(FC_ERROR_MISALIGNED, "%s.data = %p is not aligned to its %zu-byte elements", name,
                            t->data, es);
    }
    return FC_SUCCESS;
}

static fc_status shape_mismatch(const char *a, int da, int64_t va, const char *b, int db, int64_t vb) {
    return fc_set_error(FC_ERROR_SHAPE_MISMATCH, "%s.shape[%d] = %lld does not match %s.shape[%d] = %lld", a, da,
                        (long long)va, b, db, (long long)vb);
}

/* ---- varlen ------------------------------------------------------------------------------- */

/* Host cu_seqlens can be checked in full; device ones cannot be read without synchronising the
 * caller's stream, so their contents are the caller's contract (documented in the header). */
static fc_status check_cu_seqlens_host(const int32_t *cu, const char *name, int num_seqs, int64_t total,
                                       int max_seqlen) {
    if (cu[0] != 0) return fc_set_error(FC_ERROR_BAD_CU_SEQLENS, "%s[0] = %d, expected 0", name, (int)cu[0]);
    for (int b = 0; b < num_seqs; ++b) {
        int64_t len = (int64_t)cu[b + 1] - cu[b];
        if (len < 0)
            return fc_set_error(FC_ERROR_BAD_CU_SEQLENS, "%s is not non-decreasing: %s[%d] = %d > %s[%d] = %d",
                                name, name, b, (int)cu[b], name, b + 1, (int)cu[b + 1]);
        if (len > max_seqlen)
            return fc_set_error(FC_ERROR_BAD_CU_SEQLENS, "%s: sequence %d has length %lld > max_seqlen %d", name, b,
                                (long long)len, max_seqlen);
    }
    if (cu[num_seqs] > total)
        return fc_set_error(FC_ERROR_BAD_CU_SEQLENS, "%s[%d] = %d exceeds the %lld tokens of the tensor", name,
                            num_seqs, (int)cu[num_seqs], (long long)total);
    return FC_SUCCESS;
}

/* ---- the whole argument set --------------------------------------------------------------- */

fc_status fc_build_fwd_params(const fc_tensor *q, const fc_tensor *k, const fc_tensor *v, const fc_tensor *out,
                              const fc_tensor *lse, const fc_attention_params *user, void *workspace,
                              fc_fwd_params *p) {
    fc_attention_params defaults;
    if (!user) {
        fc_attention_params_init(&defaults);
        user = &defaults;
    }
    const fc_tensor *t[T_COUNT] = {q, k, v, out, lse};
    for (int i = 0; i < T_LSE; ++i)
        if (!t[i]) return fc_set_error(FC_ERROR_NULL_POINTER, "%s is NULL", fc_tensor_names[i]);

    const int varlen = user->cu_seqlens_q != NULL || user->cu_seqlens_k != NULL;
    if (varlen && (user->cu_seqlens_q == NULL || user->cu_seqlens_k == NULL))
        return fc_set_error(FC_ERROR_BAD_CU_SEQLENS, "cu_seqlens_%s is NULL but cu_seqlens_%s is set (varlen needs both)",
                            user->cu_seqlens_q ? "k" : "q", user->cu_seqlens_q ? "q" : "k");
    const int rank = varlen ? 3 : 4;
    for (int i = 0; i < T_COUNT; ++i) {
        if (!t[i]) continue;
        fc_status s = check_tensor_basic(t[i], fc_tensor_names[i], i == T_LSE ? rank - 1 : rank, i == T_LSE);
        if (s) return s;
    }

    /* dtypes */
    if (k->dtype != q->dtype || v->dtype != q->dtype || out->dtype != q->dtype) {
        const fc_tensor *bad = k->dtype != q->dtype ? k : v->dtype != q->dtype ? v : out;
        const char *bad_name = bad == k ? "k" : bad == v ? "v" : "out";
        return fc_set_error(FC_ERROR_DTYPE_MISMATCH, "%s.dtype = %d differs from q.dtype = %d", bad_name,
                            (int)bad->dtype, (int)q->dtype);
    }
    if (lse && lse->dtype != FC_DTYPE_F32)
        return fc_set_error(FC_ERROR_DTYPE_MISMATCH, "lse.dtype = %d, expected FC_DTYPE_F32 (%d)", (int)lse->dtype,
                            (int)FC_DTYPE_F32);

    /* shapes: dims are [B, S, H, D] (batched) or [T, H, D] (varlen) */
    const int dS = varlen ? 0 : 1, dH = rank - 2, dD = rank - 1;
    const int64_t D = q->shape[dD];
    if (D % 8 != 0 || D < 8 || D > 256)
        return fc_set_error(FC_ERROR_BAD_HEAD_DIM, "q.shape[%d] (head_dim) = %lld: must be a multiple of 8 in [8, 256]",
                            dD, (long long)D);
    for (int i = T_K; i <= T_O; ++i) {
        if (t[i]->shape[dD] != D) return shape_mismatch(fc_tensor_names[i], dD, t[i]->shape[dD], "q", dD, D);
        if (!varlen && t[i]->shape[0] != q->shape[0])
            return shape_mismatch(fc_tensor_names[i], 0, t[i]->shape[0], "q", 0, q->shape[0]);
    }
    for (int d = 0; d < rank; ++d)
        if (v->shape[d] != k->shape[d]) return shape_mismatch("v", d, v->shape[d], "k", d, k->shape[d]);
    for (int d = 0; d < rank; ++d)
        if (out->shape[d] != q->shape[d]) return shape_mismatch("out", d, out->shape[d], "q", d, q->shape[d]);
    const int64_t Hq = q->shape[dH], Hkv = k->shape[dH];
    if (Hq < 1 || Hkv < 1)
        return fc_set_error(FC_ERROR_BAD_SIZE, "%s.shape[%d] (heads) = %lld: at least one head is required",
                            Hq < 1 ? "q" : "k", dH, (long long)(Hq < 1 ? Hq : Hkv));
    if (Hq % Hkv != 0)
        return fc_set_error(FC_ERROR_HEADS_NOT_DIVISIBLE, "q heads = %lld is not a multiple of k/v heads = %lld",
                            (long long)Hq, (long long)Hkv);
    const int64_t total_q = varlen ? q->shape[0] : q->shape[0] * q->shape[1];
    const int64_t total_k = varlen ? k->shape[0] : k->shape[0] * k->shape[1];
    if (lse) {
        if (varlen) {
            if (lse->shape[0] != Hq) return shape_mismatch("lse", 0, lse->shape[0], "q", 1, Hq);
            if (lse->shape[1] != q->shape[0]) return shape_mismatch("lse", 1, lse->shape[1], "q", 0, q->shape[0]);
        } else {
            if (lse->shape[0] != q->shape[0]) return shape_mismatch("lse", 0, lse->shape[0], "q", 0, q->shape[0]);
            if (lse->shape[1] != Hq) return shape_mismatch("lse", 1, lse->shape[1], "q", 2, Hq);
            if (lse->shape[2] != q->shape[1]) return shape_mismatch("lse", 2, lse->shape[2], "q", 1, q->shape[1]);
        }
    }
    const int64_t int_sizes[] = {varlen ? 0 : q->shape[0], varlen ? 0 : q->shape[dS], varlen ? 0 : k->shape[dS], Hq};
    const char *const int_names[] = {"batch", "seqlen_q", "seqlen_k", "heads"};
    for (int i = 0; i < 4; ++i)
        if (int_sizes[i] > FC_MAX_INT_SIZE)
            return fc_set_error(FC_ERROR_BAD_SIZE, "%s = %lld exceeds the limit %d", int_names[i],
                                (long long)int_sizes[i], FC_MAX_INT_SIZE);

    /* devices */
    for (int i = T_K; i < T_COUNT; ++i) {
        if (!t[i]) continue;
        if (t[i]->device != q->device || (q->device == FC_DEVICE_CUDA && t[i]->device_ordinal != q->device_ordinal))
            return fc_set_error(FC_ERROR_DEVICE_MISMATCH, "%s is on %s:%d but q is on %s:%d", fc_tensor_names[i],
                                t[i]->device == FC_DEVICE_CUDA ? "cuda" : "cpu",
                                t[i]->device == FC_DEVICE_CUDA ? t[i]->device_ordinal : 0,
                                q->device == FC_DEVICE_CUDA ? "cuda" : "cpu",
                                q->device == FC_DEVICE_CUDA ? q->device_ordinal : 0);
    }
    if (q->device == FC_DEVICE_CUDA) {
        if (!fc_has_cuda())
            return fc_set_error(FC_ERROR_CUDA_UNAVAILABLE, "q is a CUDA tensor but this flashcore was built without CUDA");
        int count = 0;
        fc_cuda_device_count(&count);
        if (count == 0)
            return fc_set_error(FC_ERROR_CUDA_UNAVAILABLE, "q is a CUDA tensor but no CUDA device is usable");
        if (q->device_ordinal < 0 || q->device_ordinal >= count)
            return fc_set_error(FC_ERROR_BAD_DEVICE, "q.device_ordinal = %d but %d CUDA device(s) exist",
                                q->device_ordinal, count);
        if (q->dtype == FC_DTYPE_F32)
            return fc_set_error(FC_ERROR_NOT_SUPPORTED, "fp32 q/k/v/out are supported by the CPU backend only");
    }

    /* alignment */
    for (int i = 0; i < T_COUNT; ++i) {
        if (!t[i]) continue;
        fc_status s = check_alignment(t[i], fc_tensor_names[i], i == T_LSE);
        if (s) return s;
    }

    /* outputs must not overlap inputs, each other, or themselves */
    for (int i = T_O; i < T_COUNT; ++i) {
        if (!t[i]) continue;
        if (fc_tensor_self_overlaps(t[i]))
            return fc_set_error(FC_ERROR_ALIASING, "%s overlaps itself: its strides map distinct elements to one address",
                                fc_tensor_names[i]);
        for (int j = 0; j < i; ++j)
            if (t[j] && fc_tensors_overlap(t[i], t[j]))
                return fc_set_error(FC_ERROR_ALIASING, "%s overlaps %s in memory", fc_tensor_names[i], fc_tensor_names[j]);
    }

    /* scalars */
    if (!isfinite(user->softmax_scale))
        return fc_set_error(FC_ERROR_BAD_VALUE, "softmax_scale = %g is not finite", (double)user->softmax_scale);
    if (!isfinite(user->softcap) || user->softcap < 0.0f)
        return fc_set_error(FC_ERROR_BAD_VALUE, "softcap = %g: must be 0 (off) or a finite positive value",
                            (double)user->softcap);
    if (user->window_left < -1 || user->window_right < -1)
        return fc_set_error(FC_ERROR_BAD_VALUE, "window = (%d, %d): each edge must be -1 (unbounded) or >= 0",
                            user->window_left, user->window_right);

    /* varlen bookkeeping */
    int seqlen_q, seqlen_k, batch;
    if (varlen) {
        if (user->num_seqs < 0)
            return fc_set_error(FC_ERROR_BAD_CU_SEQLENS, "num_seqs = %d is negative", user->num_seqs);
        if (user->max_seqlen_q < 0 || user->max_seqlen_k < 0)
            return fc_set_error(FC_ERROR_BAD_CU_SEQLENS, "max_seqlen_q = %d, max_seqlen_k = %d: must be >= 0",
                                user->max_seqlen_q, user->max_seqlen_k);
        if (q->device == FC_DEVICE_CPU) {
            fc_status s = check_cu_seqlens_host(user->cu_seqlens_q, "cu_seqlens_q", user->num_seqs, total_q,
                                                user->max_seqlen_q);
            if (s) return s;
            s = check_cu_seqlens_host(user->cu_seqlens_k, "cu_seqlens_k", user->num_seqs, total_k, user->max_seqlen_k);
            if (s) return s;
        }
        batch = user->num_seqs;
        /* No sequence is longer than the packed tensor: a looser bound only costs grid size and
         * index range (INT32_MAX would overflow the kernels' block arithmetic). */
        seqlen_q = (int64_t)user->max_seqlen_q > total_q ? (int)total_q : user->max_seqlen_q;
        seqlen_k = (int64_t)user->max_seqlen_k > total_k ? (int)total_k : user->max_seqlen_k;
    } else {
        batch = (int)q->shape[0];
        seqlen_q = (int)q->shape[1];
        seqlen_k = (int)k->shape[1];
    }

    /* ---- normalise ---- */
    memset(p, 0, sizeof *p);
    p->q = q->data;
    p->k = k->data;
    p->v = v->data;
    p->o = out->data;
    p->lse = lse ? (float *)lse->data : NULL;
    const int64_t *qs = q->stride, *ks = k->stride, *vs = v->stride, *os = out->stride;
    if (varlen) {
        p->q_row_stride = qs[0], p->q_head_stride = qs[1];
        p->k_row_stride = ks[0], p->k_head_stride = ks[1];
        p->v_row_stride = vs[0], p->v_head_stride = vs[1];
        p->o_row_stride = os[0], p->o_head_stride = os[1];
        if (lse) p->lse_head_stride = lse->stride[0], p->lse_row_stride = lse->stride[1];
        p->cu_seqlens_q = user->cu_seqlens_q;
        p->cu_seqlens_k = user->cu_seqlens_k;
    } else {
        p->q_batch_stride = qs[0], p->q_row_stride = qs[1], p->q_head_stride = qs[2];
        p->k_batch_stride = ks[0], p->k_row_stride = ks[1], p->k_head_stride = ks[2];
        p->v_batch_stride = vs[0], p->v_row_stride = vs[1], p->v_head_stride = vs[2];
        p->o_batch_stride = os[0], p->o_row_stride = os[1], p->o_head_stride = os[2];
        if (lse) p->lse_batch_stride = lse->stride[0], p->lse_head_stride = lse->stride[1], p->lse_row_stride = lse->stride[2];
    }
    p->batch = batch;
    p->heads_q = (int)Hq;
    p->heads_kv = (int)Hkv;
    p->head_group = (int)(Hq / Hkv);
    p->head_dim = (int)D;
    p->seqlen_q = seqlen_q;
    p->seqlen_k = seqlen_k;
    p->total_q = total_q;
    p->total_k = total_k;

    p->scale = user->softmax_scale != 0.0f ? user->softmax_scale : (float)(1.0 / sqrt((double)D));
    p->scale_log2 = p->scale * FC_LOG2E;
    if (!isfinite(p->scale_log2))
        return fc_set_error(FC_ERROR_BAD_VALUE, "softmax_scale = %g overflows fp32 once multiplied by log2(e)",
                            (double)p->scale);
    p->softcap = user->softcap;
    p->softcap_scale = user->softcap > 0.0f ? p->scale / user->softcap : 0.0f;

    /* A window edge that reaches past every key is unbounded: row i sees keys at distance at most
     * Sk - 1 to its left and Sq - 1 to its right (per sequence; the max seqlens bound them). Settling
     * it here keeps the kernels' index arithmetic in int range and lets them skip the mask. */
    p->window_left = user->window_left >= seqlen_k - 1 ? -1 : user->window_left;
    p->window_right = user->causal ? 0 : user->window_right >= seqlen_q - 1 ? -1 : user->window_right;
    p->is_causal = p->window_left < 0 && p->window_right == 0;
    p->has_window = p->window_left >= 0 || p->window_right >= 0;

    p->dtype = (int)q->dtype;
    p->device_ordinal = q->device == FC_DEVICE_CUDA ? q->device_ordinal : -1;
    p->workspace = workspace;
    return FC_SUCCESS;
}

fc_status fc_attention_workspace_size(const fc_tensor *q, const fc_tensor *k, const fc_tensor *v,
                                      const fc_tensor *out, const fc_tensor *lse,
                                      const fc_attention_params *params, size_t *size) {
    fc_clear_error();
    if (!size) return fc_set_error(FC_ERROR_NULL_POINTER, "size is NULL");
    fc_fwd_params p;
    fc_status s = fc_build_fwd_params(q, k, v, out, lse, params, NULL, &p);
    if (s) return s;
    return fc_dispatch_forward(&p, NULL, FC_DISPATCH_QUERY, size);
}

fc_status fc_attention_forward(const fc_tensor *q, const fc_tensor *k, const fc_tensor *v, const fc_tensor *out,
                               const fc_tensor *lse, const fc_attention_params *params, void *workspace,
                               size_t workspace_size, void *stream) {
    fc_clear_error();
    fc_fwd_params p;
    fc_status s = fc_build_fwd_params(q, k, v, out, lse, params, workspace, &p);
    if (s) return s;
    if (workspace_size > 0 && workspace == NULL)
        return fc_set_error(FC_ERROR_NULL_POINTER, "workspace is NULL but workspace_size = %zu", workspace_size);
    if (workspace_size > 0 && (uintptr_t)workspace % FC_WORKSPACE_ALIGN_BYTES)
        return fc_set_error(FC_ERROR_MISALIGNED, "workspace = %p is not %d-byte aligned", workspace,
                            FC_WORKSPACE_ALIGN_BYTES);
    p.workspace_size = (int64_t)workspace_size;
    size_t needed = 0;
    return fc_dispatch_forward(&p, stream, FC_DISPATCH_RUN, &needed);
}
