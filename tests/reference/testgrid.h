/*
 * The case grid and per-case checking shared by test_cpu and test_gpu: the test-case struct and its
 * description, the grid storage, the grid sections both tests run (masks, GQA/MQA, varlen) and the
 * seeded random cases, strided host views in four layouts, the host side of one case (views,
 * inputs, cu_seqlens, params) and the judging of its outputs against the float64 reference. Where
 * the tensors live (CPU or device memory) and each test's own grid sections stay in the tests.
 * Test code: on a full grid it prints to stderr and exits.
 */
#ifndef FC_TESTGRID_H
#define FC_TESTGRID_H

#include <stddef.h>
#include <stdint.h>
#include "flashcore.h"
#include "reference.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- one case ---------------------------------------------------------------------------------- */

/* Memory layouts of the views (see fc_tg_make_view). */
enum { FC_TG_CONTIG, FC_TG_PAD, FC_TG_TRANS, FC_TG_SUB, FC_TG_LAYOUTS };

/* The lse output's view (the API takes any lse strides): the case layout's (last dim contiguous),
 * or one of these, each in an allocation of its own, poisoned, the view starting a little into it:
 *   token-major  [.., S, H] storage of the [.., H, S] view: each row's heads adjacent
 *   every third  the last dim at stride 3, odd padding after each head and sequence */
enum { FC_TG_LSE_LAYOUT, FC_TG_LSE_TOKEN_MAJOR, FC_TG_LSE_EVERY_THIRD, FC_TG_LSE_VIEWS };

typedef struct fc_tcase {
    int B, Hq, Hkv, Sq, Sk, D; /* batched shape (B, Sq, Sk ignored for varlen) */
    fc_dtype dtype;
    int causal, wl, wr;
    float softcap, scale;
    int lse;
    int lse_view; /* FC_TG_LSE_* */
    int layout;
    double qscale; /* input magnitude of q (larger = peakier softmax) */
    int nseq;      /* > 0: varlen with these per-sequence lengths */
    int lens_q[8], lens_k[8];
} fc_tcase;

const char *fc_tg_dtype_name(fc_dtype t);
/* One line describing the case (shape, dtype, features, layout) into buf. */
void fc_tg_describe(const fc_tcase *c, char *buf, size_t n);

/* ---- the grid ---------------------------------------------------------------------------------- */

#define FC_TG_MAX_CASES 400

typedef struct fc_tg_grid {
    fc_tcase cases[FC_TG_MAX_CASES];
    int n;
} fc_tg_grid;

/* Append a batched case (no mask, lse on, contiguous, |q| x1); exits if the grid is full. */
fc_tcase *fc_tg_add(fc_tg_grid *g, int B, int Hq, int Hkv, int Sq, int Sk, int D, fc_dtype dt);
/* Append a varlen case of nseq sequences with these query / key lengths. */
fc_tcase *fc_tg_add_varlen(fc_tg_grid *g, int nseq, const int *lq, const int *lk, int Hq, int Hkv, int D,
                           fc_dtype dt);

/* The mask cases both tests run, in this order: Sq != Sk both ways (with and without causal), empty
 * key / query sequences, causal with Sq = Sk on every seqs[] length, sliding windows (incl. one-sided
 * and degenerate), causal + left window, a decode-like row with a window. Head dims rotate through
 * dims[0..4], dtypes through dts[0..n_dts-1]. */
void fc_tg_add_mask_cases(fc_tg_grid *g, const int *seqs, int n_seqs, const int *dims, const fc_dtype *dts,
                          int n_dts);

/* The varlen cases both tests run: empty and length-1 sequences, q and k lengths differing per
 * sequence, with causal, windows, softcap, GQA and strided layouts. wide[0] and wide[1] are the
 * dtypes of the third and seventh case (fp32 where the backend has it). */
void fc_tg_add_varlen_cases(fc_tg_grid *g, const fc_dtype wide[2]);

/* The GQA (8/2) and MQA cases both tests run; wide is the dtype of the third (fp32 where the backend
 * has it). */
void fc_tg_add_gqa_cases(fc_tg_grid *g, fc_dtype wide);

