/**
 * LSTM on backend-cpu against tfjs-layers' LSTM on tfjs-backend-cpu, same weights, same inputs, same run.
 *   node packages/bench/dist/lstm-vs-tfjs.js [--hidden 256] [--batch 16] [--time 100] [--reps 10]
 * Prints median (min-max) per forward pass and the ratio; checks first that both compute the same outputs.
 */
import '@recur/backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { LSTMCell, dynamicRnn, seededRandom, tensor } from '@recur/core';
import { cpus } from 'node:os';
import { flag, summarise, timeInterleaved } from './stats.js';

const args = process.argv.slice(2);
const H = flag(args, 'hidden', 256), B = flag(args, 'batch', 16), T = flag(args, 'time', 100), reps = flag(args, 'reps', 10);
const I = flag(args, 'input', H);

await tf.setBackend('cpu');
const cell = new LSTMCell(H, { inputSize: I, seed: 1, backend: 'cpu' });
const w = cell.getWeights();

// Keras's LSTM has the same gate order (i, f, c, o) with transposed kernels and one bias.
const transpose = (a: Float32Array | Float64Array, rows: number, cols: number) => {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
  return out;
};
const random = seededRandom(2);
const xValues = Float32Array.from({ length: B * T * I }, () => random() * 2 - 1);
const xRecur = tensor(xValues, [B, T, I], { backend: 'cpu' });
const xTf = tf.tensor3d(xValues, [B, T, I]);
const layer = tfl.layers.lstm({ units: H, returnSequences: true, recurrentInitializer: 'glorotUniform', recurrentActivation: 'sigmoid', inputShape: [T, I] });
tf.tidy(() => layer.apply(xTf) as tf.Tensor); // builds the layer
layer.setWeights([
  tf.tensor2d(transpose(w.wIh, 4 * H, I), [I, 4 * H]),
  tf.tensor2d(transpose(w.wHh, 4 * H, H), [H, 4 * H]),
  tf.tensor1d(Float32Array.from(w.bIh, (v, i) => v + w.bHh[i])),
]);


const runRecur = () => {
  const { outputs, state } = dynamicRnn(cell, xRecur);
  const y = outputs.dataSync();
  outputs.dispose();
  (state as { dispose(): void }).dispose();
  return y;
};
const runTfjs = () => tf.tidy(() => (layer.apply(xTf) as tf.Tensor).dataSync());

let maxDiff = 0;
const a = runRecur(), b = runTfjs();
for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
if (!(maxDiff < 1e-4)) throw new Error(`outputs differ by ${maxDiff}: the benchmark would compare different work`);

const samples = timeInterleaved({ recur: () => void runRecur(), tfjs: () => void runTfjs() }, reps);
const recur = summarise(samples.recur), tfjs = summarise(samples.tfjs);
const fmt = (s: { median: number; min: number; max: number }) => `${s.median.toFixed(1)} ms (${s.min.toFixed(1)}-${s.max.toFixed(1)})`;
console.log(`LSTM H=${H} I=${I} B=${B} T=${T}, ${reps} interleaved runs after 2 warm-ups, ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`);
console.log(`outputs agree: max |recur - tfjs| = ${maxDiff.toExponential(2)}`);
console.log(`@recur/backend-cpu                    ${fmt(recur)}`);
console.log(`tfjs-layers LSTM, tfjs-backend-cpu    ${fmt(tfjs)}`);
console.log(`ratio (tfjs / recur, median)          ${(tfjs.median / recur.median).toFixed(2)}x`);
