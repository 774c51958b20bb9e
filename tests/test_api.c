/*
 * Every error path of the public API, one case each: the call must return its own status, name the
 * argument in fc_last_error(), and leave out and lse untouched (byte-compared against a snapshot).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flashcore.h"
#include "reference.h"

enum { B = 2, S = 16, H = 4, HKV = 2, D = 64 };

typedef struct {
    fc_tensor q, k, v, o, lse;
    fc_attention_params p;
    int32_t cu_q[3], cu_k[3];
} call_args;

/* Backing stores, over-allocated so shapes can grow in individual cases without going out of bounds. */
static _Alignas(64) uint16_t qbuf[B * S * H * D + 64], kbuf[B * S * HKV * D + 64], vbuf[B * S * HKV * D + 64];
static _Alignas(64) uint16_t obuf[B * S * H * D + 64], obuf_snapshot[B * S * H * D + 64];
static _Alignas(64) float lsebuf[B * H * S + 16], lse_snapshot[B * H * S + 16];

static int failures, cases;

static void setup(call_args *a) {
    fc_rng r = {fc_t_fresh_seed()};
    const int64_t qs[4] = {B, S, H, D}, ks[4] = {B, S, HKV, D}, ls[3] = {B, H, S};
    fc_tensor_contiguous(&a->q, qbuf, FC_DTYPE_F16, 4, qs, FC_DEVICE_CPU, 0);
    fc_tensor_contiguous(&a->k, kbuf, FC_DTYPE_F16, 4, ks, FC_DEVICE_CPU, 0);
    fc_tensor_contiguous(&a->v, vbuf, FC_DTYPE_F16, 4, ks, FC_DEVICE_CPU, 0);
    fc_tensor_contiguous(&a->o, obuf, FC_DTYPE_F16, 4, qs, FC_DEVICE_CPU, 0);
    fc_tensor_contiguous(&a->lse, lsebuf, FC_DTYPE_F32, 3, ls, FC_DEVICE_CPU, 0);
    fc_t_fill_random(&a->q, &r, 1.0);
    fc_t_fill_random(&a->k, &r, 1.0);
    fc_t_fill_random(&a->v, &r, 1.0);
    /* Outputs get a random byte pattern: any write by a failing call shows up in the memcmp. */
    for (size_t i = 0; i < sizeof obuf / sizeof obuf[0]; ++i) obuf[i] = (uint16_t)(r.s = r.s * 6364136223846793005ULL + 1442695040888963407ULL) ;
    for (size_t i = 0; i < sizeof lsebuf / sizeof lsebuf[0]; ++i) lsebuf[i] = (float)fc_rng_normal(&r);
    memcpy(obuf_snapshot, obuf, sizeof obuf);
    memcpy(lse_snapshot, lsebuf, sizeof lsebuf);
    fc_attention_params_init(&a->p);
}

static void setup_varlen(call_args *a) {
    setup(a);
    /* Two sequences of 10 and 22 query tokens, 12 and 20 key tokens: 32 tokens each, as [T, H, D]. */
    a->cu_q[0] = 0, a->cu_q[1] = 10, a->cu_q[2] = 32;
    a->cu_k[0] = 0, a->cu_k[1] = 12, a->cu_k[2] = 32;
    const int64_t qs[3] = {B * S, H, D}, ks[3] = {B * S, HKV, D}, ls[2] = {H, B * S};
    fc_tensor_contiguous(&a->q, qbuf, FC_DTYPE_F16, 3, qs, FC_DEVICE_CPU, 0);
    fc_tensor_contiguous(&a->k, kbuf, FC_DTYPE_F16, 3, ks, FC_DEVICE_CPU, 0);
    fc_tensor_contiguous(&a->v, vbuf, FC_DTYPE_F16, 3, ks, FC_DEVICE_CPU, 0);
    fc_tensor_contiguous(&a->o, obuf, FC_DTYPE_F16, 3, qs, FC_DEVICE_CPU, 0);
    fc_tensor_contiguous(&a->lse, lsebuf, FC_DTYPE_F32, 2, ls, FC_DEVICE_CPU, 0);
    a->p.cu_seqlens_q = a->cu_q;
    a->p.cu_seqlens_k = a->cu_k;
    a->p.num_seqs = 2;
    a->p.max_seqlen_q = 22;
    a->p.max_seqlen_k = 20;
}

