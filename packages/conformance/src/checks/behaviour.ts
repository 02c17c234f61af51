import { StatefulRNN, dynamicRnn, memory, tensor, type CellState } from '@recur/core';
import { CheckFailure, expect, expectClose, expectEqualArrays, expectRecurError } from '../compare.js';
import { BEHAVIOUR_CONFIGS, cellIn, randomValues, readState, scoped, toBatchMajor, type Scope } from './helpers.js';
import type { Check, CheckContext } from './types.js';

const B = 3,
  T = 9;

/** Batch-major [B, T, I] random inputs. */
function inputs(scope: Scope, ctx: CheckContext, batch: number, time: number, features: number, seed: number) {
  const values = randomValues(batch * time * features, seed);
  return { values, tensor: scope.add(tensor(values, [batch, time, features], { backend: ctx.backend })) };
}

/** Steps [t0, t0 + n) of a batch-major [B, T, F] host array, as a tensor. */
function chunkOf(
  scope: Scope,
  ctx: CheckContext,
  values: Float32Array,
  batch: number,
  time: number,
  features: number,
  t0: number,
  n: number,
) {
  const out = new Float32Array(batch * n * features);
  for (let b = 0; b < batch; b++) out.set(values.subarray((b * time + t0) * features, (b * time + t0 + n) * features), b * n * features);
  return scope.add(tensor(out, [batch, n, features], { backend: ctx.backend }));
}

/** Rows [r0, r1) of a batch-major [B, ...] host array. */
function rowsOf(values: ArrayLike<number>, rowSize: number, r0: number, r1: number): number[] {
  return Array.prototype.slice.call(values, r0 * rowSize, r1 * rowSize) as number[];
}

async function chunkedEqualsOneShot(ctx: CheckContext, config: (typeof BEHAVIOUR_CONFIGS)[number]['config']): Promise<void> {
  await scoped(async (scope) => {
    const cell = cellIn(scope, ctx, config);
    const I = config.sizes[0],
      H = config.sizes[config.sizes.length - 1];
    const x = inputs(scope, ctx, B, T, I, 5);
    const whole = dynamicRnn(cell, x.tensor);
    scope.add(whole.outputs);
    scope.state(whole.state);
    const rnn = scope.add(new StatefulRNN(cell, { batch: B }));
    const pieces: Float32Array[] = [];
    let t0 = 0;
    for (const n of [1, 3, 1, 4]) {
      pieces.push((await scope.add(rnn.run(chunkOf(scope, ctx, x.values, B, T, I, t0, n))).data()) as Float32Array);
      t0 += n;
    }
    // reassemble [B, T, H] from the chunks' [B, n, H]
    const chunked = new Float32Array(B * T * H);
    let offset = 0;
    [1, 3, 1, 4].forEach((n, i) => {
      for (let b = 0; b < B; b++) chunked.set(pieces[i].subarray(b * n * H, (b + 1) * n * H), (b * T + offset) * H);
      offset += n;
    });
    expectClose('chunked outputs vs one-shot', chunked, await whole.outputs.data(), ctx.tolerance.chunked);
    const a = await rnn.readState(),
      b = await readState(whole.state);
    a.forEach((s, l) => {
      expectClose(`chunked h[${l}] vs one-shot`, s.h, b[l].h, ctx.tolerance.chunked);
      if (s.c) expectClose(`chunked c[${l}] vs one-shot`, s.c, b[l].c!, ctx.tolerance.chunked);
    });
  });
}

async function resetEqualsFresh(ctx: CheckContext, config: (typeof BEHAVIOUR_CONFIGS)[number]['config']): Promise<void> {
  await scoped(async (scope) => {
    const cell = cellIn(scope, ctx, config);
    const I = config.sizes[0],
      H = config.sizes[config.sizes.length - 1];
    const x = inputs(scope, ctx, B, 4, I, 21);
    const warm = scope.add(new StatefulRNN(cell, { batch: B }));
    scope.add(warm.run(x.tensor));
    scope.add(warm.run(x.tensor));
    const keep = scope.add(new StatefulRNN(cell, { batch: B }));
    keep.setState(await warm.readState());
    // reset row 1 only: row 1 must match a fresh object, rows 0 and 2 an object that was not reset
    warm.reset([1]);
    const fresh = scope.add(new StatefulRNN(cell, { batch: B }));
    const yWarm = await scope.add(warm.run(x.tensor)).data();
    const yFresh = await scope.add(fresh.run(x.tensor)).data();
    const yKeep = await scope.add(keep.run(x.tensor)).data();
    const row = 4 * H;
    expectClose('reset row 1 vs fresh state', rowsOf(yWarm, row, 1, 2), rowsOf(yFresh, row, 1, 2), ctx.tolerance.chunked);
    expectEqualArrays('row 0 untouched by reset([1])', rowsOf(yWarm, row, 0, 1), rowsOf(yKeep, row, 0, 1));
    expectEqualArrays('row 2 untouched by reset([1])', rowsOf(yWarm, row, 2, 3), rowsOf(yKeep, row, 2, 3));
    warm.reset();
    const fresh2 = scope.add(new StatefulRNN(cell, { batch: B }));
    expectClose(
      'reset() vs fresh state',
      await scope.add(warm.run(x.tensor)).data(),
      await scope.add(fresh2.run(x.tensor)).data(),
      ctx.tolerance.chunked,
    );
  });
}

