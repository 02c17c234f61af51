import { describe, expect, it } from 'vitest';
import {
  Adam,
  GRUCell,
  LSTMCell,
  MultiRNNCell,
  RnnModel,
  StatefulRNN,
  TbpttTrainer,
  getBackend,
  memory,
  registerBackend,
  tensor,
  tokenIds,
} from '@recur/core';
import { GpujsBackend } from '../src/index.js';

registerBackend('gpujs-textures', () => new GpujsBackend('gpujs-textures'), -1000);

// Textures are counted where they are made and deleted: streaming and training must hold level, step after step.
describe('backend-gpujs textures', () => {
  const backend = () => getBackend('gpujs-textures') as GpujsBackend;
  const level = () => ({ textures: backend().texturesCreated - backend().texturesDeleted, memory: memory('gpujs-textures') });

  it('after 10,000 streamed steps (2-layer LSTM + GRU, resets) the live textures and memory() equal those after 10', () => {
    const before = level();
    const cell = new MultiRNNCell([
      new LSTMCell(8, { backend: 'gpujs-textures', inputSize: 3 }),
      new GRUCell(6, { backend: 'gpujs-textures' }),
    ]);
    const rnn = new StatefulRNN(cell, { batch: 2 });
    const x = tensor(
      Float32Array.from({ length: 6 }, (_, i) => Math.sin(i)),
      [2, 1, 3],
      { backend: 'gpujs-textures' },
    );
    const step = (i: number) => {
      rnn.run(x).dispose();
      if (i % 97 === 0) rnn.reset([i % 2]);
    };
    for (let i = 0; i < 10; i++) step(i);
    const after10 = level();
    for (let i = 10; i < 10_000; i++) step(i);
    expect(level()).toEqual(after10);
    rnn.dispose();
    cell.dispose();
    x.dispose();
    expect(level()).toEqual(before);
  });

  it('after 1,000 training chunks (LSTM + reset-before GRU + head, token ids, Adam, clipping) they equal those after 10', async () => {
    const before = level();
    const V = 5,
      B = 2,
      T = 4;
    const model = new RnnModel(
      {
        inputSize: V,
        layers: [
          { kind: 'lstm', units: 6 },
          { kind: 'gru', units: 4, resetAfter: false },
        ],
        outputSize: V,
      },
      { backend: 'gpujs-textures', seed: 3 },
    );
    const trainer = new TbpttTrainer(model, { batch: B, optimizer: new Adam({ learningRate: 0.01 }), clipNorm: 1 });
    const chunk = (k: number) =>
      trainer.trainChunk(
        tokenIds(
          Array.from({ length: B * T }, (_, i) => (i + k) % V),
          [B, T],
          V,
        ),
        Array.from({ length: B * T }, (_, i) => (i * 2 + k) % V),
      );
    let first = 0,
      last = 0;
    for (let k = 0; k < 10; k++) first = (await chunk(k)).loss;
    const after10 = level();
    for (let k = 10; k < 1000; k++) last = (await chunk(k)).loss;
    expect(level()).toEqual(after10);
    expect(last).toBeLessThan(first); // it trained: the sequence is learnable
    trainer.dispose();
    model.dispose();
    expect(level()).toEqual(before);
  });
});
