/*
 * The one decision function. "Workspace size" and "run" both come through here, so they cannot
 * disagree. The backend follows where the tensors live; inside the CUDA backend the kernel choice
 * (arch, dtype, head dim, split-KV) is made by its own single plan function (src/cuda/launch.cu),
 * which the workspace query and the run both call.
 */
#include "dispatch.h"

#include "cpu/cpu_backend.h"
#include "internal.h"
#ifdef FC_HAVE_CUDA
#include "cuda/cuda_backend.h"
#endif

/* No query row to compute (no sequence, no query token, or every sequence empty): the call writes
 * nothing, needs no workspace and succeeds on every backend, for the query and the run alike. */
static int fc_nothing_to_do(const fc_fwd_params *p) {
    return p->batch == 0 || p->seqlen_q == 0 || p->total_q == 0;
}

fc_status fc_dispatch_forward(const fc_fwd_params *p, void *stream, fc_dispatch_mode mode,
                              size_t *workspace_needed) {
    *workspace_needed = 0;
    if (fc_nothing_to_do(p)) return FC_SUCCESS;
    if (p->device_ordinal < 0) {
        /* The CPU backend needs no workspace: its per-thread scratch lives on the stack. */
        if (mode == FC_DISPATCH_QUERY) return FC_SUCCESS;
        return fc_cpu_forward(p);
    }
#ifdef FC_HAVE_CUDA
    /* The workspace is optional, as in cuBLASLt: the CUDA plan takes what fits in
     * p->workspace_size (a plan that needs none when it is short of the query: no key splitting,
     * the same result, less parallel on small grids). src/api has checked that a non-zero size
     * comes with aligned memory. */
    if (mode == FC_DISPATCH_QUERY) return fc_cuda_workspace_size(p, workspace_needed);
    return fc_cuda_forward(p, stream);
#else
    (void)stream;
    return fc_set_error(FC_ERROR_CUDA_UNAVAILABLE, "this flashcore was built without CUDA");
#endif
}
