import { gemmABt } from './gemm.js';
import { projectInputs, sigmoid } from './project.js';
import { alloc, type KernelArgs, type KernelResult } from './workspace.js';

/** LSTM over a chunk: gates i, f, g, o; c' = σf·c + σi·tanh g; h' = σo·tanh c'. */
export function lstmForward({ w, x, time: T, batch: B, h0, c0, seqLens, workspace }: KernelArgs): KernelResult {
  const H = w.spec.units, G = 4 * H, dtype = w.spec.dtype;
  const gates = workspace.get('gates', T * B * G, dtype);
  projectInputs(w, x, T * B, gates);
  const y = alloc(dtype, T * B * H);
  const h = h0.slice();
  const c = c0!.slice();
  for (let t = 0; t < T; t++) {
    const g0 = t * B * G;
    gemmABt(B, G, H, h, 0, H, w.wHh, 0, H, gates, g0, G, true);
    for (let b = 0; b < B; b++) {
      const yRow = (t * B + b) * H;
      if (seqLens !== null && t >= seqLens[b]) continue; // finished row: state kept, output stays zero
      const gi = g0 + b * G, gf = gi + H, gg = gf + H, go = gg + H, s = b * H;
      for (let j = 0; j < H; j++) {
        const cNew = sigmoid(gates[gf + j]) * c[s + j] + sigmoid(gates[gi + j]) * Math.tanh(gates[gg + j]);
        const hNew = sigmoid(gates[go + j]) * Math.tanh(cNew);
        c[s + j] = cNew;
        h[s + j] = hNew;
        y[yRow + j] = hNew;
      }
    }
  }
  return { y, h, c };
}
