// Elman RNN backward over a chunk, the time loop of backend-cpu's rnnBackward: per step dG = dh · act'(h_t) for
// this thread's units, a barrier, then dh_{t-1} = dG_t W_hh for this thread's units (as the LSTM's loop does).
#include "simd.h"

void rnn_backward(job_t *job, int tid) {
  const int T = job->T, B = job->B, H = job->H, P = job->nthreads, relu = job->variant == 1;
  const int blocks = H / 4;
  const int j0 = (int)((int64_t)blocks * tid / P) * 4, j1 = tid == P - 1 ? H : (int)((int64_t)blocks * (tid + 1) / P) * 4;
  const float *act = F(job->tape_act), *dy = job->dy ? F(job->dy) : 0;
  float *dg = F(job->dg), *dh = F(job->dh), *dhp = F(job->dhp);
  const f4 one = splat(1.0f), zero = splat(0.0f);
  for (int t = T - 1; t >= 0; t--) {
    for (int b = 0; b < B; b++) {
      const uint32_t row = (uint32_t)t * B + b;
      float *g = dg + row * H;
      if (!row_active(job, t, b)) {
        for (int j = j0; j < j1; j++) g[j] = 0.0f; // state passed through: dh flows on unchanged
        continue;
      }
      const float *v = act + row * H, *d = dh + (uint32_t)b * H;
      int j = j0;
      for (; j + 4 <= j1 && j + 4 <= blocks * 4; j += 4) {
        const f4 vj = wasm_v128_load(v + j);
        f4 dj = wasm_v128_load(d + j);
        if (dy) dj = wasm_f32x4_add(dj, wasm_v128_load(dy + row * H + j));
        // relu: times 1 or 0 (as backend-cpu multiplies: NaN stays NaN); tanh: 1 - h²
        const f4 slope = relu ? wasm_v128_and(wasm_f32x4_gt(vj, zero), one) : wasm_f32x4_sub(one, wasm_f32x4_mul(vj, vj));
        wasm_v128_store(g + j, wasm_f32x4_mul(dj, slope));
      }
      for (; j < j1; j++) {
        const float dj = d[j] + (dy ? dy[row * H + j] : 0.0f);
        g[j] = dj * (relu ? (v[j] > 0.0f ? 1.0f : 0.0f) : 1.0f - v[j] * v[j]);
      }
    }
    barrier(job, tid);
    dh_product(dg + (uint32_t)t * B * H, F(job->whht), B, H, H, 0, H, j0, j1, dhp);
    for (int b = 0; b < B; b++) {
      if (!row_active(job, t, b)) continue;
      for (int j = j0; j < j1; j++) dh[(uint32_t)b * H + j] = dhp[(uint32_t)b * H + j];
    }
  }
}
