/*
 * CPU backend: tiled online-softmax forward attention (the FlashAttention algorithm on a CPU).
 *
 * Work item = (sequence b, query head h, tile of up to tq query rows). OpenMP hands the items out
 * dynamically from one flattened loop. For each item:
 *   1. convert the item's Q rows to fp32 once (per-thread stack scratch);
 *   2. walk only the key range that some row of the tile may attend (from the window), in tiles of
 *      up to tk keys: convert the K and V rows of the tile to fp32 once, then for each query row
 *      compute its scores over the keys its own window allows, fold them into the running
 *      (max m, sum l, accumulator O) with the usual rescaling by exp2(m_old - m_new);
 *   3. write O / l (rounded to the dtype) and lse = (m + log2 l) * ln 2; rows that saw no key get
 *      0 and -inf.
 * Scores live in the log2 domain (scale * log2 e folded in), so the softmax uses exp2f.
 * All accumulation is fp32; all index arithmetic is int64.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cpu/cpu_backend.h"
#include "cpu/half.h"

/*
 * Tile sizes, bounded in fp32 values so that one thread's stack scratch is fixed whatever the
 * head dim: the Q and O tiles hold at most FC_CPU_Q_TILE_FLOATS (32 KB each), the K and V tiles
 * at most FC_CPU_KV_TILE_FLOATS (16 KB each), so the scratch is 96 KB plus ~1 KB of row state:
 * under the ~128 KB we allow per thread (OpenMP worker stacks can be small: 512 KB secondary
 * threads on macOS, or whatever OMP_STACKSIZE says).
 *   query rows per tile = min(128, 8192 / head_dim): 128 up to D=64, 102 at D=80, 64 at D=128,
 *                         32 at D=256. Each key tile is converted to fp32 once per query tile,
 *                         so taller query tiles convert less (2x rows measured 7-14% faster than
 *                         64 rows at D=64/128).
 *   keys per tile       = min(64, 4096 / head_dim): the K and V tiles (32 KB together) stay in
 *                         L1/L2 while every row of the query tile streams over them; 2048-float
 *                         K/V tiles measured 10-20% slower (more per-tile overhead).
 */
#define FC_CPU_Q_TILE_FLOATS 8192
#define FC_CPU_KV_TILE_FLOATS 4096
#define FC_CPU_MAX_Q_ROWS 128
#define FC_CPU_MAX_KV_ROWS 64
#define FC_CPU_MAX_HEAD_DIM 256

#define FC_LN2 0.69314718055994531f

/* Reductions (dot products over head_dim, the row max) may be split into vector lanes: OpenMP's
 * `simd reduction` grants the reassociation that plain C forbids. Without OpenMP they stay scalar. */
#if defined(_OPENMP) && _OPENMP >= 201307 /* OpenMP 4.0: simd */
#define FC_PRAGMA(x) _Pragma(#x)
#define FC_SIMD_SUM(...) FC_PRAGMA(omp simd reduction(+ : __VA_ARGS__))
#define FC_SIMD_MAX(...) FC_PRAGMA(omp simd reduction(max : __VA_ARGS__))
#else
#define FC_SIMD_SUM(...)
#define FC_SIMD_MAX(...)
#endif

static inline size_t fc_cpu_elem_size(int dtype)
{
    return dtype == FC_T_F32 ? 4u : 2u;
}

/* Convert `rows` rows of D elements (row r at src + r*row_stride elements) to dense fp32. */
static void fc_cpu_load_rows(float *restrict dst, const void *src, int dtype, int64_t row_stride,
                             int rows, int D)
{
    for (int r = 0; r < rows; ++r) {
        float *restrict out = dst + (int64_t)r * D;
        if (dtype == FC_T_F32) {
            memcpy(out, (const float *)src + (int64_t)r * row_stride, (size_t)D * sizeof(float));
        } else if (dtype == FC_T_F16) {
            const uint16_t *restrict in = (const uint16_t *)src + (int64_t)r * row_stride;
            for (int d = 0; d < D; ++d)
                out[d] = fc_f16_to_f32(in[d]);
        } else {
            const uint16_t *restrict in = (const uint16_t *)src + (int64_t)r * row_stride;
            for (int d = 0; d < D; ++d)
                out[d] = fc_bf16_to_f32(in[d]);
        }
    }
}

