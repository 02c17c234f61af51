// Elman RNN steps: h_t = act(P + W_hh h_{t-1}), act tanh or relu; a panel covers 4 blocks (16 units), one barrier
// per step.
#include "simd.h"

__attribute__((always_inline)) static inline void rnn_rows(const job_t *job, int t, int u, int b, const int NB, const float *hPrev, float *hNext) {
  const int B = job->B, H = job->H, nub = job->nub, Hp = nub * 4;
  f4 acc[8];
  for (int n = 0; n < NB; n++)
    for (int q = 0; q < 4; q++) acc[n * 4 + q] = wasm_v128_load(F(job->proj) + (((uint32_t)t * B + b + n) * nub + u + q) * 4);
  panel_dot(F(job->whh) + (uint32_t)(u / 4) * H * 16, hPrev + (uint32_t)b * Hp, hPrev + (uint32_t)(b + NB - 1) * Hp, H, 4, NB, acc);
  for (int n = 0; n < NB; n++)
    for (int q = 0; q < 4; q++) {
      f4 hNew = job->variant == 1 ? wasm_f32x4_pmax(acc[n * 4 + q], splat(0.0f)) : v_tanh(acc[n * 4 + q]);
      wasm_v128_store(hNext + (uint32_t)(b + n) * Hp + (u + q) * 4, hNew);
      wasm_v128_store(F(job->y) + ((uint32_t)t * B + b + n) * Hp + (u + q) * 4, hNew);
    }
}

void rnn_steps(job_t *job, int tid) {
  int first, end;
  thread_blocks(job, tid, &first, &end);
  const int T = job->T, B = job->B, Hp = job->nub * 4;
  float *hbuf = F(job->h);
  for (int t = 0; t < T; t++) {
    const float *hPrev = hbuf + (t & 1) * B * Hp;
    float *hNext = hbuf + ((t + 1) & 1) * B * Hp;
    for (int u = first; u < end; u += 4) {
      for (int b = 0; b < B;) {
        const int n = rows_at(job, t, b);
        if (n == 2) rnn_rows(job, t, u, b, 2, hPrev, hNext);
        else if (n == 1) rnn_rows(job, t, u, b, 1, hPrev, hNext);
        else
          for (int q = 0; q < 4; q++) keep_row(hPrev, hNext, F(job->y) + ((uint32_t)t * B + b) * Hp + (u + q) * 4, (uint32_t)b * Hp + (u + q) * 4);
        b += n == 2 ? 2 : 1;
      }
    }
    barrier(job);
  }
}
