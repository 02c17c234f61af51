import type { GPU, IKernelFunctionThis, IKernelMapRunShortcut, ISubKernelObject } from 'gpu.js';
import { mapOutput, settings } from './settings.js';

/** Added to every gpu.js instance (kernels/math.ts). */
declare function sigmoidStable(x: number): number;
declare function tanhStable(x: number): number;

/** The kernel map's second output: gpu.js turns the call in the kernel's source into a write to its texture. */
declare function keepC(value: number): number;
/**
 * One LSTM step as one fused kernel (gates i, f, g, o; PyTorch's layout): every (row b, unit j) computes its four
 * dot products with W_hh's rows j, H+j, 2H+j, 3H+j, the gate math and the new cell state; c_t comes out as a second
 * texture (a kernel map), h_t as the result. Inputs: the chunk's projection P [T·B, 4H] (biases folded in) and the
 * step t, h_{t-1} and c_{t-1} [B, H], W_hh [4H, H], and the rows' lengths [1, B] (a row at t >= its length keeps its
 * state: TF's dynamic_rnn with sequence_length).
 */
export function lstmStepKernel(gpu: GPU, batch: number, units: number): IKernelMapRunShortcut<ISubKernelObject> {
  return gpu.createKernelMap({ c: mapOutput('keepC') },
    function (this: IKernelFunctionThis<{ H: number; B: number }>, proj: number[][], t: number, h: number[][], c: number[][], whh: number[][], lengths: number[][]) {
      const b = this.thread.y as number, j = this.thread.x, H = this.constants.H;
      const row = t * this.constants.B + b;
      let gi = proj[row][j], gf = proj[row][H + j], gg = proj[row][2 * H + j], go = proj[row][3 * H + j];
      for (let k = 0; k < this.constants.H; k++) {
        const hk = h[b][k];
        gi += whh[j][k] * hk;
        gf += whh[H + j][k] * hk;
        gg += whh[2 * H + j][k] * hk;
        go += whh[3 * H + j][k] * hk;
      }
      const i = sigmoidStable(gi), f = sigmoidStable(gf), o = sigmoidStable(go);
      let cNew = f * c[b][j] + i * tanhStable(gg);
      let hNew = o * tanhStable(cNew);
      if (t >= lengths[0][b]) {
        cNew = c[b][j];
        hNew = h[b][j];
      }
      keepC(cNew);
      return hNew;
    }, settings(batch, units, { H: units, B: batch }));
}
