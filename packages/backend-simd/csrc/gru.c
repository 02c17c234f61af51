// GRU steps. Reset after (PyTorch, cuDNN, Keras 2): n = tanh(P_n + r * (W_hn h + b_hn)), one 12-row panel and one
// barrier per step. Reset before (TF1): n = tanh(P_n + W_hn (r * h)) needs every unit's r * h, so a step has two
// phases: r, z and r * h for own units (panels of 2 blocks), barrier, then n and h_t (panels of 4), barrier.
#include "simd.h"

static inline f4 blend(f4 n, f4 z, f4 h) { return wasm_f32x4_add(n, wasm_f32x4_mul(z, wasm_f32x4_sub(h, n))); }

static inline float *proj_at(const job_t *job, int t, int b, int u) {
  return F(job->proj) + (((uint32_t)t * job->B + b) * job->nub + u) * 12;
}

__attribute__((always_inline)) static inline void after_rows(const job_t *job, int t, int u, int b, const int NB, const float *hPrev, float *hNext) {
  const int H = job->H, Hp = job->nub * 4;
  f4 acc[6];
  for (int n = 0; n < NB; n++) {
    const float *p = proj_at(job, t, b + n, u);
    acc[n * 3] = wasm_v128_load(p);
    acc[n * 3 + 1] = wasm_v128_load(p + 4);
    acc[n * 3 + 2] = wasm_v128_load(F(job->bhn) + u * 4);
  }
  panel_dot(F(job->whh) + (uint32_t)u * H * 12, hPrev + (uint32_t)b * Hp, hPrev + (uint32_t)(b + NB - 1) * Hp, H, 3, NB, acc);
  for (int n = 0; n < NB; n++) {
    const uint32_t at = (uint32_t)(b + n) * Hp + u * 4;
    f4 r = v_sigmoid(acc[n * 3]), z = v_sigmoid(acc[n * 3 + 1]);
    f4 nGate = v_tanh(wasm_f32x4_add(wasm_v128_load(proj_at(job, t, b + n, u) + 8), wasm_f32x4_mul(r, acc[n * 3 + 2])));
    f4 hNew = blend(nGate, z, wasm_v128_load(hPrev + at));
    wasm_v128_store(hNext + at, hNew);
    wasm_v128_store(F(job->y) + ((uint32_t)t * job->B + b + n) * Hp + u * 4, hNew);
  }
}

// reset before, phase 1, blocks u and u+1: r and z, r * h published for every thread's n product; z kept in its
// projection slot
__attribute__((always_inline)) static inline void before_rz_rows(const job_t *job, int t, int u, int b, const int NB, const float *hPrev) {
  const int H = job->H, Hp = job->nub * 4;
  f4 acc[8];
  for (int n = 0; n < NB; n++)
    for (int q = 0; q < 2; q++) {
      const float *p = proj_at(job, t, b + n, u + q);
      acc[n * 4 + q * 2] = wasm_v128_load(p);
      acc[n * 4 + q * 2 + 1] = wasm_v128_load(p + 4);
    }
  panel_dot(F(job->whh) + (uint32_t)(u / 2) * H * 16, hPrev + (uint32_t)b * Hp, hPrev + (uint32_t)(b + NB - 1) * Hp, H, 4, NB, acc);
  for (int n = 0; n < NB; n++)
    for (int q = 0; q < 2; q++) {
      const uint32_t at = (uint32_t)(b + n) * Hp + (u + q) * 4;
      wasm_v128_store(F(job->rh) + at, wasm_f32x4_mul(v_sigmoid(acc[n * 4 + q * 2]), wasm_v128_load(hPrev + at)));
      wasm_v128_store(proj_at(job, t, b + n, u + q) + 4, v_sigmoid(acc[n * 4 + q * 2 + 1]));
    }
}

// reset before, phase 2, blocks u..u+3: n from everyone's r * h, then h_t
__attribute__((always_inline)) static inline void before_n_rows(const job_t *job, int t, int u, int b, const int NB, const float *hPrev, float *hNext) {
  const int H = job->H, Hp = job->nub * 4;
  const float *rh = F(job->rh);
  f4 acc[8];
  for (int n = 0; n < NB; n++)
    for (int q = 0; q < 4; q++) acc[n * 4 + q] = wasm_v128_load(proj_at(job, t, b + n, u + q) + 8);
  panel_dot(F(job->whhn) + (uint32_t)(u / 4) * H * 16, rh + (uint32_t)b * Hp, rh + (uint32_t)(b + NB - 1) * Hp, H, 4, NB, acc);
  for (int n = 0; n < NB; n++)
    for (int q = 0; q < 4; q++) {
      const uint32_t at = (uint32_t)(b + n) * Hp + (u + q) * 4;
      f4 hNew = blend(v_tanh(acc[n * 4 + q]), wasm_v128_load(proj_at(job, t, b + n, u + q) + 4), wasm_v128_load(hPrev + at));
      wasm_v128_store(hNext + at, hNew);
      wasm_v128_store(F(job->y) + ((uint32_t)t * job->B + b + n) * Hp + (u + q) * 4, hNew);
    }
}

static void gru_after(job_t *job, int first, int end) {
  const int T = job->T, B = job->B, Hp = job->nub * 4;
  float *hbuf = F(job->h);
  for (int t = 0; t < T; t++) {
    const float *hPrev = hbuf + (t & 1) * B * Hp;
    float *hNext = hbuf + ((t + 1) & 1) * B * Hp;
    for (int u = first; u < end; u++) {
      for (int b = 0; b < B;) {
        const int n = rows_at(job, t, b);
        if (n == 2) after_rows(job, t, u, b, 2, hPrev, hNext);
        else if (n == 1) after_rows(job, t, u, b, 1, hPrev, hNext);
        else keep_row(hPrev, hNext, F(job->y) + ((uint32_t)t * B + b) * Hp + u * 4, (uint32_t)b * Hp + u * 4);
        b += n == 2 ? 2 : 1;
      }
    }
    barrier(job);
  }
}

static void gru_before(job_t *job, int first, int end) {
  const int T = job->T, B = job->B, Hp = job->nub * 4;
  float *hbuf = F(job->h);
  for (int t = 0; t < T; t++) {
    const float *hPrev = hbuf + (t & 1) * B * Hp;
    float *hNext = hbuf + ((t + 1) & 1) * B * Hp;
    for (int u = first; u < end; u += 2) {
      for (int b = 0; b < B;) {
        const int n = rows_at(job, t, b);
        if (n == 2) before_rz_rows(job, t, u, b, 2, hPrev);
        else if (n == 1) before_rz_rows(job, t, u, b, 1, hPrev);
        b += n == 2 ? 2 : 1;
      }
    }
    barrier(job);
    for (int u = first; u < end; u += 4) {
      for (int b = 0; b < B;) {
        const int n = rows_at(job, t, b);
        if (n == 2) before_n_rows(job, t, u, b, 2, hPrev, hNext);
        else if (n == 1) before_n_rows(job, t, u, b, 1, hPrev, hNext);
        else
          for (int q = 0; q < 4; q++) keep_row(hPrev, hNext, F(job->y) + ((uint32_t)t * B + b) * Hp + (u + q) * 4, (uint32_t)b * Hp + (u + q) * 4);
        b += n == 2 ? 2 : 1;
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
