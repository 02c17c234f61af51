import { describe, expect, it } from 'vitest';
import { concatRows, gatherRows, transpose01, zeroRows } from '../src/kernels/rows.js';

describe('row kernels', () => {
  const src = Float32Array.from([1, 2, 3, 4, 5, 6]); // [3, 2]
  it('zeroRows copies and zeroes the given rows', () => {
    expect(Array.from(zeroRows(src, [3, 2], Int32Array.of(0, 2)))).toEqual([0, 0, 3, 4, 0, 0]);
    expect(Array.from(src)).toEqual([1, 2, 3, 4, 5, 6]);
  });
  it('gatherRows takes rows in order', () => {
    expect(Array.from(gatherRows(src, [3, 2], Int32Array.of(2, 0), 'float32'))).toEqual([5, 6, 1, 2]);
  });
  it('concatRows stacks along axis 0', () => {
    expect(Array.from(concatRows([src, Float32Array.of(7, 8)], 'float32'))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });
  it('transpose01 swaps the first two axes', () => {
    // [2, 3, 1] -> [3, 2, 1]
    expect(Array.from(transpose01(src, [2, 3, 1], 'float32'))).toEqual([1, 4, 2, 5, 3, 6]);
  });
});
