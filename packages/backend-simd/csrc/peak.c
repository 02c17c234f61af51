// The SIMD128 peak this machine gives our kernels: multiply-adds as f32x4 mul + add (SIMD128's own; the relaxed
// build measures the same, so that its kernels' fused multiply-adds are held to the same peak) from 8 independent
// accumulators, 2 operand loads per 8 multiply-adds from a buffer in L1, on every thread. The bench divides a
// case's arithmetic rate by this one.
#include "simd.h"

void peak(const job_t *job, int tid) {
  const float *buf = F(job->a); // 64 floats, read-only
  f4 w[4], acc[8];
  for (int i = 0; i < 4; i++) w[i] = wasm_v128_load(buf + 4 * i);
  for (int i = 0; i < 8; i++) acc[i] = splat(0.0f);
  const int iterations = job->K;
  for (int r = 0; r < iterations; r += 8) {
    for (int k = 0; k < 64; k += 8) {
      const f4 a0 = wasm_v128_load(buf + k), a1 = wasm_v128_load(buf + k + 4);
      for (int i = 0; i < 4; i++) {
        acc[i] = wasm_f32x4_add(acc[i], wasm_f32x4_mul(a0, w[i]));
        acc[i + 4] = wasm_f32x4_add(acc[i + 4], wasm_f32x4_mul(a1, w[i]));
      }
    }
  }
  f4 sum = acc[0];
  for (int i = 1; i < 8; i++) sum = wasm_f32x4_add(sum, acc[i]);
  wasm_v128_store(F(job->cm) + 4 * tid, sum); // kept, so that the loop is not optimised away
}
