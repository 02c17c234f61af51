// LSTM backward over a chunk, the time loop of backend-cpu's lstmBackward: per step, the gate gradients of every
// row from the tape (each thread its own units), a barrier, then dh_{t-1} = dG_t W_hh (each thread its own units
// again, so the next step's gate gradients read only what this thread wrote). The weight gradients over all rows
// come after, as products over dg.
#include "simd.h"


// Gate gradients of one row at units j..j+3 (backend-cpu's lstmBackward, 4 lanes at a time).
static inline void gates_block(const job_t *job, uint32_t row, int b, int j) {
  const int H = job->H;
  const float *act = F(job->tape_act) + row * 4 * H;
  float *dg = F(job->dg) + row * 4 * H, *dh = F(job->dh) + (uint32_t)b * H, *dc = F(job->dc) + (uint32_t)b * H;
  const f4 one = splat(1.0f);
  const f4 i = wasm_v128_load(act + j), f = wasm_v128_load(act + H + j), g = wasm_v128_load(act + 2 * H + j), o = wasm_v128_load(act + 3 * H + j);
  const f4 tc = v_tanh(wasm_v128_load(F(job->tape_cnew) + row * H + j));
  f4 dhj = wasm_v128_load(dh + j);
  if (job->dy) dhj = wasm_f32x4_add(dhj, wasm_v128_load(F(job->dy) + row * H + j));
  const f4 dcj = madd(wasm_v128_load(dc + j), dhj, wasm_f32x4_mul(o, wasm_f32x4_sub(one, wasm_f32x4_mul(tc, tc))));
  wasm_v128_store(dg + j, wasm_f32x4_mul(wasm_f32x4_mul(dcj, g), wasm_f32x4_mul(i, wasm_f32x4_sub(one, i))));
  wasm_v128_store(dg + H + j, wasm_f32x4_mul(wasm_f32x4_mul(dcj, wasm_v128_load(F(job->tape_cprev) + row * H + j)), wasm_f32x4_mul(f, wasm_f32x4_sub(one, f))));
  wasm_v128_store(dg + 2 * H + j, wasm_f32x4_mul(wasm_f32x4_mul(dcj, i), wasm_f32x4_sub(one, wasm_f32x4_mul(g, g))));
  wasm_v128_store(dg + 3 * H + j, wasm_f32x4_mul(wasm_f32x4_mul(dhj, tc), wasm_f32x4_mul(o, wasm_f32x4_sub(one, o))));
  wasm_v128_store(dc + j, wasm_f32x4_mul(dcj, f));
}

static inline float tanh1(float x) { return wasm_f32x4_extract_lane(v_tanh(splat(x)), 0); }

// The same for one unit j (the units past the last whole block of 4).
static void gates_unit(const job_t *job, uint32_t row, int b, int j) {
  const int H = job->H;
  const float *act = F(job->tape_act) + row * 4 * H;
  float *dg = F(job->dg) + row * 4 * H, *dh = F(job->dh) + (uint32_t)b * H, *dc = F(job->dc) + (uint32_t)b * H;
  const float i = act[j], f = act[H + j], g = act[2 * H + j], o = act[3 * H + j];
  const float tc = tanh1(F(job->tape_cnew)[row * H + j]);
  const float dhj = dh[j] + (job->dy ? F(job->dy)[row * H + j] : 0.0f);
  const float dcj = dc[j] + dhj * o * (1.0f - tc * tc);
  dg[j] = dcj * g * i * (1.0f - i);
  dg[H + j] = dcj * F(job->tape_cprev)[row * H + j] * f * (1.0f - f);
  dg[2 * H + j] = dcj * i * (1.0f - g * g);
  dg[3 * H + j] = dhj * tc * o * (1.0f - o);
  dc[j] = dcj * f;
}

void lstm_backward(job_t *job, int tid) {
  const int T = job->T, B = job->B, H = job->H, G = 4 * H, P = job->nthreads;
  // this thread's units: whole blocks of 4 (the last thread also takes the units past the last whole block)
  const int blocks = H / 4;
  const int j0 = (int)((int64_t)blocks * tid / P) * 4, j1 = tid == P - 1 ? H : (int)((int64_t)blocks * (tid + 1) / P) * 4;
  const float *whht = F(job->whht);
  float *dh = F(job->dh), *dhp = F(job->dhp);
  for (int t = T - 1; t >= 0; t--) {
    for (int b = 0; b < B; b++) {
      const uint32_t row = (uint32_t)t * B + b;
      if (!row_active(job, t, b)) {
        // state passed through: dh, dc flow on unchanged; this row's gate gradients are zero
        for (int g = 0; g < 4; g++)
          for (int j = j0; j < j1; j++) F(job->dg)[row * G + g * H + j] = 0.0f;
        continue;
      }
      int j = j0;
      for (; j + 4 <= j1 && j + 4 <= blocks * 4; j += 4) gates_block(job, row, b, j);
      for (; j < j1; j++) gates_unit(job, row, b, j);
    }
    barrier(job, tid);
    // dh_{t-1}[b][j] = sum_g dG_t[b][g] W_hh^T[j][g], for this thread's units j
    dh_product(F(job->dg) + (uint32_t)t * B * G, whht, B, H, G, 0, G, j0, j1, dhp);
    for (int b = 0; b < B; b++) {
      if (!row_active(job, t, b)) continue;
      for (int j = j0; j < j1; j++) dh[(uint32_t)b * H + j] = dhp[(uint32_t)b * H + j];
    }
  }
}
