/* CPU backend: tiled online-softmax forward attention, OpenMP over (batch, head, query tile). */
#ifndef FC_CPU_BACKEND_H
#define FC_CPU_BACKEND_H

#include "flashcore.h"
#include "params.h"

/* Runs the forward pass described by p (all pointers are host memory, already validated).
 * Supports every feature of fc_fwd_params and dtypes f16, bf16, f32, head_dim a multiple of 8 up
 * to 256. Allocates nothing: each thread's scratch (~97 KB of fp32 tiles) lives on its stack.
 * Deterministic: the result does not depend on the number of threads.
 * @return FC_SUCCESS; FC_ERROR_NOT_SUPPORTED for a dtype or head_dim it cannot run;
 *         FC_ERROR_INTERNAL for inconsistent params (a bug in the caller). */
fc_status fc_cpu_forward(const fc_fwd_params *p);

#endif
