import type { GPU, IKernelFunctionThis, IKernelRunShortcut } from 'gpu.js';
import { settings } from './settings.js';

// The losses: the mean over rows of softmax cross-entropy, and the mean squared error, each as a [1, 1] texture,
// with the gradient with respect to the predictions. Only the loss is ever read back.

type This = IKernelFunctionThis<{ C: number; R: number; N: number }>;

/** Each row's log Σ exp, as [rows, 1] (shifted by the row's maximum: no overflow). */
export function rowLogSumExpKernel(gpu: GPU, rows: number, classes: number): IKernelRunShortcut {
  return gpu.createKernel(
    function (this: This, logits: number[][]) {
      const r = this.thread.y as number;
      let m = logits[r][0];
      for (let c = 1; c < this.constants.C; c++) m = Math.max(m, logits[r][c]);
      let s = 0;
      for (let c = 0; c < this.constants.C; c++) s += Math.exp(logits[r][c] - m);
      return m + Math.log(s);
    },
    settings(rows, 1, { C: classes }),
  );
}

/** d mean-loss / d logits = (softmax - one-hot(target)) / rows; targets [1, rows]. */
export function softmaxGradKernel(gpu: GPU, rows: number, classes: number): IKernelRunShortcut {
  return gpu.createKernel(
    function (this: This, logits: number[][], lse: number[][], targets: number[][]) {
      const r = this.thread.y as number,
        c = this.thread.x;
      let v = Math.exp(logits[r][c] - lse[r][0]);
      if (Math.abs(targets[0][r] - c) < 0.5) v -= 1;
      return v / this.constants.R;
    },
    settings(rows, classes, { R: rows }),
  );
}

/** The mean of log Σ exp - the target's logit, as [1, 1]. */
export function crossEntropyKernel(gpu: GPU, rows: number): IKernelRunShortcut {
  return gpu.createKernel(
    function (this: This, logits: number[][], lse: number[][], targets: number[][]) {
      let s = 0;
      for (let r = 0; r < this.constants.R; r++) s += lse[r][0] - logits[r][targets[0][r]];
      return s / this.constants.R;
    },
    settings(1, 1, { R: rows }),
  );
}

/** d mean((p - t)²) / dp = 2 (p - t) / count. */
export function squaredErrorGradKernel(gpu: GPU, rows: number, cols: number, count: number): IKernelRunShortcut {
  return gpu.createKernel(
    function (this: This, p: number[][], target: number[][]) {
      const r = this.thread.y as number,
        c = this.thread.x;
      return (2 * (p[r][c] - target[r][c])) / this.constants.N;
    },
    settings(rows, cols, { N: count }),
  );
}

/**
 * Each row's share of the mean squared error, Σ d · (d / count), as [rows, 1]: divided before it is summed, so a
 * float32 sum overflows only where the mean itself does (as core's host code, which rounds its mean to float32).
 */
export function squaredErrorRowsKernel(gpu: GPU, rows: number, cols: number, count: number): IKernelRunShortcut {
  return gpu.createKernel(
    function (this: This, p: number[][], target: number[][]) {
      const r = this.thread.y as number;
      let s = 0;
      for (let c = 0; c < this.constants.C; c++) {
        const d = p[r][c] - target[r][c];
        s += d * (d / this.constants.N);
      }
      return s;
    },
    settings(rows, 1, { C: cols, N: count }),
  );
}

/** The sum of a column [rows, 1], as [1, 1]. */
export function sumKernel(gpu: GPU, rows: number): IKernelRunShortcut {
  return gpu.createKernel(
    function (this: This, a: number[][]) {
      let s = 0;
      for (let r = 0; r < this.constants.R; r++) s += a[r][0];
      return s;
    },
    settings(1, 1, { R: rows }),
  );
}
