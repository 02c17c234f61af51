import type { GPU, IKernelFunctionThis, IKernelRunShortcut } from 'gpu.js';
import { settings } from './settings.js';

// RNN backward: each step back is the pre-activation gradient (from h_t itself: tanh' = 1 - h², relu' = h > 0) and
// the state gradient through W_hh.

/** Step t's dG [B, H] from hs [(T+1)·B, H], dy [T·B, H] (read when DY is 1) and the carried dh. */
export function rnnGateGradsKernel(gpu: GPU, batch: number, units: number, relu: boolean, withDy: boolean): IKernelRunShortcut {
  return gpu.createKernel(
    function (
      this: IKernelFunctionThis<{ B: number; DY: number; relu: number }>,
      hs: number[][],
      dy: number[][],
      dh: number[][],
      t: number,
      lengths: number[][],
    ) {
      const b = this.thread.y as number,
        j = this.thread.x;
      const row = t * this.constants.B + b;
      let dht = dh[b][j];
      if (this.constants.DY > 0) dht += dy[row][j];
      const v = hs[row + this.constants.B][j];
      let d = dht * (1 - v * v);
      if (this.constants.relu > 0) {
        d = 0;
        if (v > 0) d = dht;
      }
      if (t >= lengths[0][b]) d = 0;
      return d;
    },
    settings(batch, units, { B: batch, DY: withDy ? 1 : 0, relu: relu ? 1 : 0 }),
  );
}

/** dh_{t-1} = dG [B, G] · W_hh [G, H], both read four to a texel (products.ts); rows past their length pass dh on. */
export function recurrentGradKernel(gpu: GPU, batch: number, gates: number, units: number): IKernelRunShortcut {
  return gpu.createKernel(
    function (
      this: IKernelFunctionThis<{ G4: number }>,
      dG4: number[][][],
      whh4: number[][][],
      dh: number[][],
      t: number,
      lengths: number[][],
    ) {
      const b = this.thread.y as number,
        k = this.thread.x;
      let s = 0;
      for (let q = 0; q < this.constants.G4; q++) {
        const u = dG4[b][q],
          v = whh4[q][k];
        s += u[0] * v[0] + u[1] * v[1] + u[2] * v[2] + u[3] * v[3];
      }
      if (t >= lengths[0][b]) s = dh[b][k];
      return s;
    },
    settings(batch, units, { G4: Math.ceil(gates / 4) }),
  );
}