/* Store one fp32 row scaled by `mul` into the output dtype. */
static void fc_cpu_store_row(void *dst, int dtype, const float *restrict src, float mul, int D)
{
    if (dtype == FC_T_F32) {
        float *restrict out = (float *)dst;
        for (int d = 0; d < D; ++d)
            out[d] = src[d] * mul;
    } else if (dtype == FC_T_F16) {
        uint16_t *restrict out = (uint16_t *)dst;
        for (int d = 0; d < D; ++d)
            out[d] = fc_f32_to_f16(src[d] * mul);
    } else {
        uint16_t *restrict out = (uint16_t *)dst;
        for (int d = 0; d < D; ++d)
            out[d] = fc_f32_to_bf16(src[d] * mul);
    }
}

/* out[0..3] = q . k_r for the 4 consecutive rows k_r = k + r*D. One pass over q feeds four keys;
 * `omp simd` lets the compiler split each sum into vector lanes (a reassociation plain C forbids). */
static inline void fc_cpu_dot4(const float *restrict q, const float *restrict k, int D,
                               float *restrict out)
{
    const float *restrict k0 = k;
    const float *restrict k1 = k + D;
    const float *restrict k2 = k + 2 * D;
    const float *restrict k3 = k + 3 * D;
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
    FC_SIMD_SUM(s0, s1, s2, s3)
    for (int d = 0; d < D; ++d) {
        const float qv = q[d];
        s0 += qv * k0[d];
        s1 += qv * k1[d];
        s2 += qv * k2[d];
        s3 += qv * k3[d];
    }
    out[0] = s0;
    out[1] = s1;
    out[2] = s2;
    out[3] = s3;
}

static inline float fc_cpu_dot1(const float *restrict q, const float *restrict k, int D)
{
    float s = 0.0f;
    FC_SIMD_SUM(s)
    for (int d = 0; d < D; ++d)
        s += q[d] * k[d];
    return s;
}

/* acc += sum_j p[j] * v_j over n consecutive rows v_j = v + j*D. */
static inline void fc_cpu_pv(float *restrict acc, const float *restrict p, const float *restrict v,
                             int n, int D)
{
    int j = 0;
    for (; j + 4 <= n; j += 4) {
        const float p0 = p[j], p1 = p[j + 1], p2 = p[j + 2], p3 = p[j + 3];
        const float *restrict v0 = v + (int64_t)j * D;
        const float *restrict v1 = v0 + D;
        const float *restrict v2 = v0 + 2 * D;
        const float *restrict v3 = v0 + 3 * D;
        for (int d = 0; d < D; ++d)
            acc[d] += (p0 * v0[d] + p1 * v1[d]) + (p2 * v2[d] + p3 * v3[d]);
    }
    for (; j < n; ++j) {
        const float pj = p[j];
        const float *restrict vj = v + (int64_t)j * D;
        for (int d = 0; d < D; ++d)
            acc[d] += pj * vj[d];
    }
}

/* Where one work item's sequence lives, resolved from the batched or varlen layout. */
typedef struct fc_cpu_seq {
    int64_t q_tok0, k_tok0; /* first token of the sequence (0 when batched) */
    int64_t sq, sk;         /* lengths */
    int64_t b_idx;          /* batch index for the batch strides (0 in varlen mode) */
} fc_cpu_seq;

static inline fc_cpu_seq fc_cpu_seq_info(const fc_fwd_params *p, int64_t b)
{
    fc_cpu_seq s;
    if (p->cu_seqlens_q) {
        s.q_tok0 = p->cu_seqlens_q[b];
        s.k_tok0 = p->cu_seqlens_k[b];
        s.sq = (int64_t)p->cu_seqlens_q[b + 1] - s.q_tok0;
        s.sk = (int64_t)p->cu_seqlens_k[b + 1] - s.k_tok0;
        s.b_idx = 0;
    } else {
        s.q_tok0 = s.k_tok0 = 0;
        s.sq = p->seqlen_q;
        s.sk = p->seqlen_k;
        s.b_idx = b;
    }
    return s;
}

/* Per-thread scratch, on the thread's stack (see the tile size comment). */
typedef struct fc_cpu_scratch {
    _Alignas(64) float q[FC_CPU_Q_TILE_FLOATS];
    _Alignas(64) float o[FC_CPU_Q_TILE_FLOATS];
    _Alignas(64) float k[FC_CPU_KV_TILE_FLOATS];
    _Alignas(64) float v[FC_CPU_KV_TILE_FLOATS];
    _Alignas(64) float s[FC_CPU_MAX_KV_ROWS]; /* one row's scores / probabilities */
    float m[FC_CPU_MAX_Q_ROWS];               /* running max (log2 domain) */
    float l[FC_CPU_MAX_Q_ROWS];               /* running sum */
} fc_cpu_scratch;

