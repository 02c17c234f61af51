import type { GPU, IKernelFunctionThis, IKernelRunShortcut } from 'gpu.js';
import { settings } from './settings.js';

// The global L2 norm without overflow: statistics (m, s) with m the largest |v| and s = Σ (v / m)², so that the
// norm is m · √s; rows, then matrices, then storages combine as m = max m_i, s = Σ s_i (m_i / m)². An infinite m
// keeps s = 1 (the norm is infinite; (∞/∞)² would make it NaN). Statistics are [rows, 2] matrices: (m, s).

const BIG = 3.0e38;

/** Each row's (m, s), as [rows, 2]. */
export function rowNormStatsKernel(gpu: GPU, rows: number, cols: number): IKernelRunShortcut {
  return gpu.createKernel(
    function (this: IKernelFunctionThis<{ C: number; BIG: number }>, a: number[][]) {
      const r = this.thread.y as number;
      let m = 0;
      for (let c = 0; c < this.constants.C; c++) {
        const v = Math.abs(a[r][c]);
        if (v > m || !(v >= 0)) m = v; // a NaN stays, and makes the norm NaN
      }
      let s = 0;
      if (this.thread.x > 0.5 && m > 0) {
        for (let c = 0; c < this.constants.C; c++) {
          const q = a[r][c] / m;
          s += q * q;
        }
        if (m > this.constants.BIG) s = 1;
      }
      let out = m;
      if (this.thread.x > 0.5) out = s;
      return out;
    },
    settings(rows, 2, { C: cols, BIG }),
  );
}

/** Combines the rows of a statistics matrix [rows, 2] (two storages' stacked, or one's rows) into [1, 2]. */
export function combineNormStatsKernel(gpu: GPU, rows: number): IKernelRunShortcut {
  return gpu.createKernel(
    function (this: IKernelFunctionThis<{ R: number; BIG: number }>, st: number[][]) {
      let m = 0;
      for (let r = 0; r < this.constants.R; r++) {
        if (st[r][0] > m || !(st[r][0] >= 0)) m = st[r][0];
      }
      let s = 0;
      if (this.thread.x > 0.5 && m > 0) {
        for (let r = 0; r < this.constants.R; r++) {
          const q = st[r][0] / m;
          s += st[r][1] * q * q;
        }
        if (m > this.constants.BIG) s = 1;
      }
      let out = m;
      if (this.thread.x > 0.5) out = s;
      return out;
    },
    settings(1, 2, { R: rows, BIG }),
  );
}

/** m · √s, as [1, 1]. */
export function normFromStatsKernel(gpu: GPU): IKernelRunShortcut {
  return gpu.createKernel(
    function (this: IKernelFunctionThis, st: number[][]) {
      return st[0][0] * Math.sqrt(st[0][1]);
    },
    settings(1, 1),
  );
}
