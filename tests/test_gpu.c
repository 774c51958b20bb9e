/*
 * CUDA backend vs the float64 reference, through the public API only (device memory from
 * fc_cuda_malloc, copies with fc_cuda_memcpy). For every case:
 *   - fresh random inputs; outputs (and every gap of strided views) poisoned with NaN on the device;
 *   - out:  max |out - ref_f64| <= 2 * max |ref_lowp - ref_f64| + eps(dtype)   (fc_t_passes)
 *   - lse:  the same rule with an fp32-sized epsilon relative to |lse|; -inf rows must match exactly
 *   - every element of out / lse written, nothing outside the views touched, inputs unchanged;
 *   - deterministic: a second call on re-poisoned outputs gives the same bits.
 * The grid follows the CPU test's (seqlens 1..1000, Sq != Sk both ways, head dims 8..256, causal,
 * windows, softcap, GQA/MQA, varlen with empty and length-1 sequences, lse, strided views) with the
 * GPU's tile and split-KV boundaries added, then two large shapes: S = 16k (reference on the last
 * rows, which bottom-right alignment makes a valid sub-problem) and a q/out of more than 2^31
 * elements (64-bit indexing; reference on a few sequences spread over the batch).
 *
 * FC_TEST_QUICK=1: a small grid for compute-sanitizer runs (no large shapes).
 * Reproduce: FC_TEST_SEED=<seed printed at the top> ./test_gpu [case number]
 * Exit 77 ("skipped: no CUDA device") without a usable GPU.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flashcore.h"
#include "reference.h"

#define FC_LSE_REL_EPS 1e-6 /* lse is fp32 on both sides: a few ulps of its magnitude */

enum { L_CONTIG, L_PAD, L_TRANS, L_SUB, L_COUNT };
static const char *const layout_names[L_COUNT] = {"contig", "padded", "transposed", "subview"};

typedef struct tcase {
    int B, Hq, Hkv, Sq, Sk, D;
    fc_dtype dtype;
    int causal, wl, wr;
    float softcap, scale;
    int lse;
    int layout;
    double qscale;
    int nseq; /* > 0: varlen */
    int lens_q[8], lens_k[8];
} tcase;

static const char *dtype_name(fc_dtype t) { return t == FC_DTYPE_F16 ? "fp16" : "bf16"; }

static void die(const char *what)
{
    fprintf(stderr, "test_gpu: %s\n", what);
    exit(2);
}

static void check_fc(fc_status s, const char *what)
{
    if (s != FC_SUCCESS) {
        fprintf(stderr, "test_gpu: %s failed: %s: %s\n", what, fc_status_name(s), fc_last_error());
        exit(2);
    }
}

/* ---- host views (as in test_cpu) with a device mirror ------------------------------------- */

typedef struct view {
    fc_tensor t;     /* host view */
    void *base;      /* host allocation */
    int64_t nelem;   /* allocation size in elements */
    void *dbase;     /* device allocation of the same size */
    fc_tensor dt;    /* the same view on the device */
} view;

static size_t esize(fc_dtype dt) { return dt == FC_DTYPE_F32 ? 4u : 2u; }
static size_t view_bytes(const view *v) { return (size_t)v->nelem * esize(v->t.dtype); }

static int make_view(view *v, fc_dtype dt, int ndim, const int64_t *shape, int layout)
{
    memset(v, 0, sizeof *v);
    int64_t mshape[FC_MAX_DIMS], pad[FC_MAX_DIMS] = {0, 0, 0, 0};
    /* pads are multiples of 8 elements: the CUDA alignment rule (strides % 8 == 0) */
    const int64_t pad8[FC_MAX_DIMS] = {24, 8, 16, 0};
    memcpy(mshape, shape, sizeof(int64_t) * (size_t)ndim);
    if (layout == L_TRANS && ndim < 3)
        layout = L_PAD;
    if (layout == L_PAD || layout == L_TRANS)
        for (int d = 0; d < ndim - 1; ++d)
            pad[d] = dt == FC_DTYPE_F32 ? 4 * pad8[d + FC_MAX_DIMS - ndim] / 2 : pad8[d + FC_MAX_DIMS - ndim];
    if (layout == L_TRANS) {
        mshape[ndim - 3] = shape[ndim - 2];
        mshape[ndim - 2] = shape[ndim - 3];
    }
    if (layout == L_SUB) {
        for (int d = 0; d < ndim - 1; ++d)
            mshape[d] += 1;
        mshape[ndim - 1] += 8;
    }
    if (!fc_t_alloc(&v->t, dt, ndim, mshape, pad, &v->nelem))
        return -1;
    v->base = v->t.data;
    fc_t_poison(v->base, dt, v->nelem);
    if (layout == L_TRANS) {
        const int64_t s = v->t.stride[ndim - 3];
        v->t.stride[ndim - 3] = v->t.stride[ndim - 2];
        v->t.stride[ndim - 2] = s;
    }
    if (layout == L_SUB) {
        int64_t off = 8;
        for (int d = 0; d < ndim - 1; ++d)
            off += v->t.stride[d];
        v->t.data = (char *)v->base + off * (int64_t)esize(dt);
    }
    memcpy(v->t.shape, shape, sizeof(int64_t) * (size_t)ndim);
    return 0;
}

static void to_device(view *v)
{
    if (!v->dbase)
        check_fc(fc_cuda_malloc(&v->dbase, view_bytes(v), 0), "fc_cuda_malloc");
    check_fc(fc_cuda_memcpy(v->dbase, v->base, view_bytes(v), FC_MEMCPY_H2D), "fc_cuda_memcpy H2D");
    v->dt = v->t;
    v->dt.data = (char *)v->dbase + ((char *)v->t.data - (char *)v->base);
    v->dt.device = FC_DEVICE_CUDA;
    v->dt.device_ordinal = 0;
}

