import { BackendError, LSTMStateTuple, RnnModel, SGD, ShapeError, TbpttTrainer, tensor, type Tensor } from '@recur/core';
import { CheckFailure, expectEqualArrays, expectRecurError, type ExpectedError } from '../compare.js';
import { randomValues, readState, scoped, type Scope } from './helpers.js';
import { STUB_BACKEND, ensureStubBackends } from './stub-backend.js';
import type { Check, CheckContext } from './types.js';

const B = 2,
  T = 3,
  I = 3,
  V = 4;
const targets = (n = B * T) => Array.from({ length: n }, (_, i) => i % V);

/** Parameters of a model as host copies, for comparing before and after a failed step. */
function snapshot(model: RnnModel): number[][] {
  return [
    ...model.cell.layers.flatMap((l) => Object.values(l.getWeights()).map((a) => Array.from(a as ArrayLike<number>))),
    Array.from(model.head.weight),
    Array.from(model.head.bias),
  ];
}

/**
 * Each bad training call must reject with the expected RecurError, leave weights and carried state exactly as they
 * were, and the trainer must train on afterwards.
 */
async function badTrainingInput(
  ctx: CheckContext,
  cases: (trainer: TbpttTrainer, x: Tensor, scope: Scope) => [string, () => Promise<unknown>, ExpectedError][],
): Promise<void> {
  await scoped(async (scope) => {
    const model = scope.add(
      new RnnModel({ inputSize: I, layers: [{ kind: 'lstm', units: 4 }], outputSize: V }, { backend: ctx.backend, seed: 2 }),
    );
    const trainer = scope.add(new TbpttTrainer(model, { batch: B, optimizer: new SGD({ learningRate: 0.1 }) }));
    const x = scope.add(tensor(randomValues(B * T * I, 5), [B, T, I], { backend: ctx.backend }));
    await trainer.trainChunk(x, targets());
    for (const [what, fn, want] of cases(trainer, x, scope)) {
      const weights = snapshot(model),
        state = await readState(trainer.state);
      let thrown: unknown;
      await fn().catch((e: unknown) => (thrown = e));
      expectRecurError(
        what,
        () => {
          if (thrown) throw thrown;
        },
        want,
      );
      snapshot(model).forEach((w, i) => expectEqualArrays(`${what}: parameter ${i} after the error`, w, weights[i]));
      (await readState(trainer.state)).forEach((s, l) => expectEqualArrays(`${what}: state h[${l}] after the error`, s.h, state[l].h));
    }
    const after = await trainer.trainChunk(x, targets());
    if (!Number.isFinite(after.loss)) throw new CheckFailure('the trainer does not train on after the errors');
  });
}

