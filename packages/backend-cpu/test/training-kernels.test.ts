import { describe, expect, it } from 'vitest';
import {
  Adam,
  RecurError,
  RnnModel,
  SGD,
  TbpttTrainer,
  getBackend,
  memory,
  registerBackend,
  tokenIds,
  type RecurBackend,
} from '@recur/core';
import { CpuBackend } from '../src/index.js';

// A backend that reads only asynchronously (as GPU backends do) while its optimizer kernel owns the newest weights:
// every host read of the model must go through `await model.sync()`, and nothing may silently read stale copies.
const asyncOnly = new CpuBackend('cpu-async');
registerBackend(
  'cpu-async',
  () =>
    new Proxy(asyncOnly, {
      get(target, key) {
        if (key === 'readSync') return undefined;
        if (key === 'capabilities') return { ...target.capabilities, syncRead: false };
        const value = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as RecurBackend,
  -1000,
);

const B = 2,
  T = 4,
  V = 5;

async function trainedModel(backend: string): Promise<{ model: RnnModel; trainer: TbpttTrainer }> {
  const model = new RnnModel({ inputSize: V, layers: [{ kind: 'lstm', units: 6 }], outputSize: V }, { backend, seed: 3 });
  const trainer = new TbpttTrainer(model, { batch: B, optimizer: new Adam({ learningRate: 0.05 }) });
  for (let k = 0; k < 2; k++)
    await trainer.trainChunk(
      tokenIds(
        Array.from({ length: B * T }, (_, i) => (i + k) % V),
        [B, T],
        V,
      ),
      Array.from({ length: B * T }, (_, i) => (2 * i + k) % V),
    );
  return { model, trainer };
}

describe('parameters updated in place by the optimizer kernel', () => {
  it('on a backend without synchronous reads, host reads are refused until model.sync(), then equal the synchronous backend', async () => {
    const sync = await trainedModel('cpu');
    const later = await trainedModel('cpu-async');
    expect(later.trainer.kernels.optimizer).toBe(true);
    expect(() => later.model.cell.layers[0].getWeights()).toThrow(
      expect.objectContaining({ argument: 'cell', expected: expect.stringContaining('await cell.syncWeights()') }),
    );
    expect(() => later.model.head.weight).toThrow(RecurError);
    expect(() => later.model.head.weight).toThrow(
      expect.objectContaining({ argument: 'head', actual: expect.stringContaining('reads asynchronously') }),
    );
    expect(() => later.model.toSafetensors()).toThrow(RecurError);
    expect(() => later.model.dispose()).toThrow(RecurError); // rather than drop the only copy of the trained weights
    expect(() => later.trainer.dispose()).toThrow(
      expect.objectContaining({ argument: 'trainer', expected: expect.stringContaining('await trainer.sync()') }),
    );
    await later.trainer.sync(); // the optimizer's state and the model's parameters
    expect(Array.from(later.model.cell.layers[0].getWeights().wHh)).toEqual(Array.from(sync.model.cell.layers[0].getWeights().wHh));
    expect(Array.from(later.model.head.weight)).toEqual(Array.from(sync.model.head.weight));
    expect(Array.from(later.model.head.bias)).toEqual(Array.from(sync.model.head.bias));
    for (const { model, trainer } of [sync, later]) {
      trainer.dispose();
      model.dispose();
    }
    expect(memory('cpu-async')).toMatchObject({ numTensors: 0, numBytes: 0 });
    expect(getBackend('cpu-async').transfers!().bytesOut).toBeGreaterThan(0);
  });

  it('setWeights after training replaces the newer weights on the backend (the next chunk trains from them)', async () => {
    const { model, trainer } = await trainedModel('cpu');
    const head = model.head.weight.map(() => 0.25);
    model.head.setWeights(head, new Float32Array(V));
    expect(Array.from(model.head.weight)).toEqual(Array.from(head));
    const w = model.cell.layers[0].getWeights();
    w.wHh.fill(0);
    model.cell.layers[0].setWeights(w);
    expect(Array.from(model.cell.layers[0].getWeights().wHh).every((v) => v === 0)).toBe(true);
    await trainer.trainChunk(tokenIds(new Array(B * T).fill(1), [B, T], V), new Array(B * T).fill(2));
    // trained from the zeros: one Adam step moves each weight by at most about the learning rate
    expect(Math.max(...Array.from(model.cell.layers[0].getWeights().wHh, Math.abs))).toBeLessThanOrEqual(0.05 + 1e-6);
    trainer.dispose();
    model.dispose();
  });

  it('model.sync() overlapping a chunk never marks an older copy as current (whatever the interleaving)', async () => {
    const tick = () => Promise.resolve();
    const run = async (delay: number | null) => {
      const model = new RnnModel({ inputSize: V, layers: [{ kind: 'lstm', units: 6 }], outputSize: V }, { backend: 'cpu-async', seed: 3 });
      const trainer = new TbpttTrainer(model, { batch: B, optimizer: new SGD({ learningRate: 0.5 }) });
      const chunk = (k: number) =>
        trainer.trainChunk(
          tokenIds(
            Array.from({ length: B * T }, (_, i) => (i + k) % V),
            [B, T],
            V,
          ),
          Array.from({ length: B * T }, (_, i) => (2 * i + k) % V),
        );
      await chunk(0);
      const step = chunk(1);
      if (delay !== null) {
        for (let i = 0; i < delay; i++) await tick();
        await model.sync(); // its reads may start before the step's update and finish after it
      }
      await step;
      await trainer.sync();
      const out = [...model.cell.layers[0].getWeights().wHh, ...model.head.weight];
      trainer.dispose();
      model.dispose();
      return out;
    };
    const reference = await run(null);
    for (let delay = 0; delay < 24; delay++) expect(await run(delay), `sync started ${delay} ticks into the chunk`).toEqual(reference);
  });
});
