import { transpose2d, type DType, type FloatArray, type Gemm, type GemmAtB } from '@recur/core';
import { alloc, type CpuTape, type CpuWeights } from './workspace.js';

/** A layer's backward on host arrays: its upload, tape and the incoming gradients. */
export interface BackwardKernelArgs {
  readonly w: CpuWeights;
  /** The matrix product the kernel runs (a faster tier passes its own). */
  readonly gemm: Gemm;
  /** The Aᵀ · B product of the weight gradients (likewise). */
  readonly gemmAtB: GemmAtB;
  readonly tape: CpuTape;
  readonly time: number;
  readonly batch: number;
  readonly seqLens: Int32Array | null;
  /** [T, B, H] or null */
  readonly dy: FloatArray | null;
  readonly dhT: FloatArray | null;
  readonly dcT: FloatArray | null;
}

/** A layer's gradients on host arrays. */
export interface BackwardKernelResult {
  /** null when the forward ran on token ids */
  readonly dx: FloatArray | null;
  readonly dh0: FloatArray;
  readonly dc0: FloatArray | null;
  readonly dWih: FloatArray;
  readonly dWhh: FloatArray;
  readonly dbIh: FloatArray;
  readonly dbHh: FloatArray;
}

/**
 * The transposed kernels the backward multiplies by, made once per weights upload.
 * @see [docs/backend-authoring.md (backend-cpu as a base)](../../../../docs/backend-authoring.md#examples-in-this-repository)
 */
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
 * @see [docs/backend-authoring.md (backend-cpu as a base)](../../../../docs/backend-authoring.md#examples-in-this-repository)
 */
export function weightGradients(
  gemm: Gemm,
  gemmAtB: GemmAtB,
  w: CpuWeights,
  tape: CpuTape,
  rows: number,
  dXP: FloatArray,
  dHP: FloatArray,
  hInputs: readonly { g0: number; g1: number; src: FloatArray }[],
): Omit<BackwardKernelResult, 'dh0' | 'dc0'> {
  const I = w.spec.inputSize,
    H = w.spec.units,
    GH = w.inputBias.length,
    dtype = w.spec.dtype;
  const { wIhT } = transposedWeights(w);
  let dx: FloatArray | null = null;
  const dWih = alloc(dtype, GH * I);
  if (tape.tokens) {
    // one-hot rows: no input gradient, and dW_ih[:, id] gathers the projection gradients of that id's rows
    for (let r = 0; r < rows; r++) {
      const id = tape.tokens[r],
        at = r * GH;
      for (let g = 0; g < GH; g++) dWih[g * I + id] += dXP[at + g];
    }
  } else {
    dx = alloc(dtype, rows * I);
    gemm(rows, I, GH, dXP, 0, GH, wIhT, 0, GH, dx, 0, I, false);
    gemmAtB(GH, I, rows, dXP, 0, GH, tape.x!, 0, I, dWih, 0, I, false);
  }
  const dWhh = alloc(dtype, GH * H);
  for (const { g0, g1, src } of hInputs) gemmAtB(g1 - g0, H, rows, dHP, g0, GH, src, 0, H, dWhh, g0 * H, H, false);
  const dbIh = columnSums(dXP, rows, GH, dtype);
  const dbHh = dHP === dXP ? alloc(dtype, GH) : columnSums(dHP, rows, GH, dtype);
  if (dHP === dXP) dbHh.set(dbIh);
  return { dx, dWih, dWhh, dbIh, dbHh };
}

/** Sums of each column of a [rows, cols] matrix, row by row (in order, as the cache likes). */
function columnSums(m: FloatArray, rows: number, cols: number, dtype: DType): FloatArray {
  const out = alloc(dtype, cols);
  for (let r = 0; r < rows; r++) {
    const at = r * cols;
    for (let c = 0; c < cols; c++) out[c] += m[at + c];
  }
  return out;
}
