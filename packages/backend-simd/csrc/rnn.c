// Elman RNN steps: h_t = act(P + W_hh h_{t-1}), act tanh or relu; 4-row panels, one barrier per step.
#include "simd.h"

void rnn_steps(job_t *job, int tid) {
  int first, end;
  thread_blocks(job, tid, &first, &end);
  const int T = job->T, B = job->B, H = job->H, nub = job->nub, Hp = nub * 4, relu = job->variant == 1;
  const float *whh = F(job->whh), *proj = F(job->proj);
  float *hbuf = F(job->h), *y = F(job->y);
  for (int t = 0; t < T; t++) {
    const float *hPrev = hbuf + (t & 1) * B * Hp;
    float *hNext = hbuf + ((t + 1) & 1) * B * Hp;
    for (int u = first; u < end; u++) {
      const float *w = whh + (uint32_t)u * H * 4;
      for (int b = 0; b < B; b++) {
        const uint32_t at = (uint32_t)b * Hp + u * 4;
        float *yOut = y + ((uint32_t)t * B + b) * Hp + u * 4;
        if (!row_active(job, t, b)) {
          wasm_v128_store(hNext + at, wasm_v128_load(hPrev + at));
          wasm_v128_store(yOut, splat(0.0f));
          continue;
        }
        f4 acc[1] = {wasm_v128_load(proj + (((uint32_t)t * B + b) * nub + u) * 4)};
        panel_dot(w, hPrev + (uint32_t)b * Hp, H, 1, acc);
        f4 hNew = relu ? wasm_f32x4_pmax(acc[0], splat(0.0f)) : v_tanh(acc[0]);
        wasm_v128_store(hNext + at, hNew);
        wasm_v128_store(yOut, hNew);
      }
    }
    barrier(job);
  }
}