/* What random cases a test draws: shapes, head dims, dtypes, features and layouts mixed freely. */
typedef struct fc_tg_random {
    int count;             /* cases to add */
    uint64_t salt;         /* xored into the run's seed */
    const int *seq_pool;   /* batched Sq and Sk are drawn from these */
    int n_seq;
    const fc_dtype *dtypes; /* drawn uniformly */
    int n_dtypes;
    int max_len;           /* varlen lengths below this (one in five is 0 or 1) */
    int max_window;        /* window edges below this (one in three unbounded) */
    int negative_scales;   /* a quarter of the custom scales are negative */
    double max_work;       /* Sq*Sk*Hq*D (summed over sequences) per case; larger ones are shrunk */
} fc_tg_random;

void fc_tg_add_random(fc_tg_grid *g, const fc_tg_random *spec, uint64_t seed);

/* ---- host views ---------------------------------------------------------------------------------- */

typedef struct fc_tg_view {
    fc_tensor t;   /* the view */
    void *base;    /* the allocation (free() it) */
    int64_t nelem; /* its size in elements */
} fc_tg_view;

/* Padding between strided rows: odd element counts (any stride), or multiples of 8 elements (the
 * CUDA alignment rule, strides % 8 == 0). */
enum { FC_TG_PADS_ODD, FC_TG_PADS_ALIGNED };

/* A view of logical shape `shape` (ndim 2..4, last dim contiguous) laid out as `layout`, its whole
 * allocation poisoned:
 *   contig      dense row-major
 *   padded      extra elements after every non-last dim step
 *   transposed  the two dims before the last are swapped in memory ([.., H, S, D] storage for a
 *               [.., S, H, D] view), plus padding (ndim 2: padded)
 *   subview     a window of a larger buffer: one more entry in each non-last dim, 8 more in the
 *               last, and the view starts one step into each (so gaps sit inside every row)
 * Returns 0, or -1 when out of memory. */
int fc_tg_make_view(fc_tg_view *v, fc_dtype dt, int ndim, const int64_t *shape, int layout, int pads);
size_t fc_tg_view_bytes(const fc_tg_view *v);

/* ---- the host side of one case ------------------------------------------------------------------ */

typedef struct fc_tg_problem {
    fc_tg_view q, k, v, o, lse; /* lse all zero when the case has none */
    fc_attention_params prm;    /* the case's params; varlen: cu_seqlens point into this struct */
    int32_t cu_q[9], cu_k[9];
    int64_t tq;                 /* query tokens (B*Sq, or the varlen total) */
} fc_tg_problem;

/* Views for the case (q/k/v/o/lse in different flavours of its layout so their strides all differ;
 * lse as c->lse_view says), outputs poisoned, fresh random q, k, v from seed, params set. Returns 0, or -1 when out of memory
 * (everything freed). The struct must not be copied (cu_seqlens point into it). */
int fc_tg_problem_init(fc_tg_problem *p, const fc_tcase *c, uint64_t seed, int pads);
void fc_tg_problem_free(fc_tg_problem *p);

/* A checksum of the q, k and v allocations (inputs must be unchanged by a call). */
uint64_t fc_tg_inputs_checksum(const fc_tg_problem *p);

/* Copies of the out / lse allocations, for the determinism check: save, then re-poison the outputs;
 * after the second call, compare the new outputs with the saved bits. */
typedef struct fc_tg_saved {
    void *o, *lse;
} fc_tg_saved;

/* Returns 0, or -1 when out of memory. */
int fc_tg_save_and_poison(fc_tg_problem *p, fc_tg_saved *s);
/* 1 if the outputs' bits differ from the saved ones; frees the copies. */
int fc_tg_outputs_differ(const fc_tg_problem *p, fc_tg_saved *s);

typedef struct fc_tg_result {
    double err, lowp_err, lse_err, lse_lowp_err;
    int64_t pad_touched;
    int status, ok;
    int inputs_changed;   /* the call wrote into q, k or v */
    int nondeterministic; /* a second call gave different bits */
} fc_tg_result;

/* Judge the host outputs of a case against the float64 reference (FC_REF_F64 and FC_REF_LOWP on
 * the same inputs): out by fc_t_passes, lse by fc_t_passes_lse, every element written, nothing
 * outside the views touched. Fills the errors and r->pad_touched, and sets r->ok from those and
 * r->status (must be FC_SUCCESS), r->inputs_changed and r->nondeterministic (must be 0), which the
 * caller fills first. Returns 0, or -1 when out of memory. */
int fc_tg_judge(const fc_tcase *c, const fc_tg_problem *p, fc_tg_result *r);

#ifdef __cplusplus
}
#endif
#endif
