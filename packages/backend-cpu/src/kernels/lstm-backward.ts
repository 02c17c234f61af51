import {
  alive,
  totalDh,
  transposedWeights,
  weightGradients,
  type BackwardKernelArgs,
  type BackwardKernelResult,
} from './backward-common.js';
import { alloc, copyOf } from './workspace.js';

/** LSTM backward over a chunk: the time loop computes gate gradients; weight gradients come after in bulk. */
export function lstmBackward({
  w,
  gemm,
  gemmAtB,
  tape,
  time: T,
  batch: B,
  seqLens,
  dy,
  dhT,
  dcT,
}: BackwardKernelArgs): BackwardKernelResult {
  const H = w.spec.units,
    G = 4 * H,
    dtype = w.spec.dtype;
  const { wHhT } = transposedWeights(w);
  const dh = dhT ? copyOf(dhT) : alloc(dtype, B * H);
  const dc = dcT ? copyOf(dcT) : alloc(dtype, B * H);
  const dG = alloc(dtype, T * B * G);
  const dhPrev = alloc(dtype, B * H);
  const { act, cPrev, cNew } = tape;
  for (let t = T - 1; t >= 0; t--) {
    const g0 = t * B * G;
    for (let b = 0; b < B; b++) {
      if (!alive(seqLens, t, b)) continue; // state passed through: dh, dc flow on unchanged
      const s = b * H,
        row = (t * B + b) * H,
        a = g0 + b * G;
      for (let j = 0; j < H; j++) {
        const i = act[a + j],
          f = act[a + H + j],
          g = act[a + 2 * H + j],
          o = act[a + 3 * H + j];
        const tc = Math.tanh(cNew![row + j]);
        const dhj = totalDh(dh, dy, row, s, j);
        const dcj = dc[s + j] + dhj * o * (1 - tc * tc);
        dG[a + j] = dcj * g * i * (1 - i);
        dG[a + H + j] = dcj * cPrev![row + j] * f * (1 - f);
        dG[a + 2 * H + j] = dcj * i * (1 - g * g);
        dG[a + 3 * H + j] = dhj * tc * o * (1 - o);
        dc[s + j] = dcj * f;
      }
    }
    gemm(B, H, G, dG, g0, G, wHhT, 0, G, dhPrev, 0, H, false);
    for (let b = 0; b < B; b++) {
      if (alive(seqLens, t, b)) dh.set(dhPrev.subarray(b * H, (b + 1) * H), b * H);
    }
  }
  return { ...weightGradients(gemm, gemmAtB, w, tape, T * B, dG, dG, [{ g0: 0, g1: G, src: tape.hPrev }]), dh0: dh, dc0: dc };
}
