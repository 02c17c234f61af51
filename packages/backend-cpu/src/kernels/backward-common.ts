import { transpose2d, type DType, type FloatArray, type Gemm } from '@recur/core';
import { alloc, type CpuTape, type CpuWeights } from './workspace.js';

export interface BackwardKernelArgs {
  readonly w: CpuWeights;
  /** The matrix product the kernel runs (a faster tier passes its own). */
  readonly gemm: Gemm;
  readonly tape: CpuTape;
  readonly time: number;
  readonly batch: number;
  readonly seqLens: Int32Array | null;
  /** [T, B, H] or null */
  readonly dy: FloatArray | null;
  readonly dhT: FloatArray | null;
  readonly dcT: FloatArray | null;
}

export interface BackwardKernelResult {
  readonly dx: FloatArray;
  readonly dh0: FloatArray;
  readonly dc0: FloatArray | null;
  readonly dWih: FloatArray;
  readonly dWhh: FloatArray;
  readonly dbIh: FloatArray;
  readonly dbHh: FloatArray;
}

/** The transposed kernels the backward multiplies by, made once per weights upload. */
export function transposedWeights(w: CpuWeights): { wIhT: FloatArray; wHhT: FloatArray } {
  const GH = w.inputBias.length;
  w.wIhT ??= transpose2d(w.wIh, GH, w.spec.inputSize);
  w.wHhT ??= transpose2d(w.wHh, GH, w.spec.units);
  return { wIhT: w.wIhT, wHhT: w.wHhT };
}

/** Gradient flowing into h_t from the outputs and the later steps: dh (carried) + dy[t] (if any). */
export function totalDh(dh: FloatArray, dy: FloatArray | null, yOff: number, s: number, j: number): number {
  return dy === null ? dh[s + j] : dh[s + j] + dy[yOff + j];
}

/** Whether row b is still running at step t. */
export function alive(seqLens: Int32Array | null, t: number, b: number): boolean {
  return seqLens === null || t < seqLens[b];
}

/**
 * The parts of the backward that need no time loop, as matrix products over all T*B rows at once:
 * dx = dXP · W_ih, dW_ih = dXPᵀ · x, db_ih = Σ dXP, dW_hh = dHPᵀ · (the recurrent inputs), db_hh = Σ dHP.
 * `hInputs` gives the recurrent input of each block of gate rows (GRU reset_before feeds r·h to the n rows).
 */
export function weightGradients(gemm: Gemm, w: CpuWeights, tape: CpuTape, rows: number, dXP: FloatArray, dHP: FloatArray,
  hInputs: readonly { g0: number; g1: number; src: FloatArray }[]): Omit<BackwardKernelResult, 'dh0' | 'dc0'> {
  const I = w.spec.inputSize, H = w.spec.units, GH = w.inputBias.length, dtype = w.spec.dtype;
  const { wIhT } = transposedWeights(w);
  const dx = alloc(dtype, rows * I);
  gemm(rows, I, GH, dXP, 0, GH, wIhT, 0, GH, dx, 0, I, false);
  const dXPT = transpose2d(dXP, rows, GH);
  const dWih = alloc(dtype, GH * I);
  gemm(GH, I, rows, dXPT, 0, rows, transpose2d(tape.x, rows, I), 0, rows, dWih, 0, I, false);
  const dHPT = dHP === dXP ? dXPT : transpose2d(dHP, rows, GH);
  const dWhh = alloc(dtype, GH * H);
  for (const { g0, g1, src } of hInputs) {
    gemm(g1 - g0, H, rows, dHPT, g0 * rows, rows, transpose2d(src, rows, H), 0, rows, dWhh, g0 * H, H, false);
  }
  return { dx, dWih, dWhh, dbIh: rowSums(dXPT, GH, rows, dtype), dbHh: rowSums(dHPT, GH, rows, dtype) };
}

function rowSums(m: FloatArray, rows: number, cols: number, dtype: DType): FloatArray {
  const out = alloc(dtype, rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += m[r * cols + c];
    out[r] = s;
  }
  return out;
}
