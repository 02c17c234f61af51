import type { GPU, IKernelFunctionThis, IKernelRunShortcut } from 'gpu.js';
import { settings } from './settings.js';

/**
 * out[r][g] = bias[g] + Σ_k x[r][k] · W[g][k]: the input projection of a whole chunk over all T·B rows (W_ih with
 * gates stacked, the public layout), and the dense head's forward. Every tensor is a texture holding a matrix
 * (gpu.js output [columns, rows]); bias is a [1, G] matrix.
 */
export function projectionKernel(gpu: GPU, rows: number, inputs: number, outputs: number): IKernelRunShortcut {
  return gpu.createKernel(function (this: IKernelFunctionThis<{ I: number }>, x: number[][], w: number[][], bias: number[][]) {
    const r = this.thread.y as number, g = this.thread.x;
    let sum = bias[0][g];
    for (let k = 0; k < this.constants.I; k++) sum += x[r][k] * w[g][k];
    return sum;
  }, settings(rows, outputs, { I: inputs }));
}

/** The projection of token ids [1, rows] (one-hot rows): a gather of W_ih's columns, out[r][g] = bias[g] + W[g][id_r]. */
export function tokenProjectionKernel(gpu: GPU, rows: number, outputs: number): IKernelRunShortcut {
  return gpu.createKernel(function (this: IKernelFunctionThis, ids: number[][], w: number[][], bias: number[][]) {
    const r = this.thread.y as number, g = this.thread.x;
    return bias[0][g] + w[g][ids[0][r]];
  }, settings(rows, outputs));
}
