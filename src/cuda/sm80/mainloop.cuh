/*
 * The two products of one mainloop step of the portable kernel, for one warp:
 *   S  = Q K^T   (kMT m16 tiles x kN keys; Q from registers or from shared memory)
 *   O += P V     (P from the S registers, repacked as A fragments: no trip through shared memory)
 * and the conversion of the fp32 probabilities into those A fragments.
 */
#ifndef FC_CUDA_SM80_MAINLOOP_CUH
#define FC_CUDA_SM80_MAINLOOP_CUH

#include "cuda/common/mma.cuh"
#include "cuda/common/smem.cuh"

/*
 * All three operands are read with one lane addressing (fc_ldsm_addr la: row0 = lane%8 +
 * 8*(lane/8 % 2), chunk half h = lane/16, based at the Q tile), so one table of swizzled offsets
 * serves Q, K and V; the K and V tiles are compile-time (or per-stage) byte offsets from it.
 * With that lane pattern the four 8x8 matrices of one ldmatrix.x4 are
 *   m0 = rows 0-7, chunk 2s;  m1 = rows 8-15, chunk 2s;  m2 = rows 0-7, chunk 2s+1;  m3 = rows 8-15, chunk 2s+1
 * which is the A fragment (a0..a3) of Q, and for K (rows = keys) the B fragments of two n8 tiles:
 * (m0, m2) for keys 0-7 and (m1, m3) for keys 8-15; for V (.trans, rows = keys) (m0, m1) is the B
 * fragment of d-tile 2s and (m2, m3) that of d-tile 2s+1.
 */

/* A fragments of the warp's Q rows for k-step ks (kMT m16 tiles). */
template <int kMT, int kChunks>
static __device__ __forceinline__ void fc_load_q_frag(const fc_ldsm_addr<kChunks> &la, int warp_row, int ks,
                                                      uint32_t (&a)[kMT][4]) {
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt) fc_ldsm_x4(la.at(warp_row + mt * 16, ks), a[mt]);
}

/*
 * S = Q K^T for one key tile of kN keys; k_off: byte offset of the K buffer in use from the Q tile.
 * One ldmatrix.x4 yields the B fragments of two n8 tiles, each used by kMT mma's.
 */
template <typename T, int kMT, int kNT, int kKS, bool kQRegs, int kQM, int kQK, int kChunks>
static __device__ __forceinline__ void fc_gemm_qk(float (&s)[kMT][kNT][4], const uint32_t (&qr)[kQM][kQK][4],
                                                  const fc_ldsm_addr<kChunks> &la, int warp_row, uint32_t k_off) {
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
        for (int nt = 0; nt < kNT; ++nt) s[mt][nt][0] = s[mt][nt][1] = s[mt][nt][2] = s[mt][nt][3] = 0.0f;
#pragma unroll
    for (int ks = 0; ks < kKS; ++ks) {
        uint32_t a[kMT][4];
        if constexpr (kQRegs) {
            static_assert(kQM == kMT && kQK == kKS, "Q register fragments");
#pragma unroll
            for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
                for (int i = 0; i < 4; ++i) a[mt][i] = qr[mt][ks][i];
        } else {
            fc_load_q_frag<kMT>(la, warp_row, ks, a);
        }
#pragma unroll
        for (int np = 0; np < kNT / 2; ++np) {
            uint32_t b[4];
            fc_ldsm_x4(la.at(np * 16, ks) + k_off, b);
#pragma unroll
            for (int mt = 0; mt < kMT; ++mt) {
                fc_mma<T>::run(s[mt][2 * np], a[mt], b[0], b[2]);
                fc_mma<T>::run(s[mt][2 * np + 1], a[mt], b[1], b[3]);
            }
        }
    }
}

/* Probabilities (fp32, C layout) -> A fragments of P V: the C tiles of keys 16j..16j+7 and
 * 16j+8..16j+15 are exactly the A fragment of k-step j. */
template <typename T, int kMT, int kNT>
static __device__ __forceinline__ void fc_pack_p(const float (&s)[kMT][kNT][4], uint32_t (&pa)[kMT][kNT / 2][4]) {
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
        for (int j = 0; j < kNT / 2; ++j) {
            pa[mt][j][0] = fc_mma<T>::pack(s[mt][2 * j][0], s[mt][2 * j][1]);
            pa[mt][j][1] = fc_mma<T>::pack(s[mt][2 * j][2], s[mt][2 * j][3]);
            pa[mt][j][2] = fc_mma<T>::pack(s[mt][2 * j + 1][0], s[mt][2 * j + 1][1]);
            pa[mt][j][3] = fc_mma<T>::pack(s[mt][2 * j + 1][2], s[mt][2 * j + 1][3]);
        }
}

/* O += P V for one key tile; v_off: byte offset of the V buffer in use from the Q tile. One
 * ldmatrix.x4.trans yields two d8 tiles. */
template <typename T, int kMT, int kPS, int kDT, int kChunks>
static __device__ __forceinline__ void fc_gemm_pv(float (&o)[kMT][kDT][4], const uint32_t (&pa)[kMT][kPS][4],
                                                  const fc_ldsm_addr<kChunks> &la, uint32_t v_off) {
#pragma unroll
    for (int j = 0; j < kPS; ++j) {
#pragma unroll
        for (int dp = 0; dp < kDT / 2; ++dp) {
            uint32_t b[4];
            fc_ldsm_x4_trans(la.at(j * 16, dp) + v_off, b);
#pragma unroll
            for (int mt = 0; mt < kMT; ++mt) {
                fc_mma<T>::run(o[mt][2 * dp], pa[mt][j], b[0], b[1]);
                fc_mma<T>::run(o[mt][2 * dp + 1], pa[mt][j], b[2], b[3]);
            }
        }
    }
}

#endif