static void from_device(view *v)
{
    check_fc(fc_cuda_memcpy(v->base, v->dbase, view_bytes(v), FC_MEMCPY_D2H), "fc_cuda_memcpy D2H");
}

static void free_view(view *v)
{
    free(v->base);
    fc_cuda_free(v->dbase);
}

static uint64_t checksum(const void *p, size_t n)
{
    const unsigned char *b = (const unsigned char *)p;
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < n; ++i)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* ---- one case ------------------------------------------------------------------------------ */

typedef struct result {
    double err, lowp_err, lse_err, lse_lowp_err;
    int64_t pad_touched;
    int status, ok;
    int inputs_changed;
    int nondeterministic;
    size_t workspace;
} result;

static int run_case(const tcase *c, uint64_t seed, result *r)
{
    memset(r, 0, sizeof *r);
    fc_rng rng = {seed};
    const int varlen = c->nseq > 0;
    int32_t cu_q[9] = {0}, cu_k[9] = {0};
    int max_q = 0, max_k = 0;
    for (int b = 0; b < c->nseq; ++b) {
        cu_q[b + 1] = cu_q[b] + c->lens_q[b];
        cu_k[b + 1] = cu_k[b] + c->lens_k[b];
        max_q = c->lens_q[b] > max_q ? c->lens_q[b] : max_q;
        max_k = c->lens_k[b] > max_k ? c->lens_k[b] : max_k;
    }
    const int64_t tq = varlen ? cu_q[c->nseq] : (int64_t)c->B * c->Sq;
    const int64_t tk = varlen ? cu_k[c->nseq] : (int64_t)c->B * c->Sk;
    const int nd = varlen ? 3 : 4;
    int64_t qshape[4], kshape[4], lshape[3];
    if (varlen) {
        const int64_t qs[3] = {tq, c->Hq, c->D}, ks[3] = {tk, c->Hkv, c->D}, ls[2] = {c->Hq, tq};
        memcpy(qshape, qs, sizeof qs);
        memcpy(kshape, ks, sizeof ks);
        memcpy(lshape, ls, sizeof ls);
    } else {
        const int64_t qs[4] = {c->B, c->Sq, c->Hq, c->D}, ks[4] = {c->B, c->Sk, c->Hkv, c->D};
        const int64_t ls[3] = {c->B, c->Hq, c->Sq};
        memcpy(qshape, qs, sizeof qs);
        memcpy(kshape, ks, sizeof ks);
        memcpy(lshape, ls, sizeof ls);
    }

    view q, k, v, o, lse;
    memset(&lse, 0, sizeof lse);
    if (make_view(&q, c->dtype, nd, qshape, c->layout) ||
        make_view(&k, c->dtype, nd, kshape, c->layout == L_CONTIG ? L_CONTIG : (c->layout % 3) + 1) ||
        make_view(&v, c->dtype, nd, kshape, c->layout) ||
        make_view(&o, c->dtype, nd, qshape, c->layout == L_CONTIG ? L_CONTIG : ((c->layout + 1) % 3) + 1) ||
        (c->lse && make_view(&lse, FC_DTYPE_F32, nd - 1, lshape, c->layout == L_TRANS ? L_SUB : c->layout)))
        die("out of host memory");
    fc_t_fill_random(&q.t, &rng, c->qscale);
    fc_t_fill_random(&k.t, &rng, 1.0);
    fc_t_fill_random(&v.t, &rng, 1.0);
    to_device(&q);
    to_device(&k);
    to_device(&v);
    to_device(&o);
    if (c->lse)
        to_device(&lse);
    const uint64_t sum_in =
        checksum(q.base, view_bytes(&q)) ^ (checksum(k.base, view_bytes(&k)) * 3) ^ (checksum(v.base, view_bytes(&v)) * 7);

    fc_attention_params prm; /* device cu_seqlens for the call, host ones for the reference */
    fc_attention_params_init(&prm);
    prm.softmax_scale = c->scale;
    prm.causal = c->causal;
    prm.window_left = c->wl;
    prm.window_right = c->wr;
    prm.softcap = c->softcap;
    fc_attention_params href = prm;
    void *d_cu = NULL;
    if (varlen) {
        check_fc(fc_cuda_malloc(&d_cu, sizeof cu_q + sizeof cu_k, 0), "fc_cuda_malloc");
        check_fc(fc_cuda_memcpy(d_cu, cu_q, sizeof cu_q, FC_MEMCPY_H2D), "cu_seqlens H2D");
        check_fc(fc_cuda_memcpy((char *)d_cu + sizeof cu_q, cu_k, sizeof cu_k, FC_MEMCPY_H2D), "cu_seqlens H2D");
        prm.cu_seqlens_q = (const int32_t *)d_cu;
        prm.cu_seqlens_k = (const int32_t *)((char *)d_cu + sizeof cu_q);
        href.cu_seqlens_q = cu_q;
        href.cu_seqlens_k = cu_k;
        prm.num_seqs = href.num_seqs = c->nseq;
        prm.max_seqlen_q = href.max_seqlen_q = max_q;
        prm.max_seqlen_k = href.max_seqlen_k = max_k;
    }
    const fc_tensor *dl = c->lse ? &lse.dt : NULL;

    size_t ws = 0;
    void *d_ws = NULL;
    r->status = fc_attention_workspace_size(&q.dt, &k.dt, &v.dt, &o.dt, dl, &prm, &ws);
    r->workspace = ws;
    if (r->status == FC_SUCCESS && ws > 0)
        check_fc(fc_cuda_malloc(&d_ws, ws, 0), "fc_cuda_malloc workspace");
    if (r->status == FC_SUCCESS)
        r->status = fc_attention_forward(&q.dt, &k.dt, &v.dt, &o.dt, dl, &prm, d_ws, ws, NULL);
    check_fc(fc_cuda_synchronize(0), "kernel execution");

    /* second call on re-poisoned outputs: same bits or it is a race */
    void *o1 = malloc(view_bytes(&o)), *l1 = c->lse ? malloc(view_bytes(&lse)) : NULL;
    if (!o1 || (c->lse && !l1))
        die("out of host memory");
    from_device(&o);
    memcpy(o1, o.base, view_bytes(&o));
    fc_t_poison(o.base, c->dtype, o.nelem);
    to_device(&o);
    if (c->lse) {
        from_device(&lse);
        memcpy(l1, lse.base, view_bytes(&lse));
        fc_t_poison(lse.base, FC_DTYPE_F32, lse.nelem);
        to_device(&lse);
    }
    const int st2 = fc_attention_forward(&q.dt, &k.dt, &v.dt, &o.dt, dl, &prm, d_ws, ws, NULL);
    check_fc(fc_cuda_synchronize(0), "kernel execution");
    from_device(&o);
    if (c->lse)
        from_device(&lse);
    r->nondeterministic = st2 != r->status || memcmp(o1, o.base, view_bytes(&o)) != 0 ||
                          (c->lse && memcmp(l1, lse.base, view_bytes(&lse)) != 0);
    free(o1);
    free(l1);
    from_device(&q);
    from_device(&k);
    from_device(&v);
    r->inputs_changed = (checksum(q.base, view_bytes(&q)) ^ (checksum(k.base, view_bytes(&k)) * 3) ^
                         (checksum(v.base, view_bytes(&v)) * 7)) != sum_in;

    const int64_t n_out = tq * c->Hq * c->D, n_lse = tq * c->Hq;
    double *ref = (double *)malloc(sizeof(double) * (size_t)(n_out + 1));
    double *low = (double *)malloc(sizeof(double) * (size_t)(n_out + 1));
    double *ref_lse = (double *)malloc(sizeof(double) * (size_t)(n_lse + 1));
    double *low_lse = (double *)malloc(sizeof(double) * (size_t)(n_lse + 1));
    if (!ref || !low || !ref_lse || !low_lse)
        die("out of host memory");
    int ref_rc = fc_ref_forward(&q.t, &k.t, &v.t, &href, FC_REF_F64, ref, ref_lse);
    ref_rc |= fc_ref_forward(&q.t, &k.t, &v.t, &href, FC_REF_LOWP, low, low_lse);

    r->err = fc_t_max_abs_err(&o.t, ref);
    r->lowp_err = fc_t_max_abs_diff(low, ref, n_out);
    r->pad_touched = fc_t_padding_changed(o.base, o.nelem, &o.t);
    int lse_ok = 1;
    if (c->lse) {
        r->lse_err = fc_t_max_abs_err_lse(&lse.t, ref_lse);
        r->lse_lowp_err = fc_t_max_abs_diff(low_lse, ref_lse, n_lse);
        double big = 1.0;
        for (int64_t i = 0; i < n_lse; ++i)
            if (isfinite(ref_lse[i]) && fabs(ref_lse[i]) > big)
                big = fabs(ref_lse[i]);
        lse_ok = isfinite(r->lse_err) && r->lse_err <= 2.0 * r->lse_lowp_err + FC_LSE_REL_EPS * big;
        const int64_t t = fc_t_padding_changed(lse.base, lse.nelem, &lse.t);
        r->pad_touched = t < 0 || r->pad_touched < 0 ? -1 : r->pad_touched + t;
    }
    r->ok = r->status == FC_SUCCESS && ref_rc == 0 && fc_t_passes(r->err, r->lowp_err, c->dtype) && lse_ok &&
            r->pad_touched == 0 && !r->inputs_changed && !r->nondeterministic;

    free(ref);
    free(low);
    free(ref_lse);
    free(low_lse);
    free_view(&q);
    free_view(&k);
    free_view(&v);
    free_view(&o);
    if (c->lse)
        free_view(&lse);
    fc_cuda_free(d_cu);
    fc_cuda_free(d_ws);
    return r->ok;
}

