import type { FloatArray, Gemm } from '@recur/core';
import type { CpuWeights } from './workspace.js';
import { transposedWeights } from './backward-common.js';

/**
 * The input projection of a whole chunk in one matrix product: out[r, :] = x[r, :] · W_ihᵀ + inputBias for all
 * r < rows = T * B. This is most of an RNN's arithmetic that does not depend on the previous step. With token ids
 * (x's rows one-hot) it is a gather: inputBias + the id's column of W_ih, a row of W_ihᵀ (bias first, then the
 * weight: the order the product adds them in, so both give the same bits).
 */
export function projectInputs(
  gemm: Gemm,
  w: CpuWeights,
  x: FloatArray | null,
  tokens: Int32Array | null,
  rows: number,
  out: FloatArray,
): void {
  const N = w.inputBias.length;
  const K = w.spec.inputSize;
  const bias = w.inputBias;
  if (tokens) {
    const { wIhT } = transposedWeights(w);
    for (let r = 0; r < rows; r++) {
      const at = r * N,
        from = tokens[r] * N;
      for (let n = 0; n < N; n++) out[at + n] = bias[n] + wIhT[from + n];
    }
    return;
  }
  for (let r = 0; r < rows; r++) out.set(bias, r * N);
  gemm(rows, N, K, x!, 0, K, w.wIh, 0, K, out, 0, N, true);
}

export function sigmoid(v: number): number {
  return 1 / (1 + Math.exp(-v));
}
