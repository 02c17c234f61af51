// LSTM steps: each thread owns unit blocks; its 16-row panels (i, f, g, o of 4 units) leave the dot product as
// four vectors, so the gate math runs on them in registers. One barrier per step publishes h_t.
#include "simd.h"

__attribute__((always_inline)) static inline void lstm_rows(const job_t *job, int t, int u, int b, const int NB, const float *hPrev, float *hNext) {
  const int B = job->B, H = job->H, nub = job->nub, Hp = nub * 4;
  f4 acc[8];
  for (int n = 0; n < NB; n++) {
    const float *p = F(job->proj) + (((uint32_t)t * B + b + n) * nub + u) * 16;
    for (int g = 0; g < 4; g++) acc[n * 4 + g] = wasm_v128_load(p + 4 * g);
  }
  panel_dot(F(job->whh) + (uint32_t)u * H * 16, hPrev + (uint32_t)b * Hp, hPrev + (uint32_t)(b + NB - 1) * Hp, H, 4, NB, acc);
  for (int n = 0; n < NB; n++) {
    const uint32_t at = (uint32_t)(b + n) * Hp + u * 4;
    f4 i = v_sigmoid(acc[n * 4]), f = v_sigmoid(acc[n * 4 + 1]), g = v_tanh(acc[n * 4 + 2]), o = v_sigmoid(acc[n * 4 + 3]);
    float *c = F(job->c) + at;
    const f4 cOld = wasm_v128_load(c);
    f4 cNew = wasm_f32x4_add(wasm_f32x4_mul(f, cOld), wasm_f32x4_mul(i, g));
    f4 hNew = wasm_f32x4_mul(o, v_tanh(cNew));
    if (job->tape_act) {
      const uint32_t row = (uint32_t)t * B + b + n;
      float *act = F(job->tape_act) + row * 4 * H;
      store_units(act, i, u, H);
      store_units(act + H, f, u, H);
      store_units(act + 2 * H, g, u, H);
      store_units(act + 3 * H, o, u, H);
      store_units(F(job->tape_hprev) + row * H, wasm_v128_load(hPrev + at), u, H);
      store_units(F(job->tape_cprev) + row * H, cOld, u, H);
      store_units(F(job->tape_cnew) + row * H, cNew, u, H);
    }
    wasm_v128_store(c, cNew);
    wasm_v128_store(hNext + at, hNew);
    wasm_v128_store(y_at(job, t, b + n, u), hNew);
  }
}

void lstm_steps(job_t *job, int tid) {
  int first, end;
  thread_blocks(job, tid, &first, &end);
  for (int t = 0; t < job->T; t++) {
    if (job->tape_act && job->seqlens) tape_finished_rows(job, t, first, end, 4);
    FOR_PANEL_ROWS(job, t, first, end, 1, 1, lstm_rows);
    barrier(job, tid);
  }
}
