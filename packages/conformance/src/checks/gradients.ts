import { dynamicRnnWithTape, tensor, type Cell, type CellState, type HostLayerState, type LayerGradients } from '@recur/core';
import { CheckFailure } from '../compare.js';
import type { GoldenCase, GoldenFixtures } from '../fixtures.js';
import { disposeCell, goldenCell, readState, scoped, stateFrom, timeSlice, type Scope } from './helpers.js';
import type { Check, CheckContext } from './types.js';

interface GoldenGrad {
  dy: number[];
  x: number[];
  h0: number[][];
  c0: number[][] | null;
  layers: { w_ih: number[]; w_hh: number[]; b_ih: number[]; b_hh: number[] }[];
}
interface GoldenTbptt {
  chunks: number[];
  layers: GoldenGrad['layers'];
}

/** Gradient tolerance of the golden README: |a - ref| / max(1, |ref|). */
export function expectGradClose(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number): void {
  if (actual.length !== expected.length) throw new CheckFailure(`${what}: ${actual.length} values, expected ${expected.length}`);
  let worst = 0,
    at = 0;
  for (let i = 0; i < actual.length; i++) {
    const e = Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i]));
    if (!(e <= worst)) {
      worst = Number.isNaN(e) ? Infinity : e;
      at = i;
    }
  }
  if (!(worst <= tolerance)) {
    throw new CheckFailure(
      `${what}: max |a - ref| / max(1, |ref|) = ${worst.toExponential(3)} > ${tolerance.toExponential(1)} at [${at}] (a = ${actual[at]}, ref = ${expected[at]})`,
    );
  }
}

/** dFinalState of the golden loss: 0.5 for every h, 0 for every c. */
function halfOnH(scope: Scope, cell: Cell, batch: number, backend: string): CellState {
  const half = cell.layers.map((l) => new Float32Array(batch * l.units).fill(0.5));
  const zero = cell.layers.map((l) => new Float32Array(batch * l.units));
  return scope.state(stateFrom(cell, batch, half, zero, backend));
}

async function expectWeights(
  c: GoldenCase,
  what: string,
  dWeights: readonly LayerGradients[],
  want: GoldenGrad['layers'],
  tolerance: number,
): Promise<void> {
  for (let l = 0; l < want.length; l++) {
    for (const [ours, theirs] of [
      ['wIh', 'w_ih'],
      ['wHh', 'w_hh'],
      ['bIh', 'b_ih'],
      ['bHh', 'b_hh'],
    ] as const) {
      expectGradClose(`${c.name} ${what}: d${theirs}[${l}]`, await dWeights[l][ours].data(), want[l][theirs], tolerance);
    }
  }
}

/** One-shot BPTT: loss = sum(y * dy) + 0.5 * sum over layers of sum(hT). */
async function oneShotGrad(c: GoldenCase, ctx: CheckContext): Promise<void> {
  const g = c.grad as GoldenGrad;
  await scoped(async (scope) => {
    const cell = goldenCell(c, ctx.backend);
    scope.add(disposeCell(cell));
    const I = c.sizes[0],
      H = c.sizes[c.sizes.length - 1];
    const x = scope.add(tensor(c.x, [c.time, c.batch, I], { backend: ctx.backend }));
    const initialState = scope.state(stateFrom(cell, c.batch, c.h0, c.c0, ctx.backend));
    const run = dynamicRnnWithTape(cell, x, { initialState, timeMajor: true, sequenceLength: c.seq_lens });
    scope.add(run.outputs);
    scope.state(run.state);
    scope.add(run.tape);
    const grads = scope.add(
      run.tape.backward({
        dOutputs: scope.add(tensor(g.dy, [c.time, c.batch, H], { backend: ctx.backend })),
        dFinalState: halfOnH(scope, cell, c.batch, ctx.backend),
      }),
    );
    const tol = ctx.tolerance.gradient;
    expectGradClose(`${c.name}: dx`, await grads.dInputs!.data(), g.x, tol);
    const d0: HostLayerState[] = await readState(grads.dInitialState);
    d0.forEach((s, l) => {
      expectGradClose(`${c.name}: dh0[${l}]`, s.h, g.h0[l], tol);
      if (g.c0) expectGradClose(`${c.name}: dc0[${l}]`, s.c!, g.c0[l], tol);
    });
    await expectWeights(c, 'BPTT', grads.dWeights, g.layers, tol);
  });
}

