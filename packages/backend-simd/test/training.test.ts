import '@recur/backend-cpu';
import {
  Adam,
  gemmABt,
  gemmAtB,
  BasicRNNCell,
  GRUCell,
  LSTMCell,
  MultiRNNCell,
  RnnModel,
  TbpttTrainer,
  dynamicRnnWithTape,
  getBackend,
  ready,
  registerBackend,
  seededRandom,
  tensor,
  type Cell,
  type Tensor,
} from '@recur/core';
import { maxAbsDiff } from '@recur/conformance';
import { describe, expect, it } from 'vitest';
import { createSimdBackend, type SimdBackend } from '../src/index.js';

// Training on simd runs backend-cpu's kernels with our SIMD GEMM: the reference is backend-cpu with its scalar
// GEMM. Sizes are chosen so that every product is big enough for the SIMD path and hits its edges: odd row and
// column counts (tile tails), k not a multiple of 4, over 512 rows of k (two k blocks: T*B = 553), over 64 rows of
// W (two panels), threads splitting N (long) and M (short N: the input gradient with I = 13).
registerBackend('simd-3', () => createSimdBackend({ threads: 3, name: 'simd-3' }));
await Promise.all([ready('simd'), ready('simd-3'), ready('cpu')]);
const random = seededRandom(33);
const values = (n: number) => Float32Array.from({ length: n }, () => random() * 2 - 1);

type Make = (backend: string) => Cell;
const CELLS: Record<string, Make> = {
  'lstm H=67': (backend) => new LSTMCell(67, { backend, inputSize: 13, seed: 1, forgetBias: 1 }),
  'gru reset-after H=70': (backend) => new GRUCell(70, { backend, inputSize: 13, seed: 2 }),
  'gru reset-before H=70': (backend) => new GRUCell(70, { backend, inputSize: 13, seed: 3, resetAfter: false }),
  'rnn tanh H=66': (backend) => new BasicRNNCell(66, { backend, inputSize: 13, seed: 4 }),
  'stack lstm 96 / rnn relu 70': (backend) =>
    new MultiRNNCell([
      new LSTMCell(96, { backend, inputSize: 13, seed: 6 }),
      new BasicRNNCell(70, { backend, seed: 8, activation: 'relu' }),
    ]),
};

function gradients(
  make: Make,
  backend: string,
  x: Float32Array,
  dy: Float32Array,
  shape: [number, number, number],
  sequenceLength?: number[],
) {
  const cell = make(backend);
  const input = tensor(x, shape, { backend });
  const { outputs, state, tape } = dynamicRnnWithTape(cell, input, { sequenceLength });
  const dOutputs = tensor(dy, outputs.shape, { backend });
  const g = tape.backward({ dOutputs });
  const read = (t: Tensor) => t.dataSync() as Float32Array;
  const result = {
    y: read(outputs),
    dx: read(g.dInputs!),
    weights: g.dWeights.flatMap((w) => [read(w.wIh), read(w.wHh), read(w.bIh), read(w.bHh)]),
    dh0: (Array.isArray(g.dInitialState) ? g.dInitialState : [g.dInitialState]).flatMap((s) =>
      'h' in s ? [read(s.h), read(s.c)] : [read(s)],
    ),
  };
  for (const t of [outputs, dOutputs, input]) t.dispose();
  (Array.isArray(state) ? state : [state]).forEach((s) => ('h' in s ? (s.h.dispose(), s.c.dispose()) : s.dispose()));
  g.dispose();
  cell.dispose();
  return result;
}

/** Largest difference relative to the reference's largest magnitude (gradients summed over 553 rows grow). */
const relative = (got: Float32Array, ref: Float32Array) => maxAbsDiff(got, ref).max / Math.max(1e-6, ...Array.from(ref, Math.abs));

describe('backend-simd training (backend-cpu kernels, SIMD GEMM)', () => {
  const B = 7,
    T = 79,
    I = 13;
  const x = values(B * T * I);
  for (const [name, make] of Object.entries(CELLS)) {
    for (const backend of ['simd', 'simd-3']) {
      it(`${name} on ${backend}: outputs, input, state and weight gradients equal backend-cpu's (relative 1e-5), with sequence lengths`, () => {
        const H = make('cpu').layers.at(-1)!.units;
        const dy = values(B * T * H);
        for (const seq of [undefined, [79, 0, 40, 79, 1, 78, 60]]) {
          const ref = gradients(make, 'cpu', x, dy, [B, T, I], seq);
          const got = gradients(make, backend, x, dy, [B, T, I], seq);
          expect(relative(got.y, ref.y)).toBeLessThan(1e-5);
          expect(relative(got.dx, ref.dx)).toBeLessThan(1e-5);
          got.dh0.forEach((d, i) => expect(relative(d, ref.dh0[i])).toBeLessThan(1e-5));
          got.weights.forEach((d, i) => expect(relative(d, ref.weights[i]), `weight gradient ${i}`).toBeLessThan(1e-5));
        }
      });
    }
  }

  it("places each layer's kernels (and their transposes) in its linear memory once and frees them with the layer; tapes and gate gradients kept there are freed too", () => {
    const simd = getBackend('simd') as SimdBackend;
    const make = CELLS['lstm H=67'];
    const dy = values(B * T * 67);
    const cell = make('simd');
    const input = tensor(x, [B, T, I], { backend: 'simd' });
    const before = simd.memory().numBytes;
    const { tape } = dynamicRnnWithTape(cell, input);
    const placed = 67 * 4 * (13 + 67) * 4; // W_ih and W_hh in float32
    expect(simd.memory().numBytes - before).toBeGreaterThanOrEqual(placed);
    tape.dispose();
    gradients(make, 'simd', x, dy, [B, T, I]); // scratch grown by a whole run
    const settled = simd.linearMemoryBytes;
    gradients(make, 'simd', x, dy, [B, T, I]);
    expect(simd.linearMemoryBytes).toBe(settled); // each cell was disposed: its placed arrays went with it
    cell.dispose();
    input.dispose();
  });
});

