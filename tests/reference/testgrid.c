/*
 * The case grid and per-case checking shared by test_cpu and test_gpu (see testgrid.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testgrid.h"

static const char *const layout_names[FC_TG_LAYOUTS] = {"contig", "padded", "transposed", "subview"};
static const char *const lse_view_names[FC_TG_LSE_VIEWS] = {"", " lse-token-major", " lse-stride3"};

static size_t tg_esize(fc_dtype dt)
{
    return dt == FC_DTYPE_F32 ? 4u : 2u;
}

const char *fc_tg_dtype_name(fc_dtype t)
{
    return t == FC_DTYPE_F16 ? "fp16" : t == FC_DTYPE_BF16 ? "bf16" : "fp32";
}

void fc_tg_describe(const fc_tcase *c, char *buf, size_t n)
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
    len += snprintf(buf + len, n - (size_t)len, " %s", fc_tg_dtype_name(c->dtype));
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
        len += snprintf(buf + len, n - (size_t)len, " lse%s", lse_view_names[c->lse_view]);
    snprintf(buf + len, n - (size_t)len, " %s", layout_names[c->layout]);
}

/* ---- the grid ---------------------------------------------------------------------------------- */

fc_tcase *fc_tg_add(fc_tg_grid *g, int B, int Hq, int Hkv, int Sq, int Sk, int D, fc_dtype dt)
{
    if (g->n >= FC_TG_MAX_CASES) {
        fprintf(stderr, "test grid: more than %d cases (raise FC_TG_MAX_CASES)\n", FC_TG_MAX_CASES);
        exit(2);
    }
    fc_tcase *c = &g->cases[g->n++];
    memset(c, 0, sizeof *c);
    c->B = B, c->Hq = Hq, c->Hkv = Hkv, c->Sq = Sq, c->Sk = Sk, c->D = D, c->dtype = dt;
    c->wl = c->wr = -1;
    c->qscale = 1.0;
    c->lse = 1;
    return c;
}

fc_tcase *fc_tg_add_varlen(fc_tg_grid *g, int nseq, const int *lq, const int *lk, int Hq, int Hkv, int D,
                           fc_dtype dt)
{
    fc_tcase *c = fc_tg_add(g, 0, Hq, Hkv, 0, 0, D, dt);
    c->nseq = nseq;
    for (int b = 0; b < nseq; ++b)
        c->lens_q[b] = lq[b], c->lens_k[b] = lk[b];
    return c;
}

void fc_tg_add_mask_cases(fc_tg_grid *g, const int *seqs, int n_seqs, const int *dims, const fc_dtype *dts,
                          int n_dts)
{
    const fc_dtype F16 = FC_DTYPE_F16, BF16 = FC_DTYPE_BF16;
    fc_tcase *c;
    /* Sq != Sk both ways, with and without causal (bottom-right alignment; Sq > Sk leaves the
     * first Sq-Sk rows fully masked under causal: out 0, lse -inf) */
    const int sqsk[8][2] = {{1, 257}, {7, 1000}, {65, 7}, {257, 64}, {64, 1}, {1, 65}, {1000, 63}, {63, 1000}};
    for (int i = 0; i < 8; ++i)
        for (int causal = 0; causal < 2; ++causal) {
            c = fc_tg_add(g, 2, 2, 2, sqsk[i][0], sqsk[i][1], dims[(i + causal) % 5], dts[(i + causal) % n_dts]);
            c->causal = causal;
        }
    /* empty key / query sequences in the batched layout: rows with no key give 0 and -inf */
    fc_tg_add(g, 2, 2, 2, 5, 0, 64, F16);
    fc_tg_add(g, 2, 2, 1, 0, 7, 128, BF16);
    /* causal, Sq = Sk, several shapes */
    for (int s = 0; s < n_seqs; ++s) {
        c = fc_tg_add(g, 2, 3, 3, seqs[s], seqs[s], dims[(s + 1) % 5], dts[s % n_dts]);
        c->causal = 1;
    }
    /* sliding windows, incl. one-sided and degenerate (0, 0) */
    const int wins[9][2] = {{16, 0}, {0, 0}, {5, 7}, {-1, 3}, {10, -1}, {0, -1}, {-1, 0}, {100, 50}, {3, 200}};
    for (int w = 0; w < 9; ++w) {
        const int shapes[3][2] = {{257, 257}, {65, 300}, {200, 63}};
        const int *sh = shapes[w % 3];
        c = fc_tg_add(g, 1, 2, 2, sh[0], sh[1], dims[w % 5], dts[w % n_dts]);
        c->wl = wins[w][0], c->wr = wins[w][1];
    }
    c = fc_tg_add(g, 2, 2, 2, 64, 64, 64, F16), c->causal = 1, c->wl = 8; /* causal + left window */
    c = fc_tg_add(g, 1, 2, 2, 1, 1000, 128, BF16), c->wl = 31, c->wr = 0; /* decode-like row with window */
}

