// A stream migrates between backends through snapshot bytes: taken on backend-cpu, restored beside another stream
// on backend-simd (and back), it continues within the float32 forward tolerance of where it would have gone on
// the backend it left — the snapshot format is the backends' common ground, not any one's memory layout.
import '@recur/backend-cpu';
import { GRUCell, LSTMCell, MultiRNNCell, StatefulRNN, ready, type LayerCell } from '@recur/core';
import { maxAbsDiff } from '@recur/conformance';
import { describe, expect, it } from 'vitest';
import '../src/index.js';

await Promise.all([ready('cpu'), ready('simd')]);
const I = 5;
/** The same stack (same weights) on a backend. */
function stackOn(backend: string): MultiRNNCell {
  const layers: LayerCell[] = [new LSTMCell(16, { backend, inputSize: I, seed: 31 }), new GRUCell(12, { backend, seed: 32 })];
  return new MultiRNNCell(layers);
}
const chunk = (rows: number, T: number, seed: number) =>
  Float32Array.from({ length: rows * T * I }, (_, i) => Math.sin(seed * 13 + i * 0.41));

describe('stream migration across backends', () => {
  for (const [from, to] of [
    ['cpu', 'simd'],
    ['simd', 'cpu'],
  ] as const) {
    it(`${from} -> ${to}: the migrated stream continues within 2e-5 of its twin that stayed`, async () => {
      const a = stackOn(from),
        b = stackOn(to);
      const source = new StatefulRNN(a, { streams: ['s', 't'] });
      source.predictSync(chunk(2, 7, 1), [2, 7, I]);
      const target = new StatefulRNN(b, { streams: ['local'] });
      target.predictSync(chunk(1, 3, 2), [1, 3, I]);
      expect(target.restoreStreams(await source.snapshot({ streams: ['t'] }))).toEqual(['t']);
      const next = chunk(2, 6, 3);
      const stayed = source.predictSync(next, [2, 6, I]).slice(6 * 12); // row t
      const moved = target.predictSync(Float32Array.of(...chunk(1, 6, 4), ...next.subarray(6 * I)), [2, 6, I]).slice(6 * 12);
      expect(maxAbsDiff(moved, stayed).max).toBeLessThanOrEqual(2e-5);
      // and the state did move: the same steps from a zero state go elsewhere
      const fresh = new StatefulRNN(b, { batch: 1 });
      expect(maxAbsDiff(fresh.predictSync(next.subarray(6 * I), [1, 6, I]), stayed).max).toBeGreaterThan(1e-3);
      for (const o of [source, target, fresh, a, b]) o.dispose();
    });
  }
});
