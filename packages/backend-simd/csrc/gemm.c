// C = A W^T (c[m][n] (+)= sum_k a[m][k] w[n][k]): the matrix products of training (the projection and recurrent
// products of a forward that keeps its tape, dh and dx of the backward, the weight gradients over all T*B rows).
// Both operands are read along contiguous rows, so nothing is packed: a tile of MR rows of A and NR rows of W
// keeps MR*NR vector accumulators over k (4 products a lane), summed across lanes once per K block.
#include "simd.h"

#define KC 512 // k values per block: MR rows of A (8 KiB) stay in L1 while a panel of W passes
#define NC 64  // rows of W per panel: NC * KC floats (128 KiB) stay in L2 while every tile of A passes

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
        for (; n + 2 <= p1; n += 2) dot_tile(a, lda, W + (uint32_t)n * ldw + k0, ldw, c + n, ldc, kn, add, 4, 2);
        if (n < p1) dot_tile(a, lda, W + (uint32_t)n * ldw + k0, ldw, c + n, ldc, kn, add, 4, 1);
      }
      for (; m < m1; m++) {
        const float *a = A + (uint32_t)m * lda + k0;
        float *c = C + (uint32_t)m * ldc;
        int n = p0;
        for (; n + 2 <= p1; n += 2) dot_tile(a, lda, W + (uint32_t)n * ldw + k0, ldw, c + n, ldc, kn, add, 1, 2);
        if (n < p1) dot_tile(a, lda, W + (uint32_t)n * ldw + k0, ldw, c + n, ldc, kn, add, 1, 1);
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
