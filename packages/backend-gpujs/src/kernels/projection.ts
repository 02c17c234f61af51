import type { GPU, IKernelFunctionThis, IKernelRunShortcut } from 'gpu.js';
import { settings } from './settings.js';

/** The projection of token ids [1, rows] (one-hot rows): a gather of W_ih's columns, out[r][g] = bias[g] + W[g][id_r]. */
export function tokenProjectionKernel(gpu: GPU, rows: number, outputs: number): IKernelRunShortcut {
  return gpu.createKernel(
    function (this: IKernelFunctionThis, ids: number[][], w: number[][], bias: number[][]) {
      const r = this.thread.y as number,
        g = this.thread.x;
      return bias[0][g] + w[g][ids[0][r]];
    },
    settings(rows, outputs),
  );
}