static void describe(const tcase *c, char *buf, size_t n)
{
    int len;
    if (c->nseq > 0) {
        len = snprintf(buf, n, "varlen q=[");
        for (int b = 0; b < c->nseq; ++b)
            len += snprintf(buf + len, n - (size_t)len, "%s%d", b ? "," : "", c->lens_q[b]);
        len += snprintf(buf + len, n - (size_t)len, "] k=[");
        for (int b = 0; b < c->nseq; ++b)
            len += snprintf(buf + len, n - (size_t)len, "%s%d", b ? "," : "", c->lens_k[b]);
        len += snprintf(buf + len, n - (size_t)len, "] H=%d/%d D=%d", c->Hq, c->Hkv, c->D);
    } else {
        len = snprintf(buf, n, "B=%d H=%d/%d Sq=%d Sk=%d D=%d", c->B, c->Hq, c->Hkv, c->Sq, c->Sk, c->D);
    }
    len += snprintf(buf + len, n - (size_t)len, " %s", dtype_name(c->dtype));
    if (c->causal)
        len += snprintf(buf + len, n - (size_t)len, " causal");
    if (c->wl >= 0 || (!c->causal && c->wr >= 0))
        len += snprintf(buf + len, n - (size_t)len, " win=(%d,%d)", c->wl, c->causal ? 0 : c->wr);
    if (c->softcap > 0)
        len += snprintf(buf + len, n - (size_t)len, " softcap=%g", (double)c->softcap);
    if (c->scale != 0)
        len += snprintf(buf + len, n - (size_t)len, " scale=%g", (double)c->scale);
    if (c->qscale != 1.0)
        len += snprintf(buf + len, n - (size_t)len, " |q|x%g", c->qscale);
    if (c->lse)
        len += snprintf(buf + len, n - (size_t)len, " lse");
    snprintf(buf + len, n - (size_t)len, " %s", layout_names[c->layout]);
}

