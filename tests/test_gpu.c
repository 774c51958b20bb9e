/*
 * CUDA backend vs the float64 reference, through the public API only (device memory from
 * fc_cuda_malloc, copies with fc_cuda_memcpy). For every case:
 *   - fresh random inputs; outputs (and every gap of strided views) poisoned with NaN on the device;
 *   - out:  max |out - ref_f64| <= 2 * max |ref_lowp - ref_f64| + eps(dtype)   (fc_t_passes)
 *   - lse:  fc_t_passes_lse (the same rule with an fp32-sized epsilon relative to |lse|); -inf
 *           rows must match exactly
 *   - every element of out / lse written, nothing outside the views touched, inputs unchanged;
 *   - deterministic: a second call on re-poisoned outputs gives the same bits.
 * The grid follows the CPU test's (seqlens 1..1000, Sq != Sk both ways, head dims 8..256, causal,
 * windows, softcap, GQA/MQA, varlen with empty and length-1 sequences, lse, strided views) with the
 * GPU's tile and split-KV boundaries added, then two large shapes: S = 16k (reference on the last
 * rows, which bottom-right alignment makes a valid sub-problem) and a q/out of more than 2^31
 * elements (64-bit indexing; reference on a few sequences spread over the batch).
 *
 * FC_TEST_QUICK=1: a small grid for compute-sanitizer runs (no large shapes).
 * FC_TEST_ONLY_16K=1: only the two S=16k shapes (many seeds of the 16k-key lse check, cheaply).
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
#include "testgrid.h"

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

/* ---- device mirrors of the shared host views (testgrid.h) ---------------------------------- */

typedef struct dev_view {
    void *base;  /* device allocation of the host allocation's size */
    fc_tensor t; /* the host view's twin on the device */
} dev_view;

static void to_device(dev_view *d, const fc_tg_view *h)
{
    if (!d->base)
        check_fc(fc_cuda_malloc(&d->base, fc_tg_view_bytes(h), 0), "fc_cuda_malloc");
    check_fc(fc_cuda_memcpy(d->base, h->base, fc_tg_view_bytes(h), FC_MEMCPY_H2D), "fc_cuda_memcpy H2D");
    d->t = h->t;
    d->t.data = (char *)d->base + ((char *)h->t.data - (char *)h->base);
    d->t.device = FC_DEVICE_CUDA;
    d->t.device_ordinal = 0;
}

static void from_device(fc_tg_view *h, const dev_view *d)
{
    check_fc(fc_cuda_memcpy(h->base, d->base, fc_tg_view_bytes(h), FC_MEMCPY_D2H), "fc_cuda_memcpy D2H");
}

/* A contiguous host view with its device mirror (large shapes, workspace checks). */
static int make_pair(fc_tg_view *h, dev_view *d, fc_dtype dt, int ndim, const int64_t *shape)
{
    memset(d, 0, sizeof *d);
    return fc_tg_make_view(h, dt, ndim, shape, FC_TG_CONTIG, FC_TG_PADS_ALIGNED);
}

static void free_pair(fc_tg_view *h, dev_view *d)
{
    free(h->base);
    fc_cuda_free(d->base);
}

/* ---- one case: the shared host problem, mirrored on the device ------------------------------- */

