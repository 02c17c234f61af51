import type { GPU, IKernelFunctionThis, IKernelRunShortcut } from 'gpu.js';
import { settings } from './settings.js';

/** Added to every gpu.js instance (kernels/math.ts). */
declare function sigmoidStable(x: number): number;
declare function tanhStable(x: number): number;

type This = IKernelFunctionThis<{ H: number; B: number }>;
const stepSettings = (batch: number, units: number) => settings(batch, units, { H: units, B: batch });

/**
 * One GRU step, reset gate after the recurrent product (PyTorch, cuDNN, Keras 2), as one fused kernel (gates r, z,
 * n): n = tanh(P_n + r · (W_hn h + b_hn)), h' = (1 - z) · n + z · h. P [T·B, 3H] holds x·W_ihᵀ + b_ih (+ b_hh for r
 * and z); b_hn [1, H] stays apart. A row at t >= its length keeps its state.
 */
export function gruAfterStepKernel(gpu: GPU, batch: number, units: number): IKernelRunShortcut {
  return gpu.createKernel(function (this: This, proj: number[][], t: number, h: number[][], whh: number[][], bhn: number[][], lengths: number[][]) {
    const b = this.thread.y as number, j = this.thread.x, H = this.constants.H;
    const row = t * this.constants.B + b;
    let ar = proj[row][j], az = proj[row][H + j], an = bhn[0][j];
    for (let k = 0; k < this.constants.H; k++) {
      const hk = h[b][k];
      ar += whh[j][k] * hk;
      az += whh[H + j][k] * hk;
      an += whh[2 * H + j][k] * hk;
    }
    const r = sigmoidStable(ar), z = sigmoidStable(az);
    const n = tanhStable(proj[row][2 * H + j] + r * an);
    let hNew = (1 - z) * n + z * h[b][j];
    if (t >= lengths[0][b]) hNew = h[b][j];
    return hNew;
  }, stepSettings(batch, units));
}

/**
 * The reset gate of a reset-before GRU step (TF1's GRUCell), for every unit: n then needs r ⊙ h of all units, so
 * this step is two kernels. r = σ(P_r + W_hr h).
 */
export function gruResetKernel(gpu: GPU, batch: number, units: number): IKernelRunShortcut {
  return gpu.createKernel(function (this: This, proj: number[][], t: number, h: number[][], whh: number[][]) {
    const b = this.thread.y as number, j = this.thread.x;
    const row = t * this.constants.B + b;
    let ar = proj[row][j];
    for (let k = 0; k < this.constants.H; k++) ar += whh[j][k] * h[b][k];
    return sigmoidStable(ar);
  }, stepSettings(batch, units));
}

/** The rest of a reset-before GRU step: z, n = tanh(P_n + W_hn (r ⊙ h)) (every bias folded into P), h'. */
export function gruBeforeStepKernel(gpu: GPU, batch: number, units: number): IKernelRunShortcut {
  return gpu.createKernel(function (this: This, proj: number[][], t: number, h: number[][], r: number[][], whh: number[][], lengths: number[][]) {
    const b = this.thread.y as number, j = this.thread.x, H = this.constants.H;
    const row = t * this.constants.B + b;
    let az = proj[row][H + j], an = proj[row][2 * H + j];
    for (let k = 0; k < this.constants.H; k++) {
      const hk = h[b][k];
      az += whh[H + j][k] * hk;
      an += whh[2 * H + j][k] * (r[b][k] * hk);
    }
    const z = sigmoidStable(az);
    let hNew = (1 - z) * tanhStable(an) + z * h[b][j];
    if (t >= lengths[0][b]) hNew = h[b][j];
    return hNew;
  }, stepSettings(batch, units));
}
