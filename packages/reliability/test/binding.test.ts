import '@recur/backend-cpu';
import '@recur/backend-simd';
import { LSTMCell, MultiRNNCell, StatefulRNN, disposeState, getBackend, ready, setBackend, tensor } from '@recur/core';
import { describe, expect, it } from 'vitest';

describe('an object keeps the backend it was created on', () => {
  it('a StatefulRNN made before ready("simd") changes the default still runs on cpu afterwards', async () => {
    // simd initialises asynchronously: until it is ready, the default is cpu
    expect(getBackend().name).toBe('cpu');
    const cell = new MultiRNNCell([new LSTMCell(8, { inputSize: 3, seed: 1 }), new LSTMCell(5, { seed: 2 })]);
    const rnn = new StatefulRNN(cell, { batch: 2 });
    const x = () =>
      tensor(
        Float32Array.from({ length: 2 * 4 * 3 }, (_, i) => Math.sin(i)),
        [2, 4, 3],
        { backend: 'cpu' },
      );
    const before = await rnn.run(x()).data();
    await ready('simd');
    expect(getBackend().name).toBe('simd'); // the default moved...
    const after = await rnn.run(x()).data(); // ...the object did not (this threw "simd: storage is not a live tensor")
    expect(after.length).toBe(before.length);
    expect(rnn.state).toBeDefined();
    // new objects take the new default; a tensor of the old backend is refused by name
    const fresh = new StatefulRNN(new LSTMCell(8, { inputSize: 3 }), { batch: 2 });
    expect(() => fresh.run(x())).toThrow(
      expect.objectContaining({ argument: 'chunk', expected: 'a tensor on backend "simd"', actual: 'a tensor on backend "cpu"' }),
    );
    fresh.dispose();
    rnn.dispose();
  });

  it('a stack whose layers were bound to two backends is refused by name', async () => {
    await setBackend('cpu');
    const a = new LSTMCell(4, { inputSize: 2 });
    disposeState(a.zeroState(1)); // a is bound to cpu
    await setBackend('simd');
    const b = new LSTMCell(4, { inputSize: 4 });
    disposeState(b.zeroState(1)); // b to simd
    expect(() => new StatefulRNN(new MultiRNNCell([a, b]))).toThrow(
      expect.objectContaining({
        argument: 'cell',
        expected: expect.stringContaining('every layer on one backend'),
        actual: expect.stringContaining('on "simd"'),
      }),
    );
  });
});