/* First / last key (inclusive, clipped to [0, sk-1]) that query row i may attend. */
static inline int64_t fc_cpu_key_lo(const fc_fwd_params *p, int64_t i, int64_t shift)
{
    if (p->window_left < 0)
        return 0;
    const int64_t lo = i + shift - p->window_left;
    return lo > 0 ? lo : 0;
}

static inline int64_t fc_cpu_key_hi(const fc_fwd_params *p, int64_t i, int64_t shift, int64_t sk)
{
    if (p->window_right < 0)
        return sk - 1;
    const int64_t hi = i + shift + p->window_right;
    return hi < sk - 1 ? hi : sk - 1;
}

static void fc_cpu_tile(const fc_fwd_params *p, int64_t b, int h, int64_t tile, int tq, int tk,
                        fc_cpu_scratch *restrict sc)
{
    const fc_cpu_seq seq = fc_cpu_seq_info(p, b);
    const int64_t i0 = tile * tq;
    if (i0 >= seq.sq)
        return;
    const int nq = (int)(seq.sq - i0 < tq ? seq.sq - i0 : tq);
    const int D = p->head_dim;
    const int dtype = p->dtype;
    const size_t es = fc_cpu_elem_size(dtype);
    const int hk = h / p->head_group;
    const int64_t shift = seq.sk - seq.sq; /* bottom-right alignment */
    const int has_softcap = p->softcap > 0.0f;

    const char *qbase = (const char *)p->q +
        es * (seq.b_idx * p->q_batch_stride + (seq.q_tok0 + i0) * p->q_row_stride + h * p->q_head_stride);
    char *obase = (char *)p->o +
        es * (seq.b_idx * p->o_batch_stride + (seq.q_tok0 + i0) * p->o_row_stride + h * p->o_head_stride);

    for (int i = 0; i < nq; ++i) {
        sc->m[i] = -INFINITY;
        sc->l[i] = 0.0f;
    }
    memset(sc->o, 0, sizeof(float) * (size_t)nq * (size_t)D);

    /* The window edges are monotone in the row, so the tile's key range runs from the first
     * row's lower edge to the last row's upper edge; everything outside it is skipped. */
    const int64_t klo = seq.sk > 0 ? fc_cpu_key_lo(p, i0, shift) : 0;
    const int64_t khi = seq.sk > 0 ? fc_cpu_key_hi(p, i0 + nq - 1, shift, seq.sk) : -1;
    /* k/v may be empty tensors (NULL data) when no key exists: form their addresses only here */
    const char *kbase = NULL, *vbase = NULL;
    if (klo <= khi) {
        kbase = (const char *)p->k +
            es * (seq.b_idx * p->k_batch_stride + seq.k_tok0 * p->k_row_stride + hk * p->k_head_stride);
        vbase = (const char *)p->v +
            es * (seq.b_idx * p->v_batch_stride + seq.k_tok0 * p->v_row_stride + hk * p->v_head_stride);
        fc_cpu_load_rows(sc->q, qbase, dtype, p->q_row_stride, nq, D);
    }

    for (int64_t k0 = klo; k0 <= khi; k0 += tk) {
        const int nk = (int)(khi - k0 + 1 < tk ? khi - k0 + 1 : tk);
        fc_cpu_load_rows(sc->k, kbase + es * k0 * p->k_row_stride, dtype, p->k_row_stride, nk, D);
        fc_cpu_load_rows(sc->v, vbase + es * k0 * p->v_row_stride, dtype, p->v_row_stride, nk, D);

        for (int i = 0; i < nq; ++i) {
            /* this row's keys inside the tile: [jlo, jhi] relative to k0 */
            int64_t lo = fc_cpu_key_lo(p, i0 + i, shift);
            int64_t hi = fc_cpu_key_hi(p, i0 + i, shift, seq.sk);
            lo = lo > k0 ? lo - k0 : 0;
            hi = hi < k0 + nk - 1 ? hi - k0 : nk - 1;
            if (lo > hi)
                continue;
            const int jlo = (int)lo, n = (int)(hi - lo + 1);
            const float *restrict qi = sc->q + (int64_t)i * D;
            const float *restrict kj = sc->k + (int64_t)jlo * D;
            float *restrict s = sc->s;

            int j = 0;
            for (; j + 4 <= n; j += 4)
                fc_cpu_dot4(qi, kj + (int64_t)j * D, D, s + j);
            for (; j < n; ++j)
                s[j] = fc_cpu_dot1(qi, kj + (int64_t)j * D, D);

            /* scores in the log2 domain */
            if (has_softcap) {
                const float cap_log2 = p->softcap * FC_LOG2E;
                for (j = 0; j < n; ++j)
                    s[j] = cap_log2 * tanhf(p->softcap_scale * s[j]);
            } else {
                for (j = 0; j < n; ++j)
                    s[j] *= p->scale_log2;
            }

            float mx = -INFINITY;
            FC_SIMD_MAX(mx)
            for (j = 0; j < n; ++j)
                mx = s[j] > mx ? s[j] : mx;
            const float m_old = sc->m[i];
            const float m_new = mx > m_old ? mx : m_old;
            float sum = 0.0f;
            for (j = 0; j < n; ++j) {
                s[j] = exp2f(s[j] - m_new);
                sum += s[j];
            }
            float *restrict acc = sc->o + (int64_t)i * D;
            const float alpha = exp2f(m_old - m_new); /* 0 while the row has seen nothing */
            if (alpha != 1.0f)
                for (int d = 0; d < D; ++d)
                    acc[d] *= alpha;
            sc->l[i] = sc->l[i] * alpha + sum;
            sc->m[i] = m_new;
            fc_cpu_pv(acc, s, sc->v + (int64_t)jlo * D, n, D);
        }
    }

    /* epilogue: normalise, round, write; rows that attended no key get 0 and -inf */
    for (int i = 0; i < nq; ++i) {
        const float l = sc->l[i];
        const float inv = l > 0.0f ? 1.0f / l : 0.0f;
        fc_cpu_store_row(obase + es * (int64_t)i * p->o_row_stride, dtype, sc->o + (int64_t)i * D, inv, D);
        if (p->lse) {
            const float lse = l > 0.0f ? sc->m[i] * FC_LN2 + logf(l) : -INFINITY;
            p->lse[seq.b_idx * p->lse_batch_stride + (int64_t)h * p->lse_head_stride +
                   (seq.q_tok0 + i0 + i) * p->lse_row_stride] = lse;
        }
    }
}

