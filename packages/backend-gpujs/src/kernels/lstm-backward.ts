import type { GPU, IKernelFunctionThis, IKernelMapRunShortcut, IKernelRunShortcut, ISubKernelObject } from 'gpu.js';
import { mapOutput, settings } from './settings.js';

/** Added to every gpu.js instance (kernels/math.ts). */
declare function sigmoidStable(x: number): number;
declare function tanhStable(x: number): number;

declare function keepDc(value: number): number;

// LSTM backward. The forward keeps only the states; the gate activations of the whole chunk are recomputed at once
// (every row's h_{t-1} is known then: one kernel over all T·B rows), then each step back is two kernels: the gate
// gradients, and the state gradients through W_hh (with dc as a kernel map's second output).

/** act [T·B, 4H]: i, f, g, o of every row from their pre-activations (the projection plus h_{t-1} · W_hhᵀ). */
export function lstmActivationsKernel(gpu: GPU, rows: number, units: number): IKernelRunShortcut {
  return gpu.createKernel(
    function (this: IKernelFunctionThis<{ H: number }>, pre: number[][]) {
      const a = pre[this.thread.y as number][this.thread.x];
      let v = sigmoidStable(a);
      if (Math.floor(this.thread.x / this.constants.H) === 2) v = tanhStable(a);
      return v;
    },
    settings(rows, 4 * units, { H: units }),
  );
}

/**
 * Step t's pre-activation gradients dG [B, 4H] from act, cs [(T+1)·B, H] (c_0 first), dy [T·B, H] (read when DY is
 * 1), the carried dh and dc [B, H]. Rows at or past their length get zeros.
 */
export function lstmGateGradsKernel(gpu: GPU, batch: number, units: number, withDy: boolean): IKernelRunShortcut {
  return gpu.createKernel(
    function (
      this: IKernelFunctionThis<{ H: number; B: number; DY: number }>,
      act: number[][],
      cs: number[][],
      dy: number[][],
      dh: number[][],
      dc: number[][],
      t: number,
      lengths: number[][],
    ) {
      const b = this.thread.y as number,
        g = this.thread.x,
        H = this.constants.H;
      const q = Math.floor(g / H),
        j = g - q * H,
        row = t * this.constants.B + b;
      let dht = dh[b][j];
      if (this.constants.DY > 0) dht += dy[row][j];
      const i = act[row][j],
        f = act[row][H + j],
        gg = act[row][2 * H + j],
        o = act[row][3 * H + j];
      const tc = tanhStable(cs[row + this.constants.B][j]);
      const dct = dc[b][j] + dht * o * (1 - tc * tc);
      let v = dht * tc * o * (1 - o);
      if (q === 0) v = dct * gg * i * (1 - i);
      if (q === 1) v = dct * cs[row][j] * f * (1 - f);
      if (q === 2) v = dct * i * (1 - gg * gg);
      if (t >= lengths[0][b]) v = 0;
      return v;
    },
    settings(batch, 4 * units, { H: units, B: batch, DY: withDy ? 1 : 0 }),
  );
}

/**
 * dh_{t-1} = dG · W_hh, both read four to a texel (dG4 [B, H] packed by columns, W_hh4 [H, H] by rows:
 * products.ts), and dc_{t-1} = dc_t · f (the map's `dc`); rows past their length pass dh and dc on.
 */
export function lstmCarryKernel(gpu: GPU, batch: number, units: number, withDy: boolean): IKernelMapRunShortcut<ISubKernelObject> {
  return gpu.createKernelMap(
    { dc: mapOutput('keepDc') },
    function (
      this: IKernelFunctionThis<{ H: number; B: number; DY: number }>,
      dG4: number[][][],
      whh4: number[][][],
      act: number[][],
      cs: number[][],
      dy: number[][],
      dh: number[][],
      dc: number[][],
      t: number,
      lengths: number[][],
    ) {
      const b = this.thread.y as number,
        k = this.thread.x,
        H = this.constants.H;
      const row = t * this.constants.B + b;
      let s = 0;
      for (let q = 0; q < this.constants.H; q++) {
        const u = dG4[b][q],
          v = whh4[q][k];
        s += u[0] * v[0] + u[1] * v[1] + u[2] * v[2] + u[3] * v[3];
      }
      let dht = dh[b][k];
      if (this.constants.DY > 0) dht += dy[row][k];
      const tc = tanhStable(cs[row + this.constants.B][k]);
      let dcPrev = (dc[b][k] + dht * act[row][3 * H + k] * (1 - tc * tc)) * act[row][H + k];
      if (t >= lengths[0][b]) {
        s = dh[b][k];
        dcPrev = dc[b][k];
      }
      keepDc(dcPrev);
      return s;
    },
    settings(batch, units, { H: units, B: batch, DY: withDy ? 1 : 0 }),
  );
}
