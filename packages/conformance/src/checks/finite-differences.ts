import { dynamicRnnWithTape, tensor, type Cell, type CellState, type LayerWeights } from '@recur/core';
import { CheckFailure } from '../compare.js';
import { disposeCell, makeCell, randomValues, readState, scoped, stateFrom, type CellConfig } from './helpers.js';
import type { Check, CheckContext } from './types.js';

const B = 3,
  T = 5,
  EPS = 1e-6,
  TOLERANCE = 1e-6;
/** Denominator floor of the relative error, so that gradients near zero are compared absolutely at 1e-6 * 1e-3. */
const FLOOR = 1e-3;

const CONFIGS: { name: string; config: CellConfig; seqLens?: number[] }[] = [
  { name: 'lstm', config: { kind: 'lstm', sizes: [3, 4, 3] } },
  { name: 'lstm-seq-lens', config: { kind: 'lstm', sizes: [3, 4, 3] }, seqLens: [5, 2, 0] },
  { name: 'gru-reset-after', config: { kind: 'gru', sizes: [3, 4, 3], resetAfter: true } },
  { name: 'gru-reset-before', config: { kind: 'gru', sizes: [3, 4, 3], resetAfter: false } },
  { name: 'gru-reset-before-seq-lens', config: { kind: 'gru', sizes: [3, 4], resetAfter: false }, seqLens: [1, 5, 3] },
  { name: 'rnn-tanh', config: { kind: 'rnn', sizes: [3, 4, 3], activation: 'tanh' } },
  { name: 'rnn-relu-seq-lens', config: { kind: 'rnn', sizes: [3, 4, 3], activation: 'relu' }, seqLens: [4, 5, 2] },
];

interface Problem {
  x: Float64Array;
  h0: Float64Array[];
  c0: Float64Array[];
  /** Loss weights: L = Σ y·R + Σ_l Σ hT_l·S_l + Σ_l Σ cT_l·U_l */
  R: Float64Array;
  S: Float64Array[];
  U: Float64Array[];
}

const f64 = (n: number, seed: number, scale = 1) => Float64Array.from(randomValues(n, seed, scale));

/** The loss in float64 for the current weights and inputs, and optionally its analytic gradients. */
async function loss(ctx: CheckContext, cell: Cell, p: Problem, seqLens: number[] | undefined, withGrads: boolean) {
  const I = cell.layers[0].inputSize!,
    H = cell.layers[cell.layers.length - 1].units;
  return scoped(async (inner) => {
    const opts = { backend: ctx.backend, dtype: 'float64' as const };
    const x = inner.add(tensor(p.x, [T, B, I], opts));
    const initialState = inner.state(stateFrom(cell, B, p.h0, p.c0, ctx.backend, 'float64'));
    const run = dynamicRnnWithTape(cell, x, { initialState, timeMajor: true, sequenceLength: seqLens });
    inner.add(run.outputs);
    inner.state(run.state);
    inner.add(run.tape);
    const y = await run.outputs.data();
    let value = 0;
    for (let i = 0; i < y.length; i++) value += y[i] * p.R[i];
    (await readState(run.state)).forEach((s, l) => {
      for (let i = 0; i < s.h.length; i++) value += s.h[i] * p.S[l][i] + (s.c ? s.c[i] * p.U[l][i] : 0);
    });
    if (!withGrads) return { value, grads: null };
    const g = inner.add(
      run.tape.backward({
        dOutputs: inner.add(tensor(p.R, [T, B, H], opts)),
        dFinalState: inner.state(stateFrom(cell, B, p.S, p.U, ctx.backend, 'float64') as CellState),
      }),
    );
    const weights = await Promise.all(
      g.dWeights.map(async (w) => ({ wIh: await w.wIh.data(), wHh: await w.wHh.data(), bIh: await w.bIh.data(), bHh: await w.bHh.data() })),
    );
    return { value, grads: { x: await g.dInputs!.data(), state: await readState(g.dInitialState), weights } };
  });
}

/** Central differences in float64 for every weight, input and initial-state element against the backward. */
async function finiteDifferences(ctx: CheckContext, config: CellConfig, seqLens: number[] | undefined, seed: number): Promise<void> {
  await scoped(async (scope) => {
    const cell = makeCell(config, ctx.backend, 'float64', seed);
    scope.add(disposeCell(cell));
    const sizes = config.sizes,
      L = sizes.length - 1,
      lstm = config.kind === 'lstm';
    const p: Problem = {
      x: f64(T * B * sizes[0], seed + 1),
      R: f64(T * B * sizes[L], seed + 2),
      h0: sizes.slice(1).map((H, l) => f64(B * H, seed + 10 + l, 0.5)),
      c0: sizes.slice(1).map((H, l) => f64(B * H, seed + 20 + l, 0.5)),
      S: sizes.slice(1).map((H, l) => f64(B * H, seed + 30 + l)),
      U: sizes.slice(1).map((H, l) => f64(B * H, seed + 40 + l)),
    };
    const analytic = (await loss(ctx, cell, p, seqLens, true)).grads!;
    let worst = { err: 0, what: '' };
    const compare = async (what: string, values: Float64Array, grad: ArrayLike<number>, reset: () => void) => {
      for (let i = 0; i < values.length; i++) {
        const keep = values[i];
        values[i] = keep + EPS;
        reset();
        const up = (await loss(ctx, cell, p, seqLens, false)).value;
        values[i] = keep - EPS;
        reset();
        const down = (await loss(ctx, cell, p, seqLens, false)).value;
        values[i] = keep;
        reset();
        const numeric = (up - down) / (2 * EPS);
        const err = Math.abs(numeric - grad[i]) / Math.max(Math.abs(numeric), Math.abs(grad[i]), FLOOR);
        if (!(err <= worst.err))
          worst = { err: Number.isNaN(err) ? Infinity : err, what: `${what}[${i}] (analytic ${grad[i]}, numeric ${numeric})` };
      }
    };
    const noop = () => {};
    await compare('x', p.x, analytic.x, noop);
    for (let l = 0; l < L; l++) {
      await compare(`h0[${l}]`, p.h0[l], analytic.state[l].h, noop);
      if (lstm) await compare(`c0[${l}]`, p.c0[l], analytic.state[l].c!, noop);
      const layer = cell.layers[l];
      const w = layer.getWeights() as LayerWeights<Float64Array>;
      for (const k of ['wIh', 'wHh', 'bIh', 'bHh'] as const)
        await compare(`${k}[${l}]`, w[k], analytic.weights[l][k], () => layer.setWeights(w));
    }
    if (!(worst.err <= TOLERANCE))
      throw new CheckFailure(`worst relative error ${worst.err.toExponential(3)} > ${TOLERANCE} at ${worst.what}`);
  });
}

export function finiteDifferenceChecks(): Check[] {
  return CONFIGS.map(({ name, config, seqLens }, i) => ({
    id: `gradients/finite-differences/${name}`,
    title: `float64 central differences (eps ${EPS}) vs backward, every weight, input and initial state: relative error <= ${TOLERANCE} (sizes [${config.sizes}]${seqLens ? `, seq_lens [${seqLens}]` : ''})`,
    notApplicable: (caps) =>
      !caps.training ? 'the backend has no backward kernels' : !caps.dtypes.includes('float64') ? 'the backend has no float64' : null,
    run: (ctx: CheckContext) => finiteDifferences(ctx, config, seqLens, 100 + 10 * i),
  }));
}