static int run_case(const fc_tcase *c, uint64_t seed, fc_tg_result *r, size_t *workspace)
{
    memset(r, 0, sizeof *r);
    fc_tg_problem p;
    if (fc_tg_problem_init(&p, c, seed, FC_TG_PADS_ALIGNED))
        die("out of host memory");
    dev_view q, k, v, o, lse;
    memset(&q, 0, sizeof q), memset(&k, 0, sizeof k), memset(&v, 0, sizeof v);
    memset(&o, 0, sizeof o), memset(&lse, 0, sizeof lse);
    to_device(&q, &p.q);
    to_device(&k, &p.k);
    to_device(&v, &p.v);
    to_device(&o, &p.o);
    if (c->lse)
        to_device(&lse, &p.lse);
    const uint64_t sum_in = fc_tg_inputs_checksum(&p);

    fc_attention_params prm = p.prm; /* device cu_seqlens for the call, host ones (p.prm) for the reference */
    void *d_cu = NULL;
    if (c->nseq > 0) {
        check_fc(fc_cuda_malloc(&d_cu, sizeof p.cu_q + sizeof p.cu_k, 0), "fc_cuda_malloc");
        check_fc(fc_cuda_memcpy(d_cu, p.cu_q, sizeof p.cu_q, FC_MEMCPY_H2D), "cu_seqlens H2D");
        check_fc(fc_cuda_memcpy((char *)d_cu + sizeof p.cu_q, p.cu_k, sizeof p.cu_k, FC_MEMCPY_H2D), "cu_seqlens H2D");
        prm.cu_seqlens_q = (const int32_t *)d_cu;
        prm.cu_seqlens_k = (const int32_t *)((char *)d_cu + sizeof p.cu_q);
    }
    const fc_tensor *dl = c->lse ? &lse.t : NULL;

    size_t ws = 0;
    void *d_ws = NULL;
    r->status = fc_attention_workspace_size(&q.t, &k.t, &v.t, &o.t, dl, &prm, &ws);
    *workspace = ws;
    if (r->status == FC_SUCCESS && ws > 0)
        check_fc(fc_cuda_malloc(&d_ws, ws, 0), "fc_cuda_malloc workspace");
    if (r->status == FC_SUCCESS)
        r->status = fc_attention_forward(&q.t, &k.t, &v.t, &o.t, dl, &prm, d_ws, ws, NULL);
    check_fc(fc_cuda_synchronize(0), "kernel execution");

    /* second call on re-poisoned outputs: same bits or it is a race */
    from_device(&p.o, &o);
    if (c->lse)
        from_device(&p.lse, &lse);
    fc_tg_saved saved;
    if (fc_tg_save_and_poison(&p, &saved))
        die("out of host memory");
    to_device(&o, &p.o);
    if (c->lse)
        to_device(&lse, &p.lse);
    const int st2 = fc_attention_forward(&q.t, &k.t, &v.t, &o.t, dl, &prm, d_ws, ws, NULL);
    check_fc(fc_cuda_synchronize(0), "kernel execution");
    from_device(&p.o, &o);
    if (c->lse)
        from_device(&p.lse, &lse);
    r->nondeterministic = fc_tg_outputs_differ(&p, &saved) || st2 != r->status;
    from_device(&p.q, &q);
    from_device(&p.k, &k);
    from_device(&p.v, &v);
    r->inputs_changed = fc_tg_inputs_checksum(&p) != sum_in;

    if (fc_tg_judge(c, &p, r))
        die("out of host memory");

    fc_tg_problem_free(&p);
    fc_cuda_free(q.base);
    fc_cuda_free(k.base);
    fc_cuda_free(v.base);
    fc_cuda_free(o.base);
    fc_cuda_free(lse.base);
    fc_cuda_free(d_cu);
    fc_cuda_free(d_ws);
    return r->ok;
}

/* ---- the grid ---------------------------------------------------------------------------- */

static fc_tg_grid grid;

/* Small-grid split paths, in both grids:
 * - Hopper query-row split with the K/V ring wrapping: hd 64, 9 key blocks (5 and 4 per warpgroup
 *   over 4 stages; portable: split-KV, the combine writes a token-major lse); hd 128 causal with
 *   Sq > Sk (2 stages, up to 4 blocks; rows 0..49 fully masked inside a non-empty tile);
 * - portable one-warp key groups (sm_90, hd <= 64: 32-row CTAs filling one wave, 8 groups with one
 *   or two 64-key blocks each; on the Hopper kernel query-row split cases): 8 blocks, causal with
 *   Sq < Sk; 11 blocks, GQA, hd 48 padded to 64, token-major lse. */
static void add_split_path_cases(fc_tg_grid *g)
{
    fc_tcase *c = fc_tg_add(g, 1, 2, 1, 64, 1100, 64, FC_DTYPE_F16);
    c->lse_view = FC_TG_LSE_TOKEN_MAJOR;
    c = fc_tg_add(g, 1, 2, 2, 450, 400, 128, FC_DTYPE_BF16);
    c->causal = 1;
    c = fc_tg_add(g, 1, 8, 8, 500, 510, 64, FC_DTYPE_BF16);
    c->causal = 1;
    c = fc_tg_add(g, 1, 4, 2, 1000, 700, 48, FC_DTYPE_F16);
    c->lse_view = FC_TG_LSE_TOKEN_MAJOR;
}

