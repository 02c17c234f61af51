import { contextFor, runCheck, selectChecks } from '@recur/conformance';
import { defaultFixtures } from '@recur/conformance/node';
import { afterAll, describe, expect, it } from 'vitest';
import { RnnModel, SGD, TbpttTrainer, seededRandom, tensor } from '@recur/core';
import { poisonDisposedArrays } from '../src/index.js';

/** Two TBPTT chunks of a 3-layer model, batch-major (core transposes and frees its copies): losses and weights. */
async function trainTwoChunks(): Promise<number[]> {
  const random = seededRandom(9);
  const B = 3,
    T = 5,
    I = 4,
    V = 6;
  const x = Float32Array.from({ length: B * T * I }, () => random() * 2 - 1);
  const targets = Array.from({ length: B * T }, (_, i) => (i * 5) % V);
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
    { backend: 'cpu', seed: 4 },
  );
  const trainer = new TbpttTrainer(model, { batch: B, optimizer: new SGD({ learningRate: 0.3, momentum: 0.5 }), clipNorm: 10 });
  const input = tensor(x, [B, T, I], { backend: 'cpu' });
  const losses = [(await trainer.trainChunk(input, targets)).loss, (await trainer.trainChunk(input, targets, { resetAfter: [1] })).loss];
  const weights = model.cell.layers.flatMap((layer) => [...layer.getWeights().wHh]);
  input.dispose();
  trainer.dispose();
  model.dispose();
  return [...losses, ...weights];
}

// backend-cpu hands disposed tensors' arrays out again. Reading one after its tensor was disposed (a tape that
// shares the RNN's y, an input core frees before the backward) would then read another tensor's numbers: silent
// wrong gradients. With poisoning on, such a read computes NaN instead, and the suite's value checks fail.
describe('backend-cpu array recycling', () => {
  it('training with recycled arrays gives the same bits as with every disposed array poisoned', async () => {
    const recycled = await trainTwoChunks();
    poisonDisposedArrays(true);
    try {
      expect(await trainTwoChunks()).toEqual(recycled);
    } finally {
      poisonDisposedArrays(false);
    }
  });

  it('every conformance check (forward, gradients, truncated BPTT, training) passes with disposed arrays poisoned', async () => {
    poisonDisposedArrays(true);
    afterAll(() => poisonDisposedArrays(false));
    const ctx = await contextFor('cpu');
    const failed: string[] = [];
    for (const check of selectChecks(defaultFixtures())) {
      const result = await runCheck(check, ctx);
      if (result.status === 'fail') failed.push(`${check.id}: ${result.message}`);
    }
    expect(failed).toEqual([]);
  }, 300_000);
});