static fc_status run(call_args *a, const fc_tensor *q) {
    return fc_attention_forward(q, &a->k, &a->v, &a->o, &a->lse, &a->p, NULL, 0, NULL);
}

/* Check status, message content and untouched outputs. */
static void expect(const char *name, fc_status got, fc_status want, const char *msg_part) {
    ++cases;
    const char *msg = fc_last_error();
    int ok = got == want;
    if (ok && want != FC_SUCCESS && (!msg[0] || (msg_part && !strstr(msg, msg_part)))) ok = 0;
    if (want != FC_SUCCESS && (memcmp(obuf, obuf_snapshot, sizeof obuf) || memcmp(lsebuf, lse_snapshot, sizeof lsebuf))) {
        printf("FAIL %-34s an output was written by a failing call\n", name);
        ++failures;
        return;
    }
    printf("%s %-34s got %s, want %s: \"%s\"\n", ok ? "ok  " : "FAIL", name, fc_status_name(got), fc_status_name(want), msg);
    if (!ok) ++failures;
}

int main(void) {
    call_args a;
    fc_status s;

    /* The valid baseline succeeds (so each case below fails for its own reason only). */
    setup(&a);
    expect("baseline batched", run(&a, &a.q), FC_SUCCESS, NULL);
    setup_varlen(&a);
    expect("baseline varlen", run(&a, &a.q), FC_SUCCESS, NULL);
    expect("success clears last error", fc_last_error()[0] ? FC_ERROR_INTERNAL : FC_SUCCESS, FC_SUCCESS, NULL);

    setup(&a);
    expect("null q", run(&a, NULL), FC_ERROR_NULL_POINTER, "q");
    setup(&a), a.k.data = NULL;
    expect("null k.data", run(&a, &a.q), FC_ERROR_NULL_POINTER, "k.data");
    setup(&a);
    expect("null out", fc_attention_forward(&a.q, &a.k, &a.v, NULL, NULL, NULL, NULL, 0, NULL), FC_ERROR_NULL_POINTER, "out");
    setup(&a), a.q.data = (char *)qbuf + 1;
    expect("misaligned q.data", run(&a, &a.q), FC_ERROR_MISALIGNED, "q.data");
    setup(&a), a.lse.data = (char *)lsebuf + 2;
    expect("misaligned lse.data", run(&a, &a.q), FC_ERROR_MISALIGNED, "lse.data");
    setup(&a), a.v.dtype = FC_DTYPE_BF16;
    expect("dtype mismatch v", run(&a, &a.q), FC_ERROR_DTYPE_MISMATCH, "v.dtype");
    setup(&a), a.lse.dtype = FC_DTYPE_F16;
    expect("dtype lse not f32", run(&a, &a.q), FC_ERROR_DTYPE_MISMATCH, "lse.dtype");
    setup(&a), a.o.dtype = (fc_dtype)7;
    expect("unknown dtype", run(&a, &a.q), FC_ERROR_BAD_DTYPE, "out.dtype");
    setup(&a), a.k.ndim = 3;
    expect("bad rank k", run(&a, &a.q), FC_ERROR_BAD_RANK, "k.ndim");
    setup(&a), a.lse.ndim = 4;
    expect("bad rank lse", run(&a, &a.q), FC_ERROR_BAD_RANK, "lse.ndim");
    setup(&a), a.k.shape[3] = 32;
    expect("shape mismatch head_dim", run(&a, &a.q), FC_ERROR_SHAPE_MISMATCH, "k.shape[3]");
    setup(&a), a.v.shape[1] = S - 1;
    expect("shape mismatch v seqlen", run(&a, &a.q), FC_ERROR_SHAPE_MISMATCH, "v.shape[1]");
    setup(&a), a.k.shape[0] = 1, a.v.shape[0] = 1;
    expect("shape mismatch batch", run(&a, &a.q), FC_ERROR_SHAPE_MISMATCH, "k.shape[0]");
    setup(&a), a.o.shape[1] = S - 1;
    expect("shape mismatch out", run(&a, &a.q), FC_ERROR_SHAPE_MISMATCH, "out.shape[1]");
    setup(&a), a.lse.shape[2] = S + 1;
    expect("shape mismatch lse", run(&a, &a.q), FC_ERROR_SHAPE_MISMATCH, "lse.shape[2]");
    setup(&a);
    for (int i = 0; i < 4; ++i) { fc_tensor *t[4] = {&a.q, &a.k, &a.v, &a.o}; t[i]->shape[3] = 12; t[i]->stride[2] = 12; t[i]->stride[1] = 12 * t[i]->shape[2]; t[i]->stride[0] = t[i]->stride[1] * S; }
    expect("head_dim not multiple of 8", run(&a, &a.q), FC_ERROR_BAD_HEAD_DIM, "head_dim");
    setup(&a);
    for (int i = 0; i < 4; ++i) { fc_tensor *t[4] = {&a.q, &a.k, &a.v, &a.o}; t[i]->shape[3] = 264; t[i]->shape[1] = 1; t[i]->shape[0] = 1; }
    a.lse.shape[0] = 1, a.lse.shape[2] = 1;
    expect("head_dim above 256", run(&a, &a.q), FC_ERROR_BAD_HEAD_DIM, "head_dim");
    setup(&a), a.k.shape[2] = 3, a.v.shape[2] = 3;
    expect("heads not divisible", run(&a, &a.q), FC_ERROR_HEADS_NOT_DIVISIBLE, "not a multiple");
    setup(&a), a.k.shape[2] = 0, a.v.shape[2] = 0;
    expect("zero kv heads", run(&a, &a.q), FC_ERROR_BAD_SIZE, "heads");
    setup(&a), a.q.shape[1] = -1;
    expect("negative size", run(&a, &a.q), FC_ERROR_BAD_SIZE, "q.shape[1]");
    setup(&a), a.k.shape[0] = a.v.shape[0] = a.q.shape[0] = a.o.shape[0] = INT64_MAX / 4;
    expect("overflowing size", run(&a, &a.q), FC_ERROR_BAD_SIZE, "overflow");
    setup(&a), a.q.stride[1] = -(H * D);
    expect("negative stride", run(&a, &a.q), FC_ERROR_BAD_STRIDE, "q.stride[1]");
    setup(&a), a.v.stride[0] = INT64_MAX / 2;
    expect("overflowing stride extent", run(&a, &a.q), FC_ERROR_BAD_STRIDE, "v");
    setup(&a), a.k.stride[3] = 2;
    expect("non-contiguous last dim", run(&a, &a.q), FC_ERROR_NONCONTIGUOUS, "k.stride[3]");
    setup(&a), a.o.data = qbuf;
    expect("out aliases q", run(&a, &a.q), FC_ERROR_ALIASING, "out overlaps q");
    setup(&a), a.lse.data = obuf + 8;
    expect("lse aliases out", run(&a, &a.q), FC_ERROR_ALIASING, "lse overlaps out");
    setup(&a), a.lse.data = vbuf + 128;
    expect("lse aliases v", run(&a, &a.q), FC_ERROR_ALIASING, "lse overlaps v");
    setup(&a), a.k.device = FC_DEVICE_CUDA;
    expect("device mismatch", run(&a, &a.q), FC_ERROR_DEVICE_MISMATCH, "k is on cuda");
    setup(&a), a.o.device = (fc_device_type)5;
    expect("unknown device type", run(&a, &a.q), FC_ERROR_BAD_VALUE, "out.device");

    /* CUDA tensors: without CUDA this is CUDA_UNAVAILABLE; with a GPU, a missing ordinal. */
    {
        int count = 0;
        fc_cuda_device_count(&count);
        setup(&a);
        fc_tensor *t[5] = {&a.q, &a.k, &a.v, &a.o, &a.lse};
        for (int i = 0; i < 5; ++i) t[i]->device = FC_DEVICE_CUDA, t[i]->device_ordinal = count > 0 ? 1000 : 0;
        expect(count > 0 ? "bad device ordinal" : "cuda unavailable", run(&a, &a.q),
               count > 0 ? FC_ERROR_BAD_DEVICE : FC_ERROR_CUDA_UNAVAILABLE, count > 0 ? "device_ordinal" : "CUDA");
        if (count > 0) {
            setup(&a);
            for (int i = 0; i < 4; ++i) t[i]->device = FC_DEVICE_CUDA, t[i]->dtype = FC_DTYPE_F32;
            a.lse.device = FC_DEVICE_CUDA;
            expect("fp32 on cuda", run(&a, &a.q), FC_ERROR_NOT_SUPPORTED, "fp32");
        }
    }

    setup(&a), a.o.stride[2] = 0;
    expect("out overlaps itself (zero stride)", run(&a, &a.q), FC_ERROR_ALIASING, "out overlaps itself");
    setup(&a), a.lse.stride[1] = 1;
    expect("lse overlaps itself (interleaved)", run(&a, &a.q), FC_ERROR_ALIASING, "lse overlaps itself");
    setup(&a), a.lse.stride[2] = 0;
    expect("lse overlaps itself (zero last stride)", run(&a, &a.q), FC_ERROR_ALIASING, "lse overlaps itself");
    /* lse takes any strides (its values are checked in test_cpu): [B, S, H] storage of [B, H, S] */
    setup(&a), a.lse.stride[0] = S * H, a.lse.stride[1] = 1, a.lse.stride[2] = H;
    expect("lse with a strided last dim", run(&a, &a.q), FC_SUCCESS, NULL);
    setup_varlen(&a), a.lse.stride[0] = 1, a.lse.stride[1] = H;
    expect("varlen lse with a strided last dim", run(&a, &a.q), FC_SUCCESS, NULL);
    setup(&a);
    expect("workspace size without memory",
           fc_attention_forward(&a.q, &a.k, &a.v, &a.o, &a.lse, &a.p, NULL, 64, NULL), FC_ERROR_NULL_POINTER, "workspace");
    setup(&a);
    expect("workspace misaligned",
           fc_attention_forward(&a.q, &a.k, &a.v, &a.o, &a.lse, &a.p, (char *)lse_snapshot + 4, 64, NULL),
           FC_ERROR_MISALIGNED, "workspace");
    setup(&a), a.p.softmax_scale = 3e38f;
    expect("scale overflows after log2e", run(&a, &a.q), FC_ERROR_BAD_VALUE, "softmax_scale");
    /* Valid extremes: a window edge past every key is unbounded, a loose max_seqlen is capped. */
    setup(&a), a.p.window_left = INT32_MAX, a.p.window_right = INT32_MAX;
    expect("window edges INT32_MAX are valid", run(&a, &a.q), FC_SUCCESS, NULL);
    setup_varlen(&a), a.p.max_seqlen_q = INT32_MAX, a.p.max_seqlen_k = INT32_MAX;
    expect("varlen max_seqlen INT32_MAX is valid", run(&a, &a.q), FC_SUCCESS, NULL);

    setup(&a), a.p.softmax_scale = NAN;
    expect("scale NaN", run(&a, &a.q), FC_ERROR_BAD_VALUE, "softmax_scale");
    setup(&a), a.p.softcap = -1.0f;
    expect("softcap negative", run(&a, &a.q), FC_ERROR_BAD_VALUE, "softcap");
    setup(&a), a.p.window_left = -2;
    expect("window below -1", run(&a, &a.q), FC_ERROR_BAD_VALUE, "window");

    setup_varlen(&a), a.p.cu_seqlens_k = NULL;
    expect("varlen only q cu_seqlens", run(&a, &a.q), FC_ERROR_BAD_CU_SEQLENS, "cu_seqlens_k is NULL");
    setup_varlen(&a), a.cu_q[0] = 1;
    expect("varlen cu_seqlens[0] != 0", run(&a, &a.q), FC_ERROR_BAD_CU_SEQLENS, "cu_seqlens_q[0]");
    setup_varlen(&a), a.cu_k[2] = 5;
    expect("varlen not monotone", run(&a, &a.q), FC_ERROR_BAD_CU_SEQLENS, "non-decreasing");
    setup_varlen(&a), a.cu_q[2] = 33, a.p.max_seqlen_q = 23;
    expect("varlen beyond tensor", run(&a, &a.q), FC_ERROR_BAD_CU_SEQLENS, "exceeds");
    setup_varlen(&a), a.p.max_seqlen_k = 19;
    expect("varlen above max_seqlen", run(&a, &a.q), FC_ERROR_BAD_CU_SEQLENS, "max_seqlen");
    setup_varlen(&a), a.p.num_seqs = -1;
    expect("varlen negative num_seqs", run(&a, &a.q), FC_ERROR_BAD_CU_SEQLENS, "num_seqs");
    setup_varlen(&a);
    {
        const int64_t ls[3] = {B, H, S};
        fc_tensor_contiguous(&a.lse, lsebuf, FC_DTYPE_F32, 3, ls, FC_DEVICE_CPU, 0);
    }
    expect("varlen lse rank", run(&a, &a.q), FC_ERROR_BAD_RANK, "lse.ndim");

    /* Workspace queries go through the same checks. */
    {
        size_t ws = 123;
        setup(&a);
        s = fc_attention_workspace_size(&a.q, &a.k, &a.v, &a.o, &a.lse, &a.p, &ws);
        expect("workspace size cpu is 0", s == FC_SUCCESS && ws == 0 ? FC_SUCCESS : FC_ERROR_INTERNAL, FC_SUCCESS, NULL);
        a.k.shape[3] = 8;
        expect("workspace size checks args", fc_attention_workspace_size(&a.q, &a.k, &a.v, &a.o, &a.lse, &a.p, &ws),
               FC_ERROR_SHAPE_MISMATCH, "k.shape[3]");
        expect("workspace size null out-arg", fc_attention_workspace_size(&a.q, &a.k, &a.v, &a.o, &a.lse, &a.p, NULL),
               FC_ERROR_NULL_POINTER, "size");
    }

    /* Queries and helpers. */
    {
        int ok = fc_version() == FLASHCORE_VERSION_NUMBER && fc_version_string()[0] &&
                 fc_dtype_size(FC_DTYPE_F16) == 2 && fc_dtype_size(FC_DTYPE_F32) == 4 && fc_dtype_size((fc_dtype)9) == 0 &&
                 strcmp(fc_status_name(FC_ERROR_ALIASING), "FC_ERROR_ALIASING") == 0 &&
                 strcmp(fc_status_name((fc_status)777), "FC_UNKNOWN_STATUS") == 0 && fc_build_info()[0];
        const fc_status all[] = {FC_SUCCESS, FC_ERROR_NULL_POINTER, FC_ERROR_MISALIGNED, FC_ERROR_DTYPE_MISMATCH,
                                 FC_ERROR_SHAPE_MISMATCH, FC_ERROR_BAD_HEAD_DIM, FC_ERROR_HEADS_NOT_DIVISIBLE,
                                 FC_ERROR_BAD_SIZE, FC_ERROR_BAD_STRIDE, FC_ERROR_NONCONTIGUOUS, FC_ERROR_ALIASING,
                                 FC_ERROR_DEVICE_MISMATCH, FC_ERROR_BAD_CU_SEQLENS, FC_ERROR_BAD_VALUE, FC_ERROR_BAD_DTYPE,
                                 FC_ERROR_BAD_RANK, FC_ERROR_WORKSPACE_TOO_SMALL, FC_ERROR_NOT_SUPPORTED,
                                 FC_ERROR_CUDA_UNAVAILABLE, FC_ERROR_BAD_DEVICE, FC_ERROR_CUDA, FC_ERROR_INTERNAL};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i)
            if (strcmp(fc_status_name(all[i]), "FC_UNKNOWN_STATUS") == 0 || !fc_status_string(all[i])[0]) ok = 0;
        int count = -1;
        ok = ok && fc_cuda_device_count(&count) == FC_SUCCESS && count >= 0;
        if (!fc_has_cuda()) {
            fc_device_info info;
            void *ptr = (void *)1;
            ok = ok && fc_cuda_device_info(0, &info) == FC_ERROR_CUDA_UNAVAILABLE &&
                 fc_cuda_malloc(&ptr, 16, 0) == FC_ERROR_CUDA_UNAVAILABLE && ptr == NULL && fc_cuda_free(NULL) == FC_SUCCESS;
        }
        expect("version, names, queries", ok ? FC_SUCCESS : FC_ERROR_INTERNAL, FC_SUCCESS, NULL);
    }

    printf("%d of %d API cases passed\n", cases - failures, cases);
    return failures ? 1 : 0;
}
