/*
 * CPU backend vs the float64 reference, through the public API (fc_attention_forward on CPU
 * tensors). Every case draws fresh random inputs, poisons the outputs (and the padding of the
 * inputs) with NaN, and checks:
 *   - out:  max |out - ref_f64| <= 2 * max |ref_lowp - ref_f64| + eps(dtype)   (fc_t_passes)
 *   - lse:  fc_t_passes_lse (the same rule, with an epsilon relative to the lse's magnitude);
 *           fully masked rows must be exactly -inf
 *   - every element of out / lse was written (a NaN left over fails), and no element of the
 *     allocations outside the views (padding between strided rows) was touched.
 * The grid covers each feature on several shapes rather than the full cross product, so the whole
 * test stays well under a minute on two cores.
 *
 * Reproduce a run: FC_TEST_SEED=<seed printed at the top> ./test_cpu   (optionally a case filter
 * as the first argument: only cases whose number equals it run).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu/half.h"
#include "flashcore.h"
#include "reference.h"

enum { L_CONTIG, L_PAD, L_TRANS, L_SUB, L_COUNT };
static const char *const layout_names[L_COUNT] = {"contig", "padded", "transposed", "subview"};

typedef struct tcase {
    int B, Hq, Hkv, Sq, Sk, D; /* batched shape (B, Sq, Sk ignored for varlen) */
    fc_dtype dtype;
    int causal, wl, wr;
    float softcap, scale;
    int lse;
    int layout;
    double qscale;             /* input magnitude of q (larger = peakier softmax) */
    int nseq;                  /* > 0: varlen with these per-sequence lengths */
    int lens_q[8], lens_k[8];
} tcase;

static const char *dtype_name(fc_dtype t)
{
    return t == FC_DTYPE_F16 ? "fp16" : t == FC_DTYPE_BF16 ? "bf16" : "fp32";
}

/* ---- tensor views with the requested layout ---------------------------------------------- */

typedef struct view {
    fc_tensor t;
    void *base;     /* the allocation */
    int64_t nelem;  /* its size in elements */
} view;

/* A view of logical shape `shape` (ndim 2..4, last dim contiguous) laid out as `layout`:
 *   contig      dense row-major
 *   padded      odd extra elements after every non-last dim step
 *   transposed  the two dims before the last are swapped in memory ([.., H, S, D] storage for a
 *               [.., S, H, D] view), plus padding
 *   subview     a window of a larger buffer: one more entry in each non-last dim, 8 more in the
 *               last, and the view starts one step into each (so gaps sit inside every row) */
static int make_view(view *v, fc_dtype dt, int ndim, const int64_t *shape, int layout)
{
    int64_t mshape[FC_MAX_DIMS], pad[FC_MAX_DIMS] = {0, 0, 0, 0};
    const int64_t odd_pad[FC_MAX_DIMS] = {7, 3, 5, 0};
    memcpy(mshape, shape, sizeof(int64_t) * (size_t)ndim);
    if (layout == L_TRANS && ndim < 3)
        layout = L_PAD;
    if (layout == L_PAD || layout == L_TRANS)
        for (int d = 0; d < ndim - 1; ++d)
            pad[d] = odd_pad[d + FC_MAX_DIMS - ndim];
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
        v->t.data = (char *)v->base + off * (int64_t)(dt == FC_DTYPE_F32 ? 4 : 2);
    }
    memcpy(v->t.shape, shape, sizeof(int64_t) * (size_t)ndim);
    return 0;
}

/* ---- one case ------------------------------------------------------------------------------ */

typedef struct result {
    double err, lowp_err, lse_err, lse_lowp_err;
    int64_t pad_touched;
    int status, ok;
    int inputs_changed; /* the call wrote into q, k or v */
    int nondeterministic; /* a second call gave different bits */
} result;

static uint64_t checksum(const view *v)
{
    const unsigned char *b = (const unsigned char *)v->base;
    const size_t n = (size_t)v->nelem * (v->t.dtype == FC_DTYPE_F32 ? 4u : 2u);
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < n; ++i)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static size_t view_bytes(const view *v)
{
    return (size_t)v->nelem * (v->t.dtype == FC_DTYPE_F32 ? 4u : 2u);
}