export function trainingErrorChecks(): Check[] {
  const training = (caps: { training: boolean }) => (caps.training ? null : 'the backend has no backward kernels');
  return [
    {
      id: 'errors/training-targets',
      title: 'targets of the wrong shape or outside the vocabulary',
      notApplicable: training,
      run: (ctx) =>
        badTrainingInput(ctx, (trainer, x) => [
          [
            'one target short',
            () => trainer.trainChunk(x, targets(B * T - 1)),
            { type: ShapeError, argument: 'targets', expected: `${B * T} targets`, actual: `${B * T - 1} targets` },
          ],
          [
            'a target = vocabulary size',
            () => trainer.trainChunk(x, [...targets().slice(1), V]),
            { argument: `targets[${B * T - 1}]`, expected: `a class index in [0, ${V})`, actual: `${V}` },
          ],
          [
            'a negative target',
            () => trainer.trainChunk(x, [-1, ...targets().slice(1)]),
            { argument: 'targets[0]', expected: `a class index in [0, ${V})`, actual: '-1' },
          ],
        ]),
    },
    {
      id: 'errors/training-non-finite-loss',
      title: 'a non-finite loss stops with the chunk named; no weight or state is overwritten',
      notApplicable: training,
      run: (ctx) =>
        badTrainingInput(ctx, (trainer, _x, scope) => {
          const values = randomValues(B * T * I, 6);
          values[2] = NaN;
          const bad = scope.add(tensor(values, [B, T, I], { backend: ctx.backend }));
          return [
            [
              'NaN in the chunk',
              () => trainer.trainChunk(bad, targets()),
              { argument: 'loss', expected: 'a finite loss', actual: 'NaN at chunk 1' },
            ],
          ];
        }),
    },
    {
      id: 'errors/training-set-state',
      title: 'TbpttTrainer.setState refuses a state of the wrong batch and non-finite values; nothing changes',
      notApplicable: training,
      run: (ctx) =>
        badTrainingInput(ctx, (trainer, _x, scope) => {
          const state = (rows: number, h: Float32Array = randomValues(rows * 4, 8)) =>
            new LSTMStateTuple(
              scope.add(tensor(randomValues(rows * 4, 9), [rows, 4], { backend: ctx.backend })),
              scope.add(tensor(h, [rows, 4], { backend: ctx.backend })),
            );
          const nan = randomValues(B * 4, 10);
          nan[3] = NaN;
          return [
            [
              'a state of 3 rows for batch 2',
              async () => trainer.setState(state(B + 1)),
              { type: ShapeError, argument: /^state/, expected: `${B}`, actual: `${B + 1}` },
            ],
            [
              'NaN in h',
              async () => trainer.setState(state(B, nan)),
              {
                argument: 'state[0].h',
                expected: 'finite values',
                actual: /^NaN at \[\d+, \d+\] \(batch row \d+, unit \d+\)|reads asynchronously/,
              },
            ],
          ];
        }),
    },
    {
      id: 'errors/training-no-backward',
      title: 'training on a backend without backward kernels',
      notApplicable: training,
      run: async () => {
        await ensureStubBackends();
        await scoped(async (scope) => {
          const model = scope.add(
            new RnnModel({ inputSize: I, layers: [{ kind: 'gru', units: 4 }], outputSize: V }, { backend: STUB_BACKEND }),
          );
          expectRecurError(
            'a TbpttTrainer for a model on conformance-stub',
            () => new TbpttTrainer(model, { batch: B, optimizer: new SGD({ learningRate: 0.1 }) }),
            { type: BackendError, argument: 'model', expected: 'backward kernels', actual: `backend "${STUB_BACKEND}" without them` },
          );
        });
      },
    },
    {
      id: 'errors/model-file',
      title: 'a corrupt or mismatched model file is rejected by name',
      notApplicable: training,
      run: async (ctx) => {
        await scoped(async (scope) => {
          const model = scope.add(
            new RnnModel({ inputSize: I, layers: [{ kind: 'lstm', units: 4 }], outputSize: V }, { backend: ctx.backend }),
          );
          const bytes = model.toSafetensors();
          scope.add(RnnModel.fromSafetensors(bytes, { backend: ctx.backend }));
          expectRecurError(
            'truncated file',
            () => RnnModel.fromSafetensors(bytes.subarray(0, bytes.length - 8), { backend: ctx.backend }),
            { argument: 'file', expected: 'safetensors', actual: 'data bytes' },
          );
          // same header length, config claiming 5 units: the checksum no longer matches (model/integrity checks the rest)
          const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
          const header = new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)).replace('\\"units\\":4', '\\"units\\":5');
          const lied = bytes.slice();
          lied.set(new TextEncoder().encode(header), 8);
          if (!header.includes('\\"units\\":5')) throw new CheckFailure('could not build the mismatched file');
          expectRecurError('config changed after writing', () => RnnModel.fromSafetensors(lied, { backend: ctx.backend }), {
            argument: 'file config',
            expected: 'CRC-32',
            actual: 'CRC-32',
          });
        });
      },
    },
  ];
}
