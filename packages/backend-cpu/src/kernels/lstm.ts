import { projectInputs, sigmoid } from './project.js';
import { alloc, copyOf, type KernelArgs, type KernelResult } from './workspace.js';

/** LSTM over a chunk: gates i, f, g, o; c' = σf·c + σi·tanh g; h' = σo·tanh c'. */
export function lstmForward({ w, gemm, x, tokens, time: T, batch: B, h0, c0, seqLens, workspace, keepTape }: KernelArgs): KernelResult {
  const H = w.spec.units,
    G = 4 * H,
    dtype = w.spec.dtype;
  const gates = workspace.get('gates', T * B * G, dtype);
  projectInputs(gemm, w, x, tokens, T * B, gates);
  const y = alloc(dtype, T * B * H);
  const h = copyOf(h0);
  const c = copyOf(c0!);
  const tape = keepTape
    ? {
        x,
        tokens,
        hPrev: alloc(dtype, T * B * H),
        act: alloc(dtype, T * B * G),
        cPrev: alloc(dtype, T * B * H),
        cNew: alloc(dtype, T * B * H),
        extra: null,
      }
    : null;
  for (let t = 0; t < T; t++) {
    const g0 = t * B * G;
    if (tape) {
      tape.hPrev.set(h, t * B * H);
      tape.cPrev.set(c, t * B * H);
    }
    gemm(B, G, H, h, 0, H, w.wHh, 0, H, gates, g0, G, true);
    for (let b = 0; b < B; b++) {
      const yRow = (t * B + b) * H;
      if (seqLens !== null && t >= seqLens[b]) {
        // finished row: state kept, output stays zero
        if (tape) tape.cNew.set(c.subarray(b * H, (b + 1) * H), yRow);
        continue;
      }
      const gi = g0 + b * G,
        gf = gi + H,
        gg = gf + H,
        go = gg + H,
        s = b * H;
      for (let j = 0; j < H; j++) {
        const i = sigmoid(gates[gi + j]),
          f = sigmoid(gates[gf + j]),
          g = Math.tanh(gates[gg + j]),
          o = sigmoid(gates[go + j]);
        const cNew = f * c[s + j] + i * g;
        const hNew = o * Math.tanh(cNew);
        c[s + j] = cNew;
        h[s + j] = hNew;
        y[yRow + j] = hNew;
        if (tape) {
          const a = g0 + b * G + j;
          tape.act[a] = i;
          tape.act[a + H] = f;
          tape.act[a + 2 * H] = g;
          tape.act[a + 3 * H] = o;
          tape.cNew[yRow + j] = cNew;
        }
      }
    }
  }
  return { y, h, c, tape };
}
