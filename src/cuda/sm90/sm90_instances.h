/* The compiled sm90 instances (one per file in src/cuda/instances/sm90_fwd_*.cu). The list macro is
 * the single source for the dispatch switch and the kernel list string. */
#ifndef FC_SM90_INSTANCES_H
#define FC_SM90_INSTANCES_H

#include <cuda_runtime.h>
#include "flashcore.h"
#include "params.h"

/* X(dtype enum, dtype name, padded head dim) */
#define FC_SM90_INSTANCE_LIST(X) \
    X(FC_T_F16, f16, 64) X(FC_T_F16, f16, 128) X(FC_T_F16, f16, 192) X(FC_T_F16, f16, 256) \
    X(FC_T_BF16, bf16, 64) X(FC_T_BF16, bf16, 128) X(FC_T_BF16, bf16, 192) X(FC_T_BF16, bf16, 256)

/* Wide-key-block instances (fc_sm90_wide_block_n keys, sm90_config.h): X(dtype enum, name, head dim) */
#define FC_SM90_WIDE_INSTANCE_LIST(X) \
    X(FC_T_F16, f16, 64) X(FC_T_F16, f16, 128) X(FC_T_F16, f16, 256) \
    X(FC_T_BF16, bf16, 64) X(FC_T_BF16, bf16, 128) X(FC_T_BF16, bf16, 256)

#define FC_SM90_DECLARE(DT, NAME, D) fc_status fc_sm90_fwd_##NAME##_d##D(const fc_fwd_params *p, cudaStream_t stream);
FC_SM90_INSTANCE_LIST(FC_SM90_DECLARE)
#undef FC_SM90_DECLARE
#define FC_SM90_DECLARE(DT, NAME, D) \
    fc_status fc_sm90_fwd_##NAME##_d##D##_wide(const fc_fwd_params *p, cudaStream_t stream);
FC_SM90_WIDE_INSTANCE_LIST(FC_SM90_DECLARE)
#undef FC_SM90_DECLARE

#endif
