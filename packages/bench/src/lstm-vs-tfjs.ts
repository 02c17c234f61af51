/**
 * LSTM forward on a Recur backend against tfjs-layers' LSTM on the matching tfjs backend, same weights, same inputs,
 * same process; checks first that both compute the same outputs, then times them interleaved.
 *   node packages/bench/dist/lstm-vs-tfjs.js [--backend cpu|wasm] [--case H=256,B=16,T=100 ...] [--reps 10] [--quick]
 * cpu: @recur/backend-cpu vs tfjs-layers on tfjs-backend-cpu; wasm: @recur/backend-wasm vs tfjs-layers on tfjs-backend-wasm.
 */
import '@recur/backend-cpu';
import '@recur/backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { LSTMCell, dynamicRnn, ready, seededRandom, tensor, type Tensor } from '@recur/core';
import { cpus } from 'node:os';
import { summarise, timeInterleaved } from './stats.js';

const args = process.argv.slice(2);
const value = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? undefined : args[i + 1];
};
const backend = value('backend') ?? 'cpu';
if (backend !== 'cpu' && backend !== 'wasm') throw new Error(`--backend: expected cpu or wasm, got ${backend}`);
const quick = args.includes('--quick');
const reps = Number(value('reps') ?? (quick ? 3 : 10));
const caseArgs = args.flatMap((a, i) => (args[i - 1] === '--case' ? [a] : []));
const DEFAULT_CASES = ['H=256,B=1,T=150', 'H=512,B=1,T=25', 'H=256,B=16,T=100'];
const cases = (caseArgs.length ? caseArgs : DEFAULT_CASES).map((c) => {
  const kv = Object.fromEntries(c.split(',').map((p) => p.split('=')));
  const H = Number(kv.H), B = Number(kv.B), T = Number(kv.T);
  if (![H, B, T].every((n) => Number.isInteger(n) && n > 0)) throw new Error(`--case ${c}: expected H=..,B=..,T=..`);
  return { H, B, T, I: Number(kv.I ?? H) };
});

await tf.setBackend(backend);
await ready(backend);

const transpose = (a: Float32Array | Float64Array, rows: number, cols: number) => {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
  return out;
};
const fmt = (s: { median: number; min: number; max: number }) => `${s.median.toFixed(2)} ms (${s.min.toFixed(2)}-${s.max.toFixed(2)})`;

console.log(`LSTM forward, one layer, I=H: @recur/backend-${backend} vs tfjs-layers LSTM on tfjs-backend-${backend}`);
console.log(`${reps} interleaved runs after 2 warm-ups each; ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}\n`);
console.log(`${'case'.padEnd(20)} ${'recur'.padEnd(26)} ${'tfjs-layers'.padEnd(26)} ratio     max |diff|`);
for (const { H, B, T, I } of cases) {
  const cell = new LSTMCell(H, { inputSize: I, seed: 1, backend });
  const w = cell.getWeights();
  const random = seededRandom(2);
  const xValues = Float32Array.from({ length: B * T * I }, () => random() * 2 - 1);
  const xRecur = tensor(xValues, [B, T, I], { backend });
  const xTf = tf.tensor3d(xValues, [B, T, I]);
  // Keras's LSTM: same gate order (i, f, c, o), kernels transposed, one bias; tfjs's default recurrent activation is hard sigmoid
  const layer = tfl.layers.lstm({ units: H, returnSequences: true, recurrentInitializer: 'glorotUniform', recurrentActivation: 'sigmoid', inputShape: [T, I] });
  tf.tidy(() => layer.apply(xTf) as tf.Tensor);
  layer.setWeights([
    tf.tensor2d(transpose(w.wIh, 4 * H, I), [I, 4 * H]), tf.tensor2d(transpose(w.wHh, 4 * H, H), [H, 4 * H]), tf.tensor1d(Float32Array.from(w.bIh, (v, i) => v + w.bHh[i])),
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
  if (!(maxDiff < 1e-4)) throw new Error(`H=${H} B=${B} T=${T}: outputs differ by ${maxDiff}: the benchmark would compare different work`);
  const samples = timeInterleaved({ recur: () => void runRecur(), tfjs: () => void runTfjs() }, reps);
  const recur = summarise(samples.recur), peer = summarise(samples.tfjs);
  console.log(`${`H=${H} B=${B} T=${T}`.padEnd(20)} ${fmt(recur).padEnd(26)} ${fmt(peer).padEnd(26)} ${`${(peer.median / recur.median).toFixed(2)}x`.padEnd(9)} ${maxDiff.toExponential(1)}`);
  xRecur.dispose();
  (xTf as Tensor | tf.Tensor).dispose();
  layer.dispose();
  cell.dispose();
}
console.log('\nratio = tfjs-layers median / recur median (above 1: recur is faster)');