static int run_case(const tcase *c, uint64_t seed, result *r)
{
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
    /* inputs use the case's layout in different flavours so q/k/v/o strides all differ */
    if (make_view(&q, c->dtype, nd, qshape, c->layout) ||
        make_view(&k, c->dtype, nd, kshape, c->layout == L_CONTIG ? L_CONTIG : (c->layout % 3) + 1) ||
        make_view(&v, c->dtype, nd, kshape, c->layout) ||
        make_view(&o, c->dtype, nd, qshape, c->layout == L_CONTIG ? L_CONTIG : ((c->layout + 1) % 3) + 1) ||
        (c->lse && make_view(&lse, FC_DTYPE_F32, nd - 1, lshape, c->layout == L_TRANS ? L_SUB : c->layout))) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    fc_t_fill_random(&q.t, &rng, c->qscale);
    fc_t_fill_random(&k.t, &rng, 1.0);
    fc_t_fill_random(&v.t, &rng, 1.0);

    fc_attention_params prm;
    fc_attention_params_init(&prm);
    prm.softmax_scale = c->scale;
    prm.causal = c->causal;
    prm.window_left = c->wl;
    prm.window_right = c->wr;
    prm.softcap = c->softcap;
    if (varlen) {
        prm.cu_seqlens_q = cu_q;
        prm.cu_seqlens_k = cu_k;
        prm.num_seqs = c->nseq;
        prm.max_seqlen_q = max_q;
        prm.max_seqlen_k = max_k;
    }

    const uint64_t sum_in = checksum(&q) ^ (checksum(&k) * 3) ^ (checksum(&v) * 7);
    r->status = fc_attention_forward(&q.t, &k.t, &v.t, &o.t, c->lse ? &lse.t : NULL, &prm, NULL, 0, NULL);
    r->inputs_changed = checksum(&q) ^ (checksum(&k) * 3) ^ (checksum(&v) * 7) ^ sum_in ? 1 : 0;

    /* the same call again on re-poisoned outputs must give the same bits (a difference is a race) */
    {
        void *o1 = malloc(view_bytes(&o)), *l1 = c->lse ? malloc(view_bytes(&lse)) : NULL;
        if (!o1 || (c->lse && !l1)) {
            fprintf(stderr, "out of memory\n");
            exit(2);
        }
        memcpy(o1, o.base, view_bytes(&o));
        fc_t_poison(o.base, c->dtype, o.nelem);
        if (c->lse) {
            memcpy(l1, lse.base, view_bytes(&lse));
            fc_t_poison(lse.base, FC_DTYPE_F32, lse.nelem);
        }
        const int st = fc_attention_forward(&q.t, &k.t, &v.t, &o.t, c->lse ? &lse.t : NULL, &prm, NULL, 0, NULL);
        r->nondeterministic = st != r->status || memcmp(o1, o.base, view_bytes(&o)) != 0 ||
                              (c->lse && memcmp(l1, lse.base, view_bytes(&lse)) != 0);
        free(o1);
        free(l1);
    }

    const int64_t n_out = tq * c->Hq * c->D, n_lse = tq * c->Hq;
    double *ref = (double *)malloc(sizeof(double) * (size_t)(n_out + 1));
    double *low = (double *)malloc(sizeof(double) * (size_t)(n_out + 1));
    double *ref_lse = (double *)malloc(sizeof(double) * (size_t)(n_lse + 1));
    double *low_lse = (double *)malloc(sizeof(double) * (size_t)(n_lse + 1));
    if (!ref || !low || !ref_lse || !low_lse) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    int ref_rc = fc_ref_forward(&q.t, &k.t, &v.t, &prm, FC_REF_F64, ref, ref_lse);
    ref_rc |= fc_ref_forward(&q.t, &k.t, &v.t, &prm, FC_REF_LOWP, low, low_lse);

    r->err = fc_t_max_abs_err(&o.t, ref);
    r->lowp_err = fc_t_max_abs_diff(low, ref, n_out);
    r->lse_err = r->lse_lowp_err = 0.0;
    r->pad_touched = fc_t_padding_changed(o.base, o.nelem, &o.t);
    int lse_ok = 1;
    if (c->lse) {
        r->lse_err = fc_t_max_abs_err_lse(&lse.t, ref_lse);
        r->lse_lowp_err = fc_t_max_abs_diff(low_lse, ref_lse, n_lse);
        lse_ok = fc_t_passes_lse(r->lse_err, r->lse_lowp_err, ref_lse, n_lse);
        const int64_t t = fc_t_padding_changed(lse.base, lse.nelem, &lse.t);
        r->pad_touched = t < 0 || r->pad_touched < 0 ? -1 : r->pad_touched + t;
    }
    r->ok = r->status == FC_SUCCESS && ref_rc == 0 && fc_t_passes(r->err, r->lowp_err, c->dtype) && lse_ok &&
            r->pad_touched == 0 && !r->inputs_changed && !r->nondeterministic;

    free(ref);
    free(low);
    free(ref_lse);
    free(low_lse);
    free(q.base);
    free(k.base);
    free(v.base);
    free(o.base);
    free(lse.base);
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

static tcase cases[320];
static int n_cases;

static tcase *add(int B, int Hq, int Hkv, int Sq, int Sk, int D, fc_dtype dt)
{
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

static void build_grid(void)
{
    const fc_dtype F16 = FC_DTYPE_F16, BF16 = FC_DTYPE_BF16, F32 = FC_DTYPE_F32;
    const fc_dtype dts[3] = {F16, BF16, F32};
    const int dims[5] = {8, 64, 80, 128, 256};
    const int seqs[6] = {1, 7, 63, 64, 65, 257};
    tcase *c;

    /* plain attention: every seqlen up to 257 x every head dim, dtypes rotating */
    for (int s = 0; s < 6; ++s)
        for (int d = 0; d < 5; ++d) {
            c = add(seqs[s] < 64 ? 2 : 1, 2, 2, seqs[s], seqs[s], dims[d], dts[(s + d) % 3]);
            c->lse = (s + d) % 2 == 0;
        }
    /* query-tile boundaries (128 rows up to D=64, 64 at D=128) */
    c = add(1, 2, 2, 129, 129, 64, F16);
    c = add(1, 2, 2, 128, 129, 32, BF16), c->causal = 1;
    c = add(1, 2, 2, 127, 65, 128, F16), c->causal = 1;
    /* S = 1000, a few head dims */
    c = add(1, 2, 2, 1000, 1000, 64, F16);
    c = add(1, 2, 2, 1000, 1000, 128, BF16), c->causal = 1;
    c = add(1, 2, 1, 1000, 1000, 256, F16), c->causal = 1, c->layout = L_PAD;
    c = add(1, 2, 2, 1000, 1000, 80, F32), c->wl = 100, c->wr = 20;
    c = add(1, 1, 1, 1000, 1000, 8, BF16), c->softcap = 20.0f;

    /* Sq != Sk both ways, with and without causal (bottom-right alignment; Sq > Sk leaves the
     * first Sq-Sk rows fully masked under causal: out 0, lse -inf) */
    const int sqsk[8][2] = {{1, 257}, {7, 1000}, {65, 7}, {257, 64}, {64, 1}, {1, 65}, {1000, 63}, {63, 1000}};
    for (int i = 0; i < 8; ++i)
        for (int causal = 0; causal < 2; ++causal) {
            c = add(2, 2, 2, sqsk[i][0], sqsk[i][1], dims[(i + causal) % 5], dts[(i + causal) % 3]);
            c->causal = causal;
        }
    /* empty key / query sequences in the batched layout: rows with no key give 0 and -inf */
    c = add(2, 2, 2, 5, 0, 64, F16);
    c = add(2, 2, 1, 0, 7, 128, BF16);
    /* causal, Sq = Sk, several shapes */
    for (int s = 0; s < 6; ++s) {
        c = add(2, 3, 3, seqs[s], seqs[s], dims[(s + 1) % 5], dts[s % 3]);
        c->causal = 1;
    }
    /* sliding windows, incl. one-sided and degenerate (0, 0) */
    const int wins[9][2] = {{16, 0}, {0, 0}, {5, 7}, {-1, 3}, {10, -1}, {0, -1}, {-1, 0}, {100, 50}, {3, 200}};
    for (int w = 0; w < 9; ++w) {
        const int shapes[3][2] = {{257, 257}, {65, 300}, {200, 63}};
        const int *sh = shapes[w % 3];
        c = add(1, 2, 2, sh[0], sh[1], dims[w % 5], dts[w % 3]);
        c->wl = wins[w][0], c->wr = wins[w][1];
    }
    c = add(2, 2, 2, 64, 64, 64, F16), c->causal = 1, c->wl = 8;  /* causal + left window */
    c = add(1, 2, 2, 1, 1000, 128, BF16), c->wl = 31, c->wr = 0;  /* decode-like row with window */
    /* softcap, with other features */
    c = add(2, 2, 2, 65, 65, 64, F16), c->softcap = 30.0f;
    c = add(1, 2, 2, 257, 129, 128, BF16), c->softcap = 5.0f, c->causal = 1, c->qscale = 3.0;
    c = add(1, 4, 2, 100, 100, 80, F32), c->softcap = 2.0f, c->wl = 20, c->wr = 5;
    c = add(1, 2, 2, 63, 63, 256, F16), c->softcap = 10.0f, c->scale = 0.5f;
    /* custom scale and peaky inputs */
    c = add(2, 2, 2, 65, 65, 64, BF16), c->scale = 0.3f, c->qscale = 4.0;
    c = add(1, 2, 2, 128, 128, 128, F16), c->qscale = 3.0, c->causal = 1;
    c = add(1, 2, 2, 65, 65, 64, F32), c->scale = 1.5f;
    /* GQA 8/2 and MQA */
    c = add(1, 8, 2, 65, 65, 64, F16);
    c = add(2, 8, 2, 257, 257, 128, BF16), c->causal = 1;
    c = add(1, 8, 2, 63, 200, 80, F32), c->wl = 10, c->wr = 10;
    c = add(1, 8, 1, 64, 64, 128, F16), c->causal = 1;
    c = add(2, 4, 1, 7, 65, 256, BF16);
    c = add(1, 6, 1, 1, 300, 64, F16), c->softcap = 15.0f;

    /* varlen: empty and length-1 sequences, q and k lengths differing per sequence */
    {
        const int lq1[5] = {0, 1, 65, 7, 130}, lk1[5] = {5, 0, 65, 1, 200};
        const int lq2[4] = {1, 1, 1, 1}, lk2[4] = {1, 300, 7, 0};
        const int lq3[6] = {64, 0, 0, 33, 1, 128}, lk3[6] = {64, 3, 0, 17, 1, 64};
        const int lq4[3] = {257, 9, 100}, lk4[3] = {100, 9, 257};
        const int lq5[2] = {0, 0}, lk5[2] = {4, 0};
        c = add_varlen(5, lq1, lk1, 2, 2, 64, F16);
        c = add_varlen(5, lq1, lk1, 4, 2, 128, BF16), c->causal = 1;
        c = add_varlen(5, lq1, lk1, 2, 1, 80, F32), c->wl = 9, c->wr = 3, c->layout = L_PAD;
        c = add_varlen(4, lq2, lk2, 2, 2, 8, BF16), c->causal = 1;
        c = add_varlen(4, lq2, lk2, 3, 1, 256, F16), c->softcap = 8.0f;
        c = add_varlen(6, lq3, lk3, 4, 4, 64, F16), c->causal = 1, c->layout = L_TRANS;
        c = add_varlen(6, lq3, lk3, 2, 2, 128, F32), c->wl = 0, c->wr = -1, c->layout = L_SUB;
        c = add_varlen(3, lq4, lk4, 8, 2, 64, BF16), c->causal = 1, c->softcap = 25.0f;
        c = add_varlen(3, lq4, lk4, 2, 2, 256, F16), c->wl = 40, c->wr = 8, c->layout = L_TRANS;
        c = add_varlen(2, lq5, lk5, 2, 2, 64, F16); /* no query token at all */
    }
    /* strided, non-contiguous layouts on assorted features */
    for (int l = L_PAD; l < L_COUNT; ++l) {
        c = add(2, 4, 2, 65, 33, dims[l], dts[l % 3]), c->layout = l;
        c = add(2, 2, 2, 1, 1, dims[(l + 2) % 5], dts[(l + 1) % 3]), c->layout = l;
        c = add(1, 3, 3, 130, 130, 128, dts[(l + 2) % 3]), c->layout = l, c->causal = 1;
        c = add(2, 2, 1, 100, 70, 64, dts[l % 3]), c->layout = l, c->wl = 12, c->wr = 4, c->softcap = 9.0f;
    }
}

/* Random cases drawn from the run's seed: shapes, head dims, dtypes, features and layouts mixed
 * freely (bounded work per case), so each run also probes combinations the fixed grid lacks. */
#define N_RANDOM_CASES 48
#define MAX_RANDOM_WORK 4.0e7 /* Sq*Sk*Hq*D (summed over sequences) per random case */

static int pick(fc_rng *r, int n)
{
    return (int)(fc_rng_u64(r) % (uint64_t)n);
}

static void add_random_cases(uint64_t seed)
{
    fc_rng r = {seed ^ 0x5eedf00dull};
    const fc_dtype dts[3] = {FC_DTYPE_F16, FC_DTYPE_BF16, FC_DTYPE_F32};
    const int seq_pool[12] = {1, 2, 7, 15, 31, 63, 64, 65, 100, 129, 200, 300};
    for (int n = 0; n < N_RANDOM_CASES; ++n) {
        const int hkv = 1 + pick(&r, 3), group = 1 << pick(&r, 3);
        const int D = 8 * (1 + pick(&r, 32));
        tcase *c = add(1 + pick(&r, 3), hkv * group, hkv, seq_pool[pick(&r, 12)], seq_pool[pick(&r, 12)], D,
                       dts[pick(&r, 3)]);
        if (pick(&r, 4) == 0) { /* varlen */
            c->nseq = 1 + pick(&r, 6);
            for (int b = 0; b < c->nseq; ++b) {
                c->lens_q[b] = pick(&r, 5) == 0 ? pick(&r, 2) : pick(&r, 150);
                c->lens_k[b] = pick(&r, 5) == 0 ? pick(&r, 2) : pick(&r, 150);
            }
        }
        c->causal = pick(&r, 3) == 0;
        if (pick(&r, 3) == 0) {
            c->wl = pick(&r, 3) == 0 ? -1 : pick(&r, 70);
            c->wr = pick(&r, 3) == 0 ? -1 : pick(&r, 70);
        }
        if (pick(&r, 5) == 0)
            c->softcap = (float)(1 + pick(&r, 40));
        if (pick(&r, 6) == 0)
            c->scale = 0.05f * (float)(1 + pick(&r, 20));
        c->qscale = pick(&r, 4) == 0 ? 3.0 : 1.0;
        c->lse = pick(&r, 4) != 0;
        c->layout = pick(&r, L_COUNT);
        /* bound the work: shrink batch, then sequence lengths */
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

/* ---- the reference itself, on cases whose answer is known without computing softmax -------- */

static int check_reference(uint64_t seed)
{
    fc_rng rng = {seed ^ 0xabcdefull};
    int bad = 0;
    const int B = 2, Sq = 9, Sk = 5, H = 2, D = 16;
    const int64_t qs[4] = {B, Sq, H, D}, ks[4] = {B, Sk, H, D};
    fc_tensor q, k, v;
    fc_t_alloc(&q, FC_DTYPE_F32, 4, qs, NULL, NULL);
    fc_t_alloc(&k, FC_DTYPE_F32, 4, ks, NULL, NULL);
    fc_t_alloc(&v, FC_DTYPE_F32, 4, ks, NULL, NULL);
    fc_t_fill_random(&q, &rng, 1.0);
    fc_t_fill_random(&k, &rng, 1.0);
    fc_t_fill_random(&v, &rng, 1.0);
    double out[B * Sq * H * D], lse[B * H * Sq];
    fc_attention_params p;
    fc_attention_params_init(&p);
    const int shift = Sk - Sq; /* -4: bottom-right alignment */

    /* window (0, 0): row i sees exactly key i + shift -> out = v[i + shift], lse = its score */
    p.window_left = p.window_right = 0;
    for (int mode = 0; mode < 2; ++mode) {
        bad += fc_ref_forward(&q, &k, &v, &p, mode, out, lse) != 0;
        for (int b = 0; b < B; ++b)
            for (int i = 0; i < Sq; ++i)
                for (int h = 0; h < H; ++h) {
                    const int j = i + shift;
                    const double *o = out + ((b * Sq + i) * H + h) * D;
                    const double l = lse[(b * H + h) * Sq + i];
                    if (j < 0) {
                        bad += !(l == -INFINITY);
                        for (int d = 0; d < D; ++d)
                            bad += o[d] != 0.0;
                        continue;
                    }
                    double dot = 0;
                    for (int d = 0; d < D; ++d) {
                        const int64_t qo = ((b * Sq + i) * H + h) * D + d, ko = ((b * Sk + j) * H + h) * D + d;
                        dot += ((float *)q.data)[qo] * (double)((float *)k.data)[ko];
                        bad += fabs(o[d] - ((float *)v.data)[ko]) > 1e-6;
                    }
                    bad += fabs(l - dot / sqrt((double)D)) > 1e-5;
                }
    }
    /* causal with Sq > Sk: rows i < Sq - Sk see no key (0, -inf); the last row sees all keys */
    fc_attention_params_init(&p);
    p.causal = 1;
    bad += fc_ref_forward(&q, &k, &v, &p, FC_REF_F64, out, lse) != 0;
    for (int b = 0; b < B; ++b)
        for (int h = 0; h < H; ++h)
            for (int i = 0; i < Sq; ++i)
                bad += (i < Sq - Sk) != (lse[(b * H + h) * Sq + i] == -INFINITY);
    /* a zero query row: uniform attention over its keys -> out = mean of v, lse = log(count) */
    memset(q.data, 0, sizeof(float) * (size_t)(B * Sq * H * D));
    fc_attention_params_init(&p);
    p.window_left = 2;
    p.window_right = 1;
    bad += fc_ref_forward(&q, &k, &v, &p, FC_REF_F64, out, lse) != 0;
    for (int i = 0; i < Sq; ++i) {
        const int lo = i + shift - 2 < 0 ? 0 : i + shift - 2, hi = i + shift + 1 > Sk - 1 ? Sk - 1 : i + shift + 1;
        const double *o = out + ((0 * Sq + i) * H + 1) * D; /* b = 0, h = 1 */
        if (lo > hi) {
            bad += !(lse[1 * Sq + i] == -INFINITY);
            continue;
        }
        bad += fabs(lse[1 * Sq + i] - log((double)(hi - lo + 1))) > 1e-12;
        for (int d = 0; d < D; ++d) {
            double mean = 0;
            for (int j = lo; j <= hi; ++j)
                mean += ((float *)v.data)[((0 * Sk + j) * H + 1) * D + d];
            bad += fabs(o[d] - mean / (hi - lo + 1)) > 1e-12;
        }
    }
    free(q.data);
    free(k.data);
    free(v.data);
    printf("reference self-check (window (0,0), causal Sq>Sk, uniform rows): %s (%d mismatches)\n",
           bad ? "FAIL" : "PASS", bad);
    return bad == 0;
}

/* ---- conversions: src/cpu/half.h against the reference's independent conversion ---------- */

static int check_conversions(void)
{
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000u; ++h) {
        const float a = fc_f16_to_f32((uint16_t)h), b = fc_t_f16_to_f32((uint16_t)h);
        const float c = fc_bf16_to_f32((uint16_t)h), d = fc_t_bf16_to_f32((uint16_t)h);
        if (!(a == b || (isnan(a) && isnan(b))) || !(c == d || (isnan(c) && isnan(d))))
            bad++;
        /* round trip of every finite/inf half value is exact */
        if (!isnan(a) && fc_f32_to_f16(a) != h)
            bad++;
    }
    /* every 9973rd fp32 bit pattern, plus the rounding boundaries around each half value */
    for (uint64_t u = 0; u < 0x100000000ull; u += 9973) {
        float f;
        const uint32_t bits = (uint32_t)u;
        memcpy(&f, &bits, 4);
        const uint16_t a = fc_f32_to_f16(f), b = fc_t_f32_to_f16(f);
        const uint16_t c = fc_f32_to_bf16(f), d = fc_t_f32_to_bf16(f);
        if (isnan(f)) {
            bad += (a & 0x7fffu) <= 0x7c00u || (c & 0x7fffu) <= 0x7f80u;
        } else {
            bad += a != b;
            bad += c != d;
        }
    }
    for (uint32_t h = 0; h < 0x7c00u; ++h) {
        /* midpoints between consecutive fp16 values (exact in fp32) and their neighbours */
        const double lo = fc_t_f16_to_f32((uint16_t)h), hi = h + 1 < 0x7c00u ? fc_t_f16_to_f32((uint16_t)(h + 1)) : 65536.0;
        const float mid = (float)((lo + hi) / 2);
        const float f3[3] = {nextafterf(mid, 0.0f), mid, nextafterf(mid, INFINITY)};
        for (int i = 0; i < 3; ++i)
            for (int sgn = 0; sgn < 2; ++sgn) {
                const float f = sgn ? -f3[i] : f3[i];
                bad += fc_f32_to_f16(f) != fc_t_f32_to_f16(f);
            }
    }
    printf("conversions (f16/bf16 <-> f32, library vs reference): %s (%d mismatches)\n", bad ? "FAIL" : "PASS", bad);
    return bad == 0;
}

int main(int argc, char **argv)
{
    const int only = argc > 1 ? atoi(argv[1]) : -1;
    const uint64_t seed = fc_t_fresh_seed();
    printf("test_cpu: seed %llu (reproduce with FC_TEST_SEED=%llu)\n", (unsigned long long)seed,
           (unsigned long long)seed);
    const clock_t t0 = clock();
    struct timespec w0, w1;
    timespec_get(&w0, TIME_UTC);

    int failures = 0, run = 0;
    if (only < 0 && !check_conversions())
        failures++;
    if (only < 0 && !check_reference(seed))
        failures++;

    build_grid();
    const int n_fixed = n_cases;
    add_random_cases(seed);
    for (int i = 0; i < n_cases; ++i) {
        if (only >= 0 && i != only)
            continue;
        /* per-case seed derived from the run seed, so FC_TEST_SEED reproduces every case */
        const uint64_t case_seed = seed * 0x9e3779b97f4a7c15ull + (uint64_t)i * 0xbf58476d1ce4e5b9ull + 1;
        result r;
        char desc[256];
        describe(&cases[i], desc, sizeof desc);
        run_case(&cases[i], case_seed, &r);
        run++;
        printf("case %3d%s %-64s err=%.3e lowp=%.3e", i, i >= n_fixed ? "r" : " ", desc, r.err, r.lowp_err);
        if (cases[i].lse)
            printf(" lse_err=%.2e lse_lowp=%.2e", r.lse_err, r.lse_lowp_err);
        if (r.status != FC_SUCCESS)
            printf(" status=%s (%s)", fc_status_name((fc_status)r.status), fc_last_error());
        if (r.pad_touched)
            printf(" padding_touched=%lld", (long long)r.pad_touched);
        if (r.inputs_changed)
            printf(" INPUTS_MODIFIED");
        if (r.nondeterministic)
            printf(" NONDETERMINISTIC");
        printf(" %s\n", r.ok ? "PASS" : "FAIL");
        if (!r.ok) {
            failures++;
            printf("  -> reproduce: FC_TEST_SEED=%llu %s %d\n", (unsigned long long)seed, argv[0], i);
        }
    }
    timespec_get(&w1, TIME_UTC);
    printf("test_cpu: %d cases, %d failed, %.1f s wall (%.1f s cpu), seed %llu\n", run, failures,
           (double)(w1.tv_sec - w0.tv_sec) + 1e-9 * (double)(w1.tv_nsec - w0.tv_nsec), (double)(clock() - t0) / CLOCKS_PER_SEC, (unsigned long long)seed);
    return failures ? 1 : 0;
}