/* Small grid for the sanitizers: every feature and code path once, tiny shapes. */
static void build_quick_grid(fc_tg_grid *g)
{
    const fc_dtype F16 = FC_DTYPE_F16, BF16 = FC_DTYPE_BF16;
    fc_tcase *c;
    c = fc_tg_add(g, 1, 2, 2, 65, 65, 64, F16); /* portable on sm_90: key-group split (elsewhere split-KV) */
    c = fc_tg_add(g, 2, 8, 2, 130, 70, 128, BF16), c->causal = 1;                    /* GQA, causal, tails */
    c = fc_tg_add(g, 1, 2, 1, 7, 300, 96, F16), c->wl = 20, c->wr = 5;               /* window, hd 96 (padded 80..96) */
    c = fc_tg_add(g, 1, 2, 2, 129, 129, 256, BF16), c->softcap = 10.0f, c->layout = FC_TG_PAD;
    c = fc_tg_add(g, 1, 2, 2, 64, 64, 192, F16), c->causal = 1, c->layout = FC_TG_TRANS; /* hd 192 */
    c = fc_tg_add(g, 2, 2, 2, 5, 0, 64, F16);                                        /* no keys */
    c = fc_tg_add(g, 1, 2, 2, 33, 33, 8, BF16), c->scale = -0.4f, c->layout = FC_TG_SUB; /* negative scale, hd 8 */
    c = fc_tg_add(g, 3, 64, 64, 65, 65, 64, F16); /* unsplit (grid >= SMs); portable on sm_90: short-key-range tile */
    c = fc_tg_add(g, 2, 70, 10, 100, 300, 256, BF16), c->causal = 1; /* the same at hd 256 (140 table CTAs) */
    {
        const int lq[5] = {0, 1, 65, 7, 130}, lk[5] = {5, 0, 65, 1, 200};
        c = fc_tg_add_varlen(g, 5, lq, lk, 4, 2, 128, BF16), c->causal = 1;
        c = fc_tg_add_varlen(g, 5, lq, lk, 2, 2, 64, F16), c->wl = 9, c->wr = 3, c->layout = FC_TG_PAD;
        c = fc_tg_add_varlen(g, 5, lq, lk, 4, 2, 64, F16), c->causal = 1; /* token-major lse */
        c->lse_view = FC_TG_LSE_TOKEN_MAJOR;
    }
    /* key-group split (sm_90) or split-KV */
    c = fc_tg_add(g, 1, 2, 2, 65, 65, 64, BF16), c->lse_view = FC_TG_LSE_TOKEN_MAJOR;
    c = fc_tg_add(g, 3, 64, 64, 65, 65, 128, F16), c->lse_view = FC_TG_LSE_TOKEN_MAJOR; /* unsplit */
    /* Key-group split (portable, hd <= 64) with 9-16 key blocks: with Sq = 33 (144 CTAs of 32 rows,
     * more than one wave) config 11, each of its 4 groups refilling its 2-stage K/V ring (only with
     * many heads of short rows, where split-KV would double up CTAs); with Sq = 16 (72 CTAs of 32
     * rows) the one-warp groups of config 12, 10 blocks over 8 groups */
    c = fc_tg_add(g, 1, 72, 8, 33, 600, 64, BF16), c->causal = 1;
    c = fc_tg_add(g, 1, 72, 8, 16, 600, 64, BF16), c->causal = 1;
    add_split_path_cases(g);
}

