// Elman RNN steps: h_t = act(P + W_hh h_{t-1}), act tanh or relu; a panel covers 4 blocks (16 units), one barrier
// per step. With a tape: h_t (backend-cpu's act) and h_{t-1} per row, in backend-cpu's layout.
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
      const uint32_t at = (uint32_t)(b + n) * Hp + (u + q) * 4;
      if (job->tape_act) {
        const uint32_t row = (uint32_t)t * B + b + n;
        store_units(F(job->tape_act) + row * H, hNew, u + q, H);
        store_units(F(job->tape_hprev) + row * H, wasm_v128_load(hPrev + at), u + q, H);
      }
      wasm_v128_store(hNext + at, hNew);
      wasm_v128_store(y_at(job, t, b + n, u + q), hNew);
    }
}

void rnn_steps(job_t *job, int tid) {
  int first, end;
  thread_blocks(job, tid, &first, &end);
  for (int t = 0; t < job->T; t++) {
    if (job->tape_act && job->seqlens) tape_finished_rows(job, t, first, end, 1);
    FOR_PANEL_ROWS(job, t, first, end, 4, 1, rnn_rows);
    barrier(job, tid);
  }
}
