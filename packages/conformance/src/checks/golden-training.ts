import { Adam, RnnModel, SGD, TbpttTrainer, tensor, type DType, type LayerConfig, type Optimizer } from '@recur/core';
import { CheckFailure, expectClose } from '../compare.js';
import type { GoldenFixtures, TrainingCase } from '../fixtures.js';
import { expectGradClose } from './gradients.js';
import { readState, scoped, setGoldenWeights, stateFrom, toBatchMajor } from './helpers.js';
import type { Check, CheckContext } from './types.js';

function optimizerOf(c: TrainingCase): Optimizer {
  const o = c.optimizer;
  return o.kind === 'adam'
    ? new Adam({ learningRate: o.lr, beta1: o.beta1, beta2: o.beta2, epsilon: o.eps })
    : new SGD({ learningRate: o.lr, momentum: o.momentum });
}

function layerConfig(c: TrainingCase, units: number): LayerConfig {
  if (c.cell === 'lstm') return { kind: 'lstm', units, forgetBias: 0 };
  if (c.cell === 'gru') return { kind: 'gru', units, resetAfter: c.gru_variant !== 'reset_before' };
  return { kind: 'rnn', units, activation: c.activation ?? 'tanh' };
}

function relativeClose(what: string, actual: number, expected: number, tolerance: number): void {
  if (!(Math.abs(actual - expected) <= tolerance * Math.max(Math.abs(expected), 1e-12))) {
    throw new CheckFailure(`${what}: ${actual}, expected ${expected} (relative tolerance ${tolerance.toExponential(1)})`);
  }
}

/**
 * The case's training run through the public API: RnnModel with the case's parameters, TbpttTrainer with its
 * loss, clipping and optimizer, the carried state set to h0/c0; after every chunk the loss, the gradient norm,
 * every parameter and the carried state against PyTorch's.
 */
async function trainAsGolden(
  c: TrainingCase,
  ctx: CheckContext,
  dtype: DType,
  tolerances: { state: number; parameters: number; scalars: number },
): Promise<void> {
  await scoped(async (scope) => {
    const B = c.batch,
      I = c.sizes[0],
      V = c.outputs;
    const model = scope.add(
      new RnnModel(
        { inputSize: I, layers: c.sizes.slice(1).map((units) => layerConfig(c, units)), outputSize: V, dtype },
        { backend: ctx.backend },
      ),
    );
    setGoldenWeights(model.cell, c.layers);
    model.head.setWeights(c.head.w, c.head.b);
    const trainer = scope.add(
      new TbpttTrainer(model, {
        batch: B,
        optimizer: optimizerOf(c),
        loss: c.loss === 'mse' ? 'mse' : 'softmax-cross-entropy',
        clipNorm: c.clip_norm ?? undefined,
      }),
    );
    const initial = scope.state(stateFrom(model.cell, B, c.h0, c.c0, ctx.backend, dtype));
    trainer.setState(initial);
    for (let k = 0; k < c.chunks.length; k++) {
      const chunk = c.chunks[k],
        step = c.steps[k],
        where = `${c.name} chunk ${k}`;
      const T = chunk.x.length / (B * I);
      const x = scope.add(tensor(toBatchMajor(chunk.x, T, B, I, dtype), [B, T, I], { backend: ctx.backend, dtype }));
      const targets = toBatchMajor(chunk.targets, T, B, c.loss === 'mse' ? V : 1, 'float64');
      const report = await trainer.trainChunk(x, c.loss === 'mse' ? targets : Array.from(targets));
      relativeClose(`${where}: loss`, report.loss, step.loss, tolerances.scalars);
      relativeClose(`${where}: gradient norm before clipping`, report.gradNorm, step.grad_norm, tolerances.scalars);
      model.cell.layers.forEach((layer, l) => {
        const got = layer.getWeights(),
          want = step.layers[l];
        expectGradClose(`${where}: layer ${l} w_ih after the update`, got.wIh, want.w_ih, tolerances.parameters);
        expectGradClose(`${where}: layer ${l} w_hh after the update`, got.wHh, want.w_hh, tolerances.parameters);
        expectGradClose(`${where}: layer ${l} b_ih after the update`, got.bIh, want.b_ih, tolerances.parameters);
        expectGradClose(`${where}: layer ${l} b_hh after the update`, got.bHh, want.b_hh, tolerances.parameters);
      });
      expectGradClose(`${where}: head weight after the update`, model.head.weight, step.head.w, tolerances.parameters);
      expectGradClose(`${where}: head bias after the update`, model.head.bias, step.head.b, tolerances.parameters);
      (await readState(trainer.state)).forEach((s, l) => {
        expectClose(`${where}: carried h[${l}]`, s.h, step.hT[l], tolerances.state);
        if (c.cell === 'lstm') expectClose(`${where}: carried c[${l}]`, s.c!, step.cT![l], tolerances.state);
      });
    }
  });
}

/** One check per whole-training case of the fixtures, in float32 (the golden README's tolerances) and float64. */
export function goldenTrainingChecks(fixtures: GoldenFixtures): Check[] {
  return fixtures.training.flatMap((c) => {
    const what =
      `${c.name} (${c.cell}${c.gru_variant ? ` ${c.gru_variant}` : ''}${c.cell === 'rnn' && c.activation ? ` ${c.activation}` : ''}, sizes [${c.sizes}], B=${c.batch}, ` +
      `${c.chunks.length} chunks, ${c.loss}, ${c.optimizer.kind}${c.clip_norm !== null ? `, clip ${c.clip_norm}` : ''})`;
    const training = (caps: { training: boolean }) => (caps.training ? null : 'the backend has no backward kernels');
    return [
      {
        id: `golden-training/${c.name}`,
        title: `${what}: loss, gradient norm, every parameter and the carried state after each chunk equal PyTorch's`,
        notApplicable: training,
        run: (ctx: CheckContext) =>
          trainAsGolden(c, ctx, 'float32', {
            state: ctx.tolerance.forward,
            parameters: ctx.tolerance.gradient,
            scalars: ctx.tolerance.gradient,
          }),
      },
      {
        id: `golden-training/${c.name}/float64`,
        title: `${what} in float64 (<= 1e-9)`,
        notApplicable: (caps) => training(caps) ?? (caps.dtypes.includes('float64') ? null : 'the backend has no float64'),
        run: (ctx: CheckContext) => trainAsGolden(c, ctx, 'float64', { state: 1e-9, parameters: 1e-9, scalars: 1e-9 }),
      },
    ];
  });
}
