// The input projection of a whole chunk, P = x W_ih^T + bias, for this thread's unit blocks only: the thread that
// owns a block is the only one that reads its projection, so no barrier is needed before the steps.
#include "simd.h"

#define ROW_BLOCK 64 // rows of x kept in cache while every panel of the thread passes over them

__attribute__((always_inline)) static inline void project_blocks(const job_t *job, int first, int end, const int G) {
  const int rows = job->T * job->B, I = job->I, nub = job->nub;
  const float *x = F(job->x), *wih = F(job->wih), *bias = F(job->bias);
  float *proj = F(job->proj);
  for (int r0 = 0; r0 < rows; r0 += ROW_BLOCK) {
    const int r1 = r0 + ROW_BLOCK < rows ? r0 + ROW_BLOCK : rows;
    for (int u = first; u < end; u++) {
      const float *w = wih + (uint32_t)u * I * G * 4;
      for (int r = r0; r < r1; r++) {
        f4 acc[4];
        for (int g = 0; g < G; g++) acc[g] = wasm_v128_load(bias + (u * G + g) * 4);
        const float *row = x + (uint32_t)r * I;
        panel_dot(w, row, I, G, acc);
        float *out = proj + ((uint32_t)r * nub + u) * G * 4;
        for (int g = 0; g < G; g++) wasm_v128_store(out + g * 4, acc[g]);
      }
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
