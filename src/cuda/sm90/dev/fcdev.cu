/*
 * Dev-only harness (not built by CMake): a C entry that fills fc_fwd_params the way src/api does
 * and calls fc_sm90_forward, so the sm90 kernels can be tested and timed before the shared GPU test
 * suite exists. Built by src/cuda/sm90/dev/run.sh into libfcdev.so (used by check.py via ctypes).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <cuda_runtime.h>
#include "internal.h"
#include "cuda/sm90/sm90_launch.h"

static char g_err[512];
extern "C" fc_status fc_set_error(fc_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_err, sizeof g_err, fmt, ap);
    va_end(ap);
    return status;
}
extern "C" const char *fcdev_last_error(void) { return g_err; }

/* Scheduling overrides read by the instances built with -DFC_SM90_DEV (sm90_launch_impl.h). */
extern "C" {
int fc_sm90_dev_splits = 0;
int fc_sm90_dev_paired = -1;
int fc_sm90_dev_pdl = 1;
int fc_sm90_dev_wide = -1;
int fc_sm90_dev_wgsplit = -1;
}
extern "C" void fcdev_set_splits(int s) { fc_sm90_dev_splits = s; }
extern "C" void fcdev_set_paired(int on) { fc_sm90_dev_paired = on; }
extern "C" void fcdev_set_pdl(int on) { fc_sm90_dev_pdl = on; }
extern "C" void fcdev_set_wide(int on) { fc_sm90_dev_wide = on; }
extern "C" void fcdev_set_wgsplit(int on) { fc_sm90_dev_wgsplit = on; }

/* strides: [q_b, q_r, q_h, k_b, k_r, k_h, v_b, v_r, v_h, o_b, o_r, o_h] in elements.
 * Returns the fc_status; *handled as from fc_sm90_forward. */
extern "C" int fcdev_forward(void *q, void *k, void *v, void *o, float *lse, const long long *strides, int batch,
                             int sq, int sk, int hq, int hkv, int d, int dtype, int causal, int wl, int wr,
                             float softcap, float scale, const int *cu_q, const int *cu_k, long long total_q,
                             long long total_k, void *stream, int *handled) {
    fc_fwd_params p;
    memset(&p, 0, sizeof p);
    p.q = q; p.k = k; p.v = v; p.o = o; p.lse = lse;
    p.q_batch_stride = strides[0]; p.q_row_stride = strides[1]; p.q_head_stride = strides[2];
    p.k_batch_stride = strides[3]; p.k_row_stride = strides[4]; p.k_head_stride = strides[5];
    p.v_batch_stride = strides[6]; p.v_row_stride = strides[7]; p.v_head_stride = strides[8];
    p.o_batch_stride = strides[9]; p.o_row_stride = strides[10]; p.o_head_stride = strides[11];
    p.batch = batch; p.heads_q = hq; p.heads_kv = hkv; p.head_group = hq / hkv; p.head_dim = d;
    p.seqlen_q = sq; p.seqlen_k = sk;
    p.cu_seqlens_q = cu_q; p.cu_seqlens_k = cu_k;
    if (cu_q) {
        p.total_q = total_q; p.total_k = total_k;
        p.lse_batch_stride = 0; p.lse_head_stride = total_q; p.lse_row_stride = 1;
    } else {
        p.total_q = (long long)batch * sq; p.total_k = (long long)batch * sk;
        p.lse_batch_stride = (long long)hq * sq; p.lse_head_stride = sq; p.lse_row_stride = 1;
    }
    p.scale = scale > 0.f ? scale : 1.f / sqrtf((float)d);
    p.scale_log2 = p.scale * FC_LOG2E;
    p.softcap = softcap;
    p.softcap_scale = softcap > 0.f ? p.scale / softcap : 0.f;
    if (causal) { wr = 0; }
    p.window_left = wl; p.window_right = wr;
    p.is_causal = (wr == 0 && wl < 0);
    p.has_window = (wl >= 0 || wr >= 0);
    p.dtype = dtype;
    cudaGetDevice(&p.device_ordinal);
    return (int)fc_sm90_forward(&p, stream, handled);
}
