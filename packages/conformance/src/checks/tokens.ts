import {
  RnnModel,
  SGD,
  ShapeError,
  StatefulRNN,
  TbpttTrainer,
  dynamicRnn,
  dynamicRnnWithTape,
  tensor,
  tokenIds,
  type Cell,
  type Tensor,
} from '@recur/core';
import { CheckFailure, expectClose, expectRecurError } from '../compare.js';
import { expectGradClose } from './gradients.js';
import { BEHAVIOUR_CONFIGS, cellIn, readState, scoped, type Scope } from './helpers.js';
import type { Check, CheckContext } from './types.js';

// Token ids stand for one-hot rows: every check compares a token run with the same run on the one-hot tensor (the
// reference needs nothing of the token path), on a backend with token kernels and on one without (core's fallback).
const B = 3,
  T = 5,
  V = 5; // V: the configurations' input size

function ids(seed: number, n = B * T): number[] {
  return Array.from({ length: n }, (_, i) => (i * 7 + seed * 3 + (i >> 2)) % V);
}

/** One-hot rows [n, V] of ids. */
function oneHotRows(values: readonly number[]): Float32Array {
  const out = new Float32Array(values.length * V);
  values.forEach((id, r) => (out[r * V + id] = 1));
  return out;
}

async function forEachCell(ctx: CheckContext, body: (name: string, cell: Cell, scope: Scope) => Promise<void>): Promise<void> {
  for (const { name, config } of BEHAVIOUR_CONFIGS) await scoped((scope) => body(name, cellIn(scope, ctx, config, 21), scope));
}

/** dynamicRnn on ids [B, T] and [T, B], with lengths, and a StatefulRNN streaming ids step by step, equal the one-hot runs. */
async function forwardEqualsOneHot(ctx: CheckContext): Promise<void> {
  await forEachCell(ctx, async (name, cell, scope) => {
    const x = ids(1);
    const lens = [T, 0, 2];
    for (const timeMajor of [false, true]) {
      const shape = timeMajor ? [T, B] : [B, T];
      const a = dynamicRnn(cell, tokenIds(x, shape, V), { timeMajor, sequenceLength: lens });
      const b = dynamicRnn(cell, scope.add(tensor(oneHotRows(x), [...shape, V], { backend: ctx.backend })), {
        timeMajor,
        sequenceLength: lens,
      });
      scope.add(a.outputs);
      scope.add(b.outputs);
      scope.state(a.state);
      scope.state(b.state);
      expectClose(
        `${name} ${timeMajor ? 'time' : 'batch'}-major outputs`,
        await a.outputs.data(),
        await b.outputs.data(),
        ctx.tolerance.chunked,
      );
      const [sa, sb] = [await readState(a.state), await readState(b.state)];
      sa.forEach((s, l) => expectClose(`${name} final h[${l}]`, s.h, sb[l].h, ctx.tolerance.chunked));
    }
    const streamed = scope.add(new StatefulRNN(cell, { batch: B }));
    const whole = dynamicRnn(cell, tokenIds(x, [B, T], V));
    scope.add(whole.outputs);
    scope.state(whole.state);
    const H = cell.layers[cell.layers.length - 1].units,
      all = await whole.outputs.data();
    for (let t = 0; t < T; t++) {
      const step = scope.add(
        streamed.run(
          tokenIds(
            Array.from({ length: B }, (_, b) => x[b * T + t]),
            [B, 1],
            V,
          ),
        ),
      );
      const got = await step.data();
      for (let b = 0; b < B; b++) {
        expectClose(
          `${name} streamed step ${t} row ${b}`,
          got.subarray(b * H, (b + 1) * H),
          all.subarray((b * T + t) * H, (b * T + t + 1) * H),
          ctx.tolerance.chunked,
        );
      }
    }
  });
}

/** The backward of a token run: every weight and state gradient equals the one-hot run's; there is no input gradient. */
async function gradientsEqualOneHot(ctx: CheckContext): Promise<void> {
  await forEachCell(ctx, async (name, cell, scope) => {
    const x = ids(2);
    const lens = [T, 3, 1];
    const run = (input: Parameters<typeof dynamicRnnWithTape>[1]) => {
      const r = dynamicRnnWithTape(cell, input, { sequenceLength: lens });
      scope.add(r.outputs);
      scope.state(r.state);
      const H = cell.layers[cell.layers.length - 1].units;
      const dy = scope.add(
        tensor(
          Float32Array.from({ length: B * T * H }, (_, i) => Math.sin(i)),
          [B, T, H],
          { backend: ctx.backend },
        ),
      );
      const g = r.tape.backward({ dOutputs: dy });
      scope.add(g);
      return g;
    };
    const a = run(tokenIds(x, [B, T], V));
    const b = run(scope.add(tensor(oneHotRows(x), [B, T, V], { backend: ctx.backend })));
    if (a.dInputs !== null) throw new CheckFailure(`${name}: token inputs gave an input gradient (${a.dInputs.shape}); expected null`);
    for (let l = 0; l < a.dWeights.length; l++) {
      for (const key of ['wIh', 'wHh', 'bIh', 'bHh'] as const) {
        expectGradClose(
          `${name} layer ${l} d${key}`,
          await a.dWeights[l][key].data(),
          await b.dWeights[l][key].data(),
          ctx.tolerance.gradient,
        );
      }
    }
    const [sa, sb] = [await readState(a.dInitialState), await readState(b.dInitialState)];
    sa.forEach((s, l) => expectGradClose(`${name} dh0[${l}]`, s.h, sb[l].h, ctx.tolerance.gradient));
  });
}

