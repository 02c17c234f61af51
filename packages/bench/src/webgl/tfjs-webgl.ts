import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { toKerasGRU, toKerasLSTM, type LayerWeights } from '@recur/core';
import type { BenchCase } from '../cases.js';
import type { CaseData, Contender, Prepared } from '../contenders/types.js';

/** Keras kernels of Recur-layout weights (or of their gradients: the map is a permutation and a transpose). */
const keras = (c: BenchCase, w: LayerWeights) => (c.cell === 'lstm' ? toKerasLSTM(w, c.H, c.H) : toKerasGRU(w, c.H, c.H, false));

/** What the agreement check compares for tfjs's training: the two kernels' gradients, in Keras's layout. */
export function kerasKernelGradients(c: BenchCase, g: { wIh: Float32Array; wHh: Float32Array }): Float32Array {
  const G = g.wIh.length / c.H, zeros = new Float32Array(G);
  const k = keras(c, { wIh: g.wIh, wHh: g.wHh, bIh: zeros, bHh: zeros });
  const out = new Float32Array(k.kernel.length + k.recurrentKernel.length);
  out.set(k.kernel);
  out.set(k.recurrentKernel, k.kernel.length);
  return out;
}

/**
 * tfjs-layers' LSTM/GRU on tfjs-backend-webgl (which the caller registered: in a browser by importing it, in Node on
 * a headless-gl context), sigmoid recurrent activation, the case's weights. Sequences: one apply; streaming: T
 * applies of one step with the state carried; training: forward and backward of Σy / (B·T) (tf.variableGrads).
 * Every run reads a result back, as Recur's does, so that the GPU work is inside the timing.
 */
export function tfjsWebglContender(): Contender {
  return {
    name: 'tfjs-layers-webgl',
    role: 'peer',
    skip: (c) => (c.resetAfter ? 'tfjs-layers 4.22 has no reset_after GRU' : c.cell === 'rnn' || c.mode === 'model' ? 'not a case of this page' : null),
    async prepare(c: BenchCase, { weights, x }: CaseData): Promise<Prepared> {
      await tf.setBackend('webgl');
      const { H, B, T } = c;
      const lstm = c.cell === 'lstm', streaming = c.mode === 'streaming';
      const layer = (lstm ? tfl.layers.lstm : tfl.layers.gru)({
        units: H, recurrentInitializer: 'glorotUniform', recurrentActivation: 'sigmoid', returnSequences: true, returnState: streaming,
      });
      const xAll = tf.tensor3d(x, [B, T, H]);
      const init = () => (lstm ? [tf.zeros([B, H]), tf.zeros([B, H])] : [tf.zeros([B, H])]);
      tf.tidy(() => void layer.apply(tf.slice(xAll, [0, 0, 0], [B, streaming ? 1 : T, H]), streaming ? { initialState: init() } : undefined));
      const k = keras(c, weights);
      layer.setWeights([tf.tensor2d(k.kernel, [H, k.kernel.length / H]), tf.tensor2d(k.recurrentKernel, [H, k.recurrentKernel.length / H]), tf.tensor1d(k.bias)]);
      if (streaming) {
        const frames = Array.from({ length: T }, (_, t) => tf.tidy(() => tf.slice(xAll, [0, t, 0], [B, 1, H])));
        const stream = (collect: Float32Array | null) => {
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
      if (c.mode === 'training') {
        const variables = layer.trainableWeights.map((w) => w.read() as tf.Variable);
        const loss = () => tf.div(tf.sum(layer.apply(xAll) as tf.Tensor), B * T) as tf.Scalar;
        const train = () => {
          const { value, grads } = tf.variableGrads(loss, variables);
          const kernels = [grads[variables[0].name].dataSync() as Float32Array, grads[variables[1].name].dataSync() as Float32Array];
          tf.dispose([value, ...Object.values(grads)]);
          return kernels;
        };
        return {
          run: () => train()[1],
          kernelGradients: async () => {
            const [kernel, recurrent] = train();
            const out = new Float32Array(kernel.length + recurrent.length);
            out.set(kernel);
            out.set(recurrent, kernel.length);
            return out;
          },
          dispose: () => {
            xAll.dispose();
            layer.dispose();
          },
        };
      }
      const forward = () => tf.tidy(() => (layer.apply(xAll) as tf.Tensor).dataSync() as Float32Array);
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
