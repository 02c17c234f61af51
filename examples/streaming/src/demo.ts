/**
 * Recur streaming example: a 2-layer LSTM fed four sensor streams chunk by chunk on backend-cpu, its state carried from call
 * to call; one stream restarts (per-row reset) and a fifth joins; proof that chunked equals one-shot.
 *   pnpm example:streaming   (or: node examples/streaming/dist/demo.js [--check])
 * --check exits non-zero if any proof fails (the test suite runs it that way).
 */
import '@recur/backend-cpu';
import { LSTMCell, LSTMStateTuple, MultiRNNCell, StatefulRNN, dynamicRnn, memory, tensor, type Tensor } from '@recur/core';

const STREAMS = 4,
  FEATURES = 3,
  CHUNK = 25,
  CHUNKS = 8,
  T = CHUNK * CHUNKS;
const check = process.argv.includes('--check');
let failures = 0;

/** Sensor-like input: each stream a noisy mix of sines, [streams, T, features] batch-major. */
function signal(streams: number, time: number, offset = 0): Float32Array {
  const x = new Float32Array(streams * time * FEATURES);
  for (let s = 0; s < streams; s++) {
    for (let t = 0; t < time; t++) {
      for (let f = 0; f < FEATURES; f++) {
        const phase = (t + offset) * 0.07 * (f + 1) + s;
        x[(s * time + t) * FEATURES + f] = Math.sin(phase) + 0.3 * Math.sin(phase * 3.1 + s * 0.5);
      }
    }
  }
  return x;
}

/** Steps [t0, t0 + n) of a batch-major host array as a tensor. */
function chunkOf(x: Float32Array, streams: number, time: number, t0: number, n: number): Tensor {
  const out = new Float32Array(streams * n * FEATURES);
  for (let s = 0; s < streams; s++) out.set(x.subarray((s * time + t0) * FEATURES, (s * time + t0 + n) * FEATURES), s * n * FEATURES);
  return tensor(out, [streams, n, FEATURES]);
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function proof(what: string, diff: number, tolerance: number): void {
  const ok = diff <= tolerance;
  if (!ok) failures++;
  console.log(`  ${ok ? 'OK  ' : 'FAIL'} ${what}: max |difference| = ${diff.toExponential(2)} (<= ${tolerance.toExponential(0)})`);
}

const cell = new MultiRNNCell([new LSTMCell(32, { seed: 1 }), new LSTMCell(16, { seed: 2 })]);
const rnn = new StatefulRNN(cell, { streams: ['kitchen', 'garage', 'attic', 'porch'] });
const x = signal(STREAMS, T);
const H = 16;

console.log(
  `Recur streaming example: 2-layer LSTM (32, 16 units) on backend "cpu", ${STREAMS} streams of ${FEATURES} features, ${CHUNKS} chunks of ${CHUNK} steps\n`,
);
console.log(' chunk   steps      live tensors   last output of each stream (h of layer 2, unit 0)');
const chunked = new Float32Array(STREAMS * T * H);
for (let c = 0; c < CHUNKS; c++) {
  const input = chunkOf(x, STREAMS, T, c * CHUNK, CHUNK);
  const y = rnn.run(input); // the state is carried by the object: no state in, no state out
  const values = await y.data();
  for (let s = 0; s < STREAMS; s++) chunked.set(values.subarray(s * CHUNK * H, (s + 1) * CHUNK * H), (s * T + c * CHUNK) * H);
  const last = rnn.streams.map((id, s) => `${id}=${values[(s * CHUNK + CHUNK - 1) * H].toFixed(4)}`).join(' ');
  console.log(
    ` ${String(c + 1).padStart(5)}   ${String(c * CHUNK).padStart(3)}-${String((c + 1) * CHUNK - 1).padEnd(3)}    ${String(memory().numTensors).padStart(6)}        ${last}`,
  );
  input.dispose();
  y.dispose();
}

console.log('\nProof 1: the chunked stream equals one dynamicRnn call over all steps');
const whole = dynamicRnn(cell, tensor(x, [STREAMS, T, FEATURES]));
proof(`outputs of ${CHUNKS} chunks vs one call of ${T} steps`, maxDiff(chunked, await whole.outputs.data()), 1e-6);
const carried = await rnn.readState();
const oneShot = (whole.state as LSTMStateTuple[]).map((s) => s.h);
proof('carried state (h, layer 2) vs one call', maxDiff(carried[1].h, await oneShot[1].data()), 1e-6);

console.log("\nProof 2: reset(rows) restarts one stream ('attic') and leaves the others exactly as they were");
const before = await rnn.readState();
rnn.reset([rnn.rowOf('attic')]);
const after = await rnn.readState();
const row = (a: ArrayLike<number>, r: number, n: number) => Array.from(a).slice(r * n, (r + 1) * n);
proof("'kitchen' state after resetting 'attic'", maxDiff(row(after[0].h, 0, 32), row(before[0].h, 0, 32)), 0);
proof("'attic' state after its reset (zero)", maxDiff(row(after[0].h, 2, 32), new Array(32).fill(0)), 0);
const next = signal(STREAMS, CHUNK, T);
const yAfter = await rnn.run(tensor(next, [STREAMS, CHUNK, FEATURES])).data();
const fresh = new StatefulRNN(cell, { batch: 1 });
const atticAlone = next.subarray(2 * CHUNK * FEATURES, 3 * CHUNK * FEATURES);
const yFresh = await fresh.run(tensor(atticAlone, [1, CHUNK, FEATURES])).data();
proof("'attic' after reset vs a fresh stream fed the same chunk", maxDiff(row(yAfter, 2, CHUNK * H), yFresh), 1e-6);

console.log("\nStreams: 'shed' joins, 'garage' leaves; the rows move, the ids and the other states do not");
const beforeJoin = await rnn.readState();
rnn.addStream({ id: 'shed' });
rnn.removeStream('garage');
const afterJoin = await rnn.readState();
console.log(`  streams now: ${rnn.streams.join(', ')} (porch was row 3, is row ${rnn.rowOf('porch')})`);
proof("'porch' state after the join and leave", maxDiff(row(afterJoin[1].c!, rnn.rowOf('porch'), 16), row(beforeJoin[1].c!, 3, 16)), 0);

rnn.dispose();
fresh.dispose();
console.log(`\n${failures === 0 ? 'All proofs hold.' : `${failures} proof(s) failed.`}`);
if (check && failures) process.exit(1);
