/*
 * GPU test of flashcore's CUDA error and context handling, linked so that the test and the library
 * share one CUDA runtime (the static library and the static cudart: what a program linking
 * flashcore_static gets). Both kernels (the Hopper one where the device has it, the portable one
 * through FLASHCORE_FORCE_PORTABLE=1), tile sizes that need the dynamic shared-memory opt-in, one
 * split-KV grid (combine launch):
 *   1. an error left pending by an earlier call of the caller (a failed cudaMalloc) is never
 *      reported by flashcore's successful workspace query and forward call, and is not cleared by
 *      them once their kernels have been used on the device (the first use of a kernel makes
 *      once-per-kernel CUDA runtime calls, which may reset it: documented in flashcore.h; the first
 *      round reports it as a note);
 *   2. after cudaDeviceReset() (which drops every kernel's shared-memory opt-in), the same calls on
 *      fresh memory succeed and are correct.
 * Every output is checked against the float64 reference by the project's rule. Exit 77 without a
 * GPU.
 */
#define _POSIX_C_SOURCE 200112L /* setenv */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "flashcore.h"
#include "reference.h"

typedef struct {
    int B, H, S, D, causal;
    fc_dtype dt;
} shape;

static const shape k_shapes[] = {
    {1, 2, 65, 64, 0, FC_DTYPE_F16},     /* small grid: split-KV on the portable kernel */
    {2, 16, 300, 128, 1, FC_DTYPE_BF16}, /* 96 KB tiles on sm_90 */
    {1, 8, 200, 256, 0, FC_DTYPE_F16},
};

static int failures;

static void fail(const char *what, const char *detail)
{
    printf("FAIL %s: %s\n", what, detail);
    ++failures;
}

/* A pending, non-sticky error of the caller's: a cudaMalloc that cannot succeed. */
static void make_pending_error(void)
{
    void *p = NULL;
    if (cudaMalloc(&p, (size_t)1 << 62) != cudaErrorMemoryAllocation)
        fail("setup", "a huge cudaMalloc did not fail with cudaErrorMemoryAllocation");
}

/* The pending error must still be there, untouched (a reset on a kernel's first use is only noted);
 * then clear it. */
static void expect_pending_error(const char *what, const char *call, int first_use)
{
    const cudaError_t e = cudaPeekAtLastError();
    char msg[160];
    if (e == cudaSuccess && first_use) {
        printf("note %s: the caller's pending error was reset by the %s (first use of its kernels)\n", what, call);
    } else if (e != cudaErrorMemoryAllocation) {
        snprintf(msg, sizeof msg, "after the %s: %s", call,
                 e == cudaSuccess ? "the caller's pending error was cleared" : cudaGetErrorName(e));
        fail(what, msg);
    }
    (void)cudaGetLastError();
}

static void *dev_copy(const fc_tensor *h, int64_t nelem)
{
    void *d = NULL;
    const size_t bytes = (size_t)nelem * fc_dtype_size(h->dtype);
    if (cudaMalloc(&d, bytes) != cudaSuccess || cudaMemcpy(d, h->data, bytes, cudaMemcpyHostToDevice) != cudaSuccess) {
        printf("FAIL device allocation or copy: %s\n", cudaGetErrorName(cudaGetLastError()));
        exit(1);
    }
    return d;
}

