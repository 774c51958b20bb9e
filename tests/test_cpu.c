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
#include "testgrid.h"

/* ---- one case: the shared host problem (testgrid.h), run on CPU tensors ------------------- */

static int run_case(const fc_tcase *c, uint64_t seed, fc_tg_result *r)
{
    fc_tg_problem p;
    if (fc_tg_problem_init(&p, c, seed, FC_TG_PADS_ODD)) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    const fc_tensor *lse = c->lse ? &p.lse.t : NULL;
    const uint64_t sum_in = fc_tg_inputs_checksum(&p);
    r->status = fc_attention_forward(&p.q.t, &p.k.t, &p.v.t, &p.o.t, lse, &p.prm, NULL, 0, NULL);
    r->inputs_changed = fc_tg_inputs_checksum(&p) ^ sum_in ? 1 : 0;

    /* the same call again on re-poisoned outputs must give the same bits (a difference is a race) */
    fc_tg_saved saved;
    if (fc_tg_save_and_poison(&p, &saved)) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    const int st = fc_attention_forward(&p.q.t, &p.k.t, &p.v.t, &p.o.t, lse, &p.prm, NULL, 0, NULL);
    r->nondeterministic = fc_tg_outputs_differ(&p, &saved) || st != r->status;

    if (fc_tg_judge(c, &p, r)) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    fc_tg_problem_free(&p);
    return r->ok;
}

/* ---- the grid ---------------------------------------------------------------------------- */

static fc_tg_grid grid;

static void build_grid(fc_tg_grid *g)
{
    const fc_dtype F16 = FC_DTYPE_F16, BF16 = FC_DTYPE_BF16, F32 = FC_DTYPE_F32;
    const fc_dtype dts[3] = {F16, BF16, F32};
    const int dims[5] = {8, 64, 80, 128, 256};
    const int seqs[6] = {1, 7, 63, 64, 65, 257};
    fc_tcase *c;

    /* plain attention: every seqlen up to 257 x every head dim, dtypes rotating */
    for (int s = 0; s < 6; ++s)
        for (int d = 0; d < 5; ++d) {
            c = fc_tg_add(g, seqs[s] < 64 ? 2 : 1, 2, 2, seqs[s], seqs[s], dims[d], dts[(s + d) % 3]);
            c->lse = (s + d) % 2 == 0;
        }
    /* query-tile boundaries (128 rows up to D=64, 64 at D=128) */
    c = fc_tg_add(g, 1, 2, 2, 129, 129, 64, F16);
    c = fc_tg_add(g, 1, 2, 2, 128, 129, 32, BF16), c->causal = 1;
    c = fc_tg_add(g, 1, 2, 2, 127, 65, 128, F16), c->causal = 1;
    /* S = 1000, a few head dims */
    c = fc_tg_add(g, 1, 2, 2, 1000, 1000, 64, F16);
    c = fc_tg_add(g, 1, 2, 2, 1000, 1000, 128, BF16), c->causal = 1;
    c = fc_tg_add(g, 1, 2, 1, 1000, 1000, 256, F16), c->causal = 1, c->layout = FC_TG_PAD;
    c = fc_tg_add(g, 1, 2, 2, 1000, 1000, 80, F32), c->wl = 100, c->wr = 20;
    c = fc_tg_add(g, 1, 1, 1, 1000, 1000, 8, BF16), c->softcap = 20.0f;

    /* masks: Sq != Sk, empty sequences, causal Sq = Sk, sliding windows (testgrid.c) */
    fc_tg_add_mask_cases(g, seqs, 6, dims, dts, 3);
    /* softcap, with other features */
    c = fc_tg_add(g, 2, 2, 2, 65, 65, 64, F16), c->softcap = 30.0f;
    c = fc_tg_add(g, 1, 2, 2, 257, 129, 128, BF16), c->softcap = 5.0f, c->causal = 1, c->qscale = 3.0;
    c = fc_tg_add(g, 1, 4, 2, 100, 100, 80, F32), c->softcap = 2.0f, c->wl = 20, c->wr = 5;
    c = fc_tg_add(g, 1, 2, 2, 63, 63, 256, F16), c->softcap = 10.0f, c->scale = 0.5f;
    /* custom scale and peaky inputs */
    c = fc_tg_add(g, 2, 2, 2, 65, 65, 64, BF16), c->scale = 0.3f, c->qscale = 4.0;
    c = fc_tg_add(g, 1, 2, 2, 128, 128, 128, F16), c->qscale = 3.0, c->causal = 1;
    c = fc_tg_add(g, 1, 2, 2, 65, 65, 64, F32), c->scale = 1.5f;
    /* GQA 8/2 and MQA (testgrid.c) */
    fc_tg_add_gqa_cases(g, F32);

    /* varlen: empty and length-1 sequences, q and k lengths differing per sequence (testgrid.c) */
    {
        const fc_dtype wide[2] = {F32, F32};
        fc_tg_add_varlen_cases(g, wide);
    }
    /* strided, non-contiguous layouts on assorted features */
    for (int l = FC_TG_PAD; l < FC_TG_LAYOUTS; ++l) {
        c = fc_tg_add(g, 2, 4, 2, 65, 33, dims[l], dts[l % 3]), c->layout = l;
        c = fc_tg_add(g, 2, 2, 2, 1, 1, dims[(l + 2) % 5], dts[(l + 1) % 3]), c->layout = l;
        c = fc_tg_add(g, 1, 3, 3, 130, 130, 128, dts[(l + 2) % 3]), c->layout = l, c->causal = 1;
        c = fc_tg_add(g, 2, 2, 1, 100, 70, 64, dts[l % 3]), c->layout = l, c->wl = 12, c->wr = 4, c->softcap = 9.0f;
    }
    /* strided lse (token-major and every-third views) on assorted features, batched and varlen */
    for (int kind = FC_TG_LSE_TOKEN_MAJOR; kind < FC_TG_LSE_VIEWS; ++kind) {
        c = fc_tg_add(g, 2, 4, 2, 65, 33, 64, dts[kind % 3]), c->causal = 1, c->lse_view = kind;
        c = fc_tg_add(g, 3, 2, 2, 1, 70, 128, dts[(kind + 1) % 3]), c->wl = 20, c->layout = FC_TG_PAD;
        c->lse_view = kind;
        c = fc_tg_add(g, 1, 3, 1, 130, 130, 80, dts[(kind + 2) % 3]), c->softcap = 7.0f, c->layout = FC_TG_SUB;
        c->lse_view = kind;
        const int lq[3] = {0, 9, 40}, lk[3] = {5, 0, 33};
        c = fc_tg_add_varlen(g, 3, lq, lk, 4, 2, 64, dts[kind % 3]), c->causal = 1, c->layout = FC_TG_TRANS;
        c->lse_view = kind;
    }
}

