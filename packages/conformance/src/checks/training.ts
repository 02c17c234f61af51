import { RnnModel, SGD, TbpttTrainer, tensor, type DType } from '@recur/core';
import { CheckFailure } from '../compare.js';
import { expectGradClose } from './gradients.js';
import { randomValues, scoped } from './helpers.js';
import type { Check, CheckContext } from './types.js';

const B = 3, T = 6, I = 4, V = 5;

/** Two TBPTT steps (state carried) of a 2-layer LSTM + dense head in one dtype; returns losses and the final weights. */
async function trainTwoChunks(ctx: CheckContext, dtype: DType) {
  return scoped(async (scope) => {
    const model = new RnnModel({ inputSize: I, layers: [{ kind: 'lstm', units: 5 }, { kind: 'gru', units: 4, resetAfter: false }], outputSize: V, dtype }, { backend: ctx.backend, seed: 3 });
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
    if (!(Math.abs(loss - b.losses[i]) <= 1e-5 * Math.max(1, Math.abs(b.losses[i])))) throw new CheckFailure(`loss of chunk ${i}: float32 ${loss}, float64 ${b.losses[i]}`);
  });
  a.weights.forEach((w, i) => expectGradClose(`parameter ${i} after two SGD steps`, w, b.weights[i], ctx.tolerance.gradient));
}

export function trainingChecks(): Check[] {
  return [{
    id: 'training/float32-step-equals-float64',
    title: 'two TBPTT steps (LSTM + TF1 GRU + dense head, SGD momentum, clipping) in float32 agree with float64 (gradient tolerance)',
    notApplicable: (caps) => (!caps.training ? 'the backend has no backward kernels' : !caps.dtypes.includes('float64') ? 'the backend has no float64' : null),
    run: float32MatchesFloat64,
  }];
}