static void build_grid(fc_tg_grid *g)
{
    const fc_dtype F16 = FC_DTYPE_F16, BF16 = FC_DTYPE_BF16;
    const fc_dtype dts[2] = {F16, BF16};
    const int dims[5] = {8, 64, 80, 128, 256};
    const int seqs[7] = {1, 7, 63, 64, 65, 257, 1000};
    fc_tcase *c;

    /* plain attention: every seqlen x every head dim, dtypes alternating */
    for (int s = 0; s < 7; ++s)
        for (int d = 0; d < 5; ++d) {
            c = fc_tg_add(g, seqs[s] < 64 ? 2 : 1, 2, 2, seqs[s], seqs[s], dims[d], dts[(s + d) % 2]);
            c->lse = (s + d) % 2 == 0;
        }
    /* every compiled head dim and the ones padded to it (96, 192 and 8..256 in between) */
    const int more_dims[8] = {16, 32, 48, 96, 112, 160, 192, 240};
    for (int d = 0; d < 8; ++d) {
        c = fc_tg_add(g, 1, 3, 3, 200, 200, more_dims[d], dts[d % 2]), c->causal = d % 2;
        c = fc_tg_add(g, 2, 2, 1, 70, 130, more_dims[d], dts[(d + 1) % 2]), c->wl = 40, c->wr = 7;
    }
    /* tile boundaries: query tiles of 64/128 rows, key tiles of 32/64 */
    const int edges[8] = {31, 32, 33, 127, 128, 129, 191, 193};
    for (int e = 0; e < 8; ++e) {
        c = fc_tg_add(g, 1, 2, 2, edges[e], edges[7 - e], dims[1 + e % 4], dts[e % 2]);
        c->causal = e % 2;
    }
    /* split-KV and unsplit grids of the same shape (grid below / above the SM count) */
    c = fc_tg_add(g, 1, 1, 1, 2000, 2000, 64, F16);
    c = fc_tg_add(g, 1, 1, 1, 2000, 2000, 128, BF16), c->causal = 1;
    c = fc_tg_add(g, 1, 4, 1, 17, 3000, 256, F16);
    c = fc_tg_add(g, 4, 40, 40, 129, 129, 64, BF16), c->causal = 1;
    c = fc_tg_add(g, 3, 48, 16, 200, 300, 128, F16), c->wl = 50, c->wr = 20;
    /* masks: Sq != Sk, empty sequences, causal Sq = Sk, sliding windows (testgrid.c) */
    fc_tg_add_mask_cases(g, seqs, 7, dims, dts, 2);
    c = fc_tg_add(g, 1, 2, 2, 1000, 1000, 64, BF16), c->wl = 70, c->wr = 70;
    c = fc_tg_add(g, 1, 2, 2, 900, 1000, 128, F16), c->wl = 2000000000, c->wr = 2000000000; /* huge = unbounded */
    /* softcap */
    c = fc_tg_add(g, 2, 2, 2, 65, 65, 64, F16), c->softcap = 30.0f;
    c = fc_tg_add(g, 1, 2, 2, 257, 129, 128, BF16), c->softcap = 5.0f, c->causal = 1, c->qscale = 3.0;
    c = fc_tg_add(g, 1, 4, 2, 100, 100, 80, F16), c->softcap = 2.0f, c->wl = 20, c->wr = 5;
    c = fc_tg_add(g, 1, 2, 2, 63, 63, 256, F16), c->softcap = 10.0f, c->scale = 0.5f;
    c = fc_tg_add(g, 1, 2, 2, 300, 300, 96, BF16), c->softcap = 50.0f, c->scale = -0.2f;
    /* custom (also negative) scales and peaky inputs */
    c = fc_tg_add(g, 2, 2, 2, 65, 65, 64, BF16), c->scale = 0.3f, c->qscale = 4.0;
    c = fc_tg_add(g, 1, 2, 2, 128, 128, 128, F16), c->qscale = 3.0, c->causal = 1;
    c = fc_tg_add(g, 1, 2, 2, 65, 65, 64, F16), c->scale = 1.5f;
    c = fc_tg_add(g, 1, 2, 2, 200, 200, 64, F16), c->scale = -0.125f;
    c = fc_tg_add(g, 1, 2, 2, 200, 150, 128, BF16), c->scale = -0.1f, c->causal = 1;
    /* GQA and MQA (testgrid.c; fp16 where the CPU test has fp32) */
    fc_tg_add_gqa_cases(g, F16);
    c = fc_tg_add(g, 1, 32, 4, 1, 3000, 128, BF16); /* decode-like */
    /* varlen: the shared cases (no fp32 here: fp16 and bf16 instead), then long sequences */
    {
        const fc_dtype wide[2] = {F16, BF16};
        fc_tg_add_varlen_cases(g, wide);
        const int lq6[8] = {500, 1, 129, 0, 300, 64, 2, 1000}, lk6[8] = {500, 700, 129, 9, 1, 64, 2, 1000};
        c = fc_tg_add_varlen(g, 8, lq6, lk6, 4, 1, 192, BF16), c->causal = 1;
        c = fc_tg_add_varlen(g, 8, lq6, lk6, 2, 2, 96, F16), c->scale = -0.3f;
    }
    /* strided layouts */
    for (int l = FC_TG_PAD; l < FC_TG_LAYOUTS; ++l) {
        c = fc_tg_add(g, 2, 4, 2, 65, 33, dims[l], dts[l % 2]), c->layout = l;
        c = fc_tg_add(g, 2, 2, 2, 1, 1, dims[(l + 2) % 5], dts[(l + 1) % 2]), c->layout = l;
        c = fc_tg_add(g, 1, 3, 3, 130, 130, 128, dts[(l + 2) % 2]), c->layout = l, c->causal = 1;
        c = fc_tg_add(g, 2, 2, 1, 100, 70, 64, dts[l % 2]), c->layout = l, c->wl = 12, c->wr = 4, c->softcap = 9.0f;
        c = fc_tg_add(g, 1, 2, 2, 300, 300, 256, dts[l % 2]), c->layout = l, c->causal = l % 2;
    }
    /* token-major lse (a strided last dim): split-KV and unsplit grids, windows, varlen */
    c = fc_tg_add(g, 1, 2, 2, 300, 300, 64, F16), c->lse_view = FC_TG_LSE_TOKEN_MAJOR;
    c = fc_tg_add(g, 1, 2, 2, 1000, 1000, 128, BF16), c->causal = 1, c->lse_view = FC_TG_LSE_TOKEN_MAJOR;
    c = fc_tg_add(g, 4, 40, 8, 129, 200, 64, BF16), c->wl = 30, c->wr = 2, c->lse_view = FC_TG_LSE_TOKEN_MAJOR;
    c = fc_tg_add(g, 2, 16, 16, 257, 257, 256, F16), c->softcap = 20.0f, c->lse_view = FC_TG_LSE_TOKEN_MAJOR;
    {
        const int lq[5] = {0, 1, 65, 7, 130}, lk[5] = {5, 0, 65, 1, 200};
        c = fc_tg_add_varlen(g, 5, lq, lk, 8, 2, 128, BF16), c->causal = 1, c->lse_view = FC_TG_LSE_TOKEN_MAJOR;
    }
    /* Key-group split (portable, hd <= 64) with 9-16 key blocks (3-4 per group, the ring refilled):
     * taken only for many heads of rows <= 64, where split-KV would put two CTAs on an SM */
    c = fc_tg_add(g, 1, 80, 8, 33, 1000, 64, F16);
    c = fc_tg_add(g, 2, 40, 40, 64, 777, 32, BF16), c->causal = 1;
    c = fc_tg_add(g, 1, 96, 12, 50, 900, 64, F16), c->wl = 600, c->wr = 0;
    {
        const int lq[4] = {64, 1, 40, 0}, lk[4] = {1000, 700, 513, 900};
        c = fc_tg_add_varlen(g, 4, lq, lk, 24, 8, 64, BF16), c->causal = 1;
    }
    /* the short-key-range tiles (portable, sm_90: grids of >= 1 CTA per SM with few keys per query
     * tile): hd 64 causal with Sq != Sk, hd 192 not causal with 500 keys */
    c = fc_tg_add(g, 2, 70, 10, 300, 520, 64, F16), c->causal = 1;
    c = fc_tg_add(g, 3, 24, 8, 130, 500, 192, BF16);
    add_split_path_cases(g);
}

