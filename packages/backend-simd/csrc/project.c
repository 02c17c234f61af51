// The input projection of a whole chunk, P = x W_ih^T + bias, for this thread's unit blocks only: the thread that
// owns a block is the only one that reads its projection, so no barrier is needed before the steps.
#include "simd.h"

#define ROW_BLOCK 64 // rows of x kept in cache while every panel of the thread passes over them

// NB rows against the panel of blocks u..u+P-1 (NV = P * G vectors a k step)
__attribute__((always_inline)) static inline void project_rows(const job_t *job, int u, int r, const int NB, const int P, const int G) {
  const int I = job->I, nub = job->nub, NV = P * G;
  const float *x = F(job->x) + (uint32_t)r * I, *bias = F(job->bias) + u * G * 4;
  f4 acc[8];
  for (int n = 0; n < NB; n++)
    for (int v = 0; v < NV; v++) acc[n * NV + v] = wasm_v128_load(bias + v * 4); // blocks u.. are consecutive: [b][g]
  panel_dot(F(job->wih) + (uint32_t)(u / P) * I * NV * 4, x, x + (NB - 1) * I, I, NV, NB, acc);
  for (int n = 0; n < NB; n++) {
    float *out = F(job->proj) + ((uint32_t)(r + n) * nub + u) * G * 4;
    for (int v = 0; v < NV; v++) wasm_v128_store(out + v * 4, acc[n * NV + v]);
  }
}

__attribute__((always_inline)) static inline void project_blocks(const job_t *job, int first, int end, const int P, const int G) {
  const int rows = job->T * job->B;
  for (int r0 = 0; r0 < rows; r0 += ROW_BLOCK) {
    const int r1 = r0 + ROW_BLOCK < rows ? r0 + ROW_BLOCK : rows;
    for (int u = first; u < end; u += P) {
      int r = r0;
      for (; r + 1 < r1; r += 2) project_rows(job, u, r, 2, P, G);
      if (r < r1) project_rows(job, u, r, 1, P, G);
    }
  }
}

void project(const job_t *job, int tid, int G) {
  int first, end;
  thread_blocks(job, tid, &first, &end);
  // one copy per panel shape, so that its accumulators stay in registers
  if (G == 4) project_blocks(job, first, end, 1, 4);
  else if (G == 3) project_blocks(job, first, end, 1, 3);
  else project_blocks(job, first, end, 4, 1);
}

// The projection of token ids: each row of x is one-hot, so P = bias + the id's row of the packed W_ih (as the
// product adds them: bias first, then the one nonzero term; the zeros add nothing, so the bits are the same).
void project_tokens(const job_t *job, int tid, int G) {
  int first, end;
  thread_blocks(job, tid, &first, &end);
  const int I = job->I, nub = job->nub, P = G == 1 ? 4 : 1, rows = job->T * job->B;
  const int32_t *tokens = (const int32_t *)(uintptr_t)job->tokens;
  for (int r = 0; r < rows; r++) {
    const uint32_t id = (uint32_t)tokens[r];
    for (int u = first; u < end; u++) {
      const float *w = F(job->wih) + (((uint32_t)(u / P) * I + id) * P + u % P) * G * 4;
      const float *bias = F(job->bias) + u * G * 4;
      float *out = F(job->proj) + ((uint32_t)r * nub + u) * G * 4;
      for (int v = 0; v < G; v++) wasm_v128_store(out + 4 * v, wasm_f32x4_add(wasm_v128_load(bias + 4 * v), wasm_v128_load(w + 4 * v)));
    }
  }
}