fc_status fc_cpu_forward(const fc_fwd_params *p)
{
    if (!p)
        return FC_ERROR_INTERNAL;
    if (p->dtype != FC_T_F16 && p->dtype != FC_T_BF16 && p->dtype != FC_T_F32)
        return FC_ERROR_NOT_SUPPORTED;
    const int D = p->head_dim;
    if (D < 8 || D > FC_CPU_MAX_HEAD_DIM || D % 8 != 0)
        return FC_ERROR_NOT_SUPPORTED;
    if (p->heads_q <= 0 || p->heads_kv <= 0 || p->head_group <= 0 ||
        p->head_group * p->heads_kv != p->heads_q || p->batch < 0)
        return FC_ERROR_INTERNAL;
    if ((p->cu_seqlens_q == NULL) != (p->cu_seqlens_k == NULL))
        return FC_ERROR_INTERNAL;

    const int tq = FC_CPU_Q_TILE_FLOATS / D < FC_CPU_MAX_Q_ROWS ? FC_CPU_Q_TILE_FLOATS / D : FC_CPU_MAX_Q_ROWS;
    const int tk = FC_CPU_KV_TILE_FLOATS / D < FC_CPU_MAX_KV_ROWS ? FC_CPU_KV_TILE_FLOATS / D : FC_CPU_MAX_KV_ROWS;

    /* Longest query sequence: in varlen mode take it from cu_seqlens rather than trusting the
     * declared maximum, so that no row is ever left unwritten. */
    int64_t max_sq = p->seqlen_q;
    if (p->cu_seqlens_q) {
        max_sq = 0;
        for (int64_t b = 0; b < p->batch; ++b) {
            const int64_t len = (int64_t)p->cu_seqlens_q[b + 1] - p->cu_seqlens_q[b];
            max_sq = len > max_sq ? len : max_sq;
        }
    }
    if (p->batch == 0 || max_sq <= 0)
        return FC_SUCCESS;

    const int64_t ntiles = (max_sq + tq - 1) / tq;
    const int64_t nitems = (int64_t)p->batch * p->heads_q * ntiles;

#ifdef _OPENMP
#pragma omp parallel if (nitems > 1)
#endif
    {
        fc_cpu_scratch sc;
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
        for (int64_t it = 0; it < nitems; ++it) {
            /* last tiles first: under a causal mask they are the longest, so dynamic
             * scheduling ends with the short ones and the threads finish together */
            const int64_t tile = ntiles - 1 - it % ntiles;
            const int64_t bh = it / ntiles;
            fc_cpu_tile(p, bh / p->heads_q, (int)(bh % p->heads_q), tile, tq, tk, &sc);
        }
    }
    return FC_SUCCESS;
}
