import { describe, expect, it } from 'vitest';
import { glorotUniform, orthogonal, seededRandom } from '../src/init.js';
import { LSTMCell, GRUCell, RecurError, UnsupportedOptionError } from '../src/index.js';

describe('initialisers', () => {
  it('orthogonal gives orthonormal columns for a tall [4H, H] recurrent kernel', () => {
    const H = 12,
      rows = 4 * H,
      w = new Float64Array(rows * H);
    orthogonal(w, rows, H, seededRandom(3));
    for (let a = 0; a < H; a++) {
      for (let b = 0; b < H; b++) {
        let dot = 0;
        for (let r = 0; r < rows; r++) dot += w[r * H + a] * w[r * H + b];
        expect(Math.abs(dot - (a === b ? 1 : 0))).toBeLessThan(1e-12);
      }
    }
  });

  it('glorotUniform stays within sqrt(6 / (rows + cols)) and fills the range', () => {
    const w = new Float64Array(64 * 16);
    glorotUniform(w, 64, 16, seededRandom(1));
    const limit = Math.sqrt(6 / 80);
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(limit);
    expect(Math.max(...w)).toBeGreaterThan(limit * 0.9);
  });

  it('LSTMCell stores forget-gate bias 1 (and forgetBias 0), is reproducible from a seed', () => {
    const a = new LSTMCell(3, { inputSize: 2, seed: 9 }),
      b = new LSTMCell(3, { inputSize: 2, seed: 9 });
    const wa = a.getWeights();
    expect(Array.from(wa.bIh)).toEqual([0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(wa.bHh).every((v) => v === 0)).toBe(true);
    expect(a.forgetBias).toBe(0);
    expect(Array.from(b.getWeights().wHh)).toEqual(Array.from(wa.wHh));
  });
});

describe('cell options and weights', () => {
  it('setWeights checks every array size and keeps the old weights on error', () => {
    const cell = new GRUCell(2, { inputSize: 3, seed: 1 });
    const before = cell.getWeights();
    const bad = { wIh: new Float32Array(18), wHh: new Float32Array(11), bIh: new Float32Array(6), bHh: new Float32Array(6) };
    expect(() => cell.setWeights(bad)).toThrow(RecurError);
    try {
      cell.setWeights(bad);
    } catch (e) {
      expect(e).toMatchObject({ argument: 'weights.wHh', expected: '12 values', actual: '11 values' });
    }
    expect(Array.from(cell.getWeights().wHh)).toEqual(Array.from(before.wHh));
  });

  it('rejects TF1 options not built yet by name, and unknown options', () => {
    expect(() => new LSTMCell(4, { use_peepholes: true } as never)).toThrow(UnsupportedOptionError);
    expect(() => new LSTMCell(4, { forgetBais: 1 } as never)).toThrow(/options.forgetBais: expected one of the known options/);
    expect(() => new LSTMCell(0)).toThrow(/lstm.units: expected a positive integer, got 0/);
    expect(() => new LSTMCell(4, { forgetBias: NaN })).toThrow(/options.forgetBias: expected a finite number, got NaN/);
  });
});
