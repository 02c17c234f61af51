import {
  Adam,
  LSTMStateTuple,
  RnnModel,
  SGD,
  disposeState,
  TbpttTrainer,
  dynamicRnnWithTape,
  getBackend,
  registerBackend,
  removeBackend,
  tensor,
  tokenIds,
  type LossKind,
  type Optimizer,
  type RecurBackend,
  type TrainingKernels,
} from '@recur/core';
import { CheckFailure, expectEqualArrays, expectRecurError } from '../compare.js';
import { expectGradClose } from './gradients.js';
import { randomValues, readState, scoped } from './helpers.js';
import type { Check, CheckContext } from './types.js';

// The v2 training kernels (dense head, losses, gradient norm, optimizer in place) against core's host code: the
// same steps with every kernel, with none (core's fallback throughout) and with each one missing alone agree.

type KernelName = keyof TrainingKernels;
const KERNEL_GROUPS: readonly (readonly KernelName[])[] = [
  ['denseForward'],
  ['denseBackward'],
  ['softmaxCrossEntropy', 'meanSquaredError'],
  ['globalNorm'],
  ['applyOptimizer', 'weightParameters', 'weightsUpdated'],
];
const ALL_KERNELS = KERNEL_GROUPS.flat();
const B = 3,
  T = 5,
  V = 6;

let hiddenCount = 0;

/**
 * The backend under test registered once more under another name with some training kernels hidden: the same
 * instance (its tensors stay valid), so core must run the hidden parts on the host.
 */
