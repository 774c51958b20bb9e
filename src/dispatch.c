/*
 * The one decision function. "Workspace size" and "run" both come through here, so they cannot
 * disagree. The backend follows where the tensors live; inside the CUDA backend the kernel choice
 * (arch, dtype, head dim, split-KV) is made by its own single dispatch in src/cuda/launch.cu.
 */
#include "dispatch.h"

#include "cpu/cpu_backend.h"
#include "internal.h"
#ifdef FC_HAVE_CUDA
#include "cuda/cuda_backend.h"
#endif

fc_status fc_dispatch_forward(const fc_fwd_params *p, void *stream, fc_dispatch_mode mode,
                              size_t *workspace_needed) {
    *workspace_needed = 0;
    const int on_cuda = p->device_ordinal >= 0;
    if (!on_cuda) {
        /* The CPU backend needs no workspace: its per-thread scratch lives on the stack. */
        if (mode == FC_DISPATCH_QUERY) return FC_SUCCESS;
        if (p->total_q == 0 || p->batch == 0) return FC_SUCCESS;
        return fc_cpu_forward(p);
    }
#ifdef FC_HAVE_CUDA
    if (mode == FC_DISPATCH_QUERY) return fc_cuda_workspace_size(p, workspace_needed);
    /* The workspace is optional, as in cuBLASLt: the CUDA backend's one plan function (launch.cu)
     * takes a plan that needs none when p->workspace_size is short of the query (no key splitting:
     * the same result, less parallel on small grids), so the run does not query it again here.
     * src/api has checked that a non-zero size comes with aligned memory. */
    if (p->total_q == 0 || p->batch == 0) return FC_SUCCESS;
    return fc_cuda_forward(p, stream);
#else
    (void)stream;
    return fc_set_error(FC_ERROR_CUDA_UNAVAILABLE, "this flashcore was built without CUDA");
#endif
}
