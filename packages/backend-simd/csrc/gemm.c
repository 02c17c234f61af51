// C = A W^T (c[m][n] (+)= sum_k a[m][k] w[n][k]): the matrix products of training (the projection and recurrent
// products of a forward that keeps its tape, dh and dx of the backward, the weight gradients over all T*B rows).
// Both operands are read along contiguous rows, so nothing is packed: a tile of MR rows of A and NR rows of W
// keeps MR*NR vector accumulators over k (4 products a lane), summed across lanes once per K block.
#include "simd.h"

#define KC 512 // k values per block: MR rows of A (8 KiB) stay in L1 while a panel of W passes
#define NC 64  // rows of W per panel: NC * KC floats (128 KiB) stay in L2 while every tile of A passes

static inline float lanes_sum(f4 v) {
  v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
  v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 1, 0, 3, 2));
  return wasm_f32x4_extract_lane(v, 0);
}

// One MR x NR tile over k in [0, kn); `add` says whether C already holds a partial sum to add to.
__attribute__((always_inline)) static inline void tile(const float *a, int lda, const float *w, int ldw, float *c, int ldc, int kn,
                                                       int add, const int MR, const int NR) {
  f4 acc[4][2];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) acc[i][j] = splat(0.0f);
  int k = 0;
  for (; k + 4 <= kn; k += 4) {
    f4 wv[2];
    for (int j = 0; j < NR; j++) wv[j] = wasm_v128_load(w + j * ldw + k);
    for (int i = 0; i < MR; i++) {
      const f4 av = wasm_v128_load(a + i * lda + k);
      for (int j = 0; j < NR; j++) acc[i][j] = madd(acc[i][j], av, wv[j]);
    }
  }
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) {
      float s = lanes_sum(acc[i][j]);
      for (int kk = k; kk < kn; kk++) s += a[i * lda + kk] * w[j * ldw + kk];
      float *out = c + i * ldc + j;
      *out = add ? *out + s : s;
    }
}

// Rows m0..m1 of C, columns n0..n1 (this thread's share).
static void gemm_part(const job_t *job, int m0, int m1, int n0, int n1) {
  const int K = job->K, lda = job->lda, ldw = job->ldw, ldc = job->ldc;
  const float *A = F(job->a), *W = F(job->w);
  float *C = F(job->cm);
  for (int k0 = 0; k0 < K || k0 == 0; k0 += KC) {
    const int kn = K - k0 < KC ? K - k0 : KC;
    const int add = k0 > 0 || job->accumulate;
    for (int p0 = n0; p0 < n1; p0 += NC) {
      const int p1 = p0 + NC < n1 ? p0 + NC : n1;
      int m = m0;
      for (; m + 4 <= m1; m += 4) {
        const float *a = A + (uint32_t)m * lda + k0;
        float *c = C + (uint32_t)m * ldc;
        int n = p0;
        for (; n + 2 <= p1; n += 2) tile(a, lda, W + (uint32_t)n * ldw + k0, ldw, c + n, ldc, kn, add, 4, 2);
        if (n < p1) tile(a, lda, W + (uint32_t)n * ldw + k0, ldw, c + n, ldc, kn, add, 4, 1);
      }
      for (; m < m1; m++) {
        const float *a = A + (uint32_t)m * lda + k0;
        float *c = C + (uint32_t)m * ldc;
        int n = p0;
        for (; n + 2 <= p1; n += 2) tile(a, lda, W + (uint32_t)n * ldw + k0, ldw, c + n, ldc, kn, add, 1, 2);
        if (n < p1) tile(a, lda, W + (uint32_t)n * ldw + k0, ldw, c + n, ldc, kn, add, 1, 1);
      }
    }
    if (K == 0) break;
  }
}

// Threads split the longer side of C (N in whole tiles when it is long enough): no two threads write one value.
void gemm_abt(const job_t *job, int tid) {
  const int M = job->M, N = job->N, P = job->nthreads;
  if (N >= 16 * P) {
    const int pairs = (N + 1) / 2;
    int n0 = (int)((int64_t)pairs * tid / P) * 2, n1 = (int)((int64_t)pairs * (tid + 1) / P) * 2;
    gemm_part(job, 0, M, n0, n1 < N ? n1 : N);
  } else {
    const int quads = (M + 3) / 4;
    int m0 = (int)((int64_t)quads * tid / P) * 4, m1 = (int)((int64_t)quads * (tid + 1) / P) * 4;
    gemm_part(job, m0 < M ? m0 : M, m1 < M ? m1 : M, 0, N);
  }
}