async function isolation(ctx: CheckContext): Promise<void> {
  await scoped(async (scope) => {
    const config = BEHAVIOUR_CONFIGS[0].config;
    const cell = cellIn(scope, ctx, config);
    const I = config.sizes[0];
    const xa = inputs(scope, ctx, B, 4, I, 31),
      xb = inputs(scope, ctx, B, 4, I, 32);
    const a = scope.add(new StatefulRNN(cell, { batch: B }));
    const b = scope.add(new StatefulRNN(cell, { batch: B }));
    scope.add(a.run(xa.tensor));
    scope.add(b.run(xb.tensor));
    const second = await scope.add(a.run(xa.tensor)).data();
    // reference: a alone, never interleaved with b
    const alone = scope.add(new StatefulRNN(cell, { batch: B }));
    scope.add(alone.run(xa.tensor));
    expectEqualArrays('a interleaved with b vs a alone', second, await scope.add(alone.run(xa.tensor)).data());
    const sa = a.state as CellState[],
      sb = b.state as CellState[];
    expect(
      sa.every((s, l) => s !== sb[l]),
      'two stateful objects returned the same state objects',
    );
    b.reset();
    const after = await a.readState();
    const before = await alone.readState();
    after.forEach((s, l) => expectEqualArrays(`a's h[${l}] after b.reset()`, s.h, before[l].h));
  });
}

async function streams(ctx: CheckContext): Promise<void> {
  await scoped(async (scope) => {
    const config = BEHAVIOUR_CONFIGS[0].config;
    const cell = cellIn(scope, ctx, config);
    const I = config.sizes[0];
    const rnn = scope.add(new StatefulRNN(cell, { streams: ['a', 'b', 'c'] }));
    scope.add(rnn.run(inputs(scope, ctx, 3, 3, I, 41).tensor));
    const before = await rnn.readState();
    const sizes = cell.layers.map((l) => l.units);
    // a joining stream with a given state, then 'b' leaves: a and c keep their state exactly
    const joinState = sizes.map((H, l) => ({ h: randomValues(H, 50 + l), c: randomValues(H, 60 + l) }));
    const id = rnn.addStream({ id: 'd', state: joinState });
    expect(id === 'd' && rnn.streams.join() === 'a,b,c,d', `streams after addStream: ${rnn.streams.join()}`);
    rnn.removeStream('b');
    expect(rnn.streams.join() === 'a,c,d' && rnn.rowOf('c') === 1, `streams after removeStream('b'): ${rnn.streams.join()}`);
    const after = await rnn.readState();
    after.forEach((s, l) => {
      const H = sizes[l];
      for (const [name, part] of [
        ['h', 'h'],
        ['c', 'c'],
      ] as const) {
        const now = s[part]!,
          then = before[l][part]!;
        expectEqualArrays(`${name}[${l}] of stream a`, rowsOf(now, H, 0, 1), rowsOf(then, H, 0, 1));
        expectEqualArrays(`${name}[${l}] of stream c`, rowsOf(now, H, 1, 2), rowsOf(then, H, 2, 3));
        expectEqualArrays(`${name}[${l}] of joining stream d`, rowsOf(now, H, 2, 3), joinState[l][part]);
      }
    });
    // the streams run on as if each were alone
    const x = inputs(scope, ctx, 3, 2, I, 42);
    const y = await scope.add(rnn.run(x.tensor)).data();
    const alone = scope.add(new StatefulRNN(cell, { batch: 1 }));
    const H = sizes[sizes.length - 1];
    for (let row = 0; row < 3; row++) {
      alone.setState(
        after.map((s, l) => ({
          h: Float32Array.from(rowsOf(s.h, sizes[l], row, row + 1)),
          c: Float32Array.from(rowsOf(s.c!, sizes[l], row, row + 1)),
        })),
      );
      const one = chunkOfRow(scope, ctx, x.values, row, 2, I);
      expectClose(
        `stream ${rnn.streams[row]} vs alone`,
        rowsOf(y, 2 * H, row, row + 1),
        await scope.add(alone.run(one)).data(),
        ctx.tolerance.chunked,
      );
    }
    const beforeReset = await rnn.readState();
    rnn.resetStreams(['c']);
    const reset = await rnn.readState();
    reset.forEach((s, l) => {
      expect(
        rowsOf(s.h, sizes[l], 1, 2).every((v) => v === 0) && rowsOf(s.c!, sizes[l], 1, 2).every((v) => v === 0),
        `resetStreams(['c']) left non-zero state in layer ${l}`,
      );
      for (const row of [0, 2])
        expectEqualArrays(
          `stream ${rnn.streams[row]} h[${l}] after resetStreams(['c'])`,
          rowsOf(s.h, sizes[l], row, row + 1),
          rowsOf(beforeReset[l].h, sizes[l], row, row + 1),
        );
    });
    // every stream leaves; one joins again with a given state and runs as if alone
    for (const id of rnn.streams) rnn.removeStream(id);
    expect(rnn.batch === 0, `batch after every stream left: ${rnn.batch}`);
    const one = chunkOfRow(scope, ctx, x.values, 0, 2, I);
    expectRecurError('run with no streams', () => rnn.run(one), {
      argument: 'stateful',
      expected: 'at least one stream',
      actual: 'no streams',
    });
    rnn.addStream({ id: 'e', state: joinState });
    alone.setState(joinState);
    expectClose(
      'stream e, joined after all had left, vs alone',
      await scope.add(rnn.run(one)).data(),
      await scope.add(alone.run(one)).data(),
      ctx.tolerance.chunked,
    );
  });
}

