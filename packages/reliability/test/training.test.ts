import '@recur/backend-cpu';
import '@recur/backend-simd';
import {
  Adam,
  RnnModel,
  TbpttTrainer,
  getMemoryBudget,
  memory,
  ready,
  seededRandom,
  setMemoryBudget,
  tensor,
  type RecurError,
} from '@recur/core';
import { describe, expect, it } from 'vitest';

const random = seededRandom(12);
const values = (n: number) => Float32Array.from({ length: n }, () => random() * 2 - 1);

describe('a training chunk whose backward is over the budget', () => {
  for (const backend of ['cpu', 'simd']) {
    it(`${backend}: is refused with argument "tape", keeps the weights, holds nothing, and training goes on`, async () => {
      await ready(backend);
      const V = 20,
        B = 4,
        T = 50;
      const model = new RnnModel(
        {
          inputSize: V,
          layers: [
            { kind: 'lstm', units: 64 },
            { kind: 'lstm', units: 64 },
          ],
          outputSize: V,
        },
        { backend, seed: 2 },
      );
      const trainer = new TbpttTrainer(model, { batch: B, optimizer: new Adam({ learningRate: 0.01 }) });
      const x = tensor(values(B * T * V), [B, T, V], { backend });
      const targets = Array.from({ length: B * T }, (_, i) => i % V);
      await trainer.trainChunk(x, targets);
      const base = memory(backend);
      const budget = getMemoryBudget(backend);
      let tapeError: RecurError | null = null;
      try {
        for (let total = base.numBytes; total < base.numBytes + 8e6 && !tapeError; total += 16384) {
          setMemoryBudget({ maxTotalBytes: total }, backend);
          try {
            await trainer.trainChunk(x, targets);
            break;
          } catch (error) {
            if ((error as RecurError).argument === 'tape') tapeError = error as RecurError;
          }
        }
      } finally {
        setMemoryBudget(budget, backend);
      }
      expect(tapeError?.expected).toMatch(/in all/);
      // the cells keep their (unchanged) uploads, nothing else stays; one good chunk later all is as before
      expect(memory(backend).numTensors).toBeLessThanOrEqual(base.numTensors + 2);
      const report = await trainer.trainChunk(x, targets);
      expect(Number.isFinite(report.loss)).toBe(true);
      expect(memory(backend)).toMatchObject({ numTensors: base.numTensors, numBytes: base.numBytes });
      trainer.dispose();
      model.dispose();
      x.dispose();
    });
  }
});
