// LSTM steps: each thread owns unit blocks; its 16-row panels (i, f, g, o of 4 units) leave the dot product as
// four vectors, so the gate math runs on them in registers. One barrier per step publishes h_t.
#include "simd.h"

void lstm_steps(job_t *job, int tid) {
  int first, end;
  thread_blocks(job, tid, &first, &end);
  const int T = job->T, B = job->B, H = job->H, nub = job->nub, Hp = nub * 4;
  const float *whh = F(job->whh), *proj = F(job->proj);
  float *hbuf = F(job->h), *c = F(job->c), *y = F(job->y);
  for (int t = 0; t < T; t++) {
    const float *hPrev = hbuf + (t & 1) * B * Hp;
    float *hNext = hbuf + ((t + 1) & 1) * B * Hp;
    for (int u = first; u < end; u++) {
      const float *w = whh + (uint32_t)u * H * 16;
      for (int b = 0; b < B; b++) {
        const uint32_t at = (uint32_t)b * Hp + u * 4;
        float *yOut = y + ((uint32_t)t * B + b) * Hp + u * 4;
        if (!row_active(job, t, b)) { // finished row: state kept, output zero
          wasm_v128_store(hNext + at, wasm_v128_load(hPrev + at));
          wasm_v128_store(yOut, splat(0.0f));
          continue;
        }
        const float *p = proj + (((uint32_t)t * B + b) * nub + u) * 16;
        f4 acc[4] = {wasm_v128_load(p), wasm_v128_load(p + 4), wasm_v128_load(p + 8), wasm_v128_load(p + 12)};
        panel_dot(w, hPrev + (uint32_t)b * Hp, H, 4, acc);
        f4 i = v_sigmoid(acc[0]), f = v_sigmoid(acc[1]), g = v_tanh(acc[2]), o = v_sigmoid(acc[3]);
        f4 cNew = wasm_f32x4_add(wasm_f32x4_mul(f, wasm_v128_load(c + at)), wasm_f32x4_mul(i, g));
        f4 hNew = wasm_f32x4_mul(o, v_tanh(cNew));
        wasm_v128_store(c + at, cNew);
        wasm_v128_store(hNext + at, hNew);
        wasm_v128_store(yOut, hNew);
      }
    }
    barrier(job);
  }
}
