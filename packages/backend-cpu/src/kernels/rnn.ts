import { projectInputs } from './project.js';
import { alloc, copyOf, type KernelArgs, type KernelResult } from './workspace.js';

/** Simple RNN over a chunk: h' = act(W_ih x + W_hh h + b), act tanh or relu. */
export function rnnForward({ w, gemm, x, tokens, time: T, batch: B, h0, seqLens, workspace, keepTape }: KernelArgs): KernelResult {
  const H = w.spec.units,
    dtype = w.spec.dtype;
  const relu = w.spec.kind === 'rnn' && w.spec.activation === 'relu';
  const pre = workspace.get('gates', T * B * H, dtype);
  projectInputs(gemm, w, x, tokens, T * B, pre);
  const y = alloc(dtype, T * B * H);
  const h = copyOf(h0);
  const tape = keepTape ? { x, tokens, hPrev: alloc(dtype, T * B * H), act: y, cPrev: null, cNew: null, extra: null } : null;
  for (let t = 0; t < T; t++) {
    const p0 = t * B * H;
    if (tape) tape.hPrev.set(h, p0);
    gemm(B, H, H, h, 0, H, w.wHh, 0, H, pre, p0, H, true);
    for (let b = 0; b < B; b++) {
      if (seqLens !== null && t >= seqLens[b]) continue;
      const p = p0 + b * H,
        s = b * H;
      for (let j = 0; j < H; j++) {
        const v = pre[p + j];
        const hNew = relu ? (v > 0 ? v : 0) : Math.tanh(v);
        h[s + j] = hNew;
        y[p + j] = hNew;
      }
    }
  }
  return { y, h, c: null, tape };
}
