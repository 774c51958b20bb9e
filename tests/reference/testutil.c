/*
 * Test utilities: half-precision conversion (written independently of src/cpu/half.h, so the two
 * can check each other), random inputs, poison, strided allocation and error measures.
 */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reference.h"

#ifdef _WIN32
#include <process.h>
#define fc_t_getpid() ((uint64_t)_getpid())
#else
#include <unistd.h>
#define fc_t_getpid() ((uint64_t)getpid())
#endif

/* ------------------------------------------------------------------------------------------------
 * Half precision. Encoding goes through double arithmetic (exact for every fp32 value): find the
 * quantum of the target format at the value's binade, round with rint (round-to-nearest-even in
 * the default rounding mode), then assemble the bits.
 * ---------------------------------------------------------------------------------------------- */

static uint32_t t_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* The reference stays independent of the library: its own element sizes. */
static size_t t_elem_size(fc_dtype dtype)
{
    return dtype == FC_DTYPE_F16 || dtype == FC_DTYPE_BF16 ? 2u : 4u;
}

static float t_bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t fc_t_f32_to_f16(float f)
{
    const uint16_t sign = (t_f32_bits(f) >> 31) ? 0x8000u : 0u;
    if (isnan(f))
        return (uint16_t)(sign | 0x7e00u);
    double a = fabs((double)f);
    if (isinf(f) || a >= 65520.0) /* 65520 = max finite 65504 + half an ulp (16): ties to even = inf */
        return (uint16_t)(sign | 0x7c00u);
    int e;
    (void)frexp(a, &e);                     /* a = m * 2^e, m in [0.5, 1): binade 2^(e-1) */
    int q_exp = (e - 1 < -14 ? -14 : e - 1) - 10; /* quantum: 10 fraction bits; subnormals share 2^-24 */
    double r = rint(ldexp(a, -q_exp));      /* integer count of quanta */
    double v = ldexp(r, q_exp);             /* the rounded value */
    if (v >= 65536.0)
        return (uint16_t)(sign | 0x7c00u);
    if (v < ldexp(1.0, -14))                /* subnormal (or zero): count of 2^-24 */
        return (uint16_t)(sign | (uint16_t)ldexp(v, 24));
    (void)frexp(v, &e);
    const int be = e - 1 + 15;              /* biased exponent */
    const uint32_t frac = (uint32_t)(ldexp(v, -(e - 1)) * 1024.0 - 1024.0);
    return (uint16_t)(sign | (uint32_t)be << 10 | frac);
}

float fc_t_f16_to_f32(uint16_t h)
{
    const int e = (h >> 10) & 0x1f;
    const int m = h & 0x3ff;
    double v;
    if (e == 0x1f)
        v = m ? NAN : INFINITY;
    else if (e == 0)
        v = ldexp((double)m, -24);
    else
        v = ldexp(1024.0 + m, e - 15 - 10);
    return (float)((h & 0x8000u) ? -v : v);
}

uint16_t fc_t_f32_to_bf16(float f)
{
    const uint32_t sign = t_f32_bits(f) & 0x80000000u;
    if (isnan(f))
        return (uint16_t)((sign >> 16) | 0x7fc0u);
    if (isinf(f) || f == 0.0f)
        return (uint16_t)(t_f32_bits(f) >> 16);
    double a = fabs((double)f);
    int e;
    (void)frexp(a, &e);
    int q_exp = (e - 1 < -126 ? -126 : e - 1) - 7; /* 7 fraction bits; subnormals share 2^-133 */
    double v = ldexp(rint(ldexp(a, -q_exp)), q_exp);
    /* v is representable in bf16 unless it overflowed past the largest finite value */
    float vf = (float)v; /* exact: v has at most 8 significant bits and fits fp32's range or is inf */
    if (v >= 0x1p128)
        vf = INFINITY;
    return (uint16_t)((sign | t_f32_bits(vf)) >> 16);
}

float fc_t_bf16_to_f32(uint16_t h)
{
    return t_bits_f32((uint32_t)h << 16);
}

double fc_t_load(const void *data, fc_dtype dtype, int64_t i)
{
    switch (dtype) {
    case FC_DTYPE_F16: return fc_t_f16_to_f32(((const uint16_t *)data)[i]);
    case FC_DTYPE_BF16: return fc_t_bf16_to_f32(((const uint16_t *)data)[i]);
    case FC_DTYPE_F32: return ((const float *)data)[i];
    }
    return NAN;
}

