import { describe, expect, it } from 'vitest';
import { GRUCell, LSTMCell, MultiRNNCell, StatefulRNN, getBackend, memory, registerBackend, tensor } from '@recur/core';
import { GpujsBackend } from '../src/index.js';

registerBackend('gpujs-textures', () => new GpujsBackend('gpujs-textures'), -1000);

// Textures are counted where they are made and deleted: streaming must hold level, step after step.
describe('backend-gpujs textures', () => {
  it('after 2,000 streamed steps (2-layer LSTM + GRU, resets) the live textures and memory() equal those after 10', () => {
    const backend = getBackend('gpujs-textures') as GpujsBackend;
    const live = () => backend.texturesCreated - backend.texturesDeleted;
    const before = { textures: live(), memory: memory('gpujs-textures') };
    const cell = new MultiRNNCell([new LSTMCell(8, { backend: 'gpujs-textures', inputSize: 3 }), new GRUCell(6, { backend: 'gpujs-textures' })]);
    const rnn = new StatefulRNN(cell, { batch: 2 });
    const x = tensor(Float32Array.from({ length: 6 }, (_, i) => Math.sin(i)), [2, 1, 3], { backend: 'gpujs-textures' });
    const step = (i: number) => {
      rnn.run(x).dispose();
      if (i % 97 === 0) rnn.reset([i % 2]);
    };
    for (let i = 0; i < 10; i++) step(i);
    const after10 = { textures: live(), memory: memory('gpujs-textures') };
    for (let i = 10; i < 2000; i++) step(i);
    expect(live()).toBe(after10.textures);
    expect(memory('gpujs-textures')).toEqual(after10.memory);
    rnn.dispose();
    cell.dispose();
    x.dispose();
    expect(live()).toBe(before.textures);
    expect(memory('gpujs-textures')).toEqual(before.memory);
  });
});