void fc_tg_add_gqa_cases(fc_tg_grid *g, fc_dtype wide)
{
    const fc_dtype F16 = FC_DTYPE_F16, BF16 = FC_DTYPE_BF16;
    fc_tcase *c;
    fc_tg_add(g, 1, 8, 2, 65, 65, 64, F16);
    c = fc_tg_add(g, 2, 8, 2, 257, 257, 128, BF16), c->causal = 1;
    c = fc_tg_add(g, 1, 8, 2, 63, 200, 80, wide), c->wl = 10, c->wr = 10;
    c = fc_tg_add(g, 1, 8, 1, 64, 64, 128, F16), c->causal = 1;
    fc_tg_add(g, 2, 4, 1, 7, 65, 256, BF16);
    c = fc_tg_add(g, 1, 6, 1, 1, 300, 64, F16), c->softcap = 15.0f;
}

void fc_tg_add_varlen_cases(fc_tg_grid *g, const fc_dtype wide[2])
{
    const fc_dtype F16 = FC_DTYPE_F16, BF16 = FC_DTYPE_BF16;
    const int lq1[5] = {0, 1, 65, 7, 130}, lk1[5] = {5, 0, 65, 1, 200};
    const int lq2[4] = {1, 1, 1, 1}, lk2[4] = {1, 300, 7, 0};
    const int lq3[6] = {64, 0, 0, 33, 1, 128}, lk3[6] = {64, 3, 0, 17, 1, 64};
    const int lq4[3] = {257, 9, 100}, lk4[3] = {100, 9, 257};
    const int lq5[2] = {0, 0}, lk5[2] = {4, 0};
    fc_tcase *c;
    fc_tg_add_varlen(g, 5, lq1, lk1, 2, 2, 64, F16);
    c = fc_tg_add_varlen(g, 5, lq1, lk1, 4, 2, 128, BF16), c->causal = 1;
    c = fc_tg_add_varlen(g, 5, lq1, lk1, 2, 1, 80, wide[0]), c->wl = 9, c->wr = 3, c->layout = FC_TG_PAD;
    c = fc_tg_add_varlen(g, 4, lq2, lk2, 2, 2, 8, BF16), c->causal = 1;
    c = fc_tg_add_varlen(g, 4, lq2, lk2, 3, 1, 256, F16), c->softcap = 8.0f;
    c = fc_tg_add_varlen(g, 6, lq3, lk3, 4, 4, 64, F16), c->causal = 1, c->layout = FC_TG_TRANS;
    c = fc_tg_add_varlen(g, 6, lq3, lk3, 2, 2, 128, wide[1]), c->wl = 0, c->wr = -1, c->layout = FC_TG_SUB;
    c = fc_tg_add_varlen(g, 3, lq4, lk4, 8, 2, 64, BF16), c->causal = 1, c->softcap = 25.0f;
    c = fc_tg_add_varlen(g, 3, lq4, lk4, 2, 2, 256, F16), c->wl = 40, c->wr = 8, c->layout = FC_TG_TRANS;
    fc_tg_add_varlen(g, 2, lq5, lk5, 2, 2, 64, F16); /* no query token at all */
}

static int pick(fc_rng *r, int n)
{
    return (int)(fc_rng_u64(r) % (uint64_t)n);
}

