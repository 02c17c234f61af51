import type { GPU, IKernelFunctionThis, IKernelRunShortcut } from 'gpu.js';
import { settings } from './settings.js';

/** Added to every gpu.js instance (kernels/math.ts). */
declare function sigmoidStable(x: number): number;
declare function tanhStable(x: number): number;

// GRU backward, both variants. The forward keeps only the states; the gates of the whole chunk are recomputed at
// once into act [T·B, 3H] from the projection P and the recurrent products (products.ts): r, z, then for
// reset-after the recurrent term W_hn h + b_hn (n follows from it), for reset-before n itself (which needs r of
// every unit first, and a second product of r ⊙ h). Each step back is two kernels.

type This = IKernelFunctionThis<{ H: number; B: number; DY: number; AFTER: number }>;

/** Reset-after: act = [σ(P_r + (h W_hhᵀ)_r), σ(P_z + …), (h W_hhᵀ)_n + b_hn] from P and pre = h W_hhᵀ [T·B, 3H]. */
export function gruAfterActivationsKernel(gpu: GPU, rows: number, units: number): IKernelRunShortcut {
  return gpu.createKernel(
    function (this: This, proj: number[][], pre: number[][], bhn: number[][]) {
      const r = this.thread.y as number,
        g = this.thread.x,
        H = this.constants.H;
      let v = sigmoidStable(proj[r][g] + pre[r][g]);
      if (g >= 2 * H) v = pre[r][g] + bhn[0][g - 2 * H];
      return v;
    },
    settings(rows, 3 * units, { H: units }),
  );
}

/** Reset-before: the reset gate of every row and unit [T·B, H], σ(P_r + (h W_hhᵀ)_r). */
export function gruBeforeResetKernel(gpu: GPU, rows: number, units: number): IKernelRunShortcut {
  return gpu.createKernel(
    function (this: This, proj: number[][], pre: number[][]) {
      const r = this.thread.y as number,
        j = this.thread.x;
      return sigmoidStable(proj[r][j] + pre[r][j]);
    },
    settings(rows, units, { H: units }),
  );
}

/** Reset-before: act = [r, σ(P_z + (h W_hhᵀ)_z), tanh(P_n + preN)], preN = (r ⊙ h) W_hnᵀ [T·B, H]. */
export function gruBeforeActivationsKernel(gpu: GPU, rows: number, units: number): IKernelRunShortcut {
  return gpu.createKernel(
    function (this: This, proj: number[][], pre: number[][], reset: number[][], preN: number[][]) {
      const r = this.thread.y as number,
        g = this.thread.x,
        H = this.constants.H;
      let v = reset[r][g];
      if (g >= H && g < 2 * H) v = sigmoidStable(proj[r][g] + pre[r][g]);
      if (g >= 2 * H) v = tanhStable(proj[r][g] + preN[r][g - 2 * H]);
      return v;
    },
    settings(rows, 3 * units, { H: units }),
  );
}

/**
 * Step t's input-side pre-activation gradients dG [B, 3H] (dr, dz, dn), from act, P, hs, W_hh, dy [T·B, H] (read
 * when DY is 1) and the carried dh. Reset-before's dr needs dn of every unit through W_hn (a loop over units).
 */
export function gruGateGradsKernel(gpu: GPU, batch: number, units: number, resetAfter: boolean, withDy: boolean): IKernelRunShortcut {
  return gpu.createKernel(
    function (
      this: This,
      act: number[][],
      proj: number[][],
      hs: number[][],
      whh: number[][],
      dy: number[][],
      dh: number[][],
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
      const r = act[row][j],
        z = act[row][H + j];
      let n = act[row][2 * H + j];
      if (this.constants.AFTER > 0) n = tanhStable(proj[row][2 * H + j] + r * act[row][2 * H + j]);
      const dpn = dht * (1 - z) * (1 - n * n);
      let v = dpn;
      if (q === 1) v = dht * (hs[row][j] - n) * z * (1 - z);
      if (q === 0) {
        if (this.constants.AFTER > 0) {
          v = dpn * act[row][2 * H + j] * r * (1 - r);
        } else {
          let dRh = 0;
          for (let i = 0; i < this.constants.H; i++) {
            let dhi = dh[b][i];
            if (this.constants.DY > 0) dhi += dy[row][i];
            const zi = act[row][H + i],
              ni = act[row][2 * H + i];
            dRh += dhi * (1 - zi) * (1 - ni * ni) * whh[2 * H + i][j];
          }
          v = dRh * hs[row][j] * r * (1 - r);
        }
      }
      if (t >= lengths[0][b]) v = 0;
      return v;
    },
    settings(batch, 3 * units, { H: units, B: batch, DY: withDy ? 1 : 0, AFTER: resetAfter ? 1 : 0 }),
  );
}

/**
 * dh_{t-1}: through r and z's recurrent products, through n's (scaled by r after the product, or r ⊙ h before it),
 * and directly through z · h. Rows past their length pass dh on.
 */
export function gruCarryKernel(gpu: GPU, batch: number, units: number, resetAfter: boolean, withDy: boolean): IKernelRunShortcut {
  return gpu.createKernel(
    function (
      this: This,
      dG: number[][],
      act: number[][],
      whh: number[][],
      dy: number[][],
      dh: number[][],
      t: number,
      lengths: number[][],
    ) {
      const b = this.thread.y as number,
        k = this.thread.x,
        H = this.constants.H;
      const row = t * this.constants.B + b;
      let s = 0;
      for (let g = 0; g < 2 * this.constants.H; g++) s += dG[b][g] * whh[g][k];
      let sn = 0;
      for (let i = 0; i < this.constants.H; i++) {
        let d = dG[b][2 * H + i];
        if (this.constants.AFTER > 0) d *= act[row][i];
        sn += d * whh[2 * H + i][k];
      }
      if (this.constants.AFTER < 1) sn *= act[row][k];
      let dht = dh[b][k];
      if (this.constants.DY > 0) dht += dy[row][k];
      let v = s + sn + dht * act[row][H + k];
      if (t >= lengths[0][b]) v = dh[b][k];
      return v;
    },
    settings(batch, units, { H: units, B: batch, DY: withDy ? 1 : 0, AFTER: resetAfter ? 1 : 0 }),
  );
}

/** The recurrent-side gradients of the whole chunk for reset-after: dn scaled by r (the others as they are). */
export function gruAfterHiddenGradsKernel(gpu: GPU, rows: number, units: number): IKernelRunShortcut {
  return gpu.createKernel(
    function (this: This, dG: number[][], act: number[][]) {
      const r = this.thread.y as number,
        g = this.thread.x,
        H = this.constants.H;
      let v = dG[r][g];
      if (g >= 2 * H) v *= act[r][g - 2 * H];
      return v;
    },
    settings(rows, 3 * units, { H: units }),
  );
}

/** r ⊙ h_{t-1} of every row [T·B, H]: what W_hn multiplies in a reset-before GRU. */
export function gruResetHiddenKernel(gpu: GPU, rows: number, units: number): IKernelRunShortcut {
  return gpu.createKernel(
    function (this: This, act: number[][], hs: number[][]) {
      const r = this.thread.y as number,
        k = this.thread.x;
      return act[r][k] * hs[r][k];
    },
    settings(rows, units),
  );
}
