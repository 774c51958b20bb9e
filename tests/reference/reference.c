/*
 * The naive attention reference: every query row scores every key its window allows, one row at a
 * time, with no tiling and no online softmax. FC_REF_F64 is the truth (float64 throughout);
 * FC_REF_LOWP is what a plain low-precision implementation computes (fp32 scores and softmax, the
 * normalised P rounded to the input dtype, fp32 P.V accumulation, output rounded to the dtype),
 * whose distance from the truth sets the tolerance of the tests.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reference.h"

/* Inputs converted once to dense arrays [token, head, d] (token = b*S + i, or the packed index). */
typedef struct ref_dense {
    double *d;
    float *f;
} ref_dense;

static int ref_dtype_ok(fc_dtype t)
{
    return t == FC_DTYPE_F16 || t == FC_DTYPE_BF16 || t == FC_DTYPE_F32;
}

/* Round x to the dtype (the value a tensor of that dtype would hold). fp32: round to fp32. */
static float ref_round(float x, fc_dtype dtype)
{
    switch (dtype) {
    case FC_DTYPE_F16: return fc_t_f16_to_f32(fc_t_f32_to_f16(x));
    case FC_DTYPE_BF16: return fc_t_bf16_to_f32(fc_t_f32_to_bf16(x));
    default: return x;
    }
}

/* Copy a [T, H, D] (varlen) or [B, S, H, D] (batched) tensor into dense double and float arrays. */
static int ref_densify(const fc_tensor *t, int varlen, ref_dense *out)
{
    const int64_t n_tok = varlen ? t->shape[0] : t->shape[0] * t->shape[1];
    const int64_t H = t->shape[varlen ? 1 : 2], D = t->shape[varlen ? 2 : 3];
    const size_t n = (size_t)(n_tok * H * D) + 1;
    out->d = (double *)malloc(n * sizeof(double));
    out->f = (float *)malloc(n * sizeof(float));
    if (!out->d || !out->f)
        return -1;
    const int64_t S = varlen ? 1 : t->shape[1];
    for (int64_t tok = 0; tok < n_tok; ++tok) {
        const int64_t b = tok / S, i = tok % S;
        const int64_t base = varlen ? tok * t->stride[0] : b * t->stride[0] + i * t->stride[1];
        const int64_t hs = t->stride[varlen ? 1 : 2], ds = t->stride[varlen ? 2 : 3];
        for (int64_t h = 0; h < H; ++h)
            for (int64_t d = 0; d < D; ++d) {
                const double x = fc_t_load(t->data, t->dtype, base + h * hs + d * ds);
                out->d[(tok * H + h) * D + d] = x;
                out->f[(tok * H + h) * D + d] = (float)x; /* exact: x has the dtype's precision */
            }
    }
    return 0;
}

static double ref_dot_f64(const double *a, const double *b, int64_t D)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t d = 0;
    for (; d + 4 <= D; d += 4) {
        s0 += a[d] * b[d];
        s1 += a[d + 1] * b[d + 1];
        s2 += a[d + 2] * b[d + 2];
        s3 += a[d + 3] * b[d + 3];
    }
    for (; d < D; ++d)
        s0 += a[d] * b[d];
    return (s0 + s1) + (s2 + s3);
}

