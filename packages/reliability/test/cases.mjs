// The bad-input matrix: every input the correctness issue named, as one case each, run on every backend.
// Plain ESM so that a child process can run one case alone (`node test/child.mjs BACKEND CASE`): a case that
// used to abort the process or hang fails its test instead of killing the runner.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '@recur/backend-cpu';
import '@recur/backend-wasm';
import '@recur/backend-simd';
import {
  LSTMCell,
  MultiRNNCell,
  RecurError,
  RnnModel,
  StatefulRNN,
  dynamicRnn,
  getBackend,
  memory,
  ready,
  seededRandom,
  tensor,
  zeros,
} from '@recur/core';

export const BACKENDS = ['cpu', 'wasm', 'simd'];
const B = 3,
  T = 4,
  I = 5,
  H1 = 7,
  H2 = 6;

const values = (n, seed = 1) => {
  const random = seededRandom(seed);
  return Float32Array.from({ length: n }, () => random() * 2 - 1);
};
const numbers = (n, at, value) => Array.from({ length: n }, (_, i) => (i === at ? value : 0.25));
const zerosLike = (v, n) => (ArrayBuffer.isView(v) ? new Float64Array(n) : numbers(n, -1, 0));
const hostState = (h0) => [
  { h: h0, c: zerosLike(h0, B * H1) },
  { h: zerosLike(h0, B * H2), c: zerosLike(h0, B * H2) },
];
const snapshot = (h0) => ({
  version: 1,
  streams: [0, 1, 2],
  layers: [
    { units: H1, h: h0, c: numbers(B * H1, -1, 0) },
    { units: H2, h: numbers(B * H2, -1, 0), c: numbers(B * H2, -1, 0) },
  ],
});
const cellOn = (backend, seed = 3) =>
  new MultiRNNCell([new LSTMCell(H1, { backend, inputSize: I, seed }), new LSTMCell(H2, { backend, seed: seed + 1 })]);

/** Max |a - b| of two arrays (Infinity for a NaN). */
function maxDiff(a, b) {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    m = Number.isNaN(d) ? Infinity : Math.max(m, d);
  }
  return m;
}

/**
 * Each case: `bad` inputs must be refused with a clear RecurError and leave the object and backend as they were;
 * `works` cases must run and pass their own verification. `isolate`: run in a child process with a time limit.
 * `only`: the backends the case is about (default: all).
 */