/* ---- the grid ---------------------------------------------------------------------------- */

static tcase cases[400];
static int n_cases;

static tcase *add(int B, int Hq, int Hkv, int Sq, int Sk, int D, fc_dtype dt)
{
    if (n_cases >= (int)(sizeof cases / sizeof cases[0]))
        die("grid too large");
    tcase *c = &cases[n_cases++];
    memset(c, 0, sizeof *c);
    c->B = B, c->Hq = Hq, c->Hkv = Hkv, c->Sq = Sq, c->Sk = Sk, c->D = D, c->dtype = dt;
    c->wl = c->wr = -1;
    c->qscale = 1.0;
    c->lse = 1;
    return c;
}

static tcase *add_varlen(int nseq, const int *lq, const int *lk, int Hq, int Hkv, int D, fc_dtype dt)
{
    tcase *c = add(0, Hq, Hkv, 0, 0, D, dt);
    c->nseq = nseq;
    for (int b = 0; b < nseq; ++b)
        c->lens_q[b] = lq[b], c->lens_k[b] = lk[b];
    return c;
}

/* Small grid for the sanitizers: every feature and code path once, tiny shapes. */
static void build_quick_grid(void)
{
    const fc_dtype F16 = FC_DTYPE_F16, BF16 = FC_DTYPE_BF16;
    tcase *c;
    c = add(1, 2, 2, 65, 65, 64, F16);                                      /* split-KV path */
    c = add(2, 8, 2, 130, 70, 128, BF16), c->causal = 1;                    /* GQA, causal, tails */
    c = add(1, 2, 1, 7, 300, 96, F16), c->wl = 20, c->wr = 5;               /* window, hd 96 (padded 80..96) */
    c = add(1, 2, 2, 129, 129, 256, BF16), c->softcap = 10.0f, c->layout = L_PAD;
    c = add(1, 2, 2, 64, 64, 192, F16), c->causal = 1, c->layout = L_TRANS; /* hd 192 */
    c = add(2, 2, 2, 5, 0, 64, F16);                                        /* no keys */
    c = add(1, 2, 2, 33, 33, 8, BF16), c->scale = -0.4f, c->layout = L_SUB; /* negative scale, hd 8 */
    c = add(3, 64, 64, 65, 65, 64, F16);                                    /* unsplit (grid >= SMs) */
    {
        const int lq[5] = {0, 1, 65, 7, 130}, lk[5] = {5, 0, 65, 1, 200};
        c = add_varlen(5, lq, lk, 4, 2, 128, BF16), c->causal = 1;
        c = add_varlen(5, lq, lk, 2, 2, 64, F16), c->wl = 9, c->wr = 3, c->layout = L_PAD;
    }
}