/* Random cases drawn from the run's seed: shapes, head dims, dtypes, features and layouts mixed
 * freely (bounded work per case), so each run also probes combinations the fixed grid lacks. */
static void add_random_cases(uint64_t seed)
{
    static const fc_dtype dts[3] = {FC_DTYPE_F16, FC_DTYPE_BF16, FC_DTYPE_F32};
    static const int seq_pool[12] = {1, 2, 7, 15, 31, 63, 64, 65, 100, 129, 200, 300};
    const fc_tg_random spec = {
        .count = 48, .salt = 0x5eedf00dull, .seq_pool = seq_pool, .n_seq = 12, .dtypes = dts, .n_dtypes = 3,
        .max_len = 150, .max_window = 70, .negative_scales = 0,
        .max_work = 4.0e7, /* Sq*Sk*Hq*D (summed over sequences) per random case */
    };
    const int first = grid.n;
    fc_tg_add_random(&grid, &spec, seed);
    for (int i = first; i < grid.n; ++i) /* the lse view rotates over the random cases too */
        grid.cases[i].lse_view = (int)((seed + (uint64_t)i) % FC_TG_LSE_VIEWS);
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

    build_grid(&grid);
    const int n_fixed = grid.n;
    add_random_cases(seed);
    for (int i = 0; i < grid.n; ++i) {
        if (only >= 0 && i != only)
            continue;
        /* per-case seed derived from the run seed, so FC_TEST_SEED reproduces every case */
        const uint64_t case_seed = seed * 0x9e3779b97f4a7c15ull + (uint64_t)i * 0xbf58476d1ce4e5b9ull + 1;
        fc_tg_result r;
        char desc[256];
        fc_tg_describe(&grid.cases[i], desc, sizeof desc);
        run_case(&grid.cases[i], case_seed, &r);
        run++;
        printf("case %3d%s %-64s err=%.3e lowp=%.3e", i, i >= n_fixed ? "r" : " ", desc, r.err, r.lowp_err);
        if (grid.cases[i].lse)
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
