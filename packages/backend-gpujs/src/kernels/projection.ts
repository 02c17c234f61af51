import type { GPU, IKernelFunctionThis, IKernelRunShortcut } from 'gpu.js';

/**
 * The input projection of a whole chunk, one kernel over all T·B rows: P[r][g] = bias[g] + Σ_k x[r][k] · W[g][k].
 * Every tensor is a texture holding a matrix (gpu.js output [columns, rows]): x [rows, I], W [G, I] (the public
 * layout: W_ih with gates stacked), bias [G]; the result [rows, G] stays a texture (pipeline mode, a new one per
 * call: the caller deletes it).
 */
export function projectionKernel(gpu: GPU, rows: number, inputs: number, outputs: number): IKernelRunShortcut {
  return gpu.createKernel(function (this: IKernelFunctionThis<{ I: number }>, x: number[][], w: number[][], bias: number[]) {
    const r = this.thread.y, g = this.thread.x;
    let sum = bias[g];
    for (let k = 0; k < this.constants.I; k++) sum += x[r][k] * w[g][k];
    return sum;
  }, { output: [outputs, rows], constants: { I: inputs }, pipeline: true, immutable: true, precision: 'single', tactic: 'precision' });
}
