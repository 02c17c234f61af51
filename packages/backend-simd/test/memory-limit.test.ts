import '@recur/backend-cpu';
import {
  LSTMCell,
  RecurError,
  StatefulRNN,
  disposeState,
  dynamicRnn,
  memory,
  ready,
  registerBackend,
  seededRandom,
  tensor,
} from '@recur/core';
import { maxAbsDiff } from '@recur/conformance';
import { describe, expect, it } from 'vitest';
import { createSimdBackend, type SimdBackend } from '../src/index.js';

// A backend whose WebAssembly memory may not grow past 24 MiB: what 4 GiB is for the default one, cheaply.
registerBackend('simd-small', () => createSimdBackend({ name: 'simd-small', threads: 2, maxMemoryBytes: 24 * 2 ** 20 }));
const small = (await ready('simd-small')) as SimdBackend;
await ready('cpu');
const random = seededRandom(5);
const values = (n: number) => Float32Array.from({ length: n }, () => random() * 2 - 1);

/** LSTM(16) outputs and final state on a backend for a fixed input. */
function outputs(backend: string, x: Float32Array, T: number): Float32Array {
  const cell = new LSTMCell(16, { backend, inputSize: 3, seed: 9 });
  const input = tensor(x, [2, T, 3], { backend });
  const { outputs: y, state } = dynamicRnn(cell, input);
  const out = y.dataSync() as Float32Array;
  for (const t of [y, input, cell]) t.dispose();
  disposeState(state);
  return out;
}

describe('backend-simd when its WebAssembly memory runs out (defect 2)', () => {
  it('a time slice too big for the memory is refused with a RecurError, and the next chunks are right', () => {
    const x = values(2 * 50 * 3);
    const want = outputs('cpu', x, 50);
    expect(maxAbsDiff(outputs('simd-small', x, 50), want).max).toBeLessThan(1e-5);
    const slice = small.sliceBytes;
    small.sliceBytes = 2 ** 31; // one slice for the whole chunk: its scratch cannot fit in 24 MiB
    const before = memory('simd-small');
    const long = tensor(values(2 * 100_000 * 3), [2, 100_000, 3], { backend: 'simd-small' });
    const cell = new LSTMCell(16, { backend: 'simd-small', inputSize: 3 });
    try {
      let error: unknown;
      try {
        dynamicRnn(cell, long);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(RecurError);
      expect((error as RecurError).argument).toBe('memory');
      expect((error as RecurError).expected).toMatch(/24\.00 MiB in all/);
      // before the fix the failed growth left a freed block recorded as the scratch: the next chunks ran on memory
      // that the next layer's weights were packed into (wrong by 0.14-0.21) or out of bounds
      for (let i = 0; i < 3; i++) expect(maxAbsDiff(outputs('simd-small', x, 50), want).max).toBeLessThan(1e-5);
    } finally {
      small.sliceBytes = slice;
    }
    // sliced (the default), the same long chunk fits and runs
    const { outputs: y, state } = dynamicRnn(cell, long);
    expect(y.shape).toEqual([2, 100_000, 16]);
    for (const t of [y, long, cell]) t.dispose();
    disposeState(state);
    expect(memory('simd-small')).toMatchObject({ numTensors: before.numTensors, numBytes: before.numBytes });
  });

  it('a layer too big to pack is refused with a RecurError, leaves nothing behind, and the backend runs on', () => {
    const before = memory('simd-small');
    const rnn = new StatefulRNN(new LSTMCell(64, { backend: 'simd-small', inputSize: 30_000 })); // w_ih: 30.7 MB
    const x = tensor(values(30_000), [1, 1, 30_000], { backend: 'simd-small' });
    expect(() => rnn.run(x)).toThrow(
      expect.objectContaining({ argument: 'memory', expected: expect.stringContaining('24.00 MiB in all') }),
    );
    rnn.dispose();
    x.dispose();
    expect(memory('simd-small')).toMatchObject({ numTensors: before.numTensors, numBytes: before.numBytes });
    const x2 = values(2 * 7 * 3);
    expect(maxAbsDiff(outputs('simd-small', x2, 7), outputs('cpu', x2, 7)).max).toBeLessThan(1e-5);
  });

  it('slices are sized as the kernels lay out a step (rows padded to unit blocks): a 1-unit layer fits too', () => {
    for (const units of [1, 3, 17]) {
      const cell = new LSTMCell(units, { backend: 'simd-small', inputSize: 1 });
      const x = tensor(new Float32Array(300_000).fill(0.5), [1, 300_000, 1], { backend: 'simd-small' });
      const { outputs: y, state } = dynamicRnn(cell, x);
      expect(y.shape).toEqual([1, 300_000, units]);
      for (const t of [y, x, cell]) t.dispose();
      disposeState(state);
    }
  });

  it('refuses options it cannot honour', async () => {
    await expect(createSimdBackend({ maxMemoryBytes: 1024 })).rejects.toMatchObject({ argument: 'options.maxMemoryBytes' });
    await expect(createSimdBackend({ maxMemoryByte: 2 ** 25 } as never)).rejects.toMatchObject({ argument: 'options.maxMemoryByte' });
    await expect(createSimdBackend(null as never)).rejects.toMatchObject({ argument: 'options' });
  });
});