static float ref_dot_f32(const float *a, const float *b, int64_t D)
{
    float s[8] = {0};
    int64_t d = 0;
    for (; d + 8 <= D; d += 8)
        for (int u = 0; u < 8; ++u)
            s[u] += a[d + u] * b[d + u];
    for (; d < D; ++d)
        s[0] += a[d] * b[d];
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

int fc_ref_forward(const fc_tensor *q, const fc_tensor *k, const fc_tensor *v,
                   const fc_attention_params *params, int mode, double *out, double *lse)
{
    if (!q || !k || !v || !out || (mode != FC_REF_F64 && mode != FC_REF_LOWP))
        return -1;
    float scale = 0.0f, softcap = 0.0f;
    int wl = -1, wr = -1;
    const int32_t *cu_q = NULL, *cu_k = NULL;
    int64_t B;
    if (params) {
        scale = params->softmax_scale;
        softcap = params->softcap;
        wl = params->window_left;
        wr = params->causal ? 0 : params->window_right;
        cu_q = params->cu_seqlens_q;
        cu_k = params->cu_seqlens_k;
    }
    const int varlen = cu_q != NULL;
    const int nd = varlen ? 3 : 4;
    if (q->ndim != nd || k->ndim != nd || v->ndim != nd || (varlen && !cu_k))
        return -1;
    if (q->dtype != k->dtype || q->dtype != v->dtype || !ref_dtype_ok(q->dtype))
        return -1;
    const fc_dtype dtype = q->dtype;
    const int64_t Hq = q->shape[nd - 2], Hkv = k->shape[nd - 2], D = q->shape[nd - 1];
    if (Hkv <= 0 || Hq % Hkv != 0 || k->shape[nd - 1] != D || v->shape[nd - 1] != D || D <= 0)
        return -1;
    for (int d = 0; d < nd; ++d)
        if (v->shape[d] != k->shape[d])
            return -1;
    int64_t Sq, Sk, n_tok_q;
    if (varlen) {
        B = params->num_seqs;
        if (B < 0 || cu_q[0] != 0 || cu_k[0] != 0 || cu_q[B] != q->shape[0] || cu_k[B] != k->shape[0])
            return -1;
        for (int64_t b = 0; b < B; ++b)
            if (cu_q[b + 1] < cu_q[b] || cu_k[b + 1] < cu_k[b])
                return -1;
        Sq = Sk = 0;
        n_tok_q = q->shape[0];
    } else {
        B = q->shape[0];
        if (k->shape[0] != B)
            return -1;
        Sq = q->shape[1];
        Sk = k->shape[1];
        n_tok_q = B * Sq;
    }
    if (scale == 0.0f)
        scale = (float)(1.0 / sqrt((double)D));
    const int64_t group = Hq / Hkv;

    /* token -> sequence map, and the longest key sequence (scratch size) */
    int64_t *seq_of = (int64_t *)malloc(sizeof(int64_t) * (size_t)(n_tok_q + 1));
    ref_dense dq = {0}, dk = {0}, dv = {0};
    int rc = -1;
    if (!seq_of || ref_densify(q, varlen, &dq) || ref_densify(k, varlen, &dk) || ref_densify(v, varlen, &dv))
        goto done;
    int64_t max_sk = Sk;
    if (varlen) {
        for (int64_t b = 0; b < B; ++b) {
            for (int64_t t = cu_q[b]; t < cu_q[b + 1]; ++t)
                seq_of[t] = b;
            if (cu_k[b + 1] - cu_k[b] > max_sk)
                max_sk = cu_k[b + 1] - cu_k[b];
        }
    } else {
        for (int64_t t = 0; t < n_tok_q; ++t)
            seq_of[t] = t / Sq;
    }

    const int64_t n_rows = n_tok_q * Hq;
    int failed = 0;
#ifdef _OPENMP
#pragma omp parallel reduction(| : failed)
#endif
    {
        double *sd = (double *)malloc(sizeof(double) * (size_t)(max_sk + 1));
        float *sf = (float *)malloc(sizeof(float) * (size_t)(max_sk + 1));
        double *accd = (double *)malloc(sizeof(double) * (size_t)D);
        float *accf = (float *)malloc(sizeof(float) * (size_t)D);
        if (!sd || !sf || !accd || !accf)
            failed = 1;
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 16)
#endif
        for (int64_t r = 0; r < n_rows; ++r) {
            if (failed)
                continue;
            const int64_t tok = r / Hq, h = r % Hq, hk = h / group, b = seq_of[tok];
            int64_t i, sq, sk, ktok0;
            if (varlen) {
                i = tok - cu_q[b];
                sq = cu_q[b + 1] - cu_q[b];
                sk = cu_k[b + 1] - cu_k[b];
                ktok0 = cu_k[b];
            } else {
                i = tok % Sq;
                sq = Sq;
                sk = Sk;
                ktok0 = b * Sk;
            }
            /* keys j with i + (sk-sq) - wl <= j <= i + (sk-sq) + wr, clipped to [0, sk) */
            int64_t lo = 0, hi = sk - 1;
            if (wl >= 0 && i + (sk - sq) - wl > lo)
                lo = i + (sk - sq) - wl;
            if (wr >= 0 && i + (sk - sq) + wr < hi)
                hi = i + (sk - sq) + wr;
            double *o_row = out + (tok * Hq + h) * D;
            double *lse_at = !lse ? NULL : varlen ? &lse[h * n_tok_q + tok] : &lse[(b * Hq + h) * Sq + i];
            if (lo > hi) {
                for (int64_t d = 0; d < D; ++d)
                    o_row[d] = 0.0;
                if (lse_at)
                    *lse_at = -INFINITY;
                continue;
            }
            const int64_t n = hi - lo + 1;
            if (mode == FC_REF_F64) {
                const double *qi = dq.d + (tok * Hq + h) * D;
                double m = -INFINITY, l = 0.0;
                for (int64_t j = 0; j < n; ++j) {
                    const double *kj = dk.d + ((ktok0 + lo + j) * Hkv + hk) * D;
                    double s = (double)scale * ref_dot_f64(qi, kj, D);
                    if (softcap > 0.0f)
                        s = softcap * tanh(s / softcap);
                    sd[j] = s;
                    m = s > m ? s : m;
                }
                for (int64_t d = 0; d < D; ++d)
                    accd[d] = 0.0;
                for (int64_t j = 0; j < n; ++j) {
                    const double pj = exp(sd[j] - m);
                    const double *vj = dv.d + ((ktok0 + lo + j) * Hkv + hk) * D;
                    l += pj;
                    for (int64_t d = 0; d < D; ++d)
                        accd[d] += pj * vj[d];
                }
                for (int64_t d = 0; d < D; ++d)
                    o_row[d] = accd[d] / l;
                if (lse_at)
                    *lse_at = m + log(l);
            } else {
                const float *qi = dq.f + (tok * Hq + h) * D;
                float m = -INFINITY, l = 0.0f;
                for (int64_t j = 0; j < n; ++j) {
                    const float *kj = dk.f + ((ktok0 + lo + j) * Hkv + hk) * D;
                    float s = scale * ref_dot_f32(qi, kj, D);
                    if (softcap > 0.0f)
                        s = softcap * tanhf(s / softcap);
                    sf[j] = s;
                    m = s > m ? s : m;
                }
                for (int64_t j = 0; j < n; ++j) {
                    sf[j] = expf(sf[j] - m);
                    l += sf[j];
                }
                for (int64_t d = 0; d < D; ++d)
                    accf[d] = 0.0f;
                for (int64_t j = 0; j < n; ++j) {
                    const float pj = ref_round(sf[j] / l, dtype);
                    const float *vj = dv.f + ((ktok0 + lo + j) * Hkv + hk) * D;
                    for (int64_t d = 0; d < D; ++d)
                        accf[d] += pj * vj[d];
                }
                for (int64_t d = 0; d < D; ++d)
                    o_row[d] = ref_round(accf[d], dtype);
                if (lse_at)
                    *lse_at = m + logf(l);
            }
        }
        free(sd);
        free(sf);
        free(accd);
        free(accf);
    }
    rc = failed ? -1 : 0;
done:
    free(seq_of);
    free(dq.d);
    free(dq.f);
    free(dk.d);
    free(dk.f);
    free(dv.d);
    free(dv.f);
    return rc;
}