void fc_t_store(void *data, fc_dtype dtype, int64_t i, double x)
{
    switch (dtype) {
    case FC_DTYPE_F16: ((uint16_t *)data)[i] = fc_t_f32_to_f16((float)x); break;
    case FC_DTYPE_BF16: ((uint16_t *)data)[i] = fc_t_f32_to_bf16((float)x); break;
    case FC_DTYPE_F32: ((float *)data)[i] = (float)x; break;
    }
}

/* ------------------------------------------------------------------------------------------------
 * Random numbers
 * ---------------------------------------------------------------------------------------------- */

static uint64_t t_mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t fc_t_fresh_seed(void)
{
    const char *env = getenv("FC_TEST_SEED");
    if (env && *env)
        return strtoull(env, NULL, 0);
    static uint64_t counter; /* tests are single-threaded where they draw seeds */
    struct timespec ts;
    uint64_t t = (uint64_t)time(NULL);
    if (timespec_get(&ts, TIME_UTC) == TIME_UTC)
        t = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    const uint64_t seed = t_mix(t ^ t_mix(fc_t_getpid() << 32 ^ ++counter));
    return seed & 0xffffffffffffull; /* 48 bits: short enough to paste from a log */
}

static uint64_t t_next(fc_rng *r)
{
    /* xorshift64* ; a zero state would stick, so it is remapped */
    uint64_t x = r->s ? r->s : 0x2545f4914f6cdd1dull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545f4914f6cdd1dull;
}

uint64_t fc_rng_u64(fc_rng *r)
{
    return t_next(r);
}

