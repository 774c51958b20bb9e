/* The one decision: which backend serves a (validated) forward call, how much workspace it needs. */
#ifndef FC_DISPATCH_H
#define FC_DISPATCH_H

#include <stddef.h>

#include "flashcore.h"
#include "params.h"

typedef enum { FC_DISPATCH_QUERY = 0, FC_DISPATCH_RUN = 1 } fc_dispatch_mode;

/* QUERY: set *workspace_needed only. RUN: run on the backend (the workspace travels in p). */
fc_status fc_dispatch_forward(const fc_fwd_params *p, void *stream, fc_dispatch_mode mode,
                              size_t *workspace_needed);

#endif