static void build_grid(void)
{
    const fc_dtype F16 = FC_DTYPE_F16, BF16 = FC_DTYPE_BF16;
    const fc_dtype dts[2] = {F16, BF16};
    const int dims[5] = {8, 64, 80, 128, 256};
    const int seqs[7] = {1, 7, 63, 64, 65, 257, 1000};
    tcase *c;

    /* plain attention: every seqlen x every head dim, dtypes alternating */
    for (int s = 0; s < 7; ++s)
        for (int d = 0; d < 5; ++d) {
            c = add(seqs[s] < 64 ? 2 : 1, 2, 2, seqs[s], seqs[s], dims[d], dts[(s + d) % 2]);
            c->lse = (s + d) % 2 == 0;
        }
    /* every compiled head dim and the ones padded to it (96, 192 and 8..256 in between) */
    const int more_dims[8] = {16, 32, 48, 96, 112, 160, 192, 240};
    for (int d = 0; d < 8; ++d) {
        c = add(1, 3, 3, 200, 200, more_dims[d], dts[d % 2]), c->causal = d % 2;
        c = add(2, 2, 1, 70, 130, more_dims[d], dts[(d + 1) % 2]), c->wl = 40, c->wr = 7;
    }
    /* tile boundaries: query tiles of 64/128 rows, key tiles of 32/64 */
    const int edges[8] = {31, 32, 33, 127, 128, 129, 191, 193};
    for (int e = 0; e < 8; ++e) {
        c = add(1, 2, 2, edges[e], edges[7 - e], dims[1 + e % 4], dts[e % 2]);
        c->causal = e % 2;
    }
    /* split-KV and unsplit grids of the same shape (grid below / above the SM count) */
    c = add(1, 1, 1, 2000, 2000, 64, F16);
    c = add(1, 1, 1, 2000, 2000, 128, BF16), c->causal = 1;
    c = add(1, 4, 1, 17, 3000, 256, F16);
    c = add(4, 40, 40, 129, 129, 64, BF16), c->causal = 1;
    c = add(3, 48, 16, 200, 300, 128, F16), c->wl = 50, c->wr = 20;
    /* Sq != Sk both ways */
    const int sqsk[8][2] = {{1, 257}, {7, 1000}, {65, 7}, {257, 64}, {64, 1}, {1, 65}, {1000, 63}, {63, 1000}};
    for (int i = 0; i < 8; ++i)
        for (int causal = 0; causal < 2; ++causal) {
            c = add(2, 2, 2, sqsk[i][0], sqsk[i][1], dims[(i + causal) % 5], dts[(i + causal) % 2]);
            c->causal = causal;
        }
    /* empty sequences in the batched layout */
    c = add(2, 2, 2, 5, 0, 64, F16);
    c = add(2, 2, 1, 0, 7, 128, BF16);
    /* causal, Sq = Sk */
    for (int s = 0; s < 7; ++s) {
        c = add(2, 3, 3, seqs[s], seqs[s], dims[(s + 1) % 5], dts[s % 2]);
        c->causal = 1;
    }
    /* sliding windows */
    const int wins[9][2] = {{16, 0}, {0, 0}, {5, 7}, {-1, 3}, {10, -1}, {0, -1}, {-1, 0}, {100, 50}, {3, 200}};
    for (int w = 0; w < 9; ++w) {
        const int shapes[3][2] = {{257, 257}, {65, 300}, {200, 63}};
        const int *sh = shapes[w % 3];
        c = add(1, 2, 2, sh[0], sh[1], dims[w % 5], dts[w % 2]);
        c->wl = wins[w][0], c->wr = wins[w][1];
    }
    c = add(2, 2, 2, 64, 64, 64, F16), c->causal = 1, c->wl = 8;
    c = add(1, 2, 2, 1, 1000, 128, BF16), c->wl = 31, c->wr = 0;
    c = add(1, 2, 2, 1000, 1000, 64, BF16), c->wl = 70, c->wr = 70;
    c = add(1, 2, 2, 900, 1000, 128, F16), c->wl = 2000000000, c->wr = 2000000000; /* huge = unbounded */
    /* softcap */
    c = add(2, 2, 2, 65, 65, 64, F16), c->softcap = 30.0f;
    c = add(1, 2, 2, 257, 129, 128, BF16), c->softcap = 5.0f, c->causal = 1, c->qscale = 3.0;
    c = add(1, 4, 2, 100, 100, 80, F16), c->softcap = 2.0f, c->wl = 20, c->wr = 5;
    c = add(1, 2, 2, 63, 63, 256, F16), c->softcap = 10.0f, c->scale = 0.5f;
    c = add(1, 2, 2, 300, 300, 96, BF16), c->softcap = 50.0f, c->scale = -0.2f;
    /* custom (also negative) scales and peaky inputs */
    c = add(2, 2, 2, 65, 65, 64, BF16), c->scale = 0.3f, c->qscale = 4.0;
    c = add(1, 2, 2, 128, 128, 128, F16), c->qscale = 3.0, c->causal = 1;
    c = add(1, 2, 2, 65, 65, 64, F16), c->scale = 1.5f;
    c = add(1, 2, 2, 200, 200, 64, F16), c->scale = -0.125f;
    c = add(1, 2, 2, 200, 150, 128, BF16), c->scale = -0.1f, c->causal = 1;
    /* GQA and MQA */
    c = add(1, 8, 2, 65, 65, 64, F16);
    c = add(2, 8, 2, 257, 257, 128, BF16), c->causal = 1;
    c = add(1, 8, 2, 63, 200, 80, F16), c->wl = 10, c->wr = 10;
    c = add(1, 8, 1, 64, 64, 128, F16), c->causal = 1;
    c = add(2, 4, 1, 7, 65, 256, BF16);
    c = add(1, 6, 1, 1, 300, 64, F16), c->softcap = 15.0f;
    c = add(1, 32, 4, 1, 3000, 128, BF16); /* decode-like */
    /* varlen */
    {
        const int lq1[5] = {0, 1, 65, 7, 130}, lk1[5] = {5, 0, 65, 1, 200};
        const int lq2[4] = {1, 1, 1, 1}, lk2[4] = {1, 300, 7, 0};
        const int lq3[6] = {64, 0, 0, 33, 1, 128}, lk3[6] = {64, 3, 0, 17, 1, 64};
        const int lq4[3] = {257, 9, 100}, lk4[3] = {100, 9, 257};
        const int lq5[2] = {0, 0}, lk5[2] = {4, 0};
        const int lq6[8] = {500, 1, 129, 0, 300, 64, 2, 1000}, lk6[8] = {500, 700, 129, 9, 1, 64, 2, 1000};
        c = add_varlen(5, lq1, lk1, 2, 2, 64, F16);
        c = add_varlen(5, lq1, lk1, 4, 2, 128, BF16), c->causal = 1;
        c = add_varlen(5, lq1, lk1, 2, 1, 80, F16), c->wl = 9, c->wr = 3, c->layout = L_PAD;
        c = add_varlen(4, lq2, lk2, 2, 2, 8, BF16), c->causal = 1;
        c = add_varlen(4, lq2, lk2, 3, 1, 256, F16), c->softcap = 8.0f;
        c = add_varlen(6, lq3, lk3, 4, 4, 64, F16), c->causal = 1, c->layout = L_TRANS;
        c = add_varlen(6, lq3, lk3, 2, 2, 128, BF16), c->wl = 0, c->wr = -1, c->layout = L_SUB;
        c = add_varlen(3, lq4, lk4, 8, 2, 64, BF16), c->causal = 1, c->softcap = 25.0f;
        c = add_varlen(3, lq4, lk4, 2, 2, 256, F16), c->wl = 40, c->wr = 8, c->layout = L_TRANS;
        c = add_varlen(2, lq5, lk5, 2, 2, 64, F16);
        c = add_varlen(8, lq6, lk6, 4, 1, 192, BF16), c->causal = 1;
        c = add_varlen(8, lq6, lk6, 2, 2, 96, F16), c->scale = -0.3f;
    }
    /* strided layouts */
    for (int l = L_PAD; l < L_COUNT; ++l) {
        c = add(2, 4, 2, 65, 33, dims[l], dts[l % 2]), c->layout = l;
        c = add(2, 2, 2, 1, 1, dims[(l + 2) % 5], dts[(l + 1) % 2]), c->layout = l;
        c = add(1, 3, 3, 130, 130, 128, dts[(l + 2) % 2]), c->layout = l, c->causal = 1;
        c = add(2, 2, 1, 100, 70, 64, dts[l % 2]), c->layout = l, c->wl = 12, c->wr = 4, c->softcap = 9.0f;
        c = add(1, 2, 2, 300, 300, 256, dts[l % 2]), c->layout = l, c->causal = l % 2;
    }
}

/* Random cases from the run's seed: features mixed freely, bounded work. */
#define N_RANDOM_CASES 40
#define MAX_RANDOM_WORK 6.0e7