/* Random cases from the run's seed: features mixed freely, bounded work. */
static void add_random_cases(uint64_t seed)
{
    static const fc_dtype dts[2] = {FC_DTYPE_F16, FC_DTYPE_BF16};
    static const int seq_pool[14] = {1, 2, 7, 15, 31, 63, 64, 65, 100, 129, 200, 300, 513, 777};
    const fc_tg_random spec = {
        .count = 40, .salt = 0x6a11ull, .seq_pool = seq_pool, .n_seq = 14, .dtypes = dts, .n_dtypes = 2,
        .max_len = 300, .max_window = 140, .negative_scales = 1, .max_work = 6.0e7,
    };
    fc_tg_add_random(&grid, &spec, seed);
}

/* ---- small dedicated checks: one q/k/v/o problem on host and device -------------------------- */

typedef struct {
    fc_tg_view q, k, v, o;
    dev_view q_d, k_d, v_d, o_d;
} qkvo;

/* Random q/k/v (shapes qshape / kshape), NaN-poisoned o, all mirrored on the device. */
static void qkvo_make(qkvo *x, fc_dtype dt, const int64_t *qshape, const int64_t *kshape, uint64_t seed)
{
    fc_rng rng = {seed};
    if (make_pair(&x->q, &x->q_d, dt, 4, qshape) || make_pair(&x->k, &x->k_d, dt, 4, kshape) ||
        make_pair(&x->v, &x->v_d, dt, 4, kshape) || make_pair(&x->o, &x->o_d, dt, 4, qshape))
        die("out of host memory");
    fc_t_fill_random(&x->q.t, &rng, 1.0);
    fc_t_fill_random(&x->k.t, &rng, 1.0);
    fc_t_fill_random(&x->v.t, &rng, 1.0);
    to_device(&x->q_d, &x->q);
    to_device(&x->k_d, &x->k);
    to_device(&x->v_d, &x->v);
    to_device(&x->o_d, &x->o);
}

