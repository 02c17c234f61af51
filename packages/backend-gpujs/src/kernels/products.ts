import type { GPU, IKernelFunctionThis, IKernelRunShortcut } from 'gpu.js';
import { settings } from './settings.js';

// The matrix products of the backward's weight gradients and of the dense head, over all T·B rows at once.

/** out [rows, cols] = A [rows, inner] · W [inner, cols] (dx = dG · W_ih, the head's dx = dOut · W). */
export function matmulKernel(gpu: GPU, rows: number, inner: number, cols: number): IKernelRunShortcut {
  return gpu.createKernel(function (this: IKernelFunctionThis<{ K: number }>, a: number[][], w: number[][]) {
    const r = this.thread.y as number, c = this.thread.x;
    let s = 0;
    for (let k = 0; k < this.constants.K; k++) s += a[r][k] * w[k][c];
    return s;
  }, settings(rows, cols, { K: inner }));
}

/**
 * out [G, K] = Σ over the first `rows` rows of A[r][g] · S[r][k], S being s1 for g < split and s2 from there (the
 * n rows of a reset-before GRU's W_hh multiply r ⊙ h): dW = dGᵀ · inputs.
 */
export function atbKernel(gpu: GPU, rows: number, outRows: number, cols: number, split: number): IKernelRunShortcut {
  return gpu.createKernel(function (this: IKernelFunctionThis<{ R: number; S: number }>, a: number[][], s1: number[][], s2: number[][]) {
    const g = this.thread.y as number, k = this.thread.x;
    let s = 0;
    if (g < this.constants.S) {
      for (let r = 0; r < this.constants.R; r++) s += a[r][g] * s1[r][k];
    } else {
      for (let r = 0; r < this.constants.R; r++) s += a[r][g] * s2[r][k];
    }
    return s;
  }, settings(outRows, cols, { R: rows, S: split }));
}

/** The sum of each column of A [rows, cols], as [1, cols] (bias gradients). */
export function columnSumsKernel(gpu: GPU, rows: number, cols: number): IKernelRunShortcut {
  return gpu.createKernel(function (this: IKernelFunctionThis<{ R: number }>, a: number[][]) {
    let s = 0;
    for (let r = 0; r < this.constants.R; r++) s += a[r][this.thread.x];
    return s;
  }, settings(1, cols, { R: rows }));
}

/** dW_ih [G, V] of a token-id input: column id gathers the gradients of the rows with that id ([1, rows] ids). */
export function tokenWeightGradKernel(gpu: GPU, rows: number, gates: number, vocabulary: number): IKernelRunShortcut {
  return gpu.createKernel(function (this: IKernelFunctionThis<{ R: number }>, a: number[][], ids: number[][]) {
    const g = this.thread.y as number, i = this.thread.x;
    let s = 0;
    for (let r = 0; r < this.constants.R; r++) {
      if (Math.abs(ids[0][r] - i) < 0.5) s += a[r][g];
    }
    return s;
  }, settings(gates, vocabulary, { R: rows }));
}
