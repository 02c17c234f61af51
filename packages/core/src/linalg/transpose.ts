import type { FloatArray } from '../spec.js';

/**
 * [rows, cols] -> [cols, rows], in the same array type; the source's rows may start at `off` and lie `ld` values
 * apart (a block of a wider matrix).
 * @see [docs/backend-authoring.md (training kernels)](../../../../docs/backend-authoring.md#training-kernels-keep-a-training-step-on-the-backend-optional)
 */
export function transpose2d(src: FloatArray, rows: number, cols: number, off = 0, ld = cols): FloatArray {
  const out = src instanceof Float64Array ? new Float64Array(rows * cols) : new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const at = off + r * ld;
    for (let c = 0; c < cols; c++) out[c * rows + r] = src[at + c];
  }
  return out;
}
