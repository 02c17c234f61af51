import type { GPU, IKernelFunctionThis, IKernelRunShortcut } from 'gpu.js';
import { settings } from './settings.js';

/** Added to every gpu.js instance (kernels/math.ts). */
declare function tanhStable(x: number): number;
declare function reluStable(x: number): number;

/**
 * One Elman RNN step as one kernel: h' = act(P + W_hh h), act tanh (relu: 0) or relu (1), P [T·B, H] with both
 * biases folded in. A row at t >= its length keeps its state.
 */
export function rnnStepKernel(gpu: GPU, batch: number, units: number, relu: boolean): IKernelRunShortcut {
  return gpu.createKernel(function (this: IKernelFunctionThis<{ H: number; B: number; relu: number }>, proj: number[][], t: number, h: number[][], whh: number[][], lengths: number[][]) {
    const b = this.thread.y as number, j = this.thread.x;
    let a = proj[t * this.constants.B + b][j];
    for (let k = 0; k < this.constants.H; k++) a += whh[j][k] * h[b][k];
    let hNew = this.constants.relu > 0 ? reluStable(a) : tanhStable(a);
    if (t >= lengths[0][b]) hNew = h[b][j];
    return hNew;
  }, settings(batch, units, { H: units, B: batch, relu: relu ? 1 : 0 }));
}
