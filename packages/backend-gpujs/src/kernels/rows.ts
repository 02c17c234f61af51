import type { GPU, IGPUKernelSettings, IKernelFunctionThis, IKernelRunShortcut } from 'gpu.js';

// Texture-to-texture row operations (every tensor is a texture holding a matrix [rows, cols]; gpu.js output
// [cols, rows]). Each returns a new texture (pipeline, immutable).

const settings = (rows: number, cols: number, constants: Record<string, number> = {}): IGPUKernelSettings =>
  ({ output: [cols, rows], constants, pipeline: true, immutable: true, precision: 'single', tactic: 'precision' });

/** Host rows in, a texture out: an upload. */
export function copyKernel(gpu: GPU, rows: number, cols: number): IKernelRunShortcut {
  return gpu.createKernel(function (this: IKernelFunctionThis, a: number[][]) {
    return a[this.thread.y as number][this.thread.x];
  }, settings(rows, cols));
}

export function zerosKernel(gpu: GPU, rows: number, cols: number): IKernelRunShortcut {
  return gpu.createKernel(function () {
    return 0;
  }, settings(rows, cols));
}

/** [A, B, F] viewed as rows a·B + b -> [B, A, F] (rows b·A + a). */
export function transpose01Kernel(gpu: GPU, a: number, b: number, f: number): IKernelRunShortcut {
  return gpu.createKernel(function (this: IKernelFunctionThis<{ A: number; B: number }>, x: number[][]) {
    const r = this.thread.y as number;
    const bi = Math.floor(r / this.constants.A), ai = r - bi * this.constants.A;
    return x[ai * this.constants.B + bi][this.thread.x];
  }, settings(a * b, f, { A: a, B: b }));
}

/**
 * Rows whose `keep` is 0 written as zeros (a select, not a multiply: NaN · 0 is NaN). A first-axis row spans `per`
 * matrix rows (a [B, T, F] tensor is the matrix [B·T, F]).
 */
export function zeroRowsKernel(gpu: GPU, rows: number, cols: number, per: number): IKernelRunShortcut {
  return gpu.createKernel(function (this: IKernelFunctionThis<{ P: number }>, x: number[][], keep: number[]) {
    const r = this.thread.y as number;
    let v = 0;
    if (keep[Math.floor(r / this.constants.P)] > 0) v = x[r][this.thread.x];
    return v;
  }, settings(rows, cols, { P: per }));
}

/** out's first-axis row i = x's row index[i], each `per` matrix rows. */
export function gatherRowsKernel(gpu: GPU, rows: number, cols: number, per: number): IKernelRunShortcut {
  return gpu.createKernel(function (this: IKernelFunctionThis<{ P: number }>, x: number[][], index: number[]) {
    const r = this.thread.y as number, P = this.constants.P;
    const i = Math.floor(r / P);
    return x[index[i] * P + (r - i * P)][this.thread.x];
  }, settings(rows, cols, { P: per }));
}

/** [a; b]: the rows of a, then those of b. */
export function concatKernel(gpu: GPU, rowsA: number, rowsB: number, cols: number): IKernelRunShortcut {
  return gpu.createKernel(function (this: IKernelFunctionThis<{ N: number }>, a: number[][], b: number[][]) {
    const r = this.thread.y as number;
    let v = 0;
    if (r < this.constants.N) v = a[r][this.thread.x];
    else v = b[r - this.constants.N][this.thread.x];
    return v;
  }, settings(rowsA + rowsB, cols, { N: rowsA }));
}

/**
 * A chunk's outputs y [T·B, H] with step t's rows written from h_t [B, H] (zeros for rows past their length) and
 * every other row copied: the step kernels write [B, H] textures, y gathers them.
 */
export function writeStepKernel(gpu: GPU, time: number, batch: number, units: number): IKernelRunShortcut {
  return gpu.createKernel(function (this: IKernelFunctionThis<{ B: number }>, y: number[][], h: number[][], t: number, lengths: number[]) {
    const r = this.thread.y as number, j = this.thread.x;
    const first = t * this.constants.B;
    let v = y[r][j];
    if (r >= first && r < first + this.constants.B) {
      v = 0;
      if (t < lengths[r - first]) v = h[r - first][j];
    }
    return v;
  }, settings(time * batch, units, { B: batch }));
}
