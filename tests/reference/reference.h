/*
 * The float64 reference (the truth) and the test utilities shared by the C tests and the CLI's
 * `check` command. Host memory only; inputs are fc_tensor descriptions of CPU tensors, read at their
 * stored (rounded) precision.
 */
#ifndef FC_REFERENCE_H
#define FC_REFERENCE_H

#include <stddef.h>
#include <stdint.h>
#include "flashcore.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Naive attention in float64 (mode FC_REF_F64) or as a plain low-precision implementation would
 * do it (mode FC_REF_LOWP: scores in fp32, P rounded to the input dtype before P.V, fp32 accumulate,
 * output rounded to the dtype), which sets the tolerance scale.
 * q/k/v: CPU tensors as for fc_attention_forward (batched 4-D or varlen 3-D with params' cu_seqlens
 * in host memory). out: dense float64 array with o's logical shape ([B,Sq,Hq,D] or [total_q,Hq,D]).
 * lse: NULL, or dense float64 [B,Hq,Sq] (varlen [Hq,total_q]). Fully-masked rows: out 0, lse -inf.
 * Varlen: cu_seqlens_q[num_seqs] must equal total_q and cu_seqlens_k[num_seqs] total_k (tokens
 * outside every sequence have no defined output). OpenMP-parallel over query rows.
 * @return 0 on success, -1 on an argument it cannot handle (or out of memory).
 */
enum { FC_REF_F64 = 0, FC_REF_LOWP = 1 };
int fc_ref_forward(const fc_tensor *q, const fc_tensor *k, const fc_tensor *v,
                   const fc_attention_params *params, int mode, double *out, double *lse);

/* ---- half-precision conversion (portable C, round-to-nearest-even) ---- */
uint16_t fc_t_f32_to_f16(float f);
float fc_t_f16_to_f32(uint16_t h);
uint16_t fc_t_f32_to_bf16(float f);
float fc_t_bf16_to_f32(uint16_t h);
/* Read element `i` (element offset from t->data) of a host tensor as double. */
double fc_t_load(const void *data, fc_dtype dtype, int64_t i);
void fc_t_store(void *data, fc_dtype dtype, int64_t i, double x);

/* ---- random inputs, poison, comparison ---- */
/* xorshift-based generator; seed from fc_t_fresh_seed() for fresh inputs on every run. */
typedef struct { uint64_t s; } fc_rng;
/* A fresh seed from time, pid and a counter (48 bits); the environment variable FC_TEST_SEED, when
 * set, overrides it (every call then returns that value) so a failing run can be replayed. */
uint64_t fc_t_fresh_seed(void);
double fc_rng_normal(fc_rng *r);
/* Uniform 64-bit value (the generator's raw output). */
uint64_t fc_rng_u64(fc_rng *r);
/* Fill every addressable element of a host tensor with N(0,1)*scale values (rounded to its dtype). */
void fc_t_fill_random(const fc_tensor *t, fc_rng *r, double scale);
/* Fill the whole allocation [data, data+nelem) with a poison pattern (NaN for float dtypes). */
void fc_t_poison(void *data, fc_dtype dtype, int64_t nelem);

/* Allocate a host tensor of `shape` with its elements spread according to `pad` extra elements per
 * non-last dim (pad NULL or 0 = contiguous): stride[ndim-1] = 1 and
 * stride[d] = stride[d+1] * shape[d+1] + pad[d]. Returns the allocation (free() it; also t->data)
 * and its size in elements in *nelem (may be NULL); NULL when out of memory. */
void *fc_t_alloc(fc_tensor *t, fc_dtype dtype, int ndim, const int64_t *shape, const int64_t *pad,
                 int64_t *nelem);

/* Number of elements of the allocation [base, base+nelem) outside t's view that no longer hold
 * the poison pattern of fc_t_poison (t->data may lie inside the allocation); -1 if out of memory. */
int64_t fc_t_padding_changed(const void *base, int64_t nelem, const fc_tensor *t);

/* Compare a tensor (o's description) against a dense float64 reference of the same logical shape.
 * Returns max |a - ref| (INFINITY if any element is NaN/Inf where ref is finite, i.e. unwritten). */
double fc_t_max_abs_err(const fc_tensor *o, const double *ref);
/* Same for a dense float64 lse vs an fp32 lse tensor; -inf must match -inf exactly. */
double fc_t_max_abs_err_lse(const fc_tensor *lse, const double *ref);
/* Max |a - b| of two dense arrays (treating matching -inf as 0 error, NaN as INFINITY). */
double fc_t_max_abs_diff(const double *a, const double *b, int64_t n);

/* The correctness standard of DEVELOPERS.md: pass iff err is finite and
 * err <= 2 * lowp_err + eps, with eps chosen per dtype (FC_T_EPS_*). */
#define FC_T_EPS_F16 1e-3
#define FC_T_EPS_BF16 8e-3
#define FC_T_EPS_F32 1e-5
double fc_t_eps(fc_dtype dtype);
int fc_t_passes(double err, double lowp_err, fc_dtype dtype);

/* The rule for lse (fp32 whatever the input dtype, so its error scales with its magnitude):
 * pass iff err is finite and err <= 2 * lowp_err + FC_T_LSE_REL_EPS * max(1, max finite |ref_lse|),
 * ref_lse being the dense float64 reference lse of n values. FC_T_LSE_REL_EPS is ~8 fp32 ulps. */
#define FC_T_LSE_REL_EPS 1e-6
int fc_t_passes_lse(double err, double lowp_err, const double *ref_lse, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