/** Truncated BPTT: state carried between chunks but detached; weight gradients summed over chunks. */
async function tbpttGrad(c: GoldenCase, ctx: CheckContext): Promise<void> {
  const g = c.grad as GoldenGrad,
    tb = c.tbptt as GoldenTbptt;
  await scoped(async (scope) => {
    const cell = goldenCell(c, ctx.backend);
    scope.add(disposeCell(cell));
    const I = c.sizes[0],
      H = c.sizes[c.sizes.length - 1];
    let state = scope.state(stateFrom(cell, c.batch, c.h0, c.c0, ctx.backend));
    const sums = c.layers.map((l) => ({
      wIh: new Float64Array(l.w_ih.length),
      wHh: new Float64Array(l.w_hh.length),
      bIh: new Float64Array(l.b_ih.length),
      bHh: new Float64Array(l.b_hh.length),
    }));
    let t0 = 0;
    for (const n of tb.chunks) {
      const x = scope.add(tensor(timeSlice(c.x, t0, n, c.batch * I), [n, c.batch, I], { backend: ctx.backend }));
      const run = dynamicRnnWithTape(cell, x, { initialState: state, timeMajor: true });
      scope.add(run.outputs);
      scope.add(run.tape);
      const last = t0 + n === c.time;
      const grads = scope.add(
        run.tape.backward({
          dOutputs: scope.add(tensor(timeSlice(g.dy, t0, n, c.batch * H), [n, c.batch, H], { backend: ctx.backend })),
          dFinalState: last ? halfOnH(scope, cell, c.batch, ctx.backend) : undefined,
        }),
      );
      for (let l = 0; l < sums.length; l++) {
        for (const k of ['wIh', 'wHh', 'bIh', 'bHh'] as const) {
          const d = await grads.dWeights[l][k].data();
          for (let i = 0; i < d.length; i++) sums[l][k][i] += d[i];
        }
      }
      state = scope.state(run.state); // carried forward; no gradient crosses the boundary
      t0 += n;
    }
    for (let l = 0; l < sums.length; l++) {
      for (const [ours, theirs] of [
        ['wIh', 'w_ih'],
        ['wHh', 'w_hh'],
        ['bIh', 'b_ih'],
        ['bHh', 'b_hh'],
      ] as const) {
        expectGradClose(
          `${c.name} TBPTT chunks [${tb.chunks}]: d${theirs}[${l}]`,
          sums[l][ours],
          tb.layers[l][theirs],
          ctx.tolerance.gradient,
        );
      }
    }
  });
}

export function gradientChecks(fixtures: GoldenFixtures): Check[] {
  const noTraining = (caps: { training: boolean }) => (caps.training ? null : 'the backend has no backward kernels');
  const checks: Check[] = [];
  for (const c of fixtures.cases) {
    if (c.grad)
      checks.push({
        id: `gradients/${c.name}/bptt`,
        title: `${c.name}: one-shot BPTT gradients of x, h0, c0 and every weight`,
        notApplicable: noTraining,
        run: (ctx) => oneShotGrad(c, ctx),
      });
    if (c.tbptt)
      checks.push({
        id: `gradients/${c.name}/tbptt`,
        title: `${c.name}: truncated BPTT weight gradients, state carried and detached`,
        notApplicable: noTraining,
        run: (ctx) => tbpttGrad(c, ctx),
      });
  }
  return checks;
}