export const CASES = [
  { id: 'tensor: a string among the values', bad: ({ backend }) => tensor([1, 'x', 3], [3], { backend }) },
  { id: 'tensor: a sparse array', bad: ({ backend }) => tensor([1, , 3], [3], { backend }) }, // eslint-disable-line no-sparse-arrays
  { id: 'tensor: null among the values', bad: ({ backend }) => tensor([1, null], [2], { backend }) },
  { id: 'tensor: an object among the values', bad: ({ backend }) => tensor([1, {}], [2], { backend }) },
  { id: 'zeros [1e5, 1e5] (40 GB)', bad: ({ backend }) => zeros([1e5, 1e5], { backend }) },
  { id: 'tensor: unknown option device', bad: ({ backend }) => tensor([1], [1], { backend, device: 'gpu' }) },
  { id: 'zeros: unknown option device', bad: ({ backend }) => zeros([1], { backend, device: 'gpu' }) },
  { id: 'zeros [1e6, 1e6]', bad: ({ backend }) => zeros([1e6, 1e6], { backend }) },
  { id: "run: checkFinite 'no'", bad: ({ rnn, x }) => rnn.run(x, { checkFinite: 'no' }) },
  { id: 'setState: NaN', bad: ({ rnn }) => rnn.setState(hostState(Float64Array.from(numbers(B * H1, 2, NaN)))) },
  { id: 'setState: Infinity', bad: ({ rnn }) => rnn.setState(hostState(Float32Array.from(numbers(B * H1, 2, Infinity)))) },
  { id: 'setState: a string', bad: ({ rnn }) => rnn.setState(hostState(numbers(B * H1, 2, 'x'))) },
  { id: 'setState: 1e39 (Infinity in float32)', bad: ({ rnn }) => rnn.setState(hostState(Float64Array.from(numbers(B * H1, 2, 1e39)))) },
  {
    id: 'setWeights: NaN',
    bad: ({ cell }) => cell.layers[0].setWeights({ ...cell.layers[0].getWeights(), bIh: Float32Array.from(numbers(4 * H1, 1, NaN)) }),
  },
  {
    id: 'setWeights: Infinity',
    bad: ({ cell }) =>
      cell.layers[1].setWeights({ ...cell.layers[1].getWeights(), wHh: Float64Array.from(numbers(4 * H2 * H2, 0, -Infinity)) }),
  },
  {
    id: 'setWeights: a string',
    bad: ({ cell }) => cell.layers[0].setWeights({ ...cell.layers[0].getWeights(), bHh: numbers(4 * H1, 3, 'x') }),
  },
  {
    id: 'setWeights: 1e39 in float32',
    bad: ({ cell }) => cell.layers[0].setWeights({ ...cell.layers[0].getWeights(), bHh: numbers(4 * H1, 3, 1e39) }),
  },
  { id: 'restore: layers [null, null]', bad: ({ rnn }) => rnn.restore({ version: 1, streams: [0, 1, 2], layers: [null, null] }) },
  { id: 'restore: layers [null]', bad: ({ rnn }) => rnn.restore({ version: 1, streams: [0, 1, 2], layers: [null] }) },
  { id: 'restore: a layer without h', bad: ({ rnn }) => rnn.restore(snapshot(undefined)) },
  { id: "restore: 'oops'", bad: ({ rnn }) => rnn.restore(snapshot(numbers(B * H1, 4, 'oops'))) },
  { id: 'restore: null', bad: ({ rnn }) => rnn.restore(snapshot(numbers(B * H1, 4, null))) },
  { id: 'restore: true', bad: ({ rnn }) => rnn.restore(snapshot(numbers(B * H1, 4, true))) },
  { id: 'restore: [5]', bad: ({ rnn }) => rnn.restore(snapshot(numbers(B * H1, 4, [5]))) },
  { id: 'restore: 1e39', bad: ({ rnn }) => rnn.restore(snapshot(numbers(B * H1, 4, 1e39))) },
  { id: 'restore: not a snapshot', bad: ({ rnn }) => rnn.restore('oops') },
  { id: 'StatefulRNN batch 1e9 (aborted the process)', isolate: true, bad: ({ cell }) => new StatefulRNN(cell, { batch: 1e9 }) },
  { id: 'StatefulRNN batch 3e8 (aborted the process)', isolate: true, bad: ({ cell }) => new StatefulRNN(cell, { batch: 3e8 }) },
  { id: 'LSTMCell(1e6) run', isolate: true, bad: ({ backend, x }) => dynamicRnn(new LSTMCell(1e6, { backend }), x) },
  { id: 'inputSize 1e9, run', isolate: true, bad: ({ backend, x }) => dynamicRnn(new LSTMCell(4, { backend, inputSize: 1e9 }), x) },
  {
    id: 'RnnModel outputSize 1e9',
    isolate: true,
    bad: ({ backend }) => new RnnModel({ inputSize: 3, layers: [{ kind: 'lstm', units: 4 }], outputSize: 1e9 }, { backend }),
  },
  {
    id: 'a chunk whose outputs exceed 4 GiB (T = 2e7, LSTM(64))',
    isolate: true,
    bad: async ({ backend, scope }) => {
      const [cell, chunk] = [
        scope(new LSTMCell(64, { backend, inputSize: 1 })),
        scope(tensor(new Float32Array(2e7), [1, 2e7, 1], { backend })),
      ];
      return () => dynamicRnn(cell, chunk);
    },
  },
  {
    id: 'LSTM(64), T = 4e6 (broke backend-wasm)',
    isolate: true,
    only: ['wasm'],
    bad: async ({ backend, scope }) => {
      const [cell, chunk] = [
        scope(new LSTMCell(64, { backend, inputSize: 1 })),
        scope(tensor(new Float32Array(4e6), [1, 4e6, 1], { backend })),
      ];
      return () => dynamicRnn(cell, chunk);
    },
  },
  {
    id: 'run after close() (hung)',
    isolate: true,
    only: ['simd'],
    bad: async ({ backend, scope }) => {
      const rnn = scope(new StatefulRNN(new LSTMCell(256, { backend, inputSize: 8 })));
      const chunk = scope(tensor(new Float32Array(32), [1, 4, 8], { backend }));
      await getBackend(backend).close();
      return () => rnn.run(chunk);
    },
  },
  {
    id: 'chunk [1, 14e6, 1] on LSTM(16), then a fresh cell agrees with backend-cpu',
    isolate: true,
    only: ['simd'],
    works: async ({ backend, scope }) => {
      scope(
        dynamicRnn(
          scope(new LSTMCell(16, { backend, inputSize: 1, seed: 2 })),
          scope(tensor(new Float32Array(14e6).fill(0.1), [1, 14e6, 1], { backend })),
        ).outputs,
      );
      return agreesWithCpu(backend, scope, 16, 30, 2);
    },
  },
  {
    id: 'LSTM(512), batch 32, a chunk of 20,000 steps then 100',
    isolate: true,
    only: ['simd'],
    works: async ({ backend, scope }) => {
      const rnn = scope(new StatefulRNN(new LSTMCell(512, { backend, inputSize: 8, seed: 4 }), { batch: 32 }));
      const long = scope(rnn.run(scope(tensor(values(32 * 20000 * 8, 5), [32, 20000, 8], { backend }))));
      if (long.shape.join() !== '32,20000,512') return `long chunk outputs of shape [${long.shape}]`;
      scope(rnn.run(scope(tensor(values(32 * 100 * 8, 6), [32, 100, 8], { backend }))));
      return agreesWithCpu(backend, scope, 512, 20, 4);
    },
  },
  {
    id: 'a model file read with fs.readFileSync runs like the model saved',
    works: async ({ backend, scope }) => {
      const model = scope(new RnnModel({ inputSize: 3, layers: [{ kind: 'lstm', units: 4 }], outputSize: 2 }, { backend, seed: 3 }));
      const file = join(mkdtempSync(join(tmpdir(), 'recur-')), 'm.safetensors');
      writeFileSync(file, model.toSafetensors());
      const loaded = scope(RnnModel.fromSafetensors(readFileSync(file), { backend }));
      const x = scope(tensor(values(12, 7), [2, 2, 3], { backend }));
      const a = await scope(dynamicRnn(model.cell, x).outputs).data(),
        b = await scope(dynamicRnn(loaded.cell, x).outputs).data();
      return maxDiff(a, b) === 0 ? null : `outputs differ by ${maxDiff(a, b)}`;
    },
  },
  {
    id: 'a first input too wide for the host leaves the cell unbuilt: a valid one runs next',
    works: async ({ backend, scope }) => {
      const cell = scope(new LSTMCell(64, { backend }));
      const wide = scope(tensor(new Float32Array(2e7), [1, 1, 2e7], { backend })); // w_ih would be 20 GB
      try {
        dynamicRnn(cell, wide);
        return 'the wide input was not refused';
      } catch (error) {
        if (!(error instanceof RecurError) || error.argument !== 'inputs') return `refused with ${error}`;
      }
      if (cell.inputSize !== undefined) return `the refused input fixed the input size at ${cell.inputSize}`;
      const out = dynamicRnn(cell, scope(tensor(values(8), [1, 1, 8], { backend })));
      scope(out.outputs);
      scope(out.state.h);
      scope(out.state.c);
      return null;
    },
  },
  {
    id: '1,000 create/run/dispose cycles hold no memory',
    works: async ({ backend, x }) => {
      const before = memory(backend);
      for (let i = 0; i < 1000; i++) {
        const rnn = new StatefulRNN(cellOn(backend, i), { batch: B });
        rnn.run(x).dispose();
        rnn.dispose();
      }
      const after = memory(backend);
      return after.numTensors === before.numTensors && after.numBytes === before.numBytes
        ? null
        : `${after.numTensors - before.numTensors} tensors / ${after.numBytes - before.numBytes} bytes more`;
    },
  },
];

