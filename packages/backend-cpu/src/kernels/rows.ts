import type { FloatArray } from '@recur/core';
import { alloc, copyOf } from './workspace.js';

const rowSize = (shape: readonly number[]) => shape.slice(1).reduce((a, b) => a * b, 1);

export function zeroRows(src: FloatArray, shape: readonly number[], rows: Int32Array): FloatArray {
  const out = copyOf(src);
  const n = rowSize(shape);
  for (const r of rows) out.fill(0, r * n, (r + 1) * n);
  return out;
}

export function gatherRows(src: FloatArray, shape: readonly number[], rows: Int32Array, dtype: 'float32' | 'float64'): FloatArray {
  const n = rowSize(shape);
  const out = alloc(dtype, rows.length * n);
  rows.forEach((r, i) => out.set(src.subarray(r * n, (r + 1) * n), i * n));
  return out;
}

export function concatRows(parts: readonly FloatArray[], dtype: 'float32' | 'float64'): FloatArray {
  const out = alloc(
    dtype,
    parts.reduce((a, p) => a + p.length, 0),
  );
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** [A, B, F] -> [B, A, F] */
export function transpose01(src: FloatArray, [A, B, F]: readonly [number, number, number], dtype: 'float32' | 'float64'): FloatArray {
  const out = alloc(dtype, A * B * F);
  for (let a = 0; a < A; a++) {
    for (let b = 0; b < B; b++) out.set(src.subarray((a * B + b) * F, (a * B + b + 1) * F), (b * A + a) * F);
  }
  return out;
}
