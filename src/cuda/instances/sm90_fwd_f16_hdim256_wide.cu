/* Generated instance: sm90 forward, f16, head-dim tile 256, wide key block (fc_sm90_wide_block_n). */
#include "cuda/sm90/sm90_instances.h"
#include "cuda/sm90/sm90_launch_impl.h"

FC_SM90_DEFINE_WIDE_INSTANCE(FC_T_F16, f16, 256)