/** A fresh cell on `backend` against the same cell on backend-cpu: null if they agree. */
async function agreesWithCpu(backend, scope, units, time, seed) {
  const x = values(2 * time * 3, 8);
  const run = async (on) => {
    const out = dynamicRnn(
      scope(new LSTMCell(units, { backend: on, inputSize: 3, seed })),
      scope(tensor(x, [2, time, 3], { backend: on })),
    );
    scope(out.state.h);
    scope(out.state.c);
    return scope(out.outputs).data();
  };
  const d = maxDiff(await run(backend), await run('cpu'));
  return d <= 1e-5 ? null : `a fresh cell differs from backend-cpu by ${d}`;
}

/**
 * Runs one case on one backend. Outcomes: 'clear' (a RecurError naming argument, expected and actual, with state,
 * memory and the object's further work intact), 'works', or a failure: 'raw' (another error), 'accepted'
 * (garbage taken silently), 'corrupted' (refused, but something changed or the object stopped working), 'wrong'.
 */
export async function runCase(backendName, id) {
  const c = CASES.find((k) => k.id === id);
  if (!c) throw new Error(`no case ${JSON.stringify(id)}`);
  await ready(backendName);
  const held = [];
  const scope = (item) => {
    held.push(item);
    return item;
  };
  const cell = cellOn(backendName);
  const rnn = new StatefulRNN(cell, { batch: B });
  const x = tensor(values(B * T * I, 2), [B, T, I], { backend: backendName });
  rnn.run(x).dispose();
  const env = { backend: backendName, cell, rnn, x, scope };
  try {
    if (c.works) {
      const problem = await c.works(env);
      return problem ? { outcome: 'wrong', detail: problem } : { outcome: 'works' };
    }
    const stateBefore = await rnn.readState();
    const weightsBefore = cell.layers.map((l) => l.getWeights());
    let fn = () => c.bad(env);
    const prepared = c.bad.constructor.name === 'AsyncFunction' ? await c.bad(env) : null;
    if (prepared) fn = prepared;
    const memBefore = memory(backendName);
    let result;
    try {
      result = fn();
    } catch (error) {
      if (!(error instanceof RecurError)) return { outcome: 'raw', detail: `${error?.name}: ${error?.message}` };
      if (!error.argument || !error.expected || !error.actual)
        return { outcome: 'raw', detail: `a RecurError without all fields: ${error.message}` };
      const memAfter = memory(backendName);
      if (memAfter.numTensors !== memBefore.numTensors || memAfter.numBytes !== memBefore.numBytes) {
        return {
          outcome: 'corrupted',
          detail: `live tensors ${memBefore.numTensors} -> ${memAfter.numTensors}, bytes ${memBefore.numBytes} -> ${memAfter.numBytes}`,
          message: error.message,
        };
      }
      if (!getBackend(backendName).available().available) return { outcome: 'clear', message: error.message }; // closed on purpose
      const stateAfter = await rnn.readState();
      const changed =
        stateAfter.some((s, l) => maxDiff(s.h, stateBefore[l].h) !== 0 || maxDiff(s.c, stateBefore[l].c) !== 0) ||
        cell.layers.some((l, i) => Object.entries(l.getWeights()).some(([k, v]) => maxDiff(v, weightsBefore[i][k]) !== 0));
      if (changed) return { outcome: 'corrupted', detail: 'state or weights changed', message: error.message };
      const y = await scope(rnn.run(x)).data();
      if (!y.every(Number.isFinite)) return { outcome: 'corrupted', detail: 'the object no longer runs', message: error.message };
      return { outcome: 'clear', message: error.message };
    }
    if (result && typeof result.dispose === 'function') result.dispose();
    return { outcome: 'accepted', detail: 'no error' };
  } finally {
    for (const item of held.reverse()) {
      try {
        if (item && typeof item.dispose === 'function') item.dispose();
      } catch {
        // a closed backend may refuse; nothing to free then
      }
    }
    rnn.dispose();
    x.dispose();
  }
}

/** Cases that apply to a backend. */
export function casesFor(backend) {
  return CASES.filter((c) => !c.only || c.only.includes(backend));
}