/* Shrink the batch, then the sequence lengths, until the case's work is at most max_work. */
static void bound_work(fc_tcase *c, double max_work)
{
    for (;;) {
        double work = 0;
        if (c->nseq)
            for (int b = 0; b < c->nseq; ++b)
                work += (double)c->lens_q[b] * c->lens_k[b];
        else
            work = (double)c->B * c->Sq * c->Sk;
        work *= (double)c->Hq * c->D;
        if (work <= max_work)
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

void fc_tg_add_random(fc_tg_grid *g, const fc_tg_random *s, uint64_t seed)
{
    fc_rng r = {seed ^ s->salt};
    for (int n = 0; n < s->count; ++n) {
        /* drawn one by one, in this order, so a seed always gives the same cases */
        const int hkv = 1 + pick(&r, 3), group = 1 << pick(&r, 3);
        const int D = 8 * (1 + pick(&r, 32));
        const fc_dtype dt = s->dtypes[pick(&r, s->n_dtypes)];
        const int Sk = s->seq_pool[pick(&r, s->n_seq)];
        const int Sq = s->seq_pool[pick(&r, s->n_seq)];
        const int B = 1 + pick(&r, 3);
        fc_tcase *c = fc_tg_add(g, B, hkv * group, hkv, Sq, Sk, D, dt);
        if (pick(&r, 4) == 0) { /* varlen */
            c->nseq = 1 + pick(&r, 6);
            for (int b = 0; b < c->nseq; ++b) {
                c->lens_q[b] = pick(&r, 5) == 0 ? pick(&r, 2) : pick(&r, s->max_len);
                c->lens_k[b] = pick(&r, 5) == 0 ? pick(&r, 2) : pick(&r, s->max_len);
            }
        }
        c->causal = pick(&r, 3) == 0;
        if (pick(&r, 3) == 0) {
            c->wl = pick(&r, 3) == 0 ? -1 : pick(&r, s->max_window);
            c->wr = pick(&r, 3) == 0 ? -1 : pick(&r, s->max_window);
        }
        if (pick(&r, 5) == 0)
            c->softcap = (float)(1 + pick(&r, 40));
        if (pick(&r, 6) == 0) {
            const float step = s->negative_scales && pick(&r, 4) == 0 ? -0.05f : 0.05f;
            c->scale = step * (float)(1 + pick(&r, 20));
        }
        c->qscale = pick(&r, 4) == 0 ? 3.0 : 1.0;
        c->lse = pick(&r, 4) != 0;
        c->layout = pick(&r, FC_TG_LAYOUTS);
        bound_work(c, s->max_work);
    }
}

/* ---- host views ---------------------------------------------------------------------------------- */

int fc_tg_make_view(fc_tg_view *v, fc_dtype dt, int ndim, const int64_t *shape, int layout, int pads)
{
    memset(v, 0, sizeof *v);
    int64_t mshape[FC_MAX_DIMS], pad[FC_MAX_DIMS] = {0, 0, 0, 0};
    const int64_t odd_pad[FC_MAX_DIMS] = {7, 3, 5, 0};
    const int64_t pad8[FC_MAX_DIMS] = {24, 8, 16, 0}; /* multiples of 8 elements */
    memcpy(mshape, shape, sizeof(int64_t) * (size_t)ndim);
    if (layout == FC_TG_TRANS && ndim < 3)
        layout = FC_TG_PAD;
    if (layout == FC_TG_PAD || layout == FC_TG_TRANS)
        for (int d = 0; d < ndim - 1; ++d) {
            const int i = d + FC_MAX_DIMS - ndim;
            if (pads == FC_TG_PADS_ODD)
                pad[d] = odd_pad[i];
            else
                pad[d] = dt == FC_DTYPE_F32 ? 4 * pad8[i] / 2 : pad8[i];
        }
    if (layout == FC_TG_TRANS) {
        mshape[ndim - 3] = shape[ndim - 2];
        mshape[ndim - 2] = shape[ndim - 3];
    }
    if (layout == FC_TG_SUB) {
        for (int d = 0; d < ndim - 1; ++d)
            mshape[d] += 1;
        mshape[ndim - 1] += 8;
    }
    if (!fc_t_alloc(&v->t, dt, ndim, mshape, pad, &v->nelem))
        return -1;
    v->base = v->t.data;
    fc_t_poison(v->base, dt, v->nelem);
    if (layout == FC_TG_TRANS) {
        const int64_t s = v->t.stride[ndim - 3];
        v->t.stride[ndim - 3] = v->t.stride[ndim - 2];
        v->t.stride[ndim - 2] = s;
    }
    if (layout == FC_TG_SUB) {
        int64_t off = 8;
        for (int d = 0; d < ndim - 1; ++d)
            off += v->t.stride[d];
        v->t.data = (char *)v->base + off * (int64_t)tg_esize(dt);
    }
    memcpy(v->t.shape, shape, sizeof(int64_t) * (size_t)ndim);
    return 0;
}

/* Replace the lse view v by a FC_TG_LSE_TOKEN_MAJOR or _EVERY_THIRD one (testgrid.h) of the same
 * shape. The view starts one element (pads FC_TG_PADS_ALIGNED: 16 bytes) into its poisoned
 * allocation, so a write before it shows too. Returns 0, or -1 when out of memory. */
static int tg_strided_lse(fc_tg_view *v, int kind, int pads)
{
    fc_tensor t = v->t;
    const int nd = t.ndim; /* [B, H, S] or varlen [H, T] */
    const int64_t S = t.shape[nd - 1], H = t.shape[nd - 2];
    if (kind == FC_TG_LSE_TOKEN_MAJOR) {
        t.stride[nd - 1] = H;
        t.stride[nd - 2] = 1;
        if (nd == 3)
            t.stride[0] = S * H;
    } else {
        t.stride[nd - 1] = 3;
        t.stride[nd - 2] = 3 * S + 1;
        if (nd == 3)
            t.stride[0] = t.stride[1] * H + 5;
    }
    const int64_t lead = pads == FC_TG_PADS_ALIGNED ? 4 : 1;
    int64_t last = 0, any = 1;
    for (int d = 0; d < nd; ++d) {
        last += (t.shape[d] - 1) * t.stride[d];
        any &= t.shape[d] > 0;
    }
    const int64_t nelem = (any ? last + 1 : 0) + 2 * lead;
    float *base = (float *)malloc(sizeof(float) * (size_t)nelem);
    if (!base)
        return -1;
    fc_t_poison(base, FC_DTYPE_F32, nelem);
    t.data = base + lead;
    free(v->base);
    v->t = t;
    v->base = base;
    v->nelem = nelem;
    return 0;
}

size_t fc_tg_view_bytes(const fc_tg_view *v)
{
    return (size_t)v->nelem * tg_esize(v->t.dtype);
}

/* ---- the host side of one case ------------------------------------------------------------------ */

int fc_tg_problem_init(fc_tg_problem *p, const fc_tcase *c, uint64_t seed, int pads)
{
    memset(p, 0, sizeof *p);
    fc_rng rng = {seed};
    const int varlen = c->nseq > 0;
    int max_q = 0, max_k = 0;
    for (int b = 0; b < c->nseq; ++b) {
        p->cu_q[b + 1] = p->cu_q[b] + c->lens_q[b];
        p->cu_k[b + 1] = p->cu_k[b] + c->lens_k[b];
        max_q = c->lens_q[b] > max_q ? c->lens_q[b] : max_q;
        max_k = c->lens_k[b] > max_k ? c->lens_k[b] : max_k;
    }
    const int64_t tq = varlen ? p->cu_q[c->nseq] : (int64_t)c->B * c->Sq;
    const int64_t tk = varlen ? p->cu_k[c->nseq] : (int64_t)c->B * c->Sk;
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
    p->tq = tq;

    /* inputs use the case's layout in different flavours so q/k/v/o strides all differ */
    const int l = c->layout;
    if (fc_tg_make_view(&p->q, c->dtype, nd, qshape, l, pads) ||
        fc_tg_make_view(&p->k, c->dtype, nd, kshape, l == FC_TG_CONTIG ? FC_TG_CONTIG : (l % 3) + 1, pads) ||
        fc_tg_make_view(&p->v, c->dtype, nd, kshape, l, pads) ||
        fc_tg_make_view(&p->o, c->dtype, nd, qshape, l == FC_TG_CONTIG ? FC_TG_CONTIG : ((l + 1) % 3) + 1, pads) ||
        (c->lse && fc_tg_make_view(&p->lse, FC_DTYPE_F32, nd - 1, lshape, l == FC_TG_TRANS ? FC_TG_SUB : l, pads)) ||
        (c->lse && c->lse_view != FC_TG_LSE_LAYOUT && tg_strided_lse(&p->lse, c->lse_view, pads))) {
        fc_tg_problem_free(p);
        return -1;
    }
    fc_t_fill_random(&p->q.t, &rng, c->qscale);
    fc_t_fill_random(&p->k.t, &rng, 1.0);
    fc_t_fill_random(&p->v.t, &rng, 1.0);

    fc_attention_params_init(&p->prm);
    p->prm.softmax_scale = c->scale;
    p->prm.causal = c->causal;
    p->prm.window_left = c->wl;
    p->prm.window_right = c->wr;
    p->prm.softcap = c->softcap;
    if (varlen) {
        p->prm.cu_seqlens_q = p->cu_q;
        p->prm.cu_seqlens_k = p->cu_k;
        p->prm.num_seqs = c->nseq;
        p->prm.max_seqlen_q = max_q;
        p->prm.max_seqlen_k = max_k;
    }
    return 0;
}

void fc_tg_problem_free(fc_tg_problem *p)
{
    free(p->q.base);
    free(p->k.base);
    free(p->v.base);
    free(p->o.base);
    free(p->lse.base);
    p->q.base = p->k.base = p->v.base = p->o.base = p->lse.base = NULL;
}

static uint64_t checksum(const fc_tg_view *v)
{
    const unsigned char *b = (const unsigned char *)v->base;
    const size_t n = fc_tg_view_bytes(v);
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < n; ++i)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

uint64_t fc_tg_inputs_checksum(const fc_tg_problem *p)
{
    return checksum(&p->q) ^ (checksum(&p->k) * 3) ^ (checksum(&p->v) * 7);
}

int fc_tg_save_and_poison(fc_tg_problem *p, fc_tg_saved *s)
{
    const int lse = p->lse.base != NULL;
    s->o = malloc(fc_tg_view_bytes(&p->o));
    s->lse = lse ? malloc(fc_tg_view_bytes(&p->lse)) : NULL;
    if (!s->o || (lse && !s->lse)) {
        free(s->o);
        free(s->lse);
        s->o = s->lse = NULL;
        return -1;
    }
    memcpy(s->o, p->o.base, fc_tg_view_bytes(&p->o));
    fc_t_poison(p->o.base, p->o.t.dtype, p->o.nelem);
    if (lse) {
        memcpy(s->lse, p->lse.base, fc_tg_view_bytes(&p->lse));
        fc_t_poison(p->lse.base, FC_DTYPE_F32, p->lse.nelem);
    }
    return 0;
}

int fc_tg_outputs_differ(const fc_tg_problem *p, fc_tg_saved *s)
{
    const int differ = memcmp(s->o, p->o.base, fc_tg_view_bytes(&p->o)) != 0 ||
                       (p->lse.base && memcmp(s->lse, p->lse.base, fc_tg_view_bytes(&p->lse)) != 0);
    free(s->o);
    free(s->lse);
    s->o = s->lse = NULL;
    return differ;
}

int fc_tg_judge(const fc_tcase *c, const fc_tg_problem *p, fc_tg_result *r)
{
    const int64_t n_out = p->tq * c->Hq * c->D, n_lse = p->tq * c->Hq;
    double *ref = (double *)malloc(sizeof(double) * (size_t)(n_out + 1));
    double *low = (double *)malloc(sizeof(double) * (size_t)(n_out + 1));
    double *ref_lse = (double *)malloc(sizeof(double) * (size_t)(n_lse + 1));
    double *low_lse = (double *)malloc(sizeof(double) * (size_t)(n_lse + 1));
    if (!ref || !low || !ref_lse || !low_lse) {
        free(ref);
        free(low);
        free(ref_lse);
        free(low_lse);
        return -1;
    }
    int ref_rc = fc_ref_forward(&p->q.t, &p->k.t, &p->v.t, &p->prm, FC_REF_F64, ref, ref_lse);
    ref_rc |= fc_ref_forward(&p->q.t, &p->k.t, &p->v.t, &p->prm, FC_REF_LOWP, low, low_lse);

    r->err = fc_t_max_abs_err(&p->o.t, ref);
    r->lowp_err = fc_t_max_abs_diff(low, ref, n_out);
    r->lse_err = r->lse_lowp_err = 0.0;
    r->pad_touched = fc_t_padding_changed(p->o.base, p->o.nelem, &p->o.t);
    int lse_ok = 1;
    if (c->lse) {
        r->lse_err = fc_t_max_abs_err_lse(&p->lse.t, ref_lse);
        r->lse_lowp_err = fc_t_max_abs_diff(low_lse, ref_lse, n_lse);
        lse_ok = fc_t_passes_lse(r->lse_err, r->lse_lowp_err, ref_lse, n_lse);
        const int64_t t = fc_t_padding_changed(p->lse.base, p->lse.nelem, &p->lse.t);
        r->pad_touched = t < 0 || r->pad_touched < 0 ? -1 : r->pad_touched + t;
    }
    r->ok = r->status == FC_SUCCESS && ref_rc == 0 && fc_t_passes(r->err, r->lowp_err, c->dtype) && lse_ok &&
            r->pad_touched == 0 && !r->inputs_changed && !r->nondeterministic;

    free(ref);
    free(low);
    free(ref_lse);
    free(low_lse);
    return 0;
}
