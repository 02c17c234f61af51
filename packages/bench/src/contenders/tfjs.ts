import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import type { BenchCase } from '../cases.js';
import type { CaseData, Contender, Prepared } from './types.js';

const transpose = (a: Float32Array, rows: number, cols: number) => {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
  return out;
};

/** Keras's gate order: LSTM i, f, c, o (as ours); GRU z, r, h (ours r, z, n). Kernels [in, G*H]. */
function kerasKernel(values: Float32Array, cell: 'lstm' | 'gru', H: number, cols: number): Float32Array {
  if (cell === 'lstm') return transpose(values, 4 * H, cols);
  const swapped = new Float32Array(values.length);
  swapped.set(values.subarray(H * cols, 2 * H * cols), 0);
  swapped.set(values.subarray(0, H * cols), H * cols);
  swapped.set(values.subarray(2 * H * cols), 2 * H * cols);
  return transpose(swapped, 3 * H, cols);
}

/**
 * tfjs-layers' own LSTM/GRU layer on a tfjs backend ('cpu' or 'wasm'), with the case's weights. Its defaults are
 * Keras 1's (hard sigmoid); the sigmoid is set so that the layer computes what the others compute.
 */
export function tfjsContender(backend: 'cpu' | 'wasm'): Contender {
  return {
    name: `tfjs-layers-${backend}`,
    role: 'peer',
    skip: (c) => (c.mode === 'training' ? "tfjs-core's node build registers no gradient functions: tfjs-layers cannot train here" : null),
    async prepare(c: BenchCase, { weights, x }: CaseData): Promise<Prepared> {
      await tf.setBackend(backend);
      const { H, B, T } = c;
      const lstm = c.cell === 'lstm';
      const steps = c.mode === 'streaming' ? 1 : T;
      const common = { units: H, recurrentInitializer: 'glorotUniform', recurrentActivation: 'sigmoid', returnSequences: true, returnState: c.mode === 'streaming' } as const;
      const layer = lstm ? tfl.layers.lstm(common) : tfl.layers.gru(common);
      const xAll = tf.tensor3d(x, [B, T, H]);
      const init = () => (lstm ? [tf.zeros([B, H]), tf.zeros([B, H])] : [tf.zeros([B, H])]);
      tf.tidy(() => void layer.apply(tf.slice(xAll, [0, 0, 0], [B, steps, H]), c.mode === 'streaming' ? { initialState: init() } : undefined));
      // with the reset gate before the product every bias adds outside it: one bias, b_ih + b_hh
      const bias = Float32Array.from(weights.bIh, (v, i) => v + weights.bHh[i]);
      layer.setWeights(lstm
        ? [tf.tensor2d(kerasKernel(weights.wIh, 'lstm', H, H), [H, 4 * H]), tf.tensor2d(kerasKernel(weights.wHh, 'lstm', H, H), [H, 4 * H]), tf.tensor1d(bias)]
        : [tf.tensor2d(kerasKernel(weights.wIh, 'gru', H, H), [H, 3 * H]), tf.tensor2d(kerasKernel(weights.wHh, 'gru', H, H), [H, 3 * H]),
          tf.tensor1d(kerasKernel(bias, 'gru', H, 1))]);
      if (c.mode === 'streaming') {
        const frames = Array.from({ length: T }, (_, t) => tf.tidy(() => tf.slice(xAll, [0, t, 0], [B, 1, H])));
        const stream = (collect: Float32Array | null) => {
          void tf.setBackend(backend);
          let state = init();
          frames.forEach((frame, t) => {
            const [y, ...next] = layer.apply(frame, { initialState: state }) as tf.Tensor[];
            const out = y.dataSync() as Float32Array;
            if (collect) for (let b = 0; b < B; b++) collect.set(out.subarray(b * H, (b + 1) * H), (b * T + t) * H);
            y.dispose();
            tf.dispose(state);
            state = next;
          });
          tf.dispose(state);
        };
        return {
          run: () => stream(null),
          outputs: async () => {
            const all = new Float32Array(B * T * H);
            stream(all);
            return all;
          },
          dispose: () => {
            tf.dispose([...frames, xAll]);
            layer.dispose();
          },
        };
      }
      const forward = () => {
        void tf.setBackend(backend); // already initialised: switches synchronously
        return tf.tidy(() => (layer.apply(xAll) as tf.Tensor).dataSync() as Float32Array);
      };
      return {
        run: forward,
        outputs: async () => forward(),
        dispose: () => {
          xAll.dispose();
          layer.dispose();
        },
      };
    },
  };
}