function chunkOfRow(scope: Scope, ctx: CheckContext, values: Float32Array, row: number, time: number, features: number) {
  return scope.add(
    tensor(values.subarray(row * time * features, (row + 1) * time * features), [1, time, features], { backend: ctx.backend }),
  );
}

async function stepEqualsDynamicRnn(ctx: CheckContext, config: (typeof BEHAVIOUR_CONFIGS)[number]['config']): Promise<void> {
  await scoped(async (scope) => {
    const cell = cellIn(scope, ctx, config);
    const I = config.sizes[0],
      H = config.sizes[config.sizes.length - 1];
    const timeMajor = randomValues(T * B * I, 71);
    const x = scope.add(tensor(timeMajor, [T, B, I], { backend: ctx.backend }));
    const whole = dynamicRnn(cell, x, { timeMajor: true });
    scope.add(whole.outputs);
    scope.state(whole.state);
    let state = scope.state(
      cell.layers.length === 1 ? cell.layers[0].zeroState(B) : (cell as { zeroState(b: number): CellState }).zeroState(B),
    );
    const ys: number[] = [];
    for (let t = 0; t < T; t++) {
      const xt = scope.add(tensor(timeMajor.subarray(t * B * I, (t + 1) * B * I), [B, I], { backend: ctx.backend }));
      const out = cell.step(xt, state);
      ys.push(...(await scope.add(out.output).data()));
      state = scope.state(out.state);
    }
    expectClose('hand-written unroll with step() vs dynamicRnn', ys, await whole.outputs.data(), ctx.tolerance.chunked);
    expect(ys.length === T * B * H, 'step outputs have the wrong size');
  });
}

async function batchMajorEqualsTimeMajor(ctx: CheckContext): Promise<void> {
  await scoped(async (scope) => {
    const config = BEHAVIOUR_CONFIGS[1].config;
    const cell = cellIn(scope, ctx, config);
    const I = config.sizes[0],
      H = config.sizes[config.sizes.length - 1];
    const tm = randomValues(T * B * I, 81);
    const a = dynamicRnn(cell, scope.add(tensor(tm, [T, B, I], { backend: ctx.backend })), { timeMajor: true, sequenceLength: [T, 4, 0] });
    const b = dynamicRnn(cell, scope.add(tensor(toBatchMajor(tm, T, B, I), [B, T, I], { backend: ctx.backend })), {
      sequenceLength: [T, 4, 0],
    });
    for (const r of [a, b]) {
      scope.add(r.outputs);
      scope.state(r.state);
    }
    expect(b.outputs.shape.join() === `${B},${T},${H}`, `batch-major outputs shape [${b.outputs.shape}]`);
    expectEqualArrays('batch-major outputs vs time-major', await b.outputs.data(), toBatchMajor(await a.outputs.data(), T, B, H));
    const ya = await a.outputs.data();
    for (let t = 0; t < T; t++) {
      expect(
        ya.subarray((t * B + 2) * H, (t * B + 3) * H).every((v) => v === 0),
        `row of length 0 emitted non-zero output at step ${t}`,
      );
      if (t >= 4)
        expect(
          ya.subarray((t * B + 1) * H, (t * B + 2) * H).every((v) => v === 0),
          `row of length 4 emitted non-zero output at step ${t}`,
        );
    }
    const [sa] = await readState(a.state);
    expectEqualArrays(
      'row of length 0 keeps the zero state',
      sa.h.subarray(2 * config.sizes[1], 3 * config.sizes[1]),
      new Float32Array(config.sizes[1]),
    );
  });
}

