import '@recur/backend-cpu';
import {
  BasicRNNCell,
  GRUCell,
  LSTMCell,
  MultiRNNCell,
  RecurError,
  StatefulRNN,
  disposeState,
  dynamicRnn,
  registerBackend,
  ready,
  seededRandom,
  tensor,
  type Cell,
} from '@recur/core';
import { maxAbsDiff } from '@recur/conformance';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { createSimdBackend, type SimdBackend } from '../src/index.js';

// Independent references: backend-cpu (scalar TypeScript, its own kernels) for values; for the threading, the
// same backend on one thread (a row's bits must not depend on which thread or which batch partner computed it).
registerBackend('simd-1', () => createSimdBackend({ threads: 1, name: 'simd-1' }));
registerBackend('simd-3', () => createSimdBackend({ threads: 3, name: 'simd-3' }));
const simd = (await ready('simd')) as SimdBackend;
await Promise.all([ready('simd-1'), ready('simd-3'), ready('cpu')]);
const random = seededRandom(21);
const values = (n: number) => Float32Array.from({ length: n }, () => random() * 2 - 1);

type Make = (backend: string) => Cell;
const CELLS: Record<string, Make> = {
  // 67 units: 17 blocks of 4 (the last one padded), split over two threads or more
  'lstm H=67': (backend) => new LSTMCell(67, { backend, inputSize: 13, seed: 1, forgetBias: 0.5 }),
  'gru reset-after H=70': (backend) => new GRUCell(70, { backend, inputSize: 9, seed: 2 }),
  'gru reset-before H=70': (backend) => new GRUCell(70, { backend, inputSize: 9, seed: 3, resetAfter: false }),
  'rnn tanh H=66': (backend) => new BasicRNNCell(66, { backend, inputSize: 5, seed: 4 }),
  'rnn relu H=66': (backend) => new BasicRNNCell(66, { backend, inputSize: 5, seed: 5, activation: 'relu' }),
  'stack lstm 96 / gru 64 / rnn 70': (backend) =>
    new MultiRNNCell([
      new LSTMCell(96, { backend, inputSize: 11, seed: 6 }),
      new GRUCell(64, { backend, seed: 7, resetAfter: false }),
      new BasicRNNCell(70, { backend, seed: 8 }),
    ]),
};

function run(make: Make, backend: string, x: Float32Array, shape: [number, number, number], sequenceLength?: number[]) {
  const cell = make(backend);
  const input = tensor(x, shape, { backend });
  const { outputs, state } = dynamicRnn(cell, input, { sequenceLength });
  const y = outputs.dataSync() as Float32Array;
  const states = (Array.isArray(state) ? state : [state]).map((s) => ('h' in s ? [s.h.dataSync(), s.c.dataSync()] : [s.dataSync()]));
  outputs.dispose();
  disposeState(state);
  input.dispose();
  cell.dispose();
  return { y, states: states.flat() as Float32Array[] };
}

const maxDiff = (a: Float32Array, b: Float32Array) => maxAbsDiff(a, b).max;