/** A TbpttTrainer chunk on ids equals the chunk on one-hot rows: loss, gradient norm and the updated weights. */
async function trainerEqualsOneHot(ctx: CheckContext): Promise<void> {
  const train = async (scope: Scope, input: (model: RnnModel) => Parameters<TbpttTrainer['trainChunk']>[0]) => {
    const model = scope.add(
      new RnnModel(
        {
          inputSize: V,
          layers: [
            { kind: 'lstm', units: 6 },
            { kind: 'gru', units: 4 },
          ],
          outputSize: V,
        },
        { backend: ctx.backend, seed: 9 },
      ),
    );
    const trainer = scope.add(new TbpttTrainer(model, { batch: B, optimizer: new SGD({ learningRate: 0.3 }), clipNorm: 1 }));
    const reports = [];
    for (let k = 0; k < 2; k++) reports.push(await trainer.trainChunk(input(model), ids(3 + k)));
    return { reports, weights: model.cell.layers[0].getWeights().wIh };
  };
  await scoped(async (scope) => {
    const a = await train(scope, () => tokenIds(ids(5), [B, T], V));
    const b = await train(scope, () => scope.add(tensor(oneHotRows(ids(5)), [B, T, V], { backend: ctx.backend })) as Tensor);
    a.reports.forEach((r, k) => {
      if (!(Math.abs(r.loss - b.reports[k].loss) <= 1e-5 * Math.abs(b.reports[k].loss)))
        throw new CheckFailure(`chunk ${k}: loss ${r.loss} on ids, ${b.reports[k].loss} on one-hot rows`);
    });
    expectGradClose('first layer W_ih after two chunks', a.weights, b.weights, ctx.tolerance.gradient);
  });
}

async function badTokens(ctx: CheckContext): Promise<void> {
  await scoped(async (scope) => {
    const cell = cellIn(scope, ctx, BEHAVIOUR_CONFIGS[0].config);
    expectRecurError('an id = the vocabulary', () => tokenIds([0, 1, V], [1, 3], V), {
      argument: 'ids[2]',
      expected: `an integer in [0, ${V})`,
      actual: `${V}`,
    });
    expectRecurError('a fractional id', () => tokenIds([0, 1.5], [1, 2], V), {
      argument: 'ids[1]',
      expected: `an integer in [0, ${V})`,
      actual: '1.5',
    });
    expectRecurError('ids that do not fill the shape', () => tokenIds([0, 1, 2], [2, 2], V), {
      type: ShapeError,
      argument: 'ids',
      expected: '4 ids',
      actual: '3 ids',
    });
    expectRecurError("a vocabulary unlike the first layer's input size", () => dynamicRnn(cell, tokenIds([0, 1], [1, 2], V + 1)), {
      type: ShapeError,
      argument: 'inputs',
      expected: `a vocabulary of ${V}`,
      actual: `a vocabulary of ${V + 1}`,
    });
    // a TokenIds keeps its own validated copy: writing into what `ids` returns changes nothing
    const t = tokenIds([0, 1], [1, 2], V);
    t.ids[0] = V + 7;
    const a = dynamicRnn(cell, t),
      b = dynamicRnn(cell, tokenIds([0, 1], [1, 2], V));
    scope.add(a.outputs);
    scope.add(b.outputs);
    scope.state(a.state);
    scope.state(b.state);
    expectClose('outputs after writing into TokenIds.ids', await a.outputs.data(), await b.outputs.data(), 0);
    expectRecurError(
      'a sequence length past the ids',
      () => dynamicRnn(cell, tokenIds([0], [1, 1], V), { timeMajor: true, sequenceLength: [2] }),
      { argument: 'sequenceLength[0]', expected: 'an integer in [0, 1]', actual: '2' },
    );
  });
}

export function tokenChecks(): Check[] {
  return [
    {
      id: 'tokens/forward-equals-one-hot',
      title:
        'token ids [B, T] and [T, B] (with lengths), and streamed one step at a time, equal their one-hot rows (<= 1e-6), every cell kind',
      run: forwardEqualsOneHot,
    },
    {
      id: 'tokens/gradients-equal-one-hot',
      title: "the backward of a token run: every weight and state gradient equals the one-hot run's, no input gradient",
      notApplicable: (caps) => (caps.training ? null : 'the backend has no backward kernels'),
      run: gradientsEqualOneHot,
    },
    {
      id: 'tokens/trainer-equals-one-hot',
      title: 'TbpttTrainer chunks on token ids equal chunks on one-hot rows (loss, weights)',
      notApplicable: (caps) => (caps.training ? null : 'the backend has no backward kernels'),
      run: trainerEqualsOneHot,
    },
    {
      id: 'errors/token-ids',
      title: 'token ids out of range, fractional, short of the shape, or of another vocabulary are refused by name',
      run: badTokens,
    },
  ];
}
