/*
 * The one plain struct every backend receives. Built once by src/api/ from the user's tensors and
 * options; meaning is settled here (causal becomes window_right = 0, the default scale is resolved,
 * the varlen and batched layouts share one description). Backends never see fc_tensor.
 *
 * Shared by C (host, CPU backend) and CUDA (device) code: plain C, no includes beyond stdint.
 */
#ifndef FC_PARAMS_H
#define FC_PARAMS_H

#include <stdint.h>

#define FC_LOG2E 1.4426950408889634f

/* Element types as the backends see them (same values as the public fc_dtype). */
enum { FC_T_F16 = 1, FC_T_BF16 = 2, FC_T_F32 = 3 };

typedef struct fc_fwd_params {
    /* Pointers. o and lse are written; lse may be NULL. */
    const void *q;
    const void *k;
    const void *v;
    void *o;
    float *lse;

    /* Strides in elements. "row" = one token step, "head" = one head step, "batch" = one sequence
     * step (0 in varlen mode: tokens are addressed through cu_seqlens). The last dim is contiguous. */
    int64_t q_batch_stride, q_row_stride, q_head_stride;
    int64_t k_batch_stride, k_row_stride, k_head_stride;
    int64_t v_batch_stride, v_row_stride, v_head_stride;
    int64_t o_batch_stride, o_row_stride, o_head_stride;
    /* lse[b, h, i] = lse + b*lse_batch_stride + h*lse_head_stride + i*lse_row_stride
     * (varlen: b = 0 and i is the packed token index). */
    int64_t lse_batch_stride, lse_head_stride, lse_row_stride;

    /* Sizes. In varlen mode seqlen_q/k are the max seqlens and total_q/k the packed token counts. */
    int batch;        /* number of sequences */
    int heads_q;
    int heads_kv;
    int head_group;   /* heads_q / heads_kv */
    int head_dim;
    int seqlen_q;
    int seqlen_k;
    int64_t total_q;  /* batch*seqlen_q when not varlen */
    int64_t total_k;

    /* Varlen (NULL when batched). Live on the same device as q. */
    const int32_t *cu_seqlens_q;
    const int32_t *cu_seqlens_k;

    /* Softmax. scale is the user's (resolved) scale; scale_log2 = scale * log2(e) for exp2-based
     * softmax. With softcap > 0 the score is softcap * tanh(scale * qk / softcap) and
     * softcap_scale = scale / softcap is the factor applied before tanh. */
    float scale;
    float scale_log2;
    float softcap;
    float softcap_scale;

    /* Mask: window edges, -1 = unbounded. causal is window_right == 0 && window_left == -1
     * (is_causal kept for kernels that specialise on it). Alignment is bottom-right. */
    int window_left;
    int window_right;
    int is_causal;
    int has_window; /* any finite window edge */

    int dtype;         /* FC_T_* */
    int device_ordinal;

    /* Workspace (CUDA split-KV): caller-provided scratch, NULL when none is needed. */
    void *workspace;
    int64_t workspace_size;
} fc_fwd_params;

#endif /* FC_PARAMS_H */
