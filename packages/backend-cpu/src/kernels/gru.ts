import { projectInputs, sigmoid } from './project.js';
import { alloc, copyOf, type KernelArgs, type KernelResult } from './workspace.js';

/**
 * GRU over a chunk: gates r, z, n; h' = (1 - z)·n + z·h. reset_after: n = tanh(xn + r·(W_hn h + b_hn));
 * reset_before (TF1): n = tanh(xn + W_hn (r·h) + b_hn), which needs a second product per step.
 */
export function gruForward({ w, gemm, x, tokens, time: T, batch: B, h0, seqLens, workspace, keepTape }: KernelArgs): KernelResult {
  const H = w.spec.units,
    G = 3 * H,
    dtype = w.spec.dtype;
  const resetAfter = w.spec.kind === 'gru' && w.spec.resetAfter;
  const xp = workspace.get('gates', T * B * G, dtype);
  projectInputs(gemm, w, x, tokens, T * B, xp);
  const hp = workspace.get('hidden', B * G, dtype);
  const rh = resetAfter ? hp : workspace.get('resetHidden', B * H, dtype);
  const bn = w.hiddenBiasN;
  const y = alloc(dtype, T * B * H);
  const h = copyOf(h0);
  const tape = keepTape
    ? { x, tokens, hPrev: alloc(dtype, T * B * H), act: alloc(dtype, T * B * G), cPrev: null, cNew: null, extra: alloc(dtype, T * B * H) }
    : null;
  for (let t = 0; t < T; t++) {
    const x0 = t * B * G;
    if (tape) tape.hPrev.set(h, t * B * H);
    // r and z (and n's recurrent term when reset_after) from the previous h
    gemm(B, resetAfter ? G : 2 * H, H, h, 0, H, w.wHh, 0, H, hp, 0, G, false);
    if (!resetAfter) {
      for (let b = 0; b < B; b++) {
        const xr = x0 + b * G,
          hr = b * G,
          s = b * H;
        for (let j = 0; j < H; j++) rh[s + j] = sigmoid(xp[xr + j] + hp[hr + j]) * h[s + j];
      }
      if (tape) tape.extra.set(rh.subarray(0, B * H), t * B * H);
      gemm(B, H, H, rh, 0, H, w.wHh, 2 * H * H, H, hp, 2 * H, G, false);
    }
    for (let b = 0; b < B; b++) {
      if (seqLens !== null && t >= seqLens[b]) continue;
      const xr = x0 + b * G,
        xz = xr + H,
        xn = xz + H,
        hr = b * G,
        hz = hr + H,
        hn = hz + H,
        s = b * H,
        yRow = (t * B + b) * H;
      for (let j = 0; j < H; j++) {
        const r = sigmoid(xp[xr + j] + hp[hr + j]);
        const z = sigmoid(xp[xz + j] + hp[hz + j]);
        const hnTerm = resetAfter ? hp[hn + j] + bn![j] : 0;
        const n = resetAfter ? Math.tanh(xp[xn + j] + r * hnTerm) : Math.tanh(xp[xn + j] + hp[hn + j]);
        const hNew = (1 - z) * n + z * h[s + j];
        h[s + j] = hNew;
        y[yRow + j] = hNew;
        if (tape) {
          tape.act[x0 + b * G + j] = r;
          tape.act[x0 + b * G + H + j] = z;
          tape.act[x0 + b * G + 2 * H + j] = n;
          if (resetAfter) tape.extra[yRow + j] = hnTerm;
        }
      }
    }
  }
  return { y, h, c: null, tape };
}