static int pick(fc_rng *r, int n) { return (int)(fc_rng_u64(r) % (uint64_t)n); }

static void add_random_cases(uint64_t seed)
{
    fc_rng r = {seed ^ 0x6a11ull};
    const int seq_pool[14] = {1, 2, 7, 15, 31, 63, 64, 65, 100, 129, 200, 300, 513, 777};
    for (int n = 0; n < N_RANDOM_CASES; ++n) {
        const int hkv = 1 + pick(&r, 3), group = 1 << pick(&r, 3);
        const int D = 8 * (1 + pick(&r, 32));
        tcase *c = add(1 + pick(&r, 3), hkv * group, hkv, seq_pool[pick(&r, 14)], seq_pool[pick(&r, 14)], D,
                       pick(&r, 2) ? FC_DTYPE_BF16 : FC_DTYPE_F16);
        if (pick(&r, 4) == 0) {
            c->nseq = 1 + pick(&r, 6);
            for (int b = 0; b < c->nseq; ++b) {
                c->lens_q[b] = pick(&r, 5) == 0 ? pick(&r, 2) : pick(&r, 300);
                c->lens_k[b] = pick(&r, 5) == 0 ? pick(&r, 2) : pick(&r, 300);
            }
        }
        c->causal = pick(&r, 3) == 0;
        if (pick(&r, 3) == 0) {
            c->wl = pick(&r, 3) == 0 ? -1 : pick(&r, 140);
            c->wr = pick(&r, 3) == 0 ? -1 : pick(&r, 140);
        }
        if (pick(&r, 5) == 0)
            c->softcap = (float)(1 + pick(&r, 40));
        if (pick(&r, 6) == 0)
            c->scale = (pick(&r, 4) == 0 ? -0.05f : 0.05f) * (float)(1 + pick(&r, 20));
        c->qscale = pick(&r, 4) == 0 ? 3.0 : 1.0;
        c->lse = pick(&r, 4) != 0;
        c->layout = pick(&r, L_COUNT);
        for (;;) {
            double work = 0;
            if (c->nseq)
                for (int b = 0; b < c->nseq; ++b)
                    work += (double)c->lens_q[b] * c->lens_k[b];
            else
                work = (double)c->B * c->Sq * c->Sk;
            work *= (double)c->Hq * c->D;
            if (work <= MAX_RANDOM_WORK)
                break;
            if (c->B > 1)
                c->B--;
            else if (c->nseq)
                for (int b = 0; b < c->nseq; ++b)
                    c->lens_q[b] /= 2;
            else
                c->Sq = c->Sq > c->Sk ? (c->Sq + 1) / 2 : c->Sq, c->Sk = c->Sk >= c->Sq ? (c->Sk + 1) / 2 : c->Sk;
        }
    }
}

/* ---- workspace: optional (a smaller one runs the unsplit plan), and a size without memory is an
 * error that writes nothing ------------------------------------------------------------------ */

static int check_workspace_fallback(uint64_t seed)
{
    fc_rng rng = {seed ^ 0x77ull};
    const int64_t shape[4] = {1, 1000, 2, 64};
    view q, k, v, o;
    if (make_view(&q, FC_DTYPE_F16, 4, shape, L_CONTIG) || make_view(&k, FC_DTYPE_F16, 4, shape, L_CONTIG) ||
        make_view(&v, FC_DTYPE_F16, 4, shape, L_CONTIG) || make_view(&o, FC_DTYPE_F16, 4, shape, L_CONTIG))
        die("out of host memory");
    fc_t_fill_random(&q.t, &rng, 1.0);
    fc_t_fill_random(&k.t, &rng, 1.0);
    fc_t_fill_random(&v.t, &rng, 1.0);
    to_device(&q);
    to_device(&k);
    to_device(&v);
    to_device(&o);
    size_t ws = 0;
    check_fc(fc_attention_workspace_size(&q.dt, &k.dt, &v.dt, &o.dt, NULL, NULL, &ws), "workspace size");
    int ok = 1;
    /* a size with no memory behind it: an error, nothing written */
    fc_status s = fc_attention_forward(&q.dt, &k.dt, &v.dt, &o.dt, NULL, NULL, NULL, ws + 256, NULL);
    check_fc(fc_cuda_synchronize(0), "synchronize");
    from_device(&o);
    int64_t written = 0;
    for (int64_t i = 0; i < o.nelem; ++i)
        written += !isnan(fc_t_load(o.base, FC_DTYPE_F16, i));
    ok = s == FC_ERROR_NULL_POINTER && written == 0;
    printf("workspace NULL with size %zu: %s, %lld outputs written: %s\n", ws + 256, fc_status_name(s),
           (long long)written, ok ? "PASS" : "FAIL");
    /* no workspace at all (the queried size was %zu): the unsplit plan, correct */
    s = fc_attention_forward(&q.dt, &k.dt, &v.dt, &o.dt, NULL, NULL, NULL, 0, NULL);
    check_fc(fc_cuda_synchronize(0), "synchronize");
    from_device(&o);
    double *ref = (double *)malloc(sizeof(double) * (size_t)(1000 * 2 * 64));
    double *lowp = (double *)malloc(sizeof(double) * (size_t)(1000 * 2 * 64));
    if (!ref || !lowp) die("out of host memory");
    fc_ref_forward(&q.t, &k.t, &v.t, NULL, FC_REF_F64, ref, NULL);
    fc_ref_forward(&q.t, &k.t, &v.t, NULL, FC_REF_LOWP, lowp, NULL);
    const double err = fc_t_max_abs_err(&o.t, ref), lowp_err = fc_t_max_abs_diff(lowp, ref, 1000 * 2 * 64);
    const int ok2 = s == FC_SUCCESS && fc_t_passes(err, lowp_err, FC_DTYPE_F16);
    printf("no workspace (queried %zu bytes): %s, err %.3g (lowp %.3g): %s\n", ws, fc_status_name(s), err, lowp_err,
           ok2 ? "PASS" : "FAIL");
    free(ref);
    free(lowp);
    free_view(&q);
    free_view(&k);
    free_view(&v);
    free_view(&o);
    return ok && ok2;
}

