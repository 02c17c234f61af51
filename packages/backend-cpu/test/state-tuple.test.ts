// LSTMStateTuple behaves like TF1's namedtuple: indexable, destructurable, iterable, so that TF1 helpers port by hand.
import { LSTMCell, LSTMStateTuple, MultiRNNCell, disposeState, dynamicRnn, tensor, type Tensor } from '@recur/core';
import { describe, expect, it } from 'vitest';
import '../src/index.js';

describe('LSTMStateTuple as a namedtuple (c, h)', () => {
  it('indexes, destructures and iterates as [c, h], per layer of a MultiRNNCell state', () => {
    const cell = new MultiRNNCell([new LSTMCell(3, { backend: 'cpu', seed: 1 }), new LSTMCell(2, { backend: 'cpu', seed: 2 })]);
    const x = tensor(
      Float32Array.from({ length: 2 * 4 * 5 }, (_, i) => Math.sin(i)),
      [2, 4, 5],
      { backend: 'cpu' },
    );
    const { outputs, state } = dynamicRnn(cell, x);
    const layers = state as readonly LSTMStateTuple[];
    // the TF1 recipe's helper, as written for tuples: for c, h in states
    const seen: [Tensor, Tensor][] = [];
    for (const [c, h] of layers) seen.push([c, h]);
    expect(seen.map(([c, h]) => [c.shape, h.shape])).toEqual([
      [
        [2, 3],
        [2, 3],
      ],
      [
        [2, 2],
        [2, 2],
      ],
    ]);
    const [first] = layers;
    expect(first[0]).toBe(first.c);
    expect(first[1]).toBe(first.h);
    expect(first.length).toBe(2);
    expect([...first]).toEqual([first.c, first.h]);
    const [c, h] = first;
    expect(c).toBe(first.c);
    expect(h).toBe(first.h);
    // the final h of the top layer is the last output step
    const y = outputs.dataSync(),
      top = layers[1].h.dataSync();
    expect(Array.from(top)).toEqual([...Array.from(y.subarray(3 * 2, 4 * 2)), ...Array.from(y.subarray(7 * 2, 8 * 2))]);
    outputs.dispose();
    disposeState(state);
    x.dispose();
    cell.dispose();
  });
});
