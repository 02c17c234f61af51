// The input projection of a whole chunk, P = x W_ih^T + bias, for this thread's unit blocks only: the thread that
// owns a block is the only one that reads its projection, so no barrier is needed before the steps.
#include "simd.h"

#define ROW_BLOCK 64 // rows of x kept in cache while every panel of the thread passes over them

__attribute__((always_inline)) static inline void project_rows(const job_t *job, int u, int r, const int NB, const int G) {
  const int I = job->I, nub = job->nub;
  const float *x = F(job->x) + (uint32_t)r * I, *bias = F(job->bias) + u * G * 4;
  f4 acc[8];
  for (int n = 0; n < NB; n++)
    for (int g = 0; g < G; g++) acc[n * G + g] = wasm_v128_load(bias + g * 4);
  panel_dot(F(job->wih) + (uint32_t)u * I * G * 4, x, x + (NB - 1) * I, I, G, NB, acc);
  for (int n = 0; n < NB; n++) {
    float *out = F(job->proj) + ((uint32_t)(r + n) * nub + u) * G * 4;
    for (int g = 0; g < G; g++) wasm_v128_store(out + g * 4, acc[n * G + g]);
  }
}

__attribute__((always_inline)) static inline void project_blocks(const job_t *job, int first, int end, const int G) {
  const int rows = job->T * job->B;
  for (int r0 = 0; r0 < rows; r0 += ROW_BLOCK) {
    const int r1 = r0 + ROW_BLOCK < rows ? r0 + ROW_BLOCK : rows;
    for (int u = first; u < end; u++) {
      int r = r0;
      for (; r + 1 < r1; r += 2) project_rows(job, u, r, 2, G);
      if (r < r1) project_rows(job, u, r, 1, G);
    }
  }
}

void project(const job_t *job, int tid, int G) {
  int first, end;
  thread_blocks(job, tid, &first, &end);
  // one copy per gate count, so that the panel's accumulators stay in registers
  if (G == 4) project_blocks(job, first, end, 4);
  else if (G == 3) project_blocks(job, first, end, 3);
  else project_blocks(job, first, end, 1);
}
