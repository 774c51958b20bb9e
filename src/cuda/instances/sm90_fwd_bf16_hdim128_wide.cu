/* Generated instance: sm90 forward, bf16, head-dim tile 128, wide key block (FC_SM90_WIDE_BLOCK_N). */
#include "cuda/sm90/sm90_instances.h"
#include "cuda/sm90/sm90_launch_impl.h"

FC_SM90_DEFINE_WIDE_INSTANCE(FC_T_BF16, bf16, 128)