double fc_rng_normal(fc_rng *r)
{
    /* Box-Muller; u1 in (0, 1] so log() is finite */
    const double u1 = ((double)(t_next(r) >> 11) + 1.0) * 0x1p-53;
    const double u2 = (double)(t_next(r) >> 11) * 0x1p-53;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Call fn(element offset, ctx) for every element of t's logical shape, in row-major order. */
static void t_for_each(const fc_tensor *t, void (*fn)(int64_t off, int64_t idx, void *ctx), void *ctx)
{
    int64_t shape[FC_MAX_DIMS] = {1, 1, 1, 1}, stride[FC_MAX_DIMS] = {0, 0, 0, 0};
    const int pad = FC_MAX_DIMS - t->ndim;
    for (int d = 0; d < t->ndim; ++d) {
        shape[pad + d] = t->shape[d];
        stride[pad + d] = t->stride[d];
    }
    int64_t idx = 0;
    for (int64_t a = 0; a < shape[0]; ++a)
        for (int64_t b = 0; b < shape[1]; ++b)
            for (int64_t c = 0; c < shape[2]; ++c)
                for (int64_t d = 0; d < shape[3]; ++d)
                    fn(a * stride[0] + b * stride[1] + c * stride[2] + d * stride[3], idx++, ctx);
}

typedef struct { const fc_tensor *t; fc_rng *r; double scale; } t_fill_ctx;

static void t_fill_one(int64_t off, int64_t idx, void *vctx)
{
    (void)idx;
    t_fill_ctx *c = (t_fill_ctx *)vctx;
    fc_t_store(c->t->data, c->t->dtype, off, fc_rng_normal(c->r) * c->scale);
}

void fc_t_fill_random(const fc_tensor *t, fc_rng *r, double scale)
{
    t_fill_ctx c = {t, r, scale};
    t_for_each(t, t_fill_one, &c);
}

void fc_t_poison(void *data, fc_dtype dtype, int64_t nelem)
{
    for (int64_t i = 0; i < nelem; ++i) {
        switch (dtype) {
        case FC_DTYPE_F16: ((uint16_t *)data)[i] = 0x7e00u; break;
        case FC_DTYPE_BF16: ((uint16_t *)data)[i] = 0x7fc0u; break;
        case FC_DTYPE_F32: ((float *)data)[i] = NAN; break;
        }
    }
}

void *fc_t_alloc(fc_tensor *t, fc_dtype dtype, int ndim, const int64_t *shape, const int64_t *pad,
                 int64_t *nelem)
{
    memset(t, 0, sizeof *t);
    t->dtype = dtype;
    t->ndim = ndim;
    t->device = FC_DEVICE_CPU;
    int64_t stride = 1;
    for (int d = ndim - 1; d >= 0; --d) {
        t->shape[d] = shape[d];
        if (d < ndim - 1)
            stride = t->stride[d + 1] * shape[d + 1] + (pad ? pad[d] : 0);
        t->stride[d] = stride;
    }
    int64_t n = ndim > 0 ? t->stride[0] * shape[0] : 1;
    if (n < 1)
        n = 1;
    /* malloc's alignment (16 bytes on the usual 64-bit ABIs) covers every dtype */
    t->data = malloc((size_t)n * t_elem_size(dtype));
    if (nelem)
        *nelem = n;
    return t->data;
}

int64_t fc_t_padding_changed(const void *base, int64_t nelem, const fc_tensor *t)
{
    const size_t es = t_elem_size(t->dtype);
    const int64_t off0 = (int64_t)(((const char *)t->data - (const char *)base) / (ptrdiff_t)es);
    unsigned char *in_view = (unsigned char *)calloc((size_t)nelem, 1);
    if (!in_view)
        return -1;
    int64_t shape[FC_MAX_DIMS] = {1, 1, 1, 1}, stride[FC_MAX_DIMS] = {0, 0, 0, 0};
    const int pad = FC_MAX_DIMS - t->ndim;
    for (int d = 0; d < t->ndim; ++d) {
        shape[pad + d] = t->shape[d];
        stride[pad + d] = t->stride[d];
    }
    for (int64_t a = 0; a < shape[0]; ++a)
        for (int64_t b = 0; b < shape[1]; ++b)
            for (int64_t c = 0; c < shape[2]; ++c)
                for (int64_t d = 0; d < shape[3]; ++d) {
                    const int64_t off = off0 + a * stride[0] + b * stride[1] + c * stride[2] + d * stride[3];
                    if (off >= 0 && off < nelem)
                        in_view[off] = 1;
                }
    int64_t changed = 0;
    for (int64_t i = 0; i < nelem; ++i) {
        if (in_view[i])
            continue;
        int ok;
        switch (t->dtype) {
        case FC_DTYPE_F16: ok = ((const uint16_t *)base)[i] == 0x7e00u; break;
        case FC_DTYPE_BF16: ok = ((const uint16_t *)base)[i] == 0x7fc0u; break;
        default: ok = isnan(((const float *)base)[i]); break;
        }
        changed += !ok;
    }
    free(in_view);
    return changed;
}

/* ------------------------------------------------------------------------------------------------
 * Comparison
 * ---------------------------------------------------------------------------------------------- */

/* Error of one element: NaN anywhere, or an infinity that the other side does not match exactly,
 * is INFINITY; equal infinities are 0. */
static double t_elem_err(double a, double ref)
{
    if (isnan(a) || isnan(ref))
        return INFINITY;
    if (isinf(a) || isinf(ref))
        return a == ref ? 0.0 : INFINITY;
    return fabs(a - ref);
}

typedef struct { const fc_tensor *t; const double *ref; double err; } t_cmp_ctx;

static void t_cmp_one(int64_t off, int64_t idx, void *vctx)
{
    t_cmp_ctx *c = (t_cmp_ctx *)vctx;
    const double e = t_elem_err(fc_t_load(c->t->data, c->t->dtype, off), c->ref[idx]);
    if (!(e <= c->err))
        c->err = e;
}

double fc_t_max_abs_err(const fc_tensor *o, const double *ref)
{
    t_cmp_ctx c = {o, ref, 0.0};
    t_for_each(o, t_cmp_one, &c);
    return c.err;
}

double fc_t_max_abs_err_lse(const fc_tensor *lse, const double *ref)
{
    return fc_t_max_abs_err(lse, ref); /* -inf must match -inf exactly: t_elem_err does that */
}

double fc_t_max_abs_diff(const double *a, const double *b, int64_t n)
{
    double err = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        const double e = t_elem_err(a[i], b[i]);
        if (!(e <= err))
            err = e;
    }
    return err;
}

double fc_t_eps(fc_dtype dtype)
{
    switch (dtype) {
    case FC_DTYPE_F16: return FC_T_EPS_F16;
    case FC_DTYPE_BF16: return FC_T_EPS_BF16;
    case FC_DTYPE_F32: return FC_T_EPS_F32;
    }
    return 0.0;
}

int fc_t_passes(double err, double lowp_err, fc_dtype dtype)
{
    return isfinite(err) && isfinite(lowp_err) && err <= 2.0 * lowp_err + fc_t_eps(dtype);
}

int fc_t_passes_lse(double err, double lowp_err, const double *ref_lse, int64_t n)
{
    double big = 1.0;
    for (int64_t i = 0; i < n; ++i)
        if (isfinite(ref_lse[i]) && fabs(ref_lse[i]) > big)
            big = fabs(ref_lse[i]);
    return isfinite(err) && isfinite(lowp_err) && err <= 2.0 * lowp_err + FC_T_LSE_REL_EPS * big;
}
