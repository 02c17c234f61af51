import '../src/index.js';
import '@recur/backend-cpu';
import {
  LSTMCell,
  LSTMStateTuple,
  MultiRNNCell,
  type LayerStateValue,
  RnnModel,
  SGD,
  StatefulRNN,
  TbpttTrainer,
  GRUCell,
  ready,
  tensor,
  seededRandom,
} from '@recur/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';

await ready('wasm');
const random = seededRandom(9);
const values = (n: number) => Float32Array.from({ length: n }, () => random() * 2 - 1);

describe('backend-wasm', () => {
  it('keeps the state in tfjs tensors, and tf.memory() after 10,000 streamed steps equals that after 10', async () => {
    const cell = new MultiRNNCell([new LSTMCell(8, { backend: 'wasm', inputSize: 4 }), new GRUCell(6, { backend: 'wasm' })]);
    const rnn = new StatefulRNN(cell, { batch: 2 });
    const x = tensor(values(8), [2, 1, 4], { backend: 'wasm' });
    const state = rnn.state as [{ h: { backend: { name: string } } }];
    expect(state[0].h.backend.name).toBe('wasm');
    const step = (n: number) => {
      for (let i = 0; i < n; i++) rnn.run(x).dispose();
    };
    step(10);
    const after10 = tf.memory();
    step(9990);
    const after10000 = tf.memory();
    expect([after10000.numTensors, after10000.numBytes]).toEqual([after10.numTensors, after10.numBytes]);
    expect((await rnn.readState())[1].h.every(Number.isFinite)).toBe(true);
    rnn.dispose();
    x.dispose();
    cell.dispose();
  }, 120_000);

  it('a training step on wasm equals the same step on backend-cpu (golden tolerances)', async () => {
    const B = 3,
      T = 5,
      I = 4,
      V = 6;
    const x = values(B * T * I);
    const targets = Array.from({ length: B * T }, (_, i) => (i * 5) % V);
    const step = async (backend: string) => {
      const model = new RnnModel(
        {
          inputSize: I,
          layers: [
            { kind: 'lstm', units: 7 },
            { kind: 'gru', units: 5, resetAfter: false },
            { kind: 'rnn', units: 4 },
          ],
          outputSize: V,
        },
        { backend, seed: 4 },
      );
      const trainer = new TbpttTrainer(model, { batch: B, optimizer: new SGD({ learningRate: 0.3, momentum: 0.5 }), clipNorm: 10 });
      const input = tensor(x, [B, T, I], { backend });
      const losses = [
        (await trainer.trainChunk(input, targets)).loss,
        (await trainer.trainChunk(input, targets, { resetAfter: [1] })).loss,
      ];
      const state = await Promise.all((trainer.state as LayerStateValue[]).map((s) => (s instanceof LSTMStateTuple ? s.h : s).data()));
      const params = model.cell.layers.flatMap((l) => Object.values(l.getWeights()).map((a) => Array.from(a as Float32Array)));
      input.dispose();
      trainer.dispose();
      model.dispose();
      return { losses, state, params };
    };
    const cpu = await step('cpu'),
      wasm = await step('wasm');
    cpu.losses.forEach((l, i) => expect(Math.abs(l - wasm.losses[i])).toBeLessThan(2e-5));
    cpu.params.forEach((p, i) =>
      p.forEach((v, j) => expect(Math.abs(v - wasm.params[i][j]) / Math.max(1, Math.abs(v))).toBeLessThan(1e-4)),
    );
    cpu.state.forEach((h, l) => h.forEach((v, j) => expect(Math.abs(v - wasm.state[l][j])).toBeLessThan(2e-5)));
  });
});
