import {
  Adam,
  LSTMCell,
  RnnModel,
  TbpttTrainer,
  dynamicRnnWithTape,
  ShapeError,
  StatefulRNN,
  decodeSafetensors,
  dynamicRnn,
  encodeSafetensors,
  getMemoryBudget,
  getStateResetOp,
  getStateUpdateOp,
  getStateVariables,
  memory,
  setMemoryBudget,
  tensor,
  zeros,
  type Cell,
  type NamedTensor,
  type StateSnapshot,
  type Tensor,
} from '@recur/core';
import { CheckFailure, expect, expectClose, expectEqualArrays, expectRecurError } from '../compare.js';
import { misuse } from './errors.js';
import { BEHAVIOUR_CONFIGS, cellIn, disposeCell, makeCell, randomValues, scoped, type Scope } from './helpers.js';
import type { Check, CheckContext } from './types.js';

const B = 3,
  T = 4,
  I = 5,
  H1 = 7,
  H2 = 6;

/** Runs `body` on a fresh cell of every behaviour configuration (disposed with the scope). */
async function forEachConfig(
  ctx: CheckContext,
  seed: number,
  body: (name: string, cell: Cell, scope: Scope) => Promise<void>,
): Promise<void> {
  for (const { name, config } of BEHAVIOUR_CONFIGS) await scoped((scope) => body(name, cellIn(scope, ctx, config, seed), scope));
}

/** Zeroing rows must write zeros, whatever the rows held: NaN x 0 is NaN, so a 0/1 mask multiply is not a reset. */
async function resetAfterNonFinite(ctx: CheckContext): Promise<void> {
  await forEachConfig(ctx, 11, async (name, cell, scope) => {
    const rnn = scope.add(new StatefulRNN(cell, { streams: ['a', 'b', 'c'], checkFinite: false }));
    const x = randomValues(B * T * I, 5);
    x[2] = NaN; // row a
    x[T * I + 3] = 1e39; // row b: Infinity once stored as float32
    scope.add(rnn.run(scope.add(tensor(x, [B, T, I], { backend: ctx.backend }))));
    // whatever the inputs did to the state (relu may drop a NaN), make rows a and b hold NaN and Infinity for sure
    const host = await rnn.readState();
    for (const s of host) {
      const H = s.h.length / B;
      for (const v of [s.h, s.c]) {
        if (!v) continue;
        v.fill(NaN, 0, H);
        v.fill(Infinity, H, H + 2);
        v.fill(-Infinity, H + 2, 2 * H);
      }
    }
    rnn.setState(host, { allowNonFinite: true });
    const poisoned = await rnn.readState();
    expect(Number.isNaN(poisoned[0].h[0]), `${name}: setState with allowNonFinite did not store NaN`);
    rnn.reset([0]);
    rnn.resetStreams(['b']);
    const after = await rnn.readState();
    after.forEach((s, l) => {
      const H = s.h.length / B;
      for (const [part, v] of [
        ['h', s.h],
        ['c', s.c],
      ] as const) {
        if (!v) continue;
        expectEqualArrays(`${name}: layer ${l} ${part} of the reset rows`, v.subarray(0, 2 * H), new Float32Array(2 * H));
        expectEqualArrays(
          `${name}: layer ${l} ${part} of the row left alone`,
          v.subarray(2 * H),
          (part === 'h' ? poisoned[l].h : poisoned[l].c!).subarray(2 * H),
        );
      }
    });
    // the reset rows now run exactly like fresh streams
    const next = randomValues(B * T * I, 6);
    const y = await scope.add(rnn.run(scope.add(tensor(next, [B, T, I], { backend: ctx.backend })))).data();
    const fresh = await outputsOf(scope, cell, scope.add(tensor(next.subarray(0, 2 * T * I), [2, T, I], { backend: ctx.backend })));
    expectClose(`${name}: outputs of the reset rows against fresh streams`, y.subarray(0, fresh.length), fresh, ctx.tolerance.chunked);
    // the TF1 reset op too
    const vars = scope.add(getStateVariables(B, cell));
    const run = dynamicRnn(cell, scope.add(tensor(x, [B, T, I], { backend: ctx.backend })), {
      initialState: vars.state,
      checkFinite: false,
    });
    scope.add(run.outputs);
    getStateUpdateOp(vars, run.state);
    getStateResetOp(vars, cell, B, [0, 1]);
    for (const v of Array.isArray(vars.state) ? vars.state : [vars.state]) {
      for (const t of ('h' in v ? [v.h, v.c] : [v]) as Tensor[]) {
        const d = await t.data();
        expectEqualArrays(`${name}: getStateResetOp rows`, d.subarray(0, 2 * (d.length / B)), new Float32Array(2 * (d.length / B)));
      }
    }
  });
}

