// GRU backward over a chunk, the time loop of backend-cpu's gruBackward, both variants. Per step: the gate
// gradients of every row from the tape (each thread its own units), a barrier, then dh_{t-1} through W_hh for the
// thread's own units. Reset after: dhP = the recurrent-side gradients of r, z, n (n's scaled by r), one product
// over all 3H gates. Reset before: n's gradient reaches h through r * h, so d(r * h) = dn W_hn comes first (own
// units, after the barrier), then r's gradient, a second barrier, and the product over r and z.
#include "simd.h"

// Gate gradients of one row at unit j (scalar: a GRU's per-unit work is small next to its products).
static void gates_unit(const job_t *job, uint32_t row, int b, int j, int after) {
  const int H = job->H, G = 3 * H;
  const float *act = F(job->tape_act) + row * G;
  float *dxp = F(job->dg) + row * G, *dhp = F(job->dhg) + row * G;
  const float r = act[j], z = act[H + j], n = act[2 * H + j], hp = F(job->tape_hprev)[row * H + j];
  const float dhj = F(job->dh)[(uint32_t)b * H + j] + (job->dy ? F(job->dy)[row * H + j] : 0.0f);
  const float dpn = dhj * (1.0f - z) * (1.0f - n * n);
  dxp[H + j] = dhj * (hp - n) * z * (1.0f - z);
  dxp[2 * H + j] = dpn;
  F(job->dc)[(uint32_t)b * H + j] = dhj * z; // `direct`: dh_{t-1} through z * h
  if (after) {
    dxp[j] = dpn * F(job->tape_extra)[row * H + j] * r * (1.0f - r);
    dhp[j] = dxp[j];
    dhp[H + j] = dxp[H + j];
    dhp[2 * H + j] = dpn * r;
  }
}

void gru_backward(job_t *job, int tid) {
  const int T = job->T, B = job->B, H = job->H, G = 3 * H, P = job->nthreads, after = job->variant == 1;
  const int j0 = (int)((int64_t)H * tid / P), j1 = (int)((int64_t)H * (tid + 1) / P);
  float *dh = F(job->dh), *direct = F(job->dc), *dhp = F(job->dhp), *drh = F(job->rh);
  for (int t = T - 1; t >= 0; t--) {
    for (int b = 0; b < B; b++) {
      const uint32_t row = (uint32_t)t * B + b;
      if (!row_active(job, t, b)) {
        // state passed through: dh flows on unchanged; this row's gate gradients are zero
        for (int g = 0; g < 3; g++)
          for (int j = j0; j < j1; j++) {
            F(job->dg)[row * G + g * H + j] = 0.0f;
            if (after) F(job->dhg)[row * G + g * H + j] = 0.0f;
          }
        continue;
      }
      for (int j = j0; j < j1; j++) gates_unit(job, row, b, j, after);
    }
    barrier(job, tid);
    const float *dxpt = F(job->dg) + (uint32_t)t * B * G;
    if (!after) {
      // d(r * h) = dn W_hn for own units, then r's gradient and h's share through r * h
      dh_product(dxpt, F(job->whht), B, H, G, 2 * H, G, j0, j1, drh);
      for (int b = 0; b < B; b++) {
        if (!row_active(job, t, b)) continue;
        const uint32_t row = (uint32_t)t * B + b;
        for (int j = j0; j < j1; j++) {
          const float r = F(job->tape_act)[row * G + j], d = drh[(uint32_t)b * H + j];
          F(job->dg)[row * G + j] = d * F(job->tape_hprev)[row * H + j] * r * (1.0f - r);
          direct[(uint32_t)b * H + j] += d * r;
        }
      }
      barrier(job, tid);
    }
    // dh_{t-1} = the recurrent gradients (all three gates after, r and z before) through W_hh, plus `direct`
    dh_product(after ? F(job->dhg) + (uint32_t)t * B * G : dxpt, F(job->whht), B, H, G, 0, after ? G : 2 * H, j0, j1, dhp);
    for (int b = 0; b < B; b++) {
      if (!row_active(job, t, b)) continue;
      for (int j = j0; j < j1; j++) dh[(uint32_t)b * H + j] = dhp[(uint32_t)b * H + j] + direct[(uint32_t)b * H + j];
    }
  }
}
