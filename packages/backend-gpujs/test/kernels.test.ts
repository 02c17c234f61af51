import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import '@recur/backend-cpu';
import { BasicRNNCell, GRUCell, LSTMCell, LSTMStateTuple, disposeState, dynamicRnn, tensor, type LayerCell, type Tensor } from '@recur/core';
import type { GPU as GpuType, Texture } from 'gpu.js';
import { gruAfterStepKernel, gruBeforeStepKernel, gruResetKernel } from '../src/kernels/gru-step.js';
import { lstmStepKernel } from '../src/kernels/lstm-step.js';
import { projectionKernel } from '../src/kernels/projection.js';
import { rnnStepKernel } from '../src/kernels/rnn-step.js';
import { SHADER_FUNCTIONS } from '../src/kernels/math.js';

// The forward kernels on headless-gl (under xvfb-run) against backend-cpu's cells: same weights, inputs, lengths.
const { GPU } = createRequire(import.meta.url)('gpu.js') as typeof import('gpu.js');
const rowsOf = (flat: ArrayLike<number>, cols: number) => Array.from({ length: flat.length / cols }, (_, r) => Float32Array.from({ length: cols }, (_, c) => flat[r * cols + c]));
const flat = (t: Texture) => Float32Array.from((t.toArray() as Float32Array[]).flatMap((row) => Array.from(row)));
const release = (t: Texture | Float32Array[]) => {
  if (!Array.isArray(t)) t.delete();
};

const T = 7, B = 3, I = 5, H = 6, lengths = [7, 4, 0];
const CELLS: readonly { name: string; make: () => LayerCell }[] = [
  { name: 'lstm', make: () => new LSTMCell(H, { backend: 'cpu', inputSize: I, seed: 4 }) },
  { name: 'gru (reset after)', make: () => new GRUCell(H, { backend: 'cpu', inputSize: I, seed: 5 }) },
  { name: 'gru (reset before, TF1)', make: () => new GRUCell(H, { backend: 'cpu', inputSize: I, seed: 6, resetAfter: false }) },
  { name: 'rnn tanh', make: () => new BasicRNNCell(H, { backend: 'cpu', inputSize: I, seed: 7 }) },
  { name: 'rnn relu', make: () => new BasicRNNCell(H, { backend: 'cpu', inputSize: I, seed: 8, activation: 'relu' }) },
];

/** One chunk on the kernels: the projection over all T·B rows, then the cell's step kernels; h per step and the final state. */
function forwardOnGpu(gpu: GpuType, cell: LayerCell, x: Float32Array): { steps: Float32Array[]; h: Float32Array; c: Float32Array | null } {
  const w = cell.getWeights(), spec = cell.spec(), G = w.bIh.length;
  const resetAfter = spec.kind === 'gru' && spec.resetAfter;
  // biases folded into the projection, but b_hn of a reset-after GRU (the reset gate scales it)
  const bias = Float32Array.from(w.bIh, (v, i) => v + (resetAfter && i >= 2 * H ? 0 : w.bHh[i]));
  const proj = projectionKernel(gpu, T * B, I, G)(rowsOf(x, I), rowsOf(w.wIh, I), [bias]) as Texture;
  const whh = rowsOf(w.wHh, H), lens = [Float32Array.from(lengths)], zeros = () => rowsOf(new Float32Array(B * H), H);
  const lstm = lstmStepKernel(gpu, B, H), after = gruAfterStepKernel(gpu, B, H), reset = gruResetKernel(gpu, B, H), before = gruBeforeStepKernel(gpu, B, H);
  const rnn = rnnStepKernel(gpu, B, H, spec.kind === 'rnn' && spec.activation === 'relu');
  let h: Texture | Float32Array[] = zeros(), c: Texture | Float32Array[] = zeros();
  const steps: Float32Array[] = [];
  for (let t = 0; t < T; t++) {
    let hNew: Texture;
    if (spec.kind === 'lstm') {
      const r = lstm(proj, t, h, c, whh, lens) as unknown as { result: Texture; c: Texture };
      release(c);
      c = r.c;
      hNew = r.result;
    } else if (spec.kind === 'gru' && spec.resetAfter) {
      hNew = after(proj, t, h, whh, [w.bHh.slice(2 * H)], lens) as Texture;
    } else if (spec.kind === 'gru') {
      const r = reset(proj, t, h, whh) as Texture;
      hNew = before(proj, t, h, r, whh, lens) as Texture;
      r.delete();
    } else {
      hNew = rnn(proj, t, h, whh, lens) as Texture;
    }
    release(h);
    h = hNew;
    steps.push(flat(hNew));
  }
  const out = { steps, h: flat(h as Texture), c: spec.kind === 'lstm' ? flat(c as Texture) : null };
  release(h);
  release(c);
  proj.delete();
  return out;
}

describe('backend-gpujs forward kernels (projection over all T·B rows, one fused kernel a step, seqLens)', () => {
  const gpu = new GPU({ mode: 'headlessgl' });
  for (const fn of Object.values(SHADER_FUNCTIONS)) gpu.addFunction(fn);
  for (const { name, make } of CELLS) {
    it(`${name}: every step's output and the final state equal backend-cpu's within 2e-4`, async () => {
      const cell = make();
      const x = Float32Array.from({ length: T * B * I }, (_, i) => Math.sin(i * 0.37) * 1.5); // time-major [T, B, I]
      const input = tensor(x, [T, B, I], { backend: 'cpu' });
      const ref = dynamicRnn(cell, input, { timeMajor: true, sequenceLength: lengths });
      const y = (await ref.outputs.data()) as Float32Array;
      const got = forwardOnGpu(gpu, cell, x);
      let worst = 0;
      for (let t = 0; t < T; t++) {
        for (let b = 0; b < B; b++) {
          for (let j = 0; j < H; j++) {
            const expected = y[(t * B + b) * H + j];
            if (t < lengths[b]) worst = Math.max(worst, Math.abs(got.steps[t][b * H + j] - expected));
            else expect(expected).toBe(0); // the reference emits zeros past a row's length; the kernels keep the state
          }
        }
      }
      expect(worst).toBeLessThan(2e-4);
      const state = ref.state instanceof LSTMStateTuple ? ref.state : null;
      const hT = (await (state ? state.h : (ref.state as Tensor)).data()) as Float32Array;
      got.h.forEach((v, i) => expect(Math.abs(v - hT[i])).toBeLessThan(2e-4));
      if (state) {
        const cT = (await state.c.data()) as Float32Array;
        got.c!.forEach((v, i) => expect(Math.abs(v - cT[i])).toBeLessThan(2e-4));
      }
      ref.outputs.dispose();
      disposeState(ref.state);
      input.dispose();
      cell.dispose();
    });
  }
});
