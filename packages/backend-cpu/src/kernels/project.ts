import type { FloatArray, Gemm } from '@recur/core';
import type { CpuWeights } from './workspace.js';

/**
 * The input projection of a whole chunk in one matrix product: out[r, :] = x[r, :] · W_ihᵀ + inputBias for all
 * r < rows = T * B. This is most of an RNN's arithmetic that does not depend on the previous step.
 */
export function projectInputs(gemm: Gemm, w: CpuWeights, x: FloatArray, rows: number, out: FloatArray): void {
  const N = w.inputBias.length;
  const K = w.spec.inputSize;
  const bias = w.inputBias;
  for (let r = 0; r < rows; r++) out.set(bias, r * N);
  gemm(rows, N, K, x, 0, K, w.wIh, 0, K, out, 0, N, true);
}

export function sigmoid(v: number): number {
  return 1 / (1 + Math.exp(-v));
}
