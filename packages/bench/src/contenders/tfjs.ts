import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { toKerasGRU, toKerasLSTM, type LayerWeights } from '@recur/core';
import type { BenchCase } from '../cases.js';
import type { CaseData, Contender, Prepared } from './types.js';

/** Keras kernels of Recur-layout weights (or of their gradients: the map is a permutation and a transpose). */
const keras = (c: BenchCase, w: LayerWeights) => (c.cell === 'lstm' ? toKerasLSTM(w, c.H, c.H) : toKerasGRU(w, c.H, c.H, false));

/** What the agreement check compares for tfjs's training: the two kernels' gradients, in Keras's layout. */
export function kerasKernelGradients(c: BenchCase, g: { wIh: Float32Array; wHh: Float32Array }): Float32Array {
  const zeros = new Float32Array(g.wIh.length / c.H);
  const k = keras(c, { wIh: g.wIh, wHh: g.wHh, bIh: zeros, bHh: zeros });
  return concat(k.kernel, k.recurrentKernel);
}

const concat = (a: Float32Array, b: Float32Array) => {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
};

/**
 * tfjs-layers' own LSTM/GRU layer on a tfjs backend that the caller registered ('cpu' and 'wasm' by importing
 * their packages, 'webgl' in a browser by importing it or in Node on a headless-gl context), with the case's
 * weights. Its defaults are Keras 1's (hard sigmoid); the sigmoid is set so that the layer computes what the others
 * compute. Sequences: one apply; streaming: T applies of one step with the state carried; training (webgl, in a
 * browser build of tfjs-core, which registers gradients): forward and backward of Σy / (B·T) with tf.variableGrads.
 * Every run reads a result back, as Recur's does, so that a GPU's work is inside the timing.
 */
export function tfjsContender(backend: 'cpu' | 'wasm' | 'webgl'): Contender {
  return {
    name: `tfjs-layers-${backend}`,
    role: 'peer',
    skip: (c) =>
      (c.mode === 'training' && backend !== 'webgl') || c.mode === 'model'
        ? "tfjs-core's node build registers no gradient functions: tfjs-layers cannot train here"
        : c.resetAfter
          ? 'tfjs-layers 4.22 has no reset_after GRU'
          : c.cell === 'rnn'
            ? 'the bench compares tfjs-layers on LSTM and GRU only'
            : null,
    async prepare(c: BenchCase, { weights, x }: CaseData): Promise<Prepared> {
      await tf.setBackend(backend);
      const { H, B, T } = c;
      const lstm = c.cell === 'lstm',
        streaming = c.mode === 'streaming';
      const layer = (lstm ? tfl.layers.lstm : tfl.layers.gru)({
        units: H,
        recurrentInitializer: 'glorotUniform',
        recurrentActivation: 'sigmoid',
        returnSequences: true,
        returnState: streaming,
      });
      const xAll = tf.tensor3d(x, [B, T, H]);
      const init = () => (lstm ? [tf.zeros([B, H]), tf.zeros([B, H])] : [tf.zeros([B, H])]);
      tf.tidy(
        () => void layer.apply(tf.slice(xAll, [0, 0, 0], [B, streaming ? 1 : T, H]), streaming ? { initialState: init() } : undefined),
      );
      // Keras layout (kernels [in, G*H]; GRU gates z, r, h; one bias: reset before the product, as the cases use)
      const k = keras(c, weights);
      layer.setWeights([
        tf.tensor2d(k.kernel, [H, k.kernel.length / H]),
        tf.tensor2d(k.recurrentKernel, [H, k.recurrentKernel.length / H]),
        tf.tensor1d(k.bias),
      ]);
      const dispose =
        (more: tf.Tensor[] = []) =>
        () => {
          tf.dispose([...more, xAll]);
          layer.dispose();
        };
      if (streaming) {
        const frames = Array.from({ length: T }, (_, t) => tf.tidy(() => tf.slice(xAll, [0, t, 0], [B, 1, H])));
        const stream = (collect: Float32Array | null) => {
          void tf.setBackend(backend); // already initialised: switches synchronously
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
          dispose: dispose(frames),
        };
      }
      if (c.mode === 'training') {
        const variables = layer.trainableWeights.map((w) => w.read() as tf.Variable);
        const loss = () => tf.div(tf.sum(layer.apply(xAll) as tf.Tensor), B * T) as tf.Scalar;
        const train = () => {
          void tf.setBackend(backend);
          const { value, grads } = tf.variableGrads(loss, variables);
          const kernels = [grads[variables[0].name].dataSync() as Float32Array, grads[variables[1].name].dataSync() as Float32Array];
          tf.dispose([value, ...Object.values(grads)]);
          return kernels;
        };
        return {
          run: () => train(),
          kernelGradients: async () => concat(...(train() as [Float32Array, Float32Array])),
          dispose: dispose(),
        };
      }
      const forward = () => {
        void tf.setBackend(backend);
        return tf.tidy(() => (layer.apply(xAll) as tf.Tensor).dataSync() as Float32Array);
      };
      return { run: forward, outputs: async () => forward(), dispose: dispose() };
    },
  };
}
