import {
  alive,
  totalDh,
  transposedWeights,
  weightGradients,
  type BackwardKernelArgs,
  type BackwardKernelResult,
} from './backward-common.js';
import { alloc, copyOf } from './workspace.js';

/**
 * GRU backward over a chunk, both variants. dXP is the gradient of the input-side pre-activations, dHP of the
 * recurrent-side ones; they differ only in n: reset_after scales W_hn h + b_hn by r, reset_before feeds r·h to W_hn.
 */
export function gruBackward({ w, gemm, gemmAtB, tape, time: T, batch: B, seqLens, dy, dhT }: BackwardKernelArgs): BackwardKernelResult {
  const H = w.spec.units,
    G = 3 * H,
    dtype = w.spec.dtype,
    resetAfter = w.spec.kind === 'gru' && w.spec.resetAfter;
  const { wHhT } = transposedWeights(w);
  const dh = dhT ? copyOf(dhT) : alloc(dtype, B * H);
  const dXP = alloc(dtype, T * B * G);
  const dHP = resetAfter ? alloc(dtype, T * B * G) : dXP;
  const direct = alloc(dtype, B * H); // dh_prev through z·h and (reset_before) r·h
  const dRh = resetAfter ? null : alloc(dtype, B * H);
  const dhPrev = alloc(dtype, B * H);
  const { act, hPrev, extra } = tape;
  for (let t = T - 1; t >= 0; t--) {
    const g0 = t * B * G;
    for (let b = 0; b < B; b++) {
      if (!alive(seqLens, t, b)) continue;
      const s = b * H,
        row = (t * B + b) * H,
        a = g0 + b * G;
      for (let j = 0; j < H; j++) {
        const r = act[a + j],
          z = act[a + H + j],
          n = act[a + 2 * H + j],
          hp = hPrev[row + j];
        const dhj = totalDh(dh, dy, row, s, j);
        const dpn = dhj * (1 - z) * (1 - n * n);
        dXP[a + H + j] = dhj * (hp - n) * z * (1 - z);
        dXP[a + 2 * H + j] = dpn;
        direct[s + j] = dhj * z;
        if (resetAfter) {
          dXP[a + j] = dpn * extra![row + j] * r * (1 - r);
          dHP[a + j] = dXP[a + j];
          dHP[a + H + j] = dXP[a + H + j];
          dHP[a + 2 * H + j] = dpn * r;
        }
      }
    }
    if (!resetAfter) {
      // d(r·h) = dpn · W_hn; then r's gradient and h's share through r·h
      gemm(B, H, H, dXP, g0 + 2 * H, G, wHhT, 2 * H, G, dRh!, 0, H, false);
      for (let b = 0; b < B; b++) {
        if (!alive(seqLens, t, b)) continue;
        const s = b * H,
          row = (t * B + b) * H,
          a = g0 + b * G;
        for (let j = 0; j < H; j++) {
          const r = act[a + j];
          dXP[a + j] = dRh![s + j] * hPrev[row + j] * r * (1 - r);
          direct[s + j] += dRh![s + j] * r;
        }
      }
    }
    // the recurrent products: all three gates (reset_after) or r and z (reset_before; n went through r·h above)
    gemm(B, H, resetAfter ? G : 2 * H, dHP, g0, G, wHhT, 0, G, dhPrev, 0, H, false);
    for (let b = 0; b < B; b++) {
      if (!alive(seqLens, t, b)) continue;
      for (let j = b * H; j < (b + 1) * H; j++) dh[j] = dhPrev[j] + direct[j];
    }
  }
  const hInputs = resetAfter
    ? [{ g0: 0, g1: G, src: hPrev }]
    : [
        { g0: 0, g1: 2 * H, src: hPrev },
        { g0: 2 * H, g1: G, src: extra! },
      ];
  return { ...weightGradients(gemm, gemmAtB, w, tape, T * B, dXP, dHP, hInputs), dh0: dh, dc0: null };
}