async function withHiddenKernels<R>(ctx: CheckContext, hidden: readonly KernelName[], body: (name: string) => Promise<R>): Promise<R> {
  const real = getBackend(ctx.backend);
  const name = `${ctx.backend}-partial-${++hiddenCount}`;
  const proxy = new Proxy(real, {
    get(target, key) {
      if (key === 'name') return name;
      if ((hidden as readonly PropertyKey[]).includes(key)) return undefined;
      const value = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as RecurBackend;
  registerBackend(name, () => proxy, -1000);
  try {
    return await body(name);
  } finally {
    removeBackend(name);
  }
}

interface Run {
  readonly losses: number[];
  readonly norms: number[];
  readonly params: ArrayLike<number>[];
  readonly state: { h: ArrayLike<number>; c: ArrayLike<number> | null }[];
}

/** Three TBPTT chunks of LSTM + reset-after GRU + head, clipping on (it clips), token ids in; parameters and state after. */
async function train(backend: string, loss: LossKind, optimizer: () => Optimizer): Promise<Run> {
  return scoped(async (scope) => {
    const model = scope.add(
      new RnnModel(
        {
          inputSize: V,
          layers: [
            { kind: 'lstm', units: 7 },
            { kind: 'gru', units: 5 },
          ],
          outputSize: V,
        },
        { backend, seed: 9 },
      ),
    );
    const trainer = scope.add(new TbpttTrainer(model, { batch: B, optimizer: optimizer(), clipNorm: 0.1, loss }));
    const losses: number[] = [],
      norms: number[] = [];
    for (let chunk = 0; chunk < 3; chunk++) {
      const ids = Array.from({ length: B * T }, (_, i) => (i * 5 + chunk * 3 + (i >> 3)) % V);
      const targets = loss === 'mse' ? randomValues(B * T * V, 40 + chunk) : ids.map((id, i) => (id + i) % V);
      const r = await trainer.trainChunk(tokenIds(ids, [B, T], V), targets);
      losses.push(r.loss);
      norms.push(r.gradNorm);
    }
    const params = [
      ...model.cell.layers.flatMap((l) => Object.values(l.getWeights()) as ArrayLike<number>[]),
      model.head.weight,
      model.head.bias,
    ];
    return { losses, norms, params, state: await readState(trainer.state) };
  });
}

function expectSameRun(what: string, actual: Run, expected: Run, tolerance: number): void {
  expectGradClose(`${what}: losses`, actual.losses, expected.losses, tolerance);
  expectGradClose(`${what}: gradient norms`, actual.norms, expected.norms, tolerance);
  actual.params.forEach((p, i) => expectGradClose(`${what}: parameter ${i} after 3 updates`, p, expected.params[i], tolerance));
  actual.state.forEach((s, l) => expectGradClose(`${what}: carried h of layer ${l}`, s.h, expected.state[l].h, tolerance));
}

async function kernelByKernelFallback(ctx: CheckContext): Promise<void> {
  for (const [loss, optimizer] of [
    ['softmax-cross-entropy', () => new Adam({ learningRate: 0.05 })],
    ['mse', () => new SGD({ learningRate: 0.3, momentum: 0.9 })],
  ] as const) {
    const host = await withHiddenKernels(ctx, ALL_KERNELS, (name) => train(name, loss, optimizer));
    if (!(host.norms[0] > 0.1))
      throw new CheckFailure(`the first gradient norm (${host.norms[0]}) does not exceed the clip norm: clipping is not exercised`);
    expectSameRun(
      `${loss}: every kernel on the backend against core's host code`,
      await train(ctx.backend, loss, optimizer),
      host,
      ctx.tolerance.gradient,
    );
    for (const group of KERNEL_GROUPS) {
      const run = await withHiddenKernels(ctx, group, (name) => train(name, loss, optimizer));
      expectSameRun(`${loss}: without ${group[0]}`, run, host, ctx.tolerance.gradient);
    }
  }
}

/**
 * With every training kernel, a chunk moves its token ids and targets in and two scalars (loss and gradient norm)
 * out, nothing else: the weights, the head, the optimizer state and the carried state stay.
 */
async function bytesPerChunk(ctx: CheckContext): Promise<void> {
  const backend = getBackend(ctx.backend);
  await scoped(async (scope) => {
    const model = scope.add(
      new RnnModel(
        {
          inputSize: V,
          layers: [
            { kind: 'lstm', units: 8 },
            { kind: 'lstm', units: 8 },
          ],
          outputSize: V,
        },
        { backend: ctx.backend, seed: 4 },
      ),
    );
    const trainer = scope.add(new TbpttTrainer(model, { batch: B, optimizer: new Adam({ learningRate: 0.01 }), clipNorm: 1 }));
    const chunk = (k: number) =>
      trainer.trainChunk(
        tokenIds(
          Array.from({ length: B * T }, (_, i) => (i + k) % V),
          [B, T],
          V,
        ),
        Array.from({ length: B * T }, (_, i) => (i * 3 + k) % V),
      );
    await chunk(0); // uploads the weights and the head once
    for (let k = 1; k <= 3; k++) {
      const before = backend.transfers!();
      await chunk(k);
      const after = backend.transfers!();
      const bytesIn = after.bytesIn - before.bytesIn,
        bytesOut = after.bytesOut - before.bytesOut;
      const idsAndTargets = 2 * B * T * Int32Array.BYTES_PER_ELEMENT,
        twoScalars = 2 * Float32Array.BYTES_PER_ELEMENT;
      if (bytesIn !== idsAndTargets || bytesOut !== twoScalars) {
        throw new CheckFailure(
          `chunk ${k} moved ${bytesIn} bytes in and ${bytesOut} out; expected ${idsAndTargets} in (ids and targets) and ${twoScalars} out (loss, norm)`,
        );
      }
    }
  });
}

/**
 * A refused step (non-finite loss) between two good ones changes nothing the next step sees: the run equals one
 * without it, bit for bit: weights, optimizer state (moments and Adam's step count) and carried state.
 */
async function refusedStepKeepsOptimizerState(ctx: CheckContext): Promise<void> {
  const run = (withBadStep: boolean) =>
    scoped(async (scope) => {
      const model = scope.add(
        new RnnModel({ inputSize: 3, layers: [{ kind: 'gru', units: 4 }], outputSize: 4 }, { backend: ctx.backend, seed: 6 }),
      );
      const trainer = scope.add(new TbpttTrainer(model, { batch: 2, optimizer: new Adam({ learningRate: 0.05 }), clipNorm: 1 }));
      const chunk = (seed: number, nan = false) => {
        const values = randomValues(2 * 4 * 3, seed);
        if (nan) values[5] = NaN;
        return trainer.trainChunk(scope.add(tensor(values, [2, 4, 3], { backend: ctx.backend })), [0, 1, 2, 3, 3, 2, 1, 0]);
      };
      const losses = [(await chunk(1)).loss];
      if (withBadStep) {
        let thrown: unknown;
        await chunk(2, true).catch((e: unknown) => (thrown = e));
        expectRecurError(
          'a NaN chunk between two good ones',
          () => {
            if (thrown) throw thrown;
          },
          { argument: 'loss', expected: 'a finite loss', actual: 'NaN at chunk 1' },
        );
      }
      losses.push((await chunk(3)).loss);
      return {
        losses,
        params: [...(Object.values(model.cell.layers[0].getWeights()) as ArrayLike<number>[]), model.head.weight, model.head.bias],
        state: await readState(trainer.state),
      };
    });
  const clean = await run(false),
    interrupted = await run(true);
  expectEqualArrays('losses', interrupted.losses, clean.losses);
  interrupted.params.forEach((p, i) => expectEqualArrays(`parameter ${i} after the second update`, p, clean.params[i]));
  expectEqualArrays('carried h', interrupted.state[0].h, clean.state[0].h);
}

/** A tape whose weights a trainer's update changed in place since its forward refuses its backward. */
async function tapeAfterInPlaceUpdate(ctx: CheckContext): Promise<void> {
  await scoped(async (scope) => {
    const model = scope.add(
      new RnnModel({ inputSize: 3, layers: [{ kind: 'lstm', units: 4 }], outputSize: 3 }, { backend: ctx.backend, seed: 8 }),
    );
    const trainer = scope.add(new TbpttTrainer(model, { batch: 2, optimizer: new SGD({ learningRate: 0.1 }) }));
    const x = scope.add(tensor(randomValues(2 * 3 * 3, 12), [2, 3, 3], { backend: ctx.backend }));
    const run = dynamicRnnWithTape(model.cell, x);
    scope.add(run.outputs);
    scope.add(run.tape);
    scope.add({ dispose: () => disposeState(run.state) });
    await trainer.trainChunk(x, [0, 1, 2, 2, 1, 0]);
    expectRecurError('backward of a tape made before a training step', () => run.tape.backward({ dOutputs: run.outputs }), {
      argument: 'cell.layers[0]',
      expected: 'the weights the forward ran with',
      actual: 'weights changed since the forward',
    });
  });
}

/** A fresh model on `backend` for the checks below (1 LSTM layer, a head of V outputs, 2 rows). */
function smallModel(backend: string, seed = 5): RnnModel {
  return new RnnModel({ inputSize: V, layers: [{ kind: 'lstm', units: 6 }], outputSize: V }, { backend, seed });
}

const chunkIds = (k: number) =>
  tokenIds(
    Array.from({ length: 2 * T }, (_, i) => (i * 2 + k) % V),
    [2, T],
    V,
  );
const chunkTargets = (k: number) => Array.from({ length: 2 * T }, (_, i) => (i + 3 * k) % V);

/**
 * An optimizer outlives its trainer: four chunks with one trainer equal two with one and two with a second that
 * takes the same optimizer and the first one's state, bit for bit (the optimizer's moments and step count move
 * back from the backend when the first is disposed). Meanwhile a second live trainer cannot take it, and its own
 * step() refuses while a trainer keeps its state on the backend. With the kernels and with core's host code.
 */
async function optimizerMovesBetweenTrainers(ctx: CheckContext): Promise<void> {
  const run = (backend: string, handOver: boolean) =>
    scoped(async (scope) => {
      const model = scope.add(smallModel(backend));
      const optimizer = new Adam({ learningRate: 0.05 });
      let trainer = new TbpttTrainer(model, { batch: 2, optimizer, clipNorm: 1 });
      const losses: number[] = [];
      for (let k = 0; k < 4; k++) {
        if (handOver && k === 2) {
          const [{ h, c }] = await readState(trainer.state);
          expectRecurError('a second live trainer with the same optimizer', () => new TbpttTrainer(model, { batch: 2, optimizer }), {
            argument: 'options.optimizer',
            expected: 'no other live TbpttTrainer',
            actual: 'in use by another trainer',
          });
          if (trainer.kernels.optimizer) {
            expectRecurError(
              "the optimizer's own step while a trainer keeps its state on the backend",
              () => optimizer.step([new Float32Array(1)], [new Float32Array(1)]),
              { argument: 'optimizer', expected: 'its state on the host', actual: 'by a live TbpttTrainer' },
            );
          }
          trainer.dispose();
          trainer = new TbpttTrainer(model, { batch: 2, optimizer, clipNorm: 1 });
          trainer.setState(new LSTMStateTuple(scope.add(tensor(c!, [2, 6], { backend })), scope.add(tensor(h, [2, 6], { backend }))));
        }
        losses.push((await trainer.trainChunk(chunkIds(k), chunkTargets(k))).loss);
      }
      trainer.dispose();
      return {
        losses,
        params: [...(Object.values(model.cell.layers[0].getWeights()) as ArrayLike<number>[]), model.head.weight, model.head.bias],
      };
    });
  for (const hidden of [[], ALL_KERNELS]) {
    await withHiddenKernels(ctx, hidden, async (backend) => {
      const what = hidden.length ? "core's host code" : "the backend's kernels";
      const one = await run(backend, false),
        two = await run(backend, true);
      expectEqualArrays(`${what}: losses with one trainer and with two`, two.losses, one.losses);
      two.params.forEach((p, i) => expectEqualArrays(`${what}: parameter ${i} after four updates`, p, one.params[i]));
    });
  }
}

/**
 * Changing the model while a chunk runs (between the reads it awaits) refuses that chunk, with nothing updated and
 * the state kept; a second trainChunk, or the trainer's dispose, while one runs is refused; the trainer trains on.
 */
async function modelChangedMidStep(ctx: CheckContext): Promise<void> {
  await scoped(async (scope) => {
    const model = scope.add(smallModel(ctx.backend));
    const trainer = scope.add(new TbpttTrainer(model, { batch: 2, optimizer: new Adam({ learningRate: 0.05 }) }));
    await trainer.trainChunk(chunkIds(0), chunkTargets(0));
    const layer = Object.values(model.cell.layers[0].getWeights()).map((a) => Array.from(a as ArrayLike<number>));
    const head = model.head.weight.map((v) => v * 0.5),
      bias = model.head.bias;
    const state = await readState(trainer.state);
    // all three calls before any of the first chunk's reads completes
    const pending = trainer.trainChunk(chunkIds(1), chunkTargets(1));
    const second = trainer.trainChunk(chunkIds(2), chunkTargets(2));
    expectRecurError('dispose() while a chunk runs', () => trainer.dispose(), {
      argument: 'trainer',
      expected: 'no trainChunk running',
      actual: 'chunk 1 still running',
    });
    model.head.setWeights(head, bias);
    let secondError: unknown, thrown: unknown;
    await second.catch((e: unknown) => (secondError = e));
    await pending.catch((e: unknown) => (thrown = e));
    expectRecurError(
      'a second trainChunk while one runs',
      () => {
        if (secondError) throw secondError;
      },
      { argument: 'trainer', expected: 'one trainChunk at a time', actual: 'while chunk 1 is still running' },
    );
    expectRecurError(
      'head.setWeights while the chunk ran',
      () => {
        if (thrown) throw thrown;
      },
      { argument: 'model', expected: 'weights left alone while a training step runs', actual: 'weights set during chunk 1' },
    );
    expectEqualArrays('the head after the refused chunk: what setWeights set', model.head.weight, head);
    Object.values(model.cell.layers[0].getWeights()).forEach((w, i) =>
      expectEqualArrays(`layer parameter ${i} after the refused chunk`, w as ArrayLike<number>, layer[i]),
    );
    expectEqualArrays('carried h after the refused chunk', (await readState(trainer.state))[0].h, state[0].h);
    const next = await trainer.trainChunk(chunkIds(1), chunkTargets(1));
    if (next.chunk !== 1 || !Number.isFinite(next.loss))
      throw new CheckFailure(`the chunk after the refusal reported ${JSON.stringify(next)}`);
  });
}

/** A float32 model's loss and norm are float32 numbers on both paths: the same steps train, the same are refused. */
async function float32Limits(ctx: CheckContext): Promise<void> {
  const outcome = (backend: string, target: number) =>
    scoped(async (scope) => {
      const model = scope.add(new RnnModel({ inputSize: V, layers: [{ kind: 'rnn', units: 3 }], outputSize: 2 }, { backend, seed: 2 }));
      const trainer = scope.add(new TbpttTrainer(model, { batch: 2, optimizer: new SGD({ learningRate: 0.1 }), clipNorm: 1, loss: 'mse' }));
      return trainer.trainChunk(chunkIds(0), new Array(2 * T * 2).fill(target)).then(
        (r) => `trained (loss ${r.loss.toExponential(2)})`,
        (e: Error) => `refused: ${e.message}`,
      );
    });
  for (const target of [1e19, 2e19]) {
    const kernels = await outcome(ctx.backend, target);
    const host = await withHiddenKernels(ctx, ALL_KERNELS, (name) => outcome(name, target));
    if (kernels !== host) throw new CheckFailure(`targets ${target}: with the backend's kernels ${kernels}; with core's host code ${host}`);
  }
}

/** A subclass of SGD whose step() does something else runs its own step (on the host), not the SGD kernel. */
async function subclassStepRunsOnHost(ctx: CheckContext): Promise<void> {
  class FrozenSGD extends SGD {
    override step(): void {}
  }
  await scoped(async (scope) => {
    const model = scope.add(smallModel(ctx.backend));
    const trainer = scope.add(new TbpttTrainer(model, { batch: 2, optimizer: new FrozenSGD({ learningRate: 0.5 }) }));
    const before = Object.values(model.cell.layers[0].getWeights()).map((a) => Array.from(a as ArrayLike<number>));
    await trainer.trainChunk(chunkIds(0), chunkTargets(0));
    if (trainer.kernels.optimizer) throw new CheckFailure('trainer.kernels.optimizer is true for a subclass that overrides step()');
    Object.values(model.cell.layers[0].getWeights()).forEach((w, i) =>
      expectEqualArrays(`layer parameter ${i} after a step that changes nothing`, w as ArrayLike<number>, before[i]),
    );
  });
}

export function trainingKernelChecks(): Check[] {
  const training = (caps: { training: boolean }) => (caps.training ? null : 'the backend has no backward kernels');
  return [
    {
      id: 'training/kernel-by-kernel-fallback',
      title:
        "three TBPTT steps (cross-entropy + Adam, MSE + SGD momentum; clipping) with the backend's training kernels, with none and with each missing alone agree",
      notApplicable: training,
      run: kernelByKernelFallback,
    },
    {
      id: 'training/bytes-per-chunk',
      title: 'with every training kernel, a chunk moves only its ids and targets in and the loss and gradient norm out (transfer counters)',
      notApplicable: (caps, backend) => {
        const missing = ALL_KERNELS.filter((k) => typeof backend[k] !== 'function');
        return (
          training(caps) ??
          (typeof backend.transfers !== 'function'
            ? 'the backend keeps no transfer counters'
            : missing.length
              ? `the backend lacks ${missing.join(', ')}: core moves those parts' values`
              : null)
        );
      },
      run: bytesPerChunk,
    },
    {
      id: 'errors/training-refused-step-keeps-optimizer-state',
      title: 'a refused step between two good ones changes no weight, optimizer state or carried state (bit for bit)',
      notApplicable: training,
      run: refusedStepKeepsOptimizerState,
    },
    {
      id: 'training/optimizer-moves-between-trainers',
      title: 'an optimizer carries on under a second trainer bit for bit; one live trainer per optimizer',
      notApplicable: training,
      run: optimizerMovesBetweenTrainers,
    },
    {
      id: 'training/float32-limits-agree',
      title: "a float32 model's loss and norm overflow at the same point with the kernels and with core's host code",
      notApplicable: training,
      run: float32Limits,
    },
    {
      id: 'training/subclass-step-on-host',
      title: 'an SGD subclass that overrides step() runs its own step, not the kernel',
      notApplicable: training,
      run: subclassStepRunsOnHost,
    },
    {
      id: 'errors/training-model-changed-mid-step',
      title: 'setWeights while a chunk runs refuses that chunk (nothing updated, state kept); one trainChunk at a time',
      notApplicable: training,
      run: modelChangedMidStep,
    },
    {
      id: 'errors/tape-after-training-step',
      title: "a tape's backward after a training step changed its weights in place is refused",
      notApplicable: training,
      run: tapeAfterInPlaceUpdate,
    },
  ];
}