static void qkvo_free(qkvo *x)
{
    free_pair(&x->q, &x->q_d);
    free_pair(&x->k, &x->k_d);
    free_pair(&x->v, &x->v_d);
    free_pair(&x->o, &x->o_d);
}

/* Fetch o and judge it against the float64 reference of (q, k, v, prm) by the correctness rule. */
static int qkvo_judge(qkvo *x, const fc_tensor *k, const fc_tensor *v, const fc_attention_params *prm,
                      double *err, double *lowp_err)
{
    from_device(&x->o, &x->o_d);
    const int64_t n = x->q.t.shape[0] * x->q.t.shape[1] * x->q.t.shape[2] * x->q.t.shape[3];
    double *ref = (double *)malloc(sizeof(double) * (size_t)n), *lowp = (double *)malloc(sizeof(double) * (size_t)n);
    if (!ref || !lowp)
        die("out of host memory");
    fc_ref_forward(&x->q.t, k, v, prm, FC_REF_F64, ref, NULL);
    fc_ref_forward(&x->q.t, k, v, prm, FC_REF_LOWP, lowp, NULL);
    *err = fc_t_max_abs_err(&x->o.t, ref);
    *lowp_err = fc_t_max_abs_diff(lowp, ref, n);
    free(ref);
    free(lowp);
    return fc_t_passes(*err, *lowp_err, x->q.t.dtype);
}

/* The workspace is optional (a smaller one runs the unsplit plan), and a size without memory is an
 * error that writes nothing. */
static int check_workspace_fallback(uint64_t seed)
{
    const int64_t shape[4] = {1, 1000, 2, 64};
    qkvo x;
    qkvo_make(&x, FC_DTYPE_F16, shape, shape, seed ^ 0x77ull);
    size_t ws = 0;
    check_fc(fc_attention_workspace_size(&x.q_d.t, &x.k_d.t, &x.v_d.t, &x.o_d.t, NULL, NULL, &ws), "workspace size");
    /* a size with no memory behind it: an error, nothing written */
    fc_status s = fc_attention_forward(&x.q_d.t, &x.k_d.t, &x.v_d.t, &x.o_d.t, NULL, NULL, NULL, ws + 256, NULL);
    check_fc(fc_cuda_synchronize(0), "synchronize");
    from_device(&x.o, &x.o_d);
    int64_t written = 0;
    for (int64_t i = 0; i < x.o.nelem; ++i)
        written += !isnan(fc_t_load(x.o.base, FC_DTYPE_F16, i));
    const int ok = s == FC_ERROR_NULL_POINTER && written == 0;
    printf("workspace NULL with size %zu: %s, %lld outputs written: %s\n", ws + 256, fc_status_name(s),
           (long long)written, ok ? "PASS" : "FAIL");
    /* no workspace at all: the plan that needs none, correct */
    s = fc_attention_forward(&x.q_d.t, &x.k_d.t, &x.v_d.t, &x.o_d.t, NULL, NULL, NULL, 0, NULL);
    check_fc(fc_cuda_synchronize(0), "synchronize");
    double err, lowp_err;
    const int ok2 = qkvo_judge(&x, &x.k.t, &x.v.t, NULL, &err, &lowp_err) && s == FC_SUCCESS;
    printf("no workspace (queried %zu bytes): %s, err %.3g (lowp %.3g): %s\n", ws, fc_status_name(s), err, lowp_err,
           ok2 ? "PASS" : "FAIL");
    qkvo_free(&x);
    return ok && ok2;
}

