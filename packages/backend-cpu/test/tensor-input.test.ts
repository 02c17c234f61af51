// What tensor() takes: flat arrays in float32 unless asked (a Float64Array no longer silently makes a float64
// tensor), and nested arrays read row-major with every level checked by path.
import { RecurError, ShapeError, tensor } from '@recur/core';
import { describe, expect, it } from 'vitest';
import '../src/index.js';

const thrown = (fn: () => unknown): RecurError => {
  try {
    fn();
  } catch (error) {
    return error as RecurError;
  }
  throw new Error('nothing thrown');
};

describe('tensor()', () => {
  it('is float32 unless options.dtype says float64, whatever the array type', () => {
    const t = tensor(Float64Array.of(1, 2, 3, 4), [2, 2], { backend: 'cpu' });
    expect(t.dtype).toBe('float32');
    expect(t.dataSync()).toBeInstanceOf(Float32Array);
    const d = tensor(Float64Array.of(1, 2, 3, 4), [2, 2], { backend: 'cpu', dtype: 'float64' });
    expect(d.dtype).toBe('float64');
    t.dispose();
    d.dispose();
  });

  it('reads nested arrays row-major, and names the entry whose length is off', () => {
    const t = tensor(
      [
        [
          [1, 2],
          [3, 4],
          [5, 6],
        ],
      ],
      [1, 3, 2],
      { backend: 'cpu' },
    );
    expect(Array.from(t.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
    t.dispose();
    const ragged = thrown(() => tensor([[1, 2], [3]], [2, 2], { backend: 'cpu' }));
    expect(ragged).toBeInstanceOf(ShapeError);
    expect(ragged.message).toBe('values[1]: expected 2 entries (dimension 1 of [2, 2]), got 1 entries');
    expect(
      thrown(() =>
        tensor(
          [
            [1, 2],
            [3, 'x' as never],
          ],
          [2, 2],
          { backend: 'cpu' },
        ),
      ).message,
    ).toMatch(/^values\[3\]: expected a number, got "x"/);
    expect(
      thrown(() =>
        tensor(
          [
            [1, 2],
            [3, 4],
          ],
          [2],
          { backend: 'cpu' },
        ),
      ).message,
    ).toBe('values[0]: expected a number (the shape [2] has 1 dimensions), got an array of 2');
  });

  it('says flat or nested when the count is off', () => {
    expect(thrown(() => tensor([1, 2, 3], [2, 2], { backend: 'cpu' })).message).toBe(
      'values: expected 4 values for shape [2, 2], flat row-major or nested, got 3 values',
    );
  });
});
