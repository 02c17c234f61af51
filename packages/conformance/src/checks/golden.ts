import {
  StatefulRNN,
  type HostLayerState,
  dynamicRnn,
  getStateResetOp,
  getStateUpdateOp,
  getStateVariables,
  tensor,
  type Cell,
  type DType,
} from '@recur/core';
import { expectClose } from '../compare.js';
import type { GoldenCase, GoldenFixtures } from '../fixtures.js';
import { disposeCell, goldenCell, readState, scoped, stateFrom, timeSlice, type Scope } from './helpers.js';
import type { Check, CheckContext } from './types.js';

/** Compares outputs and every layer's final state with the case. */
async function expectGolden(
  c: GoldenCase,
  y: ArrayLike<number>,
  state: readonly HostLayerState[],
  tolerance: number,
  how: string,
): Promise<void> {
  expectClose(`${c.name} ${how}: y`, y, c.y, tolerance);
  state.forEach((s, l) => {
    expectClose(`${c.name} ${how}: hT[${l}]`, s.h, c.hT[l], tolerance);
    if (c.cT) expectClose(`${c.name} ${how}: cT[${l}]`, s.c!, c.cT[l], tolerance);
  });
}

function setup(scope: Scope, c: GoldenCase, ctx: CheckContext, dtype: DType = 'float32'): { cell: Cell; input: number } {
  const cell = goldenCell(c, ctx.backend, dtype);
  scope.add(disposeCell(cell));
  return { cell, input: c.sizes[0] };
}

/** The whole case in one dynamicRnn call (time-major, with seq_lens when the case has them). */
async function oneShot(c: GoldenCase, ctx: CheckContext, dtype: DType, tolerance: number): Promise<void> {
  await scoped(async (scope) => {
    const { cell, input } = setup(scope, c, ctx, dtype);
    const x = scope.add(tensor(c.x, [c.time, c.batch, input], { backend: ctx.backend, dtype }));
    const initialState = scope.state(stateFrom(cell, c.batch, c.h0, c.c0, ctx.backend, dtype));
    const { outputs, state } = dynamicRnn(cell, x, { initialState, timeMajor: true, sequenceLength: c.seq_lens });
    scope.add(outputs);
    scope.state(state);
    await expectGolden(c, await outputs.data(), await readState(state), tolerance, 'one-shot');
  });
}

/** The TF1 recipe: state variables, one dynamicRnn per chunk, the update op between chunks (and the reset op). */
async function viaStateVariables(c: GoldenCase, ctx: CheckContext, chunks: readonly number[]): Promise<void> {
  await scoped(async (scope) => {
    const { cell, input } = setup(scope, c, ctx);
    const vars = scope.add(getStateVariables(c.batch, cell));
    getStateUpdateOp(vars, stateFrom(cell, c.batch, c.h0, c.c0, ctx.backend));
    const y: number[] = [];
    let t0 = 0;
    for (const n of chunks) {
      if (c.reset_rows && t0 === c.reset_rows.before_step) getStateResetOp(vars, cell, c.batch, c.reset_rows.rows);
      const x = scope.add(tensor(timeSlice(c.x, t0, n, c.batch * input), [n, c.batch, input], { backend: ctx.backend }));
      const { outputs, state } = dynamicRnn(cell, x, { initialState: vars.state, timeMajor: true });
      getStateUpdateOp(vars, state);
      y.push(...(await scope.add(outputs).data()));
      t0 += n;
    }
    await expectGolden(c, y, await readState(vars.state), ctx.tolerance.forward, `chunks [${chunks}] via state variables`);
  });
}

/** The stateful level: setState(h0), run(chunk) per chunk, reset(rows) where the case resets. */
async function viaStateful(c: GoldenCase, ctx: CheckContext, chunks: readonly number[]): Promise<void> {
  await scoped(async (scope) => {
    const { cell, input } = setup(scope, c, ctx);
    const rnn = scope.add(new StatefulRNN(cell, { batch: c.batch, timeMajor: true }));
    rnn.setState(c.h0.map((h, l) => ({ h: Float32Array.from(h), c: c.c0 ? Float32Array.from(c.c0[l]) : null })));
    const y: number[] = [];
    let t0 = 0;
    for (const n of chunks) {
      if (c.reset_rows && t0 === c.reset_rows.before_step) rnn.reset(c.reset_rows.rows);
      const x = scope.add(tensor(timeSlice(c.x, t0, n, c.batch * input), [n, c.batch, input], { backend: ctx.backend }));
      y.push(...(await scope.add(rnn.run(x)).data()));
      t0 += n;
    }
    await expectGolden(c, y, await rnn.readState(), ctx.tolerance.forward, `chunks [${chunks}] via StatefulRNN`);
  });
}

/** One check per golden case and way of running it; ids are stable: golden/<case>/<how>. */
export function goldenChecks(fixtures: GoldenFixtures): Check[] {
  const checks: Check[] = [];
  for (const c of fixtures.cases) {
    const what = `${c.name} (${c.cell}${c.gru_variant ? ` ${c.gru_variant}` : ''}${c.activation && c.cell === 'rnn' ? ` ${c.activation}` : ''}, sizes [${c.sizes}], B=${c.batch}, T=${c.time})`;
    if (!c.reset_rows) {
      checks.push({
        id: `golden/${c.name}/one-shot`,
        title: `${what} in one call${c.seq_lens ? `, seq_lens [${c.seq_lens}]` : ''}`,
        run: (ctx) => oneShot(c, ctx, 'float32', ctx.tolerance.forward),
      });
      checks.push({
        id: `golden/${c.name}/one-shot-float64`,
        title: `${what} in one call in float64 (<= 1e-9)`,
        notApplicable: (caps) => (caps.dtypes.includes('float64') ? null : 'the backend has no float64'),
        run: (ctx) => oneShot(c, ctx, 'float64', 1e-9),
      });
    }
    if (c.chunks) {
      checks.push({
        id: `golden/${c.name}/chunks`,
        title: `${what} in chunks [${c.chunks}], state carried by the update op`,
        run: (ctx) => viaStateVariables(c, ctx, c.chunks!),
      });
      checks.push({
        id: `golden/${c.name}/stateful-chunks`,
        title: `${what} in chunks [${c.chunks}] through StatefulRNN`,
        run: (ctx) => viaStateful(c, ctx, c.chunks!),
      });
    }
    if (c.reset_rows) {
      const split = [c.reset_rows.before_step, c.time - c.reset_rows.before_step];
      checks.push({
        id: `golden/${c.name}/reset-rows`,
        title: `${what}: rows [${c.reset_rows.rows}] reset before step ${split[0]} by the reset op`,
        run: (ctx) => viaStateVariables(c, ctx, split),
      });
      checks.push({
        id: `golden/${c.name}/stateful-reset-rows`,
        title: `${what}: rows [${c.reset_rows.rows}] reset before step ${split[0]} by StatefulRNN.reset(rows)`,
        run: (ctx) => viaStateful(c, ctx, split),
      });
    }
  }
  return checks;
}
