import { Adam, RnnModel, SGD, TbpttTrainer, tensor, type DType } from '@recur/core';
import { CheckFailure } from '../compare.js';
import { expectGradClose } from './gradients.js';
import { randomValues, scoped } from './helpers.js';
import type { Check, CheckContext } from './types.js';

const B = 3,
  T = 6,
  I = 4,
  V = 5;

/** Two TBPTT steps (state carried) of a 2-layer LSTM + dense head in one dtype; returns losses and the final weights. */
async function trainTwoChunks(ctx: CheckContext, dtype: DType) {
  return scoped(async (scope) => {
    const model = new RnnModel(
      {
        inputSize: I,
        layers: [
          { kind: 'lstm', units: 5 },
          { kind: 'gru', units: 4, resetAfter: false },
        ],
        outputSize: V,
        dtype,
      },
      { backend: ctx.backend, seed: 3 },
    );
    scope.add(model);
    const trainer = scope.add(new TbpttTrainer(model, { batch: B, optimizer: new SGD({ learningRate: 0.5, momentum: 0.9 }), clipNorm: 5 }));
    const losses: number[] = [];
    for (let chunk = 0; chunk < 2; chunk++) {
      const x = scope.add(tensor(randomValues(B * T * I, 200 + chunk), [B, T, I], { backend: ctx.backend, dtype }));
      const targets = Array.from({ length: B * T }, (_, i) => (i * 7 + chunk) % V);
      losses.push((await trainer.trainChunk(x, targets)).loss);
    }
    const weights = model.cell.layers.flatMap((l) => Object.values(l.getWeights()) as ArrayLike<number>[]);
    return { losses, weights: [...weights, model.head.weight, model.head.bias] };
  });
}

async function float32MatchesFloat64(ctx: CheckContext): Promise<void> {
  const a = await trainTwoChunks(ctx, 'float32');
  const b = await trainTwoChunks(ctx, 'float64');
  a.losses.forEach((loss, i) => {
    if (!(Math.abs(loss - b.losses[i]) <= 1e-5 * Math.max(1, Math.abs(b.losses[i]))))
      throw new CheckFailure(`loss of chunk ${i}: float32 ${loss}, float64 ${b.losses[i]}`);
  });
  a.weights.forEach((w, i) => expectGradClose(`parameter ${i} after two SGD steps`, w, b.weights[i], ctx.tolerance.gradient));
}

/**
 * Truncated BPTT with carried state: output the input of 2 steps ago (MSE), in chunks of 4. The model learns to
 * remember from the later steps of each chunk; for the first 2 steps of a chunk the answer lies only in the state
 * carried from the previous chunk. Without it those steps score 1/3 (inputs uniform on [-1, 1]) and the chunk's
 * MSE cannot fall below 1/6.
 */
async function learnsAcrossChunks(ctx: CheckContext): Promise<void> {
  await scoped(async (scope) => {
    const rows = 4,
      steps = 4,
      delay = 2,
      total = 2400;
    const model = scope.add(
      new RnnModel({ inputSize: 1, layers: [{ kind: 'gru', units: 16 }], outputSize: 1 }, { backend: ctx.backend, seed: 5 }),
    );
    const trainer = scope.add(
      new TbpttTrainer(model, { batch: rows, optimizer: new Adam({ learningRate: 0.01 }), clipNorm: 1, loss: 'mse' }),
    );
    const stream = randomValues(rows * (total + delay), 300);
    const losses: number[] = [];
    for (let t0 = delay; t0 + steps <= total; t0 += steps) {
      const x = new Float32Array(rows * steps),
        y = new Float32Array(rows * steps);
      for (let r = 0; r < rows; r++) {
        for (let t = 0; t < steps; t++) {
          x[r * steps + t] = stream[r * total + t0 + t];
          y[r * steps + t] = stream[r * total + t0 + t - delay];
        }
      }
      const input = scope.add(tensor(x, [rows, steps, 1], { backend: ctx.backend }));
      losses.push((await trainer.trainChunk(input, y)).loss);
      input.dispose();
    }
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    const first = mean(losses.slice(0, 20)),
      last = mean(losses.slice(-20));
    if (!(last < first / 5 && last < 0.05))
      throw new CheckFailure(
        `MSE went from ${first.toFixed(4)} (first 20 chunks) to ${last.toFixed(4)} (last 20): it did not learn to carry the state`,
      );
  });
}

export function trainingChecks(): Check[] {
  return [
    {
      id: 'training/learns-across-chunk-boundaries',
      title:
        'TBPTT with MSE learns to output the input of 2 steps ago in chunks of 4, which needs the carried state (MSE < 0.05, < 1/6 without it)',
      notApplicable: (caps) => (caps.training ? null : 'the backend has no backward kernels'),
      run: learnsAcrossChunks,
    },
    {
      id: 'training/float32-step-equals-float64',
      title: 'two TBPTT steps (LSTM + TF1 GRU + dense head, SGD momentum, clipping) in float32 agree with float64 (gradient tolerance)',
      notApplicable: (caps) =>
        !caps.training ? 'the backend has no backward kernels' : !caps.dtypes.includes('float64') ? 'the backend has no float64' : null,
      run: float32MatchesFloat64,
    },
  ];
}