/** dynamicRnn's outputs on the host; its outputs and final state are disposed with the scope. */
async function outputsOf(scope: Scope, cell: Cell, x: Tensor): Promise<Float32Array | Float64Array> {
  const { outputs, state } = dynamicRnn(cell, x);
  scope.state(state);
  return scope.add(outputs).data();
}

/** A snapshot of the misuse object's shape (streams 0..2, layers of 7 and 6 units) with some values replaced. */
function snapshotWith(h0: unknown[] | unknown, c0?: unknown): StateSnapshot {
  const fill = (n: number) => Array.from({ length: n }, (_, i) => i / n);
  return {
    version: 1,
    streams: [0, 1, 2],
    layers: [
      { units: H1, h: h0 as number[], c: (c0 ?? fill(B * H1)) as number[] },
      { units: H2, h: fill(B * H2), c: fill(B * H2) },
    ],
  };
}

const badNumbers = (n: number, at: number, value: unknown): unknown[] => Array.from({ length: n }, (_, i) => (i === at ? value : 0.5));

/** A chunk [B, T, I] of random inputs, and a copy whose steps past each row's length are NaN. */
function withNaNPadding(lengths: readonly number[], seed: number): { x: Float32Array; padded: Float32Array } {
  const x = randomValues(B * T * I, seed);
  const padded = x.slice();
  lengths.forEach((len, b) => padded.fill(NaN, (b * T + len) * I, (b + 1) * T * I));
  return { x, padded };
}

/** Rows past their length ignore their inputs: NaN padding there must not reach their state or outputs. */
async function nanPaddingPastLength(ctx: CheckContext): Promise<void> {
  await forEachConfig(ctx, 13, async (name, cell, scope) => {
    const lengths = [T, 1, 0];
    const { x, padded } = withNaNPadding(lengths, 14);
    const run = (values: Float32Array) => {
      const rnn = scope.add(new StatefulRNN(cell, { batch: B, checkFinite: false }));
      const y = scope.add(rnn.run(scope.add(tensor(values, [B, T, I], { backend: ctx.backend })), { sequenceLength: lengths }));
      return { rnn, y };
    };
    const clean = run(x),
      nan = run(padded);
    expectEqualArrays(`${name}: outputs with NaN padding past each row's length`, await nan.y.data(), await clean.y.data());
    const [a, b] = [await nan.rnn.readState(), await clean.rnn.readState()];
    a.forEach((s, l) => {
      expectEqualArrays(`${name}: layer ${l} h`, s.h, b[l].h);
      if (s.c) expectEqualArrays(`${name}: layer ${l} c`, s.c, b[l].c!);
    });
  });
}

/** Training with NaN padding past each row's length gives exactly the gradients of training with finite padding. */
async function nanPaddingGradients(ctx: CheckContext): Promise<void> {
  await forEachConfig(ctx, 15, async (name, cell, scope) => {
    const lengths = [T, 2, 0];
    const { x, padded } = withNaNPadding(lengths, 16);
    const H = cell.layers[cell.layers.length - 1].units;
    const dy = scope.add(tensor(randomValues(B * T * H, 17), [B, T, H], { backend: ctx.backend }));
    const grads = async (values: Float32Array) => {
      const run = dynamicRnnWithTape(cell, scope.add(tensor(values, [B, T, I], { backend: ctx.backend })), {
        sequenceLength: lengths,
        checkFinite: false,
      });
      scope.add(run.outputs);
      scope.state(run.state);
      const g = scope.add(run.tape.backward({ dOutputs: dy }));
      const out: number[] = [...(await g.dInputs!.data())];
      for (const w of g.dWeights) for (const t of [w.wIh, w.wHh, w.bIh, w.bHh]) out.push(...(await t.data()));
      return out;
    };
    const [clean, nan] = [await grads(x), await grads(padded)];
    expect(nan.every(Number.isFinite), `${name}: NaN padding past the lengths reached the gradients`);
    expectEqualArrays(`${name}: gradients with NaN padding against finite padding`, nan, clean);
  });
}