describe('backend-simd whole training steps (its GEMM in the kernels and, through hostGemm, in the dense head)', () => {
  it("three TBPTT chunks of LSTM(67) x 2 + dense(89), Adam, clipping: losses, norms and every parameter equal backend-cpu's", async () => {
    const B = 7,
      T = 40,
      V = 89;
    const ids = Array.from({ length: B * (T + 1) }, () => Math.floor(random() * V));
    const x = new Float32Array(B * T * V),
      targets: number[] = [];
    for (let b = 0; b < B; b++)
      for (let t = 0; t < T; t++) {
        x[(b * T + t) * V + ids[b * (T + 1) + t]] = 1;
        targets.push(ids[b * (T + 1) + t + 1]);
      }
    const train = async (backend: string) => {
      const model = new RnnModel(
        {
          inputSize: V,
          layers: [
            { kind: 'lstm', units: 67 },
            { kind: 'lstm', units: 67 },
          ],
          outputSize: V,
        },
        { backend, seed: 4 },
      );
      const trainer = new TbpttTrainer(model, { batch: B, optimizer: new Adam({ learningRate: 0.01 }), clipNorm: 1 });
      const input = tensor(x, [B, T, V], { backend });
      const reports = [];
      for (let k = 0; k < 3; k++) reports.push(await trainer.trainChunk(input, targets));
      const params = [
        ...model.cell.layers.flatMap((l) => Object.values(l.getWeights()) as Float32Array[]),
        model.head.weight as Float32Array,
        model.head.bias as Float32Array,
      ];
      input.dispose();
      trainer.dispose();
      model.dispose();
      return { reports, params };
    };
    const ref = await train('cpu'),
      got = await train('simd');
    got.reports.forEach((r, k) => {
      expect(Math.abs(r.loss - ref.reports[k].loss) / ref.reports[k].loss).toBeLessThan(1e-5);
      expect(Math.abs(r.gradNorm - ref.reports[k].gradNorm) / ref.reports[k].gradNorm).toBeLessThan(1e-4);
    });
    got.params.forEach((p, i) => expect(maxAbsDiff(p, ref.params[i]).max, `parameter ${i}`).toBeLessThan(1e-4));
  });
});

describe("backend-simd GEMMs against core's (float64 references of the same float32 inputs)", () => {
  const products = (name: string) => {
    const b = getBackend(name) as SimdBackend;
    return { gemm: b.hostGemm, gemmAtB: b.hostGemmAtB };
  };
  const simd = products('simd'),
    simd3 = products('simd-3');
  const close = (got: Float32Array, ref: Float64Array, scale: number) => expect(maxAbsDiff(got, ref).max / scale).toBeLessThan(2e-6);
  it('C = A·Wᵀ: tiles and tails, long k (two blocks), offsets, strides, accumulation, split along M and along N', () => {
    for (const [M, N, K] of [
      [5, 131, 517],
      [203, 7, 130],
      [64, 64, 64],
      [3, 1, 600],
    ]) {
      for (const accumulate of [false, true]) {
        const lda = K + 3,
          ldw = K + 1,
          ldc = N + 2;
        const A = values(2 + M * lda),
          W = values(1 + N * ldw),
          C = values(4 + M * ldc);
        const ref = Float64Array.from(C);
        gemmABt(M, N, K, Float64Array.from(A), 2, lda, Float64Array.from(W), 1, ldw, ref, 4, ldc, accumulate);
        for (const backend of [simd, simd3]) {
          const got = C.slice();
          backend.gemm(M, N, K, A, 2, lda, W, 1, ldw, got, 4, ldc, accumulate);
          close(got, ref, Math.sqrt(K));
        }
      }
    }
  });
  it('C = Aᵀ·B: tiles of 8 and 4 columns, scalar tails, several row blocks, offsets, strides, accumulation, split along M and N', () => {
    for (const [M, N, R] of [
      [268, 13, 553],
      [7, 203, 150],
      [64, 67, 64],
      [1, 9, 700],
    ]) {
      for (const accumulate of [false, true]) {
        const lda = M + 5,
          ldb = N + 2,
          ldc = N + 1;
        const A = values(3 + R * lda),
          B = values(2 + R * ldb),
          C = values(1 + M * ldc);
        const ref = Float64Array.from(C);
        gemmAtB(M, N, R, Float64Array.from(A), 3, lda, Float64Array.from(B), 2, ldb, ref, 1, ldc, accumulate);
        for (const backend of [simd, simd3]) {
          const got = C.slice();
          backend.gemmAtB(M, N, R, A, 3, lda, B, 2, ldb, got, 1, ldc, accumulate);
          close(got, ref, Math.sqrt(R));
        }
      }
    }
  });
});
