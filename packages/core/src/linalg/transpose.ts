import type { FloatArray } from '../spec.js';

/** [rows, cols] -> [cols, rows], in the same array type. */
export function transpose2d(src: FloatArray, rows: number, cols: number): FloatArray {
  const out = src instanceof Float64Array ? new Float64Array(rows * cols) : new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c];
  return out;
}