/* ---- large shapes ----------------------------------------------------------------------- */

static int64_t count_nonfinite(const void *data, fc_dtype dt, int64_t n)
{
    int64_t bad = 0;
    const uint16_t *h = (const uint16_t *)data;
    /* exponent all ones = inf/NaN, for both fp16 (0x7c00) and bf16 (0x7f80) */
    const uint16_t e = dt == FC_DTYPE_F16 ? 0x7c00u : 0x7f80u;
#pragma omp parallel for reduction(+ : bad)
    for (int64_t i = 0; i < n; ++i)
        bad += (h[i] & e) == e;
    return bad;
}

/* Compare rows [r0, r0 + R) of every head of sequence b (a batched [B,S,H,D] problem) against the
 * reference computed on those query rows alone with all keys; only valid for bottom-right aligned
 * masks when the rows are the last ones, or with no mask at all. */
static int check_rows(const fc_tensor *q, const fc_tensor *k, const fc_tensor *v, const fc_tensor *o,
                      const fc_tensor *lse, const fc_attention_params *prm, int64_t b, int64_t r0, int64_t R,
                      double *err_out, double *lowp_out, double *lse_err_out, double *lse_lowp_out)
{
    fc_tensor qs = *q, ks = *k, vs = *v, os = *o, ls = *lse;
    const size_t es = 2;
    qs.data = (char *)q->data + (b * q->stride[0] + r0 * q->stride[1]) * (int64_t)es;
    qs.shape[0] = 1, qs.shape[1] = R;
    os.data = (char *)o->data + (b * o->stride[0] + r0 * o->stride[1]) * (int64_t)es;
    os.shape[0] = 1, os.shape[1] = R;
    ks.data = (char *)k->data + b * k->stride[0] * (int64_t)es, ks.shape[0] = 1;
    vs.data = (char *)v->data + b * v->stride[0] * (int64_t)es, vs.shape[0] = 1;
    ls.data = (char *)lse->data + (b * lse->stride[0] + r0 * lse->stride[2]) * 4;
    ls.shape[0] = 1, ls.shape[2] = R;
    const int64_t n = R * q->shape[2] * q->shape[3], nl = R * q->shape[2];
    double *ref = malloc(sizeof(double) * (size_t)n), *low = malloc(sizeof(double) * (size_t)n);
    double *rl = malloc(sizeof(double) * (size_t)nl), *ll = malloc(sizeof(double) * (size_t)nl);
    if (!ref || !low || !rl || !ll)
        die("out of host memory");
    int rc = fc_ref_forward(&qs, &ks, &vs, prm, FC_REF_F64, ref, rl);
    rc |= fc_ref_forward(&qs, &ks, &vs, prm, FC_REF_LOWP, low, ll);
    const double err = fc_t_max_abs_err(&os, ref), lowp = fc_t_max_abs_diff(low, ref, n);
    const double lerr = fc_t_max_abs_err_lse(&ls, rl), llow = fc_t_max_abs_diff(ll, rl, nl);
    double big = 1.0;
    for (int64_t i = 0; i < nl; ++i)
        if (isfinite(rl[i]) && fabs(rl[i]) > big)
            big = fabs(rl[i]);
    const int ok = rc == 0 && fc_t_passes(err, lowp, q->dtype) && isfinite(lerr) &&
                   lerr <= 2.0 * llow + FC_LSE_REL_EPS * big;
    if (err > *err_out)
        *err_out = err;
    if (lowp > *lowp_out)
        *lowp_out = lowp;
    if (lerr > *lse_err_out)
        *lse_err_out = lerr;
    if (llow > *lse_lowp_out)
        *lse_lowp_out = llow;
    free(ref);
    free(low);
    free(rl);
    free(ll);
    return ok;
}

/* One large batched problem. period_q/k/v > 0: fill only that many sequences at random and repeat
 * them over the batch (distinct periods, so a sequence mixed up with another is still caught). */