/** Live tensors and bytes after 10,000 streamed steps equal those after 10: nothing per step is kept. */
async function streamingMemory(ctx: CheckContext): Promise<void> {
  await scoped(async (scope) => {
    const cell = cellIn(scope, ctx, { kind: 'lstm', sizes: [4, 8, 8] });
    const rnn = scope.add(new StatefulRNN(cell, { batch: 2 }));
    const x = scope.add(tensor(randomValues(2 * 4, 91), [2, 1, 4], { backend: ctx.backend }));
    const stepN = (n: number) => {
      for (let i = 0; i < n; i++) rnn.run(x).dispose();
    };
    stepN(10);
    const after10 = memory(ctx.backend);
    stepN(9990);
    const after10000 = memory(ctx.backend);
    if (after10.numTensors !== after10000.numTensors || after10.numBytes !== after10000.numBytes) {
      throw new CheckFailure(
        `after 10 steps ${after10.numTensors} tensors / ${after10.numBytes} bytes, after 10,000 ${after10000.numTensors} / ${after10000.numBytes}`,
      );
    }
    const h = (await rnn.readState())[1].h;
    expect(h.every(Number.isFinite), 'state is not finite after 10,000 steps');
  });
}

async function snapshotRestore(ctx: CheckContext): Promise<void> {
  await scoped(async (scope) => {
    const config = BEHAVIOUR_CONFIGS[0].config;
    const cell = cellIn(scope, ctx, config);
    const I = config.sizes[0];
    const rnn = scope.add(new StatefulRNN(cell, { streams: ['x', 'y'] }));
    scope.add(rnn.run(inputs(scope, ctx, 2, 3, I, 95).tensor));
    const snap = (await rnn.snapshot()).slice(); // bytes, as stored or sent elsewhere
    const next = inputs(scope, ctx, 2, 2, I, 96);
    const y1 = await scope.add(rnn.run(next.tensor)).data();
    const other = scope.add(new StatefulRNN(cell, { batch: 5 }));
    other.restore(snap);
    expect(other.streams.join() === 'x,y', `restored streams ${other.streams.join()}`);
    expectEqualArrays('run after restore vs run after snapshot', await scope.add(other.run(next.tensor)).data(), y1);
  });
}

export function behaviourChecks(): Check[] {
  const perConfig = (
    id: string,
    title: string,
    fn: (ctx: CheckContext, config: (typeof BEHAVIOUR_CONFIGS)[number]['config']) => Promise<void>,
  ) =>
    BEHAVIOUR_CONFIGS.map(({ name, config }) => ({
      id: `${id}/${name}`,
      title: `${title} (${name}, sizes [${config.sizes}])`,
      run: (ctx: CheckContext) => fn(ctx, config),
    }));
  return [
    ...perConfig(
      'behaviour/chunked-equals-one-shot',
      'chunks 1+3+1+4 through StatefulRNN equal one dynamicRnn call (<= 1e-6)',
      chunkedEqualsOneShot,
    ),
    ...perConfig(
      'behaviour/reset-equals-fresh-state',
      'reset(rows) and reset() equal a fresh zero state; other rows untouched',
      resetEqualsFresh,
    ),
    ...perConfig('behaviour/step-equals-dynamic-rnn', 'a hand-written unroll of cell.step equals dynamicRnn', stepEqualsDynamicRnn),
    { id: 'behaviour/stateful-isolation', title: 'two StatefulRNNs on one cell never share state', run: isolation },
    { id: 'behaviour/streams-join-leave', title: 'streams joining and leaving keep the other rows\u2019 state exactly', run: streams },
    {
      id: 'behaviour/batch-major-equals-time-major',
      title: 'batch-major and time-major inputs agree, with sequenceLength (0 and partial)',
      run: batchMajorEqualsTimeMajor,
    },
    {
      id: 'behaviour/snapshot-restore',
      title: 'snapshot() bytes restore() into another object, which continues identically',
      run: snapshotRestore,
    },
    {
      id: 'memory/streaming-10000-steps',
      title: 'live tensors and bytes after 10,000 streamed steps equal those after 10',
      run: streamingMemory,
    },
  ];
}
