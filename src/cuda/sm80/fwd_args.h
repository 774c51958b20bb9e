/*
 * What the portable forward kernel receives (by value, as a __grid_constant__ parameter): the
 * normalised params plus the constants the launch code derives once.
 */
#ifndef FC_CUDA_SM80_FWD_ARGS_H
#define FC_CUDA_SM80_FWD_ARGS_H

#include "params.h"

typedef struct fc_sm80_args {
    fc_fwd_params p;

    /* Softmax in base 2: p = exp2(s' * exp_mult - rowmax(s') * exp_mult) where
     *   s' = tanh(qk * softcap_scale)     with softcap   (exp_mult = softcap * log2 e)
     *   s' = qk, or -qk when scale < 0    without        (exp_mult = |scale| * log2 e)
     * so exp_mult > 0 always and the running max of s' is the max of the true scores. */
    float exp_mult;
    int flip_sign;   /* negative scale, no softcap: s' = -qk */
    int softcap_on;

    /* Window edges clamped to the reachable distance (anything beyond is unbounded, -1), so that
     * row + offset + window never overflows an int. */
    int window_left;
    int window_right;

    int num_m_blocks; /* ceil(max seqlen_q / kM) */
    int num_splits;   /* 1, or the number of key ranges (split-KV) */
    int batch_offset; /* first sequence of this launch (grid.z is capped at 65535 per launch) */
    int alt;          /* which of the arch class's tiles runs (FC_ALT_*, fc_cfg_alt in tile_config.h) */

    /* Split-KV partials (num_splits > 1): o_part[((s*Hq + h)*total_q + row)*head_dim + d] fp32,
     * normalised by the split's own row sum; lse_part[(s*Hq + h)*total_q + row] natural log. */
    float *o_part;
    float *lse_part;
} fc_sm80_args;

#endif