static int run_large(const char *name, int B, int S, int Hq, int Hkv, int D, fc_dtype dt, int causal,
                     int period, const int64_t *check_b, int n_check_b, int64_t rows_checked, uint64_t seed)
{
    fc_rng rng = {seed};
    const int64_t qsh[4] = {B, S, Hq, D}, ksh[4] = {B, S, Hkv, D}, lsh[3] = {B, Hq, S};
    view q, k, v, o, l;
    if (make_view(&q, dt, 4, qsh, L_CONTIG) || make_view(&k, dt, 4, ksh, L_CONTIG) ||
        make_view(&v, dt, 4, ksh, L_CONTIG) || make_view(&o, dt, 4, qsh, L_CONTIG) ||
        make_view(&l, FC_DTYPE_F32, 3, lsh, L_CONTIG)) {
        printf("%s: SKIP (not enough host memory)\n", name);
        return 1;
    }
    const view *in[3] = {&q, &k, &v};
    const int periods[3] = {period ? period : B, period ? period - 2 : B, period ? period - 4 : B};
    for (int t = 0; t < 3; ++t) {
        fc_tensor first = in[t]->t;
        first.shape[0] = periods[t] < B ? periods[t] : B;
        fc_t_fill_random(&first, &rng, 1.0);
        const int64_t per_b = in[t]->t.stride[0] * 2;
        for (int64_t b = first.shape[0]; b < B; ++b)
            memcpy((char *)in[t]->base + b * per_b, (char *)in[t]->base + (b % periods[t]) * per_b, (size_t)per_b);
    }
    to_device(&q);
    to_device(&k);
    to_device(&v);
    to_device(&o);
    to_device(&l);
    fc_attention_params prm;
    fc_attention_params_init(&prm);
    prm.causal = causal;
    size_t ws = 0;
    void *d_ws = NULL;
    check_fc(fc_attention_workspace_size(&q.dt, &k.dt, &v.dt, &o.dt, &l.dt, &prm, &ws), "workspace size");
    if (ws)
        check_fc(fc_cuda_malloc(&d_ws, ws, 0), "workspace");
    const fc_status s = fc_attention_forward(&q.dt, &k.dt, &v.dt, &o.dt, &l.dt, &prm, d_ws, ws, NULL);
    check_fc(fc_cuda_synchronize(0), "kernel execution");
    from_device(&o);
    from_device(&l);
    const int64_t bad_o = count_nonfinite(o.base, dt, o.nelem);
    int64_t bad_l = 0;
    for (int64_t i = 0; i < l.nelem; ++i)
        bad_l += !isfinite(((float *)l.base)[i]);
    int ok = s == FC_SUCCESS && bad_o == 0 && bad_l == 0;
    double err = 0, lowp = 0, lerr = 0, llow = 0;
    for (int i = 0; i < n_check_b && ok; ++i) {
        /* the last rows (valid under causal), and the first rows when unmasked */
        ok &= check_rows(&q.t, &k.t, &v.t, &o.t, &l.t, &prm, check_b[i], S - rows_checked, rows_checked, &err, &lowp,
                         &lerr, &llow);
        if (!causal)
            ok &= check_rows(&q.t, &k.t, &v.t, &o.t, &l.t, &prm, check_b[i], 0, rows_checked, &err, &lowp, &lerr, &llow);
    }
    printf("%s: B=%d S=%d H=%d/%d D=%d %s%s (%.3g elements in q): status %s, non-finite out %lld lse %lld, "
           "err %.3g (lowp %.3g), lse err %.3g (lowp %.3g) on %d sequences: %s\n",
           name, B, S, Hq, Hkv, D, dtype_name(dt), causal ? " causal" : "", (double)q.nelem, fc_status_name(s),
           (long long)bad_o, (long long)bad_l, err, lowp, lerr, llow, n_check_b, ok ? "PASS" : "FAIL");
    free_view(&q);
    free_view(&k);
    free_view(&v);
    free_view(&o);
    free_view(&l);
    fc_cuda_free(d_ws);
    return ok;
}

int main(int argc, char **argv)
{
    int count = 0;
    if (!fc_has_cuda() || fc_cuda_device_count(&count) != FC_SUCCESS || count == 0) {
        printf("skipped: no CUDA device\n");
        return 77;
    }
    fc_device_info info;
    check_fc(fc_cuda_device_info(0, &info), "fc_cuda_device_info");
    const int quick = getenv("FC_TEST_QUICK") && atoi(getenv("FC_TEST_QUICK")) != 0;
    const int only = argc > 1 ? atoi(argv[1]) : -1;
    const uint64_t seed = fc_t_fresh_seed();
    printf("test_gpu: %s (sm_%d, %d SMs), kernels: %s\n", info.name, info.sm, info.multiprocessors, info.kernels);
    printf("test_gpu: seed %llu (reproduce with FC_TEST_SEED=%llu)%s\n", (unsigned long long)seed,
           (unsigned long long)seed, quick ? ", quick grid" : "");

    if (quick) {
        build_quick_grid();
    } else {
        build_grid();
        add_random_cases(seed);
    }
    int failed = 0, run = 0, split = 0;
    for (int i = 0; i < n_cases; ++i) {
        if (only >= 0 && i != only)
            continue;
        result r;
        char desc[256];
        describe(&cases[i], desc, sizeof desc);
        const int ok = run_case(&cases[i], seed + (uint64_t)i * 7919u, &r);
        run++;
        split += r.workspace > 0;
        if (!ok)
            failed++;
        if (!ok || quick)
            printf("case %3d %-4s %s: status %s err %.3g (lowp %.3g) lse err %.3g (lowp %.3g)%s%s%s%s\n", i,
                   ok ? "ok" : "FAIL", desc, fc_status_name((fc_status)r.status), r.err, r.lowp_err, r.lse_err,
                   r.lse_lowp_err, r.pad_touched ? " PADDING-TOUCHED" : "",
                   r.inputs_changed ? " INPUTS-CHANGED" : "", r.nondeterministic ? " NONDETERMINISTIC" : "",
                   r.workspace ? " (split-KV)" : "");
    }
    printf("grid: %d cases, %d with split-KV workspace, %d failed\n", run, split, failed);

    if (only < 0) {
        failed += !check_workspace_fallback(seed);
        if (!quick) {
            const int64_t b16k[1] = {0};
            failed += !run_large("S=16k causal", 1, 16384, 4, 1, 128, FC_DTYPE_BF16, 1, 0, b16k, 1, 64, seed + 1);
            failed += !run_large("S=16k", 1, 16384, 2, 2, 64, FC_DTYPE_F16, 0, 0, b16k, 1, 32, seed + 2);
            /* 4100*512*8*128 = 2.15e9 > 2^31 elements in q and out */
            if (info.global_memory_bytes >= ((int64_t)24 << 30)) {
                const int64_t bb[5] = {0, 1, 2053, 4098, 4099};
                failed += !run_large(">2^31 elements", 4100, 512, 8, 1, 128, FC_DTYPE_BF16, 1, 11, bb, 5, 48, seed + 3);
            } else {
                printf(">2^31 elements: SKIP (device has %lld bytes)\n", (long long)info.global_memory_bytes);
            }
        }
    }
    printf("test_gpu: %s (%d failure%s)\n", failed ? "FAIL" : "PASS", failed, failed == 1 ? "" : "s");
    return failed ? 1 : 0;
}
