import '@recur/backend-cpu';
import '@recur/backend-wasm';
import '@recur/backend-simd';
import { CpuBackend } from '@recur/backend-cpu';
import { createSimdBackend } from '@recur/backend-simd';
import {
  BasicRNNCell,
  GRUCell,
  LSTMCell,
  MultiRNNCell,
  StatefulRNN,
  ready,
  registerBackend,
  tensor,
  type Cell,
  type LayerCell,
} from '@recur/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

/** A new seed each run, printed; RECUR_PROPERTY_SEED=<seed> replays a run. RECUR_PROPERTY_RUNS sets the count. */
const seed = process.env.RECUR_PROPERTY_SEED ? Number(process.env.RECUR_PROPERTY_SEED) : Math.floor(Math.random() * 2 ** 31);
const runs = Number(process.env.RECUR_PROPERTY_RUNS ?? 500);
// the same kernels with time slices of a step or two, so that every chunk of more steps runs in slices
registerBackend('cpu-sliced', () => Object.assign(new CpuBackend('cpu-sliced'), { sliceBytes: 1 }));
registerBackend('simd-sliced', async () =>
  Object.assign(await createSimdBackend({ name: 'simd-sliced', threads: 2 }), { sliceBytes: 4096 }),
);
const OTHERS = ['wasm', 'simd', 'cpu-sliced', 'simd-sliced'];

await Promise.all(['cpu', ...OTHERS].map((b) => ready(b)));

const layerArb = fc.record({
  kind: fc.constantFrom('lstm', 'gru', 'rnn'),
  units: fc.oneof(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 13, max: 80 })),
  resetAfter: fc.boolean(),
  relu: fc.boolean(),
  forgetBias: fc.constantFrom(0, 1),
});

const caseArb = fc.record({
  layers: fc.array(layerArb, { minLength: 1, maxLength: 3 }),
  inputSize: fc.integer({ min: 1, max: 9 }),
  batch: fc.integer({ min: 1, max: 5 }),
  chunks: fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 3 }),
  timeMajor: fc.boolean(),
  useLengths: fc.boolean(),
  resetRow: fc.option(fc.nat(), { nil: null }),
  seed: fc.integer({ min: 1, max: 1e6 }),
  scale: fc.constantFrom(0.5, 1, 3),
});

type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

function build(c: Case, backend: string): Cell {
  const layers: LayerCell[] = c.layers.map((l, i) => {
    const common = { backend, seed: c.seed + i, ...(i === 0 ? { inputSize: c.inputSize } : {}) };
    if (l.kind === 'lstm') return new LSTMCell(l.units, { ...common, forgetBias: l.forgetBias });
    if (l.kind === 'gru') return new GRUCell(l.units, { ...common, resetAfter: l.resetAfter });
    return new BasicRNNCell(l.units, { ...common, activation: l.relu ? 'relu' : 'tanh' });
  });
  return layers.length === 1 ? layers[0] : new MultiRNNCell(layers);
}

/** Runs the case's chunks (with lengths and a row reset between them) on a backend; returns every output and the state. */
async function run(c: Case, backend: string): Promise<number[]> {
  const cell = build(c, backend);
  const rnn = new StatefulRNN(cell, { batch: c.batch, timeMajor: c.timeMajor });
  const out: number[] = [];
  let k = 0;
  try {
    for (const T of c.chunks) {
      const n = c.batch * T * c.inputSize;
      const values = Float32Array.from({ length: n }, (_, i) => c.scale * Math.sin(c.seed * 0.37 + (k + i) * 0.91));
      k += n;
      const x = tensor(values, c.timeMajor ? [T, c.batch, c.inputSize] : [c.batch, T, c.inputSize], { backend });
      const sequenceLength = c.useLengths ? Array.from({ length: c.batch }, (_, b) => (b * 3 + T + c.seed) % (T + 1)) : undefined;
      const y = rnn.run(x, { sequenceLength });
      out.push(...(await y.data()));
      y.dispose();
      x.dispose();
      if (c.resetRow !== null) rnn.reset([c.resetRow % c.batch]);
    }
    for (const s of await rnn.readState()) out.push(...s.h, ...(s.c ?? []));
    return out;
  } finally {
    rnn.dispose();
    cell.dispose();
  }
}

describe('property: every backend agrees with backend-cpu on random configurations', () => {
  it(`${runs} random stacks, sizes, chunkings, lengths and resets (seed ${seed})`, { timeout: 600_000 }, async () => {
    console.log(`property test: seed ${seed}, ${runs} cases (replay: RECUR_PROPERTY_SEED=${seed})`);
    let worst = 0;
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const reference = await run(c, 'cpu');
        for (const backend of OTHERS) {
          const got = await run(c, backend);
          expect(got.length).toBe(reference.length);
          for (let i = 0; i < got.length; i++) {
            const d = Math.abs(got[i] - reference[i]);
            const bound = 2e-5 * Math.max(1, Math.abs(reference[i]));
            if (!(d <= bound))
              throw new Error(`${backend} differs from cpu by ${d} at [${i}] (${got[i]} vs ${reference[i]}) in ${JSON.stringify(c)}`);
            worst = Math.max(worst, d / Math.max(1, Math.abs(reference[i])));
          }
        }
      }),
      { seed, numRuns: runs },
    );
    console.log(`property test: worst relative difference ${worst.toExponential(2)} over ${runs} cases x ${OTHERS.length} backends`);
  });
});