/* Broadcast K/V (a zero head stride, as torch's expand makes): TMA cannot read it, so the Hopper
 * path must hand it to the portable kernel; the result must match the reference. */
static int check_broadcast_kv(uint64_t seed)
{
    enum { B = 2, S = 100, H = 4, D = 64 };
    const int64_t qshape[4] = {B, S, H, D}, kshape[4] = {B, S, 1, D};
    qkvo x;
    qkvo_make(&x, FC_DTYPE_BF16, qshape, kshape, seed ^ 0xb0adull);
    /* the same memory seen as H heads with a zero head stride, on host and device */
    fc_tensor kb = x.k.t, vb = x.v.t, kb_d = x.k_d.t, vb_d = x.v_d.t;
    kb.shape[2] = vb.shape[2] = kb_d.shape[2] = vb_d.shape[2] = H;
    kb.stride[2] = vb.stride[2] = kb_d.stride[2] = vb_d.stride[2] = 0;
    fc_attention_params prm;
    fc_attention_params_init(&prm);
    prm.causal = 1;
    const fc_status s = fc_attention_forward(&x.q_d.t, &kb_d, &vb_d, &x.o_d.t, NULL, &prm, NULL, 0, NULL);
    check_fc(fc_cuda_synchronize(0), "kernel execution");
    double err, lowp_err;
    const int ok = qkvo_judge(&x, &kb, &vb, &prm, &err, &lowp_err) && s == FC_SUCCESS;
    printf("broadcast K/V (head stride 0): %s, err %.3g (lowp %.3g): %s\n", fc_status_name(s), err, lowp_err,
           ok ? "PASS" : "FAIL");
    qkvo_free(&x);
    return ok;
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
    const int ok = rc == 0 && fc_t_passes(err, lowp, q->dtype) && fc_t_passes_lse(lerr, llow, rl, nl);
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
    fc_tg_view q, k, v, o, l;
    dev_view q_d, k_d, v_d, o_d, l_d;
    if (make_pair(&q, &q_d, dt, 4, qsh) || make_pair(&k, &k_d, dt, 4, ksh) ||
        make_pair(&v, &v_d, dt, 4, ksh) || make_pair(&o, &o_d, dt, 4, qsh) ||
        make_pair(&l, &l_d, FC_DTYPE_F32, 3, lsh)) {
        printf("%s: SKIP (not enough host memory)\n", name);
        return 1;
    }
    const fc_tg_view *in[3] = {&q, &k, &v};
    const int periods[3] = {period ? period : B, period ? period - 2 : B, period ? period - 4 : B};
    for (int t = 0; t < 3; ++t) {
        fc_tensor first = in[t]->t;
        first.shape[0] = periods[t] < B ? periods[t] : B;
        fc_t_fill_random(&first, &rng, 1.0);
        const int64_t per_b = in[t]->t.stride[0] * 2;
        for (int64_t b = first.shape[0]; b < B; ++b)
            memcpy((char *)in[t]->base + b * per_b, (char *)in[t]->base + (b % periods[t]) * per_b, (size_t)per_b);
    }
    to_device(&q_d, &q);
    to_device(&k_d, &k);
    to_device(&v_d, &v);
    to_device(&o_d, &o);
    to_device(&l_d, &l);
    fc_attention_params prm;
    fc_attention_params_init(&prm);
    prm.causal = causal;
    size_t ws = 0;
    void *d_ws = NULL;
    check_fc(fc_attention_workspace_size(&q_d.t, &k_d.t, &v_d.t, &o_d.t, &l_d.t, &prm, &ws), "workspace size");
    if (ws)
        check_fc(fc_cuda_malloc(&d_ws, ws, 0), "workspace");
    const fc_status s = fc_attention_forward(&q_d.t, &k_d.t, &v_d.t, &o_d.t, &l_d.t, &prm, d_ws, ws, NULL);
    check_fc(fc_cuda_synchronize(0), "kernel execution");
    from_device(&o, &o_d);
    from_device(&l, &l_d);
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
           name, B, S, Hq, Hkv, D, fc_tg_dtype_name(dt), causal ? " causal" : "", (double)q.nelem, fc_status_name(s),
           (long long)bad_o, (long long)bad_l, err, lowp, lerr, llow, n_check_b, ok ? "PASS" : "FAIL");
    free_pair(&q, &q_d);
    free_pair(&k, &k_d);
    free_pair(&v, &v_d);
    free_pair(&o, &o_d);
    free_pair(&l, &l_d);
    fc_cuda_free(d_ws);
    return ok;
}

