import type { GPU, IKernelFunctionThis, IKernelMapRunShortcut, IKernelRunShortcut, ISubKernelObject } from 'gpu.js';
import { mapOutput, settings } from './settings.js';

declare function keepV(value: number): number;
declare function keepM(value: number): number;

// The optimizer updates as kernel maps: the new parameter is the result, the new slots the map's other outputs
// (the backend then swaps them into the storages: "in place" for its callers). Core's updateParameter is the
// reference: the same expressions in the same order.

/** SGD with momentum: v = μ v + s g; p -= lr v. */
export function sgdKernel(gpu: GPU, rows: number, cols: number): IKernelMapRunShortcut<ISubKernelObject> {
  return gpu.createKernelMap(
    { v: mapOutput('keepV') },
    function (this: IKernelFunctionThis, p: number[][], g: number[][], v: number[][], lr: number, mu: number, scale: number) {
      const r = this.thread.y as number,
        c = this.thread.x;
      const vNew = mu * v[r][c] + scale * g[r][c];
      keepV(vNew);
      return p[r][c] - lr * vNew;
    },
    settings(rows, cols),
  );
}

/** Adam: m = β1 m + (1 - β1) g', v = β2 v + (1 - β2) g'², p -= (lr / c1) m / (√(v / c2) + ε), g' = s g. */
export function adamKernel(gpu: GPU, rows: number, cols: number): IKernelMapRunShortcut<ISubKernelObject> {
  return gpu.createKernelMap(
    { m: mapOutput('keepM'), v: mapOutput('keepV') },
    function (
      this: IKernelFunctionThis,
      p: number[][],
      g: number[][],
      m: number[][],
      v: number[][],
      stepSize: number,
      inverseC2: number,
      b1: number,
      b2: number,
      eps: number,
      scale: number,
    ) {
      const r = this.thread.y as number,
        c = this.thread.x;
      const gs = scale * g[r][c];
      const mNew = b1 * m[r][c] + (1 - b1) * gs,
        vNew = b2 * v[r][c] + (1 - b2) * gs * gs;
      keepM(mNew);
      keepV(vNew);
      return p[r][c] - (stepSize * mNew) / (Math.sqrt(vNew * inverseC2) + eps);
    },
    settings(rows, cols),
  );
}

/**
 * The projection's bias [1, G] from b_ih and b_hh [1, G]: their sum, but b_hn of a reset-after GRU (AFTER), plus
 * an LSTM's forget bias on f (FB).
 */
export function foldBiasKernel(gpu: GPU, units: number, gates: number, resetAfter: boolean, forgetBias: number): IKernelRunShortcut {
  return gpu.createKernel(
    function (this: IKernelFunctionThis<{ H: number; AFTER: number; FB: number }>, bih: number[][], bhh: number[][]) {
      const g = this.thread.x,
        H = this.constants.H;
      let v = bih[0][g] + bhh[0][g];
      if (this.constants.AFTER > 0 && g >= 2 * H) v = bih[0][g];
      if (g >= H && g < 2 * H) v += this.constants.FB;
      return v;
    },
    settings(1, gates, { H: units, AFTER: resetAfter ? 1 : 0, FB: forgetBias }),
  );
}

/** Columns [offset, offset + cols) of a matrix (b_hn out of b_hh). */
export function columnsKernel(gpu: GPU, rows: number, cols: number, offset: number): IKernelRunShortcut {
  return gpu.createKernel(
    function (this: IKernelFunctionThis<{ O: number }>, a: number[][]) {
      return a[this.thread.y as number][this.thread.x + this.constants.O];
    },
    settings(rows, cols, { O: offset }),
  );
}
