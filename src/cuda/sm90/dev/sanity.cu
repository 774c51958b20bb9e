/* Dev-only: runs a few small sm90 forward configs for compute-sanitizer (memcheck/racecheck/synccheck).
 * Correctness is checked by check.py; this only exercises the kernels on random data. */
#include <stdio.h>
#include <stdlib.h>
#include <cuda_runtime.h>
#include <cuda_bf16.h>

extern "C" int fcdev_forward(void *q, void *k, void *v, void *o, float *lse, const long long *strides, int batch,
                             int sq, int sk, int hq, int hkv, int d, int dtype, int causal, int wl, int wr,
                             float softcap, float scale, const int *cu_q, const int *cu_k, long long total_q,
                             long long total_k, void *stream, int *handled);
extern "C" void fcdev_set_splits(int s);
extern "C" void fcdev_set_wgsplit(int on);

static void *rnd(size_t n) {
    unsigned short *h = (unsigned short *)malloc(n * 2);
    for (size_t i = 0; i < n; ++i) {
        float x = (float)rand() / RAND_MAX * 2.f - 1.f;
        __nv_bfloat16 b = __float2bfloat16(x);
        h[i] = *(unsigned short *)&b;
    }
    void *d;
    cudaMalloc(&d, n * 2);
    cudaMemcpy(d, h, n * 2, cudaMemcpyHostToDevice);
    free(h);
    return d;
}

int main() {
    struct { int b, sq, sk, hq, hkv, d, causal, wl, wr, varlen; float cap; } cfg[] = {
        {2, 65, 200, 4, 2, 128, 0, -1, -1, 0, 0.f}, {1, 300, 300, 2, 1, 64, 1, -1, -1, 0, 0.f},
        {2, 129, 77, 2, 2, 256, 0, 20, 5, 0, 30.f}, {1, 7, 1000, 2, 2, 192, 1, -1, -1, 0, 0.f},
        {3, 100, 150, 2, 1, 96, 1, -1, -1, 1, 0.f},
        {1, 1100, 1100, 20, 4, 64, 0, -1, -1, 0, 0.f}, /* 180 tiles > 132 SMs: persistent, several per CTA */
        {1, 1100, 1100, 20, 4, 64, 1, -1, -1, 0, 0.f}, /* causal, 9 query blocks: persistent pairs + empty slot */
        {2, 1000, 1100, 10, 5, 128, 1, -1, -1, 0, 0.f}, /* causal Sq != Sk, 160 tiles: persistent pairs */
        {1, 200, 4500, 2, 2, 128, 0, -1, -1, 0, 0.f},   /* wide key blocks (Sk >= 4096), split over 4 */
        {1, 1100, 100, 20, 4, 128, 0, -1, -1, 0, 0.f},  /* persistent, 1 key block per tile: Q freed after the first S */
    };
    int fails = 0;
    const int ncfg = sizeof cfg / sizeof cfg[0];
    /* Each config three times: the library's rule (small ones take the query-row split or a cluster
     * split), no split of either kind, and every call forced onto the query-row split (64/128 tiles;
     * the large configs then run it persistent, causal ones in pairs). */
    for (int run = 0; run < 3 * ncfg; ++run) {
        const int c = run % ncfg;
        fcdev_set_splits(run < ncfg ? 0 : 1);
        fcdev_set_wgsplit(run < 2 * ncfg ? -1 : 1);
        int B = cfg[c].b, Sq = cfg[c].sq, Sk = cfg[c].sk, Hq = cfg[c].hq, Hk = cfg[c].hkv, D = cfg[c].d;
        void *q = rnd((size_t)B * Sq * Hq * D), *k = rnd((size_t)B * Sk * Hk * D), *v = rnd((size_t)B * Sk * Hk * D);
        void *o; float *lse;
        cudaMalloc(&o, (size_t)B * Sq * Hq * D * 2);
        cudaMalloc(&lse, (size_t)B * Sq * Hq * 4);
        long long st[12] = {(long long)Sq * Hq * D, Hq * D, D, (long long)Sk * Hk * D, Hk * D, D,
                            (long long)Sk * Hk * D, Hk * D, D, (long long)Sq * Hq * D, Hq * D, D};
        int *cu_q = NULL, *cu_k = NULL, batch = B;
        long long tq = 0, tk = 0;
        if (cfg[c].varlen) { /* B sequences packed: lengths Sq-13*i, Sk-31*i */
            int hq_[8], hk_[8];
            hq_[0] = hk_[0] = 0;
            for (int i = 0; i < B; ++i) { hq_[i + 1] = hq_[i] + Sq - 13 * i; hk_[i + 1] = hk_[i] + Sk - 31 * i; }
            cudaMalloc(&cu_q, 4 * (B + 1)); cudaMalloc(&cu_k, 4 * (B + 1));
            cudaMemcpy(cu_q, hq_, 4 * (B + 1), cudaMemcpyHostToDevice);
            cudaMemcpy(cu_k, hk_, 4 * (B + 1), cudaMemcpyHostToDevice);
            tq = hq_[B]; tk = hk_[B];
            st[0] = st[3] = st[6] = st[9] = 0;
        }
        int handled = 0;
        int s = fcdev_forward(q, k, v, o, lse, st, batch, Sq, Sk, Hq, Hk, D, 2, cfg[c].causal, cfg[c].wl, cfg[c].wr,
                              cfg[c].cap, 0.f, cu_q, cu_k, tq, tk, NULL, &handled);
        cudaError_t e = cudaDeviceSynchronize();
        printf("cfg %d (%s): status %d handled %d cuda %s\n", c,
               run < ncfg ? "auto splits" : run < 2 * ncfg ? "no split" : "query-row split", s, handled,
               cudaGetErrorString(e));
        if (s || !handled || e) fails++;
        cudaFree(q); cudaFree(k); cudaFree(v); cudaFree(o); cudaFree(lse);
        if (cu_q) { cudaFree(cu_q); cudaFree(cu_k); }
    }
    printf("sanity: %d failures\n", fails);
    return fails != 0;
}
