import {
  alive,
  totalDh,
  transposedWeights,
  weightGradients,
  type BackwardKernelArgs,
  type BackwardKernelResult,
} from './backward-common.js';
import { alloc, copyOf } from './workspace.js';

/** Simple RNN backward over a chunk: dpre = dh · act'(h_t). */
export function rnnBackward({ w, gemm, gemmAtB, tape, time: T, batch: B, seqLens, dy, dhT }: BackwardKernelArgs): BackwardKernelResult {
  const H = w.spec.units,
    dtype = w.spec.dtype,
    relu = w.spec.kind === 'rnn' && w.spec.activation === 'relu';
  const { wHhT } = transposedWeights(w);
  const dh = dhT ? copyOf(dhT) : alloc(dtype, B * H);
  const dG = alloc(dtype, T * B * H);
  const dhPrev = alloc(dtype, B * H);
  const hNew = tape.act;
  for (let t = T - 1; t >= 0; t--) {
    const g0 = t * B * H;
    for (let b = 0; b < B; b++) {
      if (!alive(seqLens, t, b)) continue;
      const s = b * H,
        row = g0 + b * H;
      for (let j = 0; j < H; j++) {
        const v = hNew[row + j];
        dG[row + j] = totalDh(dh, dy, row, s, j) * (relu ? (v > 0 ? 1 : 0) : 1 - v * v);
      }
    }
    gemm(B, H, H, dG, g0, H, wHhT, 0, H, dhPrev, 0, H, false);
    for (let b = 0; b < B; b++) {
      if (alive(seqLens, t, b)) dh.set(dhPrev.subarray(b * H, (b + 1) * H), b * H);
    }
  }
  return { ...weightGradients(gemm, gemmAtB, w, tape, T * B, dG, dG, [{ g0: 0, g1: H, src: tape.hPrev }]), dh0: dh, dc0: null };
}
