/* CPU backend: tiled online-softmax forward attention, OpenMP over (batch, head, query tile). */
#ifndef FC_CPU_BACKEND_H
#define FC_CPU_BACKEND_H

#include "flashcore.h"
#include "params.h"

/* Runs the forward pass described by p (all pointers are host memory, already validated).
 * Supports every feature of fc_fwd_params and dtypes f16, bf16, f32. */
fc_status fc_cpu_forward(const fc_fwd_params *p);

#endif
