// C = A^T B (c[m][n] (+)= sum_r a[r][m] b[r][n]): the weight gradients of training, dW = dG^T X over all T*B rows,
// read as they lie (no transposes). A tile of MR columns of A and 8 (or 4) columns of B keeps its accumulators
// over r; each r broadcasts MR values of A against 2 vectors of B.
#include "simd.h"

#define RC 64 // rows of r per block: its packed panel of B (RC x NC floats, 16 KiB) stays in L1
#define NC 64  // columns of B per panel

__attribute__((always_inline)) static inline void tile(const float *a, int lda, const float *b, int ldb, float *c, int ldc, int rn,
                                                       int add, const int MR, const int NV) {
  f4 acc[4][2];
  for (int i = 0; i < MR; i++)
    for (int v = 0; v < NV; v++) acc[i][v] = splat(0.0f);
  for (int r = 0; r < rn; r++) {
    f4 bv[2];
    for (int v = 0; v < NV; v++) bv[v] = wasm_v128_load(b + (uint32_t)r * ldb + 4 * v);
    for (int i = 0; i < MR; i++) {
      const f4 av = wasm_v128_load32_splat(a + (uint32_t)r * lda + i);
      for (int v = 0; v < NV; v++) acc[i][v] = madd(acc[i][v], av, bv[v]);
    }
  }
  for (int i = 0; i < MR; i++)
    for (int v = 0; v < NV; v++) {
      float *out = c + i * ldc + 4 * v;
      wasm_v128_store(out, add ? wasm_f32x4_add(wasm_v128_load(out), acc[i][v]) : acc[i][v]);
    }
}

// Columns n that are left over after whole vectors: scalar dot products down r.
static void tail(const float *a, int lda, const float *b, int ldb, float *c, int ldc, int rn, int add, int m0, int m1, int n0, int n1) {
  for (int m = m0; m < m1; m++)
    for (int n = n0; n < n1; n++) {
      float s = 0.0f;
      for (int r = 0; r < rn; r++) s += a[(uint32_t)r * lda + m] * b[(uint32_t)r * ldb + n];
      float *out = c + (uint32_t)m * ldc + n;
      *out = add ? *out + s : s;
    }
}

// Rows of A and B lie G*4 or I*4 bytes apart (often a multiple of 1 KiB): read in place, the RC rows of a block map
// to a few L1 sets and evict each other. So each block is packed first: B's panel [rn][NC] once per panel, A's
// 4 columns [rn][4] once per tile row; the tiles then read contiguous memory.
static void atb_part(const job_t *job, int m0, int m1, int n0, int n1) {
  const int R = job->K, lda = job->lda, ldb = job->ldw, ldc = job->ldc;
  const float *A = F(job->a), *B = F(job->w);
  float *C = F(job->cm);
  const int nVec = n0 + (n1 - n0) / 4 * 4;
  float bp[RC * NC] __attribute__((aligned(16)));
  float ap[RC * 4] __attribute__((aligned(16)));
  for (int r0 = 0; r0 < R || r0 == 0; r0 += RC) {
    const int rn = R - r0 < RC ? R - r0 : RC;
    const int add = r0 > 0 || job->accumulate;
    const float *a = A + (uint32_t)r0 * lda, *b = B + (uint32_t)r0 * ldb;
    for (int p0 = n0; p0 < nVec; p0 += NC) {
      const int p1 = p0 + NC < nVec ? p0 + NC : nVec, pw = p1 - p0;
      for (int r = 0; r < rn; r++)
        for (int n = 0; n < pw; n += 4) wasm_v128_store(bp + r * NC + n, wasm_v128_load(b + (uint32_t)r * ldb + p0 + n));
      int m = m0;
      for (; m + 4 <= m1; m += 4) {
        for (int r = 0; r < rn; r++) wasm_v128_store(ap + r * 4, wasm_v128_load(a + (uint32_t)r * lda + m));
        int n = 0;
        for (; n + 8 <= pw; n += 8) tile(ap, 4, bp + n, NC, C + (uint32_t)m * ldc + p0 + n, ldc, rn, add, 4, 2);
        if (n < pw) tile(ap, 4, bp + n, NC, C + (uint32_t)m * ldc + p0 + n, ldc, rn, add, 4, 1);
      }
      for (; m < m1; m++) {
        for (int r = 0; r < rn; r++) ap[r] = a[(uint32_t)r * lda + m];
        int n = 0;
        for (; n + 8 <= pw; n += 8) tile(ap, 1, bp + n, NC, C + (uint32_t)m * ldc + p0 + n, ldc, rn, add, 1, 2);
        if (n < pw) tile(ap, 1, bp + n, NC, C + (uint32_t)m * ldc + p0 + n, ldc, rn, add, 1, 1);
      }
    }
    if (nVec < n1) tail(a, lda, b, ldb, C, ldc, rn, add, m0, m1, nVec, n1);
    if (R == 0) break;
  }
}

// Threads split the longer side of C (in whole tiles), as gemm_abt does.
void gemm_atb(const job_t *job, int tid) {
  const int M = job->M, N = job->N, P = job->nthreads;
  if (M >= N) {
    const int quads = (M + 3) / 4;
    const int m0 = (int)((int64_t)quads * tid / P) * 4, m1 = (int)((int64_t)quads * (tid + 1) / P) * 4;
    atb_part(job, m0 < M ? m0 : M, m1 < M ? m1 : M, 0, N);
  } else {
    const int octs = (N + 7) / 8;
    const int n0 = (int)((int64_t)octs * tid / P) * 8, n1 = (int)((int64_t)octs * (tid + 1) / P) * 8;
    atb_part(job, 0, M, n0 < N ? n0 : N, n1 < N ? n1 : N);
  }
}
