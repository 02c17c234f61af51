import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { toKerasGRU, toKerasLSTM } from '@recur/core';
import type { BenchCase } from '../cases.js';
import type { CaseData, Contender, Prepared } from './types.js';

/**
 * tfjs-layers' own LSTM/GRU layer on a tfjs backend ('cpu' or 'wasm'), with the case's weights. Its defaults are
 * Keras 1's (hard sigmoid); the sigmoid is set so that the layer computes what the others compute.
 */
export function tfjsContender(backend: 'cpu' | 'wasm'): Contender {
  return {
    name: `tfjs-layers-${backend}`,
    role: 'peer',
    skip: (c) => (c.mode === 'training' || c.mode === 'model' ? "tfjs-core's node build registers no gradient functions: tfjs-layers cannot train here"
      : c.resetAfter ? 'tfjs-layers 4.22 has no reset_after GRU' : c.cell === 'rnn' ? 'the bench compares tfjs-layers on LSTM and GRU only' : null),
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
      // Keras layout (kernels [in, G*H]; GRU gates z, r, h; one bias: reset before the product, as the cases use)
      const k = lstm ? toKerasLSTM(weights, H, H) : toKerasGRU(weights, H, H, false);
      layer.setWeights([tf.tensor2d(k.kernel, [H, (lstm ? 4 : 3) * H]), tf.tensor2d(k.recurrentKernel, [H, (lstm ? 4 : 3) * H]), tf.tensor1d(k.bias)]);
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
