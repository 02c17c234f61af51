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
    wasm_v128_store(y_at(job, t, b + n, u), hNew);
    if (job->tape_act) {
      const uint32_t row = (uint32_t)t * job->B + b + n;
      float *act = F(job->tape_act) + row * 3 * H;
      store_units(act, r, u, H);
      store_units(act + H, z, u, H);
      store_units(act + 2 * H, nGate, u, H);
      store_units(F(job->tape_hprev) + row * H, wasm_v128_load(hPrev + at), u, H);
      store_units(F(job->tape_extra) + row * H, acc[n * 3 + 2], u, H);
    }
  }
}

// reset before, phase 1, blocks u and u+1: r and z, r * h published for every thread's n product; z kept in its
// projection slot
__attribute__((always_inline)) static inline void before_rz_rows(const job_t *job, int t, int u, int b, const int NB, const float *hPrev, float *hNext) {
  (void)hNext; // h_t is written in phase 2
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
      const f4 r = v_sigmoid(acc[n * 4 + q * 2]), z = v_sigmoid(acc[n * 4 + q * 2 + 1]), h = wasm_v128_load(hPrev + at), rh = wasm_f32x4_mul(r, h);
      wasm_v128_store(F(job->rh) + at, rh);
      wasm_v128_store(proj_at(job, t, b + n, u + q) + 4, z);
      if (job->tape_act) {
        const uint32_t row = (uint32_t)t * job->B + b + n;
        float *act = F(job->tape_act) + row * 3 * H;
        store_units(act, r, u + q, H);
        store_units(act + H, z, u + q, H);
        store_units(F(job->tape_hprev) + row * H, h, u + q, H);
        store_units(F(job->tape_extra) + row * H, rh, u + q, H);
      }
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
      const f4 nGate = v_tanh(acc[n * 4 + q]);
      f4 hNew = blend(nGate, wasm_v128_load(proj_at(job, t, b + n, u + q) + 4), wasm_v128_load(hPrev + at));
      wasm_v128_store(hNext + at, hNew);
      wasm_v128_store(y_at(job, t, b + n, u + q), hNew);
      if (job->tape_act) store_units(F(job->tape_act) + ((uint32_t)t * job->B + b + n) * 3 * H + 2 * H, nGate, u + q, H);
    }
}

void gru_steps(job_t *job, int tid) {
  int first, end;
  thread_blocks(job, tid, &first, &end);
  for (int t = 0; t < job->T; t++) {
    if (job->tape_act && job->seqlens) tape_finished_rows(job, t, first, end, 3);
    if (job->variant == 1) {
      FOR_PANEL_ROWS(job, t, first, end, 1, 1, after_rows);
    } else {
      FOR_PANEL_ROWS(job, t, first, end, 2, 0, before_rz_rows);
      barrier(job, tid);
      FOR_PANEL_ROWS(job, t, first, end, 4, 1, before_n_rows);
    }
    barrier(job, tid);
  }
}