/* The two 16k-key shapes (256 key tiles per row: where a per-tile bias in the running sum shows in
 * lse); returns the number of failures. */
static int run_16k(uint64_t seed)
{
    const int64_t b0[1] = {0};
    int f = !run_large("S=16k causal", 1, 16384, 4, 1, 128, FC_DTYPE_BF16, 1, 0, b0, 1, 64, seed + 1);
    f += !run_large("S=16k", 1, 16384, 2, 2, 64, FC_DTYPE_F16, 0, 0, b0, 1, 32, seed + 2);
    return f;
}

int main(int argc, char **argv)
{
    /* One line at a time even into a file: a run killed by a time cap (gpu-check, sanitizers) then
     * shows the last case it finished. */
    setvbuf(stdout, NULL, _IOLBF, 0);
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

    /* FC_TEST_ONLY_16K=1: only the two S=16k checks (the lse drift over 256 key tiles), for
     * running many seeds cheaply. */
    const int only_16k = getenv("FC_TEST_ONLY_16K") && atoi(getenv("FC_TEST_ONLY_16K")) != 0;
    if (only_16k) {
        const int f = run_16k(seed);
        printf("test_gpu: %s (%d failure%s)\n", f ? "FAIL" : "PASS", f, f == 1 ? "" : "s");
        return f ? 1 : 0;
    }
    if (quick) {
        build_quick_grid(&grid);
    } else {
        build_grid(&grid);
        add_random_cases(seed);
    }
    int failed = 0, run = 0, split = 0;
    for (int i = 0; i < grid.n; ++i) {
        if (only >= 0 && i != only)
            continue;
        fc_tg_result r;
        size_t workspace;
        char desc[256];
        fc_tg_describe(&grid.cases[i], desc, sizeof desc);
        const int ok = run_case(&grid.cases[i], seed + (uint64_t)i * 7919u, &r, &workspace);
        run++;
        split += workspace > 0;
        if (!ok)
            failed++;
        if (!ok || quick)
            printf("case %3d %-4s %s: status %s err %.3g (lowp %.3g) lse err %.3g (lowp %.3g)%s%s%s%s\n", i,
                   ok ? "ok" : "FAIL", desc, fc_status_name((fc_status)r.status), r.err, r.lowp_err, r.lse_err,
                   r.lse_lowp_err, r.pad_touched ? " PADDING-TOUCHED" : "",
                   r.inputs_changed ? " INPUTS-CHANGED" : "", r.nondeterministic ? " NONDETERMINISTIC" : "",
                   workspace ? " (split-KV)" : "");
    }
    printf("grid: %d cases, %d with split-KV workspace, %d failed\n", run, split, failed);

    if (only < 0) {
        failed += !check_workspace_fallback(seed);
        failed += !check_broadcast_kv(seed);
        if (!quick) {
            failed += run_16k(seed);
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