static void run_shape(const shape *s, const char *round, int first_use, int portable, uint64_t seed)
{
    char what[160];
    snprintf(what, sizeof what, "%s, %s kernel, B=%d H=%d S=%d D=%d%s", round, portable ? "portable" : "default",
             s->B, s->H, s->S, s->D, s->causal ? " causal" : "");
    setenv("FLASHCORE_FORCE_PORTABLE", portable ? "1" : "0", 1);
    fc_rng rng = {seed};
    const int64_t shp[4] = {s->B, s->S, s->H, s->D}, lshp[3] = {s->B, s->H, s->S};
    const int64_t n = (int64_t)s->B * s->S * s->H * s->D, nl = (int64_t)s->B * s->H * s->S;
    fc_tensor hq, hk, hv, ho, hl;
    fc_t_alloc(&hq, s->dt, 4, shp, NULL, NULL);
    fc_t_alloc(&hk, s->dt, 4, shp, NULL, NULL);
    fc_t_alloc(&hv, s->dt, 4, shp, NULL, NULL);
    fc_t_alloc(&ho, s->dt, 4, shp, NULL, NULL);
    fc_t_alloc(&hl, FC_DTYPE_F32, 3, lshp, NULL, NULL);
    double *ref = malloc(sizeof(double) * (size_t)n), *low = malloc(sizeof(double) * (size_t)n);
    if (!hq.data || !hk.data || !hv.data || !ho.data || !hl.data || !ref || !low) {
        printf("FAIL out of host memory\n");
        exit(1);
    }
    fc_t_fill_random(&hq, &rng, 1.0);
    fc_t_fill_random(&hk, &rng, 1.0);
    fc_t_fill_random(&hv, &rng, 1.0);
    fc_t_poison(ho.data, s->dt, n);
    fc_t_poison(hl.data, FC_DTYPE_F32, nl);

    fc_tensor q = hq, k = hk, v = hv, o = ho, l = hl;
    q.data = dev_copy(&hq, n), k.data = dev_copy(&hk, n), v.data = dev_copy(&hv, n);
    o.data = dev_copy(&ho, n), l.data = dev_copy(&hl, nl);
    fc_tensor *all[5] = {&q, &k, &v, &o, &l};
    for (int i = 0; i < 5; ++i)
        all[i]->device = FC_DEVICE_CUDA, all[i]->device_ordinal = 0;
    fc_attention_params prm;
    fc_attention_params_init(&prm);
    prm.causal = s->causal;

    make_pending_error();
    size_t ws = 0;
    fc_status st = fc_attention_workspace_size(&q, &k, &v, &o, &l, &prm, &ws);
    expect_pending_error(what, "workspace query", first_use);
    void *d_ws = NULL;
    if (st == FC_SUCCESS && ws && cudaMalloc(&d_ws, ws) != cudaSuccess)
        fail(what, "workspace allocation");
    if (st == FC_SUCCESS) {
        make_pending_error();
        st = fc_attention_forward(&q, &k, &v, &o, &l, &prm, d_ws, ws, NULL);
        expect_pending_error(what, "forward call", first_use);
    }
    if (st != FC_SUCCESS) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s: %s", fc_status_name(st), fc_last_error());
        fail(what, msg);
    }
    const cudaError_t e = cudaDeviceSynchronize();
    if (e != cudaSuccess)
        fail(what, cudaGetErrorName(e));
    (void)cudaGetLastError();
    cudaMemcpy(ho.data, o.data, (size_t)n * fc_dtype_size(s->dt), cudaMemcpyDeviceToHost);
    fc_ref_forward(&hq, &hk, &hv, &prm, FC_REF_F64, ref, NULL);
    fc_ref_forward(&hq, &hk, &hv, &prm, FC_REF_LOWP, low, NULL);
    const double err = fc_t_max_abs_err(&ho, ref), lowp = fc_t_max_abs_diff(low, ref, n);
    const int ok = st == FC_SUCCESS && fc_t_passes(err, lowp, s->dt);
    if (st == FC_SUCCESS && !ok) {
        char msg[128];
        snprintf(msg, sizeof msg, "max err %.3g > 2 x %.3g + eps", err, lowp);
        fail(what, msg);
    }
    printf("%s %s: workspace %zu, err %.3g (lowp %.3g)\n", ok ? "ok  " : "FAIL", what, ws, err, lowp);

    for (int i = 0; i < 5; ++i)
        cudaFree(all[i]->data);
    cudaFree(d_ws);
    free(hq.data), free(hk.data), free(hv.data), free(ho.data), free(hl.data);
    free(ref), free(low);
}

static void run_round(const char *round, int first_use, uint64_t seed)
{
    for (int portable = 0; portable < 2; ++portable)
        for (size_t i = 0; i < sizeof k_shapes / sizeof k_shapes[0]; ++i)
            run_shape(&k_shapes[i], round, first_use, portable, seed + 31 * i + portable);
}

int main(void)
{
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
        (void)cudaGetLastError();
        printf("skipped: no CUDA device\n");
        return 77;
    }
    const uint64_t seed = fc_t_fresh_seed();
    printf("test_shared_runtime: seed %llu (reproduce with FC_TEST_SEED=%llu)\n", (unsigned long long)seed,
           (unsigned long long)seed);
    run_round("first calls", 1, seed);
    run_round("calls again", 0, seed + 1000);
    if (cudaDeviceReset() != cudaSuccess) {
        fail("cudaDeviceReset", cudaGetErrorName(cudaGetLastError()));
        return 1;
    }
    run_round("after cudaDeviceReset", 0, seed + 2000);
    printf("test_shared_runtime: %s (%d failure%s)\n", failures ? "FAIL" : "PASS", failures, failures == 1 ? "" : "s");
    return failures ? 1 : 0;
}
