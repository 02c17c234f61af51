import type { GPU, IKernelRunShortcut } from 'gpu.js';
import { settings } from './settings.js';

// The packed layouts of the forward's step kernels, where one texture read brings four values (an RGBA texel,
// gpu.js's Array(4)): weights packed over gates, W4 [H, K] with W4[j][k] = (W[j][k], W[H+j][k], W[2H+j][k],
// W[3H+j][k]) for the gates there are (zeros past them); states and inputs packed over batch rows, S4 [B4, K] with
// S4[q][k] = (S[4q][k], …, S[4q+3][k]) (zeros past B), a chunk's inputs step by step (row t·B4 + q). A step's thread
// then makes 16 multiply-adds (4 gates × 4 rows) of every two reads: 3-5x fewer reads than one value a read.
// Kernels are generated as source text, one statement per lane.

export const LANES = [0, 1, 2, 3] as const;

/** Settings of a kernel whose every output element is an RGBA texel. */
export const vec4Settings = (rows: number, cols: number, constants: Record<string, number> = {}) => ({
  ...settings(rows, cols, constants),
  returnType: 'Array(4)' as const,
});

/** W [G·H, K] -> W4 [H, K] over gates (G <= 4). */
export function packGatesKernel(gpu: GPU, gates: number, units: number, cols: number): IKernelRunShortcut {
  const lane = (g: number) => (g < gates ? `w[${g} * this.constants.H + j][k]` : '0');
  return gpu.createKernel(
    `function (w) {
    const j = this.thread.y, k = this.thread.x;
    return [${LANES.map(lane).join(', ')}];
  }`,
    vec4Settings(units, cols, { H: units }),
  );
}

/** X [T·B, K] -> X4 [T·B4, K] over batch rows, step by step (a state [B, K] is T = 1). */
export function packRowsKernel(gpu: GPU, time: number, batch: number, cols: number): IKernelRunShortcut {
  const b4 = Math.ceil(batch / 4);
  const lane = (l: number) => `let v${l} = 0;\n    if (4 * q + ${l} < this.constants.B) v${l} = x[t * this.constants.B + 4 * q + ${l}][k];`;
  return gpu.createKernel(
    `function (x) {
    const r = this.thread.y, k = this.thread.x;
    const t = Math.floor(r / this.constants.B4), q = r - t * this.constants.B4;
    ${LANES.map(lane).join('\n    ')}
    return [v0, v1, v2, v3];
  }`,
    vec4Settings(time * b4, cols, { B: batch, B4: b4 }),
  );
}

/**
 * S4 [T·B4, K] (packed states stacked) -> S [T·B, K], from state `shift` on; with `mask`, rows at or past their
 * length [1, B] are zeros (a chunk's y: step t's output is state t + 1).
 */
export function unpackRowsKernel(gpu: GPU, time: number, batch: number, cols: number, shift: 0 | 1, mask: boolean): IKernelRunShortcut {
  const b4 = Math.ceil(batch / 4);
  return gpu.createKernel(
    `function (s4${mask ? ', lengths' : ''}) {
    const r = this.thread.y, k = this.thread.x;
    const t = Math.floor(r / this.constants.B), b = r - t * this.constants.B;
    const q = Math.floor(b / 4), l = b - 4 * q;
    const v = s4[(t + this.constants.SHIFT) * this.constants.B4 + q][k];
    let out = v[3];
    if (l < 0.5) out = v[0];
    else if (l < 1.5) out = v[1];
    else if (l < 2.5) out = v[2];
    ${mask ? 'if (t >= lengths[0][b]) out = 0;' : ''}
    return out;
  }`,
    settings(time * batch, cols, { B: batch, B4: b4, SHIFT: shift }),
  );
}

/** The constants every packed step kernel reads. */
export const stepConstants = (batch: number, inputs: number, units: number, tokens: boolean, withLengths: boolean) => ({
  B: batch,
  B4: Math.ceil(batch / 4),
  I: inputs,
  H: units,
  TOKENS: tokens ? 1 : 0,
  LEN: withLengths ? 1 : 0,
});

/** bias [1, G·H] -> bias4 [1, H] over gates. */
export function packBiasKernel(gpu: GPU, gates: number, units: number): IKernelRunShortcut {
  const lane = (g: number) => (g < gates ? `b[0][${g} * this.constants.H + j]` : '0');
  return gpu.createKernel(
    `function (b) {
    const j = this.thread.x;
    return [${LANES.map(lane).join(', ')}];
  }`,
    vec4Settings(1, units, { H: units }),
  );
}
