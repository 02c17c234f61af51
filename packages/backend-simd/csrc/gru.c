// GRU steps. Reset after (PyTorch, cuDNN, Keras 2): n = tanh(P_n + r * (W_hn h + b_hn)), one 12-row panel and one
// barrier per step. Reset before (TF1): n = tanh(P_n + W_hn (r * h)) needs every unit's r * h, so a step has two
// phases: r, z and r * h for own units, barrier, then n and h_t, barrier.
#include "simd.h"

static inline f4 blend(f4 n, f4 z, f4 h) { return wasm_f32x4_add(n, wasm_f32x4_mul(z, wasm_f32x4_sub(h, n))); }

static void gru_after(job_t *job, int first, int end) {
  const int T = job->T, B = job->B, H = job->H, nub = job->nub, Hp = nub * 4;
  const float *whh = F(job->whh), *proj = F(job->proj), *bhn = F(job->bhn);
  float *hbuf = F(job->h), *y = F(job->y);
  for (int t = 0; t < T; t++) {
    const float *hPrev = hbuf + (t & 1) * B * Hp;
    float *hNext = hbuf + ((t + 1) & 1) * B * Hp;
    for (int u = first; u < end; u++) {
      const float *w = whh + (uint32_t)u * H * 12;
      for (int b = 0; b < B; b++) {
        const uint32_t at = (uint32_t)b * Hp + u * 4;
        float *yOut = y + ((uint32_t)t * B + b) * Hp + u * 4;
        if (!row_active(job, t, b)) {
          wasm_v128_store(hNext + at, wasm_v128_load(hPrev + at));
          wasm_v128_store(yOut, splat(0.0f));
          continue;
        }
        const float *p = proj + (((uint32_t)t * B + b) * nub + u) * 12;
        f4 acc[3] = {wasm_v128_load(p), wasm_v128_load(p + 4), wasm_v128_load(bhn + u * 4)};
        panel_dot(w, hPrev + (uint32_t)b * Hp, H, 3, acc);
        f4 r = v_sigmoid(acc[0]), z = v_sigmoid(acc[1]);
        f4 n = v_tanh(wasm_f32x4_add(wasm_v128_load(p + 8), wasm_f32x4_mul(r, acc[2])));
        f4 hNew = blend(n, z, wasm_v128_load(hPrev + at));
        wasm_v128_store(hNext + at, hNew);
        wasm_v128_store(yOut, hNew);
      }
    }
    barrier(job);
  }
}

static void gru_before(job_t *job, int first, int end) {
  const int T = job->T, B = job->B, H = job->H, nub = job->nub, Hp = nub * 4;
  const float *whh = F(job->whh), *whhn = F(job->whhn);
  float *proj = F(job->proj), *hbuf = F(job->h), *rh = F(job->rh), *y = F(job->y);
  for (int t = 0; t < T; t++) {
    const float *hPrev = hbuf + (t & 1) * B * Hp;
    float *hNext = hbuf + ((t + 1) & 1) * B * Hp;
    for (int u = first; u < end; u++) {
      const float *w = whh + (uint32_t)u * H * 8;
      for (int b = 0; b < B; b++) {
        if (!row_active(job, t, b)) continue;
        const uint32_t at = (uint32_t)b * Hp + u * 4;
        float *p = proj + (((uint32_t)t * B + b) * nub + u) * 12;
        f4 acc[2] = {wasm_v128_load(p), wasm_v128_load(p + 4)};
        panel_dot(w, hPrev + (uint32_t)b * Hp, H, 2, acc);
        wasm_v128_store(rh + at, wasm_f32x4_mul(v_sigmoid(acc[0]), wasm_v128_load(hPrev + at)));
        wasm_v128_store(p + 4, v_sigmoid(acc[1])); // z, kept in its projection slot for the second phase
      }
    }
    barrier(job);
    for (int u = first; u < end; u++) {
      const float *w = whhn + (uint32_t)u * H * 4;
      for (int b = 0; b < B; b++) {
        const uint32_t at = (uint32_t)b * Hp + u * 4;
        float *yOut = y + ((uint32_t)t * B + b) * Hp + u * 4;
        if (!row_active(job, t, b)) {
          wasm_v128_store(hNext + at, wasm_v128_load(hPrev + at));
          wasm_v128_store(yOut, splat(0.0f));
          continue;
        }
        const float *p = proj + (((uint32_t)t * B + b) * nub + u) * 12;
        f4 acc[1] = {wasm_v128_load(p + 8)};
        panel_dot(w, rh + (uint32_t)b * Hp, H, 1, acc);
        f4 hNew = blend(v_tanh(acc[0]), wasm_v128_load(p + 4), wasm_v128_load(hPrev + at));
        wasm_v128_store(hNext + at, hNew);
        wasm_v128_store(yOut, hNew);
      }
    }
    barrier(job);
  }
}

void gru_steps(job_t *job, int tid) {
  int first, end;
  thread_blocks(job, tid, &first, &end);
  if (job->variant == 1) gru_after(job, first, end);
  else gru_before(job, first, end);
}