export function reliabilityChecks(): Check[] {
  return [
    {
      id: 'training/nan-padding-past-length',
      title: "NaN inputs past a row's length reach no gradient (they are padding)",
      notApplicable: (c) => (c.training ? null : 'the backend has no backward kernels'),
      run: nanPaddingGradients,
    },
    {
      id: 'memory/shared-cell-uploads',
      title: 'a cell run by several objects keeps its weight uploads until the last one is disposed',
      notApplicable: (c) => (c.training ? null : 'the backend has no backward kernels'),
      run: async (ctx) => {
        await scoped(async (scope) => {
          const cell = makeCell({ kind: 'lstm', sizes: [I, H1, H2] }, ctx.backend, 'float32', 3);
          scope.add(disposeCell(cell));
          const x = scope.add(tensor(randomValues(B * T * I, 41), [B, T, I], { backend: ctx.backend }));
          const baseline = memory(ctx.backend);
          const a = new StatefulRNN(cell, { batch: B }),
            b = new StatefulRNN(cell, { batch: B });
          scope.add(a.run(x));
          scope.add(b.run(x));
          const run = dynamicRnnWithTape(cell, x);
          scope.add(run.outputs);
          scope.state(run.state);
          const withBoth = memory(ctx.backend);
          a.dispose();
          const afterA = memory(ctx.backend);
          // only a's state went (2 layers x h, c): the uploads stay for b and the tape
          expect(
            afterA.numTensors === withBoth.numTensors - 4,
            `disposing one of two holders changed live tensors from ${withBoth.numTensors} to ${afterA.numTensors} (4 state tensors expected to go)`,
          );
          scope.add(run.tape.backward());
          scope.add(b.run(x));
          b.dispose();
          // the last holder is gone, and the uploads with it: disposing the cell now frees nothing more
          const end = memory(ctx.backend);
          cell.dispose();
          const afterCell = memory(ctx.backend);
          expect(
            afterCell.numTensors === end.numTensors && afterCell.numBytes === end.numBytes,
            `after the last holder was disposed the cell still held ${end.numTensors - afterCell.numTensors} uploads`,
          );
          expect(baseline.numTensors <= end.numTensors, 'bookkeeping');
        });
      },
    },
    {
      id: 'memory/refused-training-chunk',
      title: 'a training chunk refused by the budget (forward or backward) changes no weight, holds nothing, and training goes on',
      notApplicable: (c) => (c.training ? null : 'the backend has no backward kernels'),
      run: async (ctx) => {
        await scoped(async (scope) => {
          const V = 6,
            TT = 20;
          const model = scope.add(
            new RnnModel(
              {
                inputSize: V,
                layers: [
                  { kind: 'lstm', units: 16 },
                  { kind: 'gru', units: 12 },
                ],
                outputSize: V,
              },
              { backend: ctx.backend, seed: 4 },
            ),
          );
          const trainer = scope.add(new TbpttTrainer(model, { batch: 2, optimizer: new Adam({ learningRate: 0.01 }) }));
          const x = scope.add(tensor(randomValues(2 * TT * V, 43), [2, TT, V], { backend: ctx.backend }));
          const targets = Array.from({ length: 2 * TT }, (_, i) => i % V);
          await trainer.trainChunk(x, targets);
          const base = memory(ctx.backend);
          const weights = () => model.cell.layers.flatMap((l) => Object.values(l.getWeights()).map((a) => Array.from(a as Float32Array)));
          const budget = getMemoryBudget(ctx.backend);
          const refusedBy = new Set<string>();
          try {
            for (let total = base.numBytes; total < base.numBytes + 4e6 && !refusedBy.has('tape'); total += 8192) {
              const before = weights();
              setMemoryBudget({ maxTotalBytes: total }, ctx.backend);
              try {
                await trainer.trainChunk(x, targets);
                break;
              } catch (error) {
                setMemoryBudget(budget, ctx.backend);
                if (!(error instanceof Error) || !('argument' in error)) throw error;
                refusedBy.add(String(error.argument));
                expectEqualArrays(`weights after a chunk refused by ${String(error.argument)}`, weights().flat(), before.flat());
                // the cells may keep their uploads (they are theirs); nothing else stays
                const m = memory(ctx.backend);
                expect(
                  m.numTensors <= base.numTensors + model.cell.layers.length,
                  `a refused chunk (${String(error.argument)}) left ${m.numTensors - base.numTensors} tensors`,
                );
              }
            }
          } finally {
            setMemoryBudget(budget, ctx.backend);
          }
          // a backend whose forward needs more scratch than its backward (backend-wasm: tfjs keeps every step's
          // intermediates until a chunk ends) may never reach the backward's refusal ('tape'); every one reaches the forward's
          expect(
            refusedBy.has('inputs'),
            `the budget search should hit the forward's refusal (argument inputs); got ${[...refusedBy].join(', ') || 'none'}`,
          );
          await trainer.trainChunk(x, targets);
          const end = memory(ctx.backend);
          expect(
            end.numTensors === base.numTensors && end.numBytes === base.numBytes,
            `after training on: ${end.numTensors - base.numTensors} tensors / ${end.numBytes - base.numBytes} bytes more than before the refusals`,
          );
        });
      },
    },
    {
      id: 'behaviour/nan-padding-past-length',
      title: "NaN inputs past a row's sequence length change nothing (they are padding)",
      run: nanPaddingPastLength,
    },
    {
      id: 'behaviour/reset-after-non-finite',
      title: 'reset(rows), resetStreams and getStateResetOp write zeros over NaN and Infinity',
      run: resetAfterNonFinite,
    },
    {
      id: 'errors/bad-values',
      title: 'values that are not finite numbers, unknown options and broken snapshots are refused by name',
      run: async (ctx) => {
        const n = B * H1;
        await misuse(ctx, ({ rnn, x, cell }) => [
          [
            'a string in tensor values',
            () => tensor([1, 'x' as unknown as number, 3], [3], { backend: ctx.backend }),
            { argument: 'values[1]', expected: 'a number', actual: '"x"' },
          ],
          // eslint-disable-next-line no-sparse-arrays
          [
            'a sparse array',
            () => tensor([1, , 3] as number[], [3], { backend: ctx.backend }),
            { argument: 'values[1]', expected: 'a number', actual: 'a hole' },
          ],
          [
            'null in tensor values',
            () => tensor([1, null as unknown as number], [2], { backend: ctx.backend }),
            { argument: 'values[1]', expected: 'a number', actual: 'null' },
          ],
          [
            'an unknown tensor option',
            () => tensor([1], [1], { backend: ctx.backend, device: 'gpu' } as never),
            { argument: 'options.device', expected: 'known options', actual: '"device"' },
          ],
          [
            'an unknown zeros option',
            () => zeros([1], { backend: ctx.backend, device: 'gpu' } as never),
            { argument: 'options.device', expected: 'known options', actual: '"device"' },
          ],
          [
            'checkFinite not a boolean',
            () => rnn.run(x, { checkFinite: 'no' as never }),
            { argument: 'options.checkFinite', expected: 'a boolean', actual: '"no"' },
          ],
          [
            'setState NaN',
            () =>
              rnn.setState([
                { h: badNumbers(n, 4, NaN), c: badNumbers(n, 0, 0) },
                { h: badNumbers(B * H2, 0, 0), c: badNumbers(B * H2, 0, 0) },
              ] as never),
            { argument: 'state[0].h[4]', expected: 'finite', actual: 'NaN' },
          ],
          [
            'setState Infinity in c',
            () =>
              rnn.setState([
                { h: badNumbers(n, 0, 0), c: badNumbers(n, 2, -Infinity) },
                { h: badNumbers(B * H2, 0, 0), c: badNumbers(B * H2, 0, 0) },
              ] as never),
            { argument: 'state[0].c[2]', expected: 'finite', actual: '-Infinity' },
          ],
          [
            'setState a string',
            () =>
              rnn.setState([
                { h: badNumbers(n, 1, 'x'), c: badNumbers(n, 0, 0) },
                { h: badNumbers(B * H2, 0, 0), c: badNumbers(B * H2, 0, 0) },
              ] as never),
            { argument: 'state[0].h[1]', expected: 'finite', actual: '"x"' },
          ],
          [
            'setState 1e39 (Infinity as float32)',
            () =>
              rnn.setState([
                { h: Float64Array.from(badNumbers(n, 3, 1e39) as number[]), c: new Float64Array(n) },
                { h: new Float64Array(B * H2), c: new Float64Array(B * H2) },
              ]),
            { argument: 'state[0].h[3]', expected: 'float32 can hold', actual: '1e+39' },
          ],
          [
            'restore layers [null, null]',
            () => rnn.restore({ version: 1, streams: [0, 1, 2], layers: [null, null] } as never),
            { argument: 'snapshot.layers[0]', expected: 'a layer state', actual: 'null' },
          ],
          [
            'restore one layer for two',
            () => rnn.restore({ version: 1, streams: [0, 1, 2], layers: [snapshotWith(badNumbers(n, 0, 0)).layers[0]] }),
            { type: ShapeError, argument: 'snapshot.layers', expected: '2 layer states', actual: '1 layer states' },
          ],
          [
            'restore a layer without h',
            () => rnn.restore(snapshotWith(undefined)),
            { argument: 'snapshot.layers[0].h', expected: `${n} numbers`, actual: 'undefined' },
          ],
          [
            'restore "oops"',
            () => rnn.restore(snapshotWith(badNumbers(n, 5, 'oops'))),
            { argument: 'snapshot.layers[0].h[5]', expected: 'finite', actual: '"oops"' },
          ],
          [
            'restore null',
            () => rnn.restore(snapshotWith(badNumbers(n, 5, null))),
            { argument: 'snapshot.layers[0].h[5]', expected: 'finite', actual: 'null' },
          ],
          [
            'restore true',
            () => rnn.restore(snapshotWith(badNumbers(n, 5, true))),
            { argument: 'snapshot.layers[0].h[5]', expected: 'finite', actual: 'true' },
          ],
          [
            'restore [5]',
            () => rnn.restore(snapshotWith(badNumbers(n, 5, [5]))),
            { argument: 'snapshot.layers[0].h[5]', expected: 'finite', actual: '[5]' },
          ],
          [
            'restore 1e39',
            () => rnn.restore(snapshotWith(badNumbers(n, 5, 1e39))),
            { argument: 'snapshot.layers[0].h[5]', expected: 'float32 can hold', actual: '1e+39' },
          ],
          [
            'restore NaN in c',
            () => rnn.restore(snapshotWith(badNumbers(n, 0, 0), badNumbers(n, 7, NaN))),
            { argument: 'snapshot.layers[0].c[7]', expected: 'finite', actual: 'NaN' },
          ],
          [
            'setWeights NaN',
            () =>
              cell.layers[0].setWeights({ ...cell.layers[0].getWeights(), bHh: Float32Array.from(badNumbers(4 * H1, 9, NaN) as number[]) }),
            { argument: 'weights.bHh[9]', expected: 'finite', actual: 'NaN' },
          ],
          [
            'setWeights a string',
            () => cell.layers[1].setWeights({ ...cell.layers[1].getWeights(), bIh: badNumbers(4 * H2, 2, '0.5') as number[] }),
            { argument: 'weights.bIh[2]', expected: 'finite', actual: '"0.5"' },
          ],
          [
            'setWeights Infinity',
            () =>
              cell.layers[0].setWeights({
                ...cell.layers[0].getWeights(),
                wHh: Float64Array.from(badNumbers(4 * H1 * H1, 1, Infinity) as number[]),
              }),
            { argument: 'weights.wHh[1]', expected: 'finite', actual: 'Infinity' },
          ],
          [
            'setWeights an unknown part',
            () => cell.layers[0].setWeights({ ...cell.layers[0].getWeights(), peephole: new Float32Array(1) } as never),
            { argument: 'weights.peephole', expected: 'known options', actual: '"peephole"' },
          ],
        ]);
        // the refused setWeights changed no weight: outputs equal those of a cell given the same weights afresh
        await scoped(async (scope) => {
          const cell = makeCell({ kind: 'lstm', sizes: [I, H1, H2] }, ctx.backend, 'float32', 3);
          scope.add(disposeCell(cell));
          const twin = makeCell({ kind: 'lstm', sizes: [I, H1, H2] }, ctx.backend, 'float32', 3);
          scope.add(disposeCell(twin));
          const bad = { ...cell.layers[0].getWeights(), bIh: Float32Array.from(badNumbers(4 * H1, 0, NaN) as number[]) };
          expectRecurError('setWeights NaN', () => cell.layers[0].setWeights(bad), {
            argument: 'weights.bIh[0]',
            expected: 'finite',
            actual: 'NaN',
          });
          const x = scope.add(tensor(randomValues(B * T * I, 9), [B, T, I], { backend: ctx.backend }));
          expectEqualArrays('outputs after a refused setWeights', await outputsOf(scope, cell, x), await outputsOf(scope, twin, x));
          // opting in is possible, and then NaN is what comes out
          cell.layers[0].setWeights(bad, { allowNonFinite: true });
          expect(Number.isNaN((await outputsOf(scope, cell, x))[0]), 'allowNonFinite: NaN weights should give NaN outputs');
        });
      },
    },
    {
      id: 'memory/refused-chunk',
      title: 'a chunk over the memory budget is refused before anything runs; the backend stays correct',
      run: async (ctx) => {
        await scoped(async (scope) => {
          const cell = makeCell({ kind: 'lstm', sizes: [I, H1, H2] }, ctx.backend, 'float32', 3);
          scope.add(disposeCell(cell));
          const rnn = scope.add(new StatefulRNN(cell, { batch: B }));
          const twin = scope.add(new StatefulRNN(cell, { batch: B }));
          const x = scope.add(tensor(randomValues(B * T * I, 21), [B, T, I], { backend: ctx.backend }));
          const long = 4000;
          const big = scope.add(tensor(randomValues(B * long * I, 22), [B, long, I], { backend: ctx.backend }));
          scope.add(rnn.run(x));
          scope.add(twin.run(x));
          const budget = getMemoryBudget(ctx.backend);
          const before = await rnn.readState();
          const mem = memory(ctx.backend);
          try {
            setMemoryBudget({ maxTotalBytes: mem.numBytes + 64 * 1024 }, ctx.backend);
            expectRecurError('a chunk whose outputs exceed the budget', () => rnn.run(big), {
              argument: 'chunk',
              expected: /at most .* in all/,
              actual: /more for .*\(4000 steps x batch 3/,
            });
            setMemoryBudget({ maxAllocationBytes: 1024 }, ctx.backend);
            expectRecurError('a tensor larger than maxAllocationBytes', () => zeros([1024], { backend: ctx.backend }), {
              argument: 'shape',
              expected: 'for one buffer',
              actual: '4.00 KiB',
            });
            expectRecurError('a batch whose state exceeds the budget', () => new StatefulRNN(cell, { batch: 1e9 }), {
              argument: 'batch',
              expected: 'for one buffer',
              actual: 'state',
            });
          } finally {
            setMemoryBudget(budget, ctx.backend);
          }
          const memAfter = memory(ctx.backend);
          if (memAfter.numTensors !== mem.numTensors || memAfter.numBytes !== mem.numBytes) {
            throw new CheckFailure(
              `the refused calls changed live tensors from ${mem.numTensors} (${mem.numBytes} B) to ${memAfter.numTensors} (${memAfter.numBytes} B)`,
            );
          }
          const after = await rnn.readState();
          after.forEach((s, l) => expectEqualArrays(`h[${l}] after the refusal`, s.h, before[l].h));
          // within budget the same long chunk runs, and gives what its twin (never refused) gives
          const y = await scope.add(rnn.run(big)).data();
          const yTwin = await scope.add(twin.run(big)).data();
          expectEqualArrays('outputs after the refusal against an object that was never refused', y, yTwin);
        });
      },
    },
    {
      id: 'memory/dispose-frees-uploads',
      title: "StatefulRNN.dispose() frees the state and the cell's weight uploads: 50 create/run/dispose cycles hold nothing",
      run: async (ctx) => {
        const x = tensor(randomValues(2 * 3 * I, 31), [2, 3, I], { backend: ctx.backend });
        try {
          const baseline = memory(ctx.backend);
          for (let i = 0; i < 50; i++) {
            const rnn = new StatefulRNN(new LSTMCell(32, { backend: ctx.backend, inputSize: I }), { batch: 2 });
            rnn.run(x).dispose();
            rnn.dispose();
          }
          const after = memory(ctx.backend);
          expect(
            after.numTensors <= baseline.numTensors && after.numBytes <= baseline.numBytes,
            `after 50 cycles: ${after.numTensors - baseline.numTensors} tensors / ${after.numBytes - baseline.numBytes} bytes more than before`,
          );
        } finally {
          x.dispose();
        }
      },
    },
    {
      id: 'model/byte-views',
      title: 'a model file loads the same from any view of its bytes (odd offsets, Node Buffers, pooled small Buffers)',
      run: async (ctx) => {
        await scoped(async (scope) => {
          const model = scope.add(
            new RnnModel(
              {
                inputSize: 3,
                layers: [
                  { kind: 'lstm', units: 4 },
                  { kind: 'gru', units: 3 },
                ],
                outputSize: 5,
              },
              { backend: ctx.backend, seed: 8 },
            ),
          );
          const bytes = model.toSafetensors();
          const views: [string, Uint8Array][] = [];
          for (const offset of [1, 3, 7]) {
            const big = new Uint8Array(bytes.length + 16);
            big.set(bytes, offset);
            views.push([`a view at offset ${offset}`, big.subarray(offset, offset + bytes.length)]);
          }
          const NodeBuffer = (globalThis as { Buffer?: { from(b: Uint8Array): Uint8Array; poolSize: number } }).Buffer;
          if (NodeBuffer) {
            expect(bytes.length < NodeBuffer.poolSize / 2, `the test model (${bytes.length} bytes) must fit Node's Buffer pool`);
            NodeBuffer.from(new Uint8Array(37)); // something before it in the pool
            views.push(['Buffer.from (pooled: a view into a shared 8 KiB buffer)', NodeBuffer.from(bytes)]);
          }
          const want = model.cell.layers.map((l) => l.getWeights());
          const x = scope.add(tensor(randomValues(2 * 3 * 3, 4), [2, 3, 3], { backend: ctx.backend }));
          const y = await outputsOf(scope, model.cell, x);
          for (const [what, view] of views) {
            const loaded = scope.add(RnnModel.fromSafetensors(view, { backend: ctx.backend }));
            loaded.cell.layers.forEach((l, i) => {
              const w = l.getWeights();
              for (const key of ['wIh', 'wHh', 'bIh', 'bHh'] as const)
                expectEqualArrays(`${what}: layer ${i} ${key}`, w[key], want[i][key]);
            });
            expectEqualArrays(`${what}: head weight`, loaded.head.weight, model.head.weight);
            expectEqualArrays(`${what}: outputs`, await outputsOf(scope, loaded.cell, x), y);
          }
        });
      },
    },
    {
      id: 'model/integrity',
      title: 'a damaged model file is refused by its CRC-32; files without one still load; NaN weights are refused',
      run: async (ctx) => {
        await scoped(async (scope) => {
          const model = scope.add(
            new RnnModel({ inputSize: 3, layers: [{ kind: 'lstm', units: 4 }], outputSize: 5 }, { backend: ctx.backend, seed: 9 }),
          );
          const bytes = model.toSafetensors();
          const flipped = bytes.slice();
          flipped[flipped.length - 3] ^= 0x10; // one bit of the head's bias
          expectRecurError('one flipped bit in the data', () => RnnModel.fromSafetensors(flipped, { backend: ctx.backend }), {
            argument: 'file tensor head.bias',
            expected: 'CRC-32',
            actual: 'CRC-32',
          });
          const { tensors, metadata } = decodeSafetensors(bytes);
          const { recur_crc32: _crc, ...plain } = metadata;
          const list = [...tensors.values()];
          const withoutChecksum = encodeSafetensors(list, plain);
          const loaded = scope.add(RnnModel.fromSafetensors(withoutChecksum, { backend: ctx.backend }));
          expectEqualArrays('a file without a checksum (another writer): head weight', loaded.head.weight, model.head.weight);
          const config = JSON.parse(plain.config);
          config.layers[0].units = 5;
          expectRecurError(
            'a config that does not fit its tensors',
            () => RnnModel.fromSafetensors(encodeSafetensors(list, { ...plain, config: JSON.stringify(config) }), { backend: ctx.backend }),
            { type: ShapeError, argument: 'file tensor layers.0.w_ih', expected: 'shape [20, 3]', actual: 'shape [16, 3]' },
          );
          const nan: NamedTensor[] = list.map((t) => ({ ...t, data: new Float32Array(t.data.length).fill(NaN) }));
          expectRecurError('an all-NaN file', () => RnnModel.fromSafetensors(encodeSafetensors(nan, plain), { backend: ctx.backend }), {
            argument: /^file tensor .*\[0\]$/,
            expected: 'a finite number',
            actual: 'NaN',
          });
        });
      },
    },
  ];
}