describe('backend-simd', () => {
  it(`runs a job on every core: ${availableParallelism()} cores here`, () => {
    expect(simd.threads).toBe(Math.min(4, availableParallelism()));
  });

  for (const [name, make] of Object.entries(CELLS)) {
    it(`${name}: outputs and states equal backend-cpu's (2e-5), with sequence lengths, on several threads`, () => {
      const B = 5,
        T = 9,
        I = make('cpu').layers[0].inputSize!;
      const x = values(B * T * I);
      const lens = [9, 0, 4, 9, 1];
      for (const seq of [undefined, lens]) {
        const ref = run(make, 'cpu', x, [B, T, I], seq);
        const got = run(make, 'simd', x, [B, T, I], seq);
        expect(simd.lastJobThreads).toBe(Math.min(2, simd.threads));
        expect(maxDiff(got.y, ref.y)).toBeLessThan(2e-5);
        got.states.forEach((s, i) => expect(maxDiff(s, ref.states[i])).toBeLessThan(2e-5));
        if (seq) for (let t = 0; t < T; t++) expect(got.y[((1 * T + t) * got.y.length) / (B * T)]).toBe(0); // row 1 has length 0
      }
    });
  }

  it('a row gives the same bits on 1, 2 or 3 threads, alone or in a batch, streamed or in one call', () => {
    const make = CELLS['stack lstm 96 / gru 64 / rnn 70'];
    const B = 3,
      T = 6,
      I = 11,
      H = 70;
    const x = values(B * T * I);
    const base = run(make, 'simd', x, [B, T, I]);
    for (const backend of ['simd-1', 'simd-3']) expect(run(make, backend, x, [B, T, I]).y).toEqual(base.y);
    // row 2 alone
    const alone = run(make, 'simd', x.slice(2 * T * I), [1, T, I]);
    expect(alone.y).toEqual(base.y.slice(2 * T * H));
    // streamed one step per call
    const cell = make('simd');
    const rnn = new StatefulRNN(cell, { batch: B });
    const streamed = new Float32Array(B * T * H);
    for (let t = 0; t < T; t++) {
      const frame = new Float32Array(B * I);
      for (let b = 0; b < B; b++) frame.set(x.subarray((b * T + t) * I, (b * T + t + 1) * I), b * I);
      const input = tensor(frame, [B, 1, I], { backend: 'simd' });
      const y = rnn.run(input).dataSync();
      for (let b = 0; b < B; b++) streamed.set(y.subarray(b * H, (b + 1) * H), (b * T + t) * H);
      input.dispose();
    }
    expect(streamed).toEqual(base.y);
    rnn.dispose();
    cell.dispose();
  });

  it('grows its linear memory for big layers, and gives it back when their weights are disposed', () => {
    const before = simd.linearMemoryBytes;
    const cell = new LSTMCell(300, { backend: 'simd', inputSize: 300, seed: 9 }); // 2.9 MB of packed weights: more than the whole initial memory (2 MiB)
    const x = values(2 * 3 * 300);
    const ref = run(() => new LSTMCell(300, { backend: 'cpu', inputSize: 300, seed: 9 }), 'cpu', x, [2, 3, 300]);
    const input = tensor(x, [2, 3, 300], { backend: 'simd' });
    const { outputs, state } = dynamicRnn(cell, input);
    expect(simd.linearMemoryBytes).toBeGreaterThan(before + 2.8e6);
    expect(maxDiff(outputs.dataSync() as Float32Array, ref.y)).toBeLessThan(2e-5);
    outputs.dispose();
    disposeState(state);
    input.dispose();
    cell.dispose();
    const scratch = simd.linearMemoryBytes - before; // the grow-only scratch of the largest chunk stays
    expect(scratch).toBeLessThan(1e6);
  });

  it('streams 2,000 steps without growing: tensors, bytes and linear memory stay level', () => {
    const cell = new LSTMCell(128, { backend: 'simd', inputSize: 32, seed: 10 });
    const rnn = new StatefulRNN(cell, { batch: 2 });
    const input = tensor(values(2 * 32), [2, 1, 32], { backend: 'simd' });
    const step = (n: number) => {
      for (let i = 0; i < n; i++) rnn.run(input).dispose();
    };
    step(10);
    const after10 = [simd.memory().numTensors, simd.memory().numBytes, simd.linearMemoryBytes];
    step(1990);
    expect([simd.memory().numTensors, simd.memory().numBytes, simd.linearMemoryBytes]).toEqual(after10);
    rnn.dispose();
    input.dispose();
    cell.dispose();
  });

  it('rejects bad options naming the argument, the expected and the actual value', async () => {
    for (const [options, argument] of [
      [{ threads: 0 }, 'options.threads'],
      [{ threads: 2.5 }, 'options.threads'],
      [{ spinMs: -1 }, 'options.spinMs'],
    ] as const) {
      const error = await createSimdBackend(options).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RecurError);
      expect((error as RecurError).argument).toBe(argument);
      expect((error as Error).message).toMatch(/expected .+ got/i);
    }
  });
});

describe('after close()', () => {
  // in a child process: before the fix this hung (the caller waited for helpers that were gone), and a synchronous
  // hang cannot be timed out from inside the test's own thread
  it('refuses a product with a BackendError instead of waiting for helpers that are gone', () => {
    const script = `
      const { createSimdBackend } = await import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)});
      const backend = await createSimdBackend({ threads: 2, name: 'simd-closing' });
      const n = 96, a = new Float32Array(n * n).fill(1), c = new Float32Array(n * n); // 96^3: a threaded product
      backend.hostGemmAtB(n, n, n, a, 0, n, a, 0, n, c, 0, n, false);
      if (c[0] !== n) throw new Error('wrong product ' + c[0]);
      await backend.close();
      try { backend.hostGemmAtB(n, n, n, a, 0, n, a, 0, n, c, 0, n, false); console.log('no error'); }
      catch (e) { console.log(e.name + ': ' + e.message); }`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(run.signal, 'the child hung').toBeNull();
    expect(run.stdout.trim(), run.stderr).toMatch(/^BackendError: .*closed by close\(\)/);
  });
});
