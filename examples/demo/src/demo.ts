/**
 * Recur demo: a character-level LSTM trained on Moby Dick with truncated BPTT (state carried from chunk to chunk,
 * gradient cut at the chunk boundary), then text generated one character per call with the state carried.
 *   pnpm demo [--seconds 150] [--hidden 128] [--layers 2] [--chunk 32] [--batch 16] [--seed 1] [--backend NAME]
 *             [--lr 0.006] [--generate 400] [--out out/demo] [--check]
 * --check exits 1 unless the held-out bits per character beat the bigram reference. Without --backend the demo runs on
 * the fastest available backend (see backend.ts) and says which.
 */
import { Adam, RnnModel, StatefulRNN, TbpttTrainer, ready, seededRandom, softmaxCrossEntropy, tokenIds } from '@recur/core';
import { pickBackend } from './backend.js';
import { SingleBar } from 'cli-progress';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { lineChart } from './svg.js';
import { encode, mobyDick, referenceEntropies, vocabulary } from './text.js';

const NUMBERS = ['seconds', 'hidden', 'layers', 'chunk', 'batch', 'seed', 'lr', 'generate'] as const;
const { values: args } = ((): { values: Record<string, string | boolean | undefined> } => {
  try {
    return parseArgs({
      args: process.argv.slice(2),
      strict: true,
      allowPositionals: false,
      options: {
        ...Object.fromEntries(NUMBERS.map((n) => [n, { type: 'string' as const }])),
        backend: { type: 'string' },
        out: { type: 'string' },
        check: { type: 'boolean' },
      },
    });
  } catch (error) {
    throw new Error(
      `${(error as Error).message} (options: ${[...NUMBERS, 'backend', 'out'].map((k) => `--${k} VALUE`).join(' ')} --check)`,
    );
  }
})();
function option(name: (typeof NUMBERS)[number], fallback: number): number {
  const raw = args[name] as string | undefined;
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name}: expected a positive number, got ${JSON.stringify(raw)}`);
  return v;
}
function text(name: 'backend' | 'out', fallback: string): string {
  return (args[name] as string | undefined) ?? fallback;
}

const seconds = option('seconds', 150),
  hidden = option('hidden', 128),
  layers = option('layers', 2),
  chunk = option('chunk', 32);
const batch = option('batch', 16),
  seed = option('seed', 1),
  lr = option('lr', 0.006),
  generate = option('generate', 400);
const picked = await pickBackend(args.backend as string | undefined);
const backend = picked.name,
  outDir = resolve(text('out', 'out/demo'));
const LN2 = Math.log(2);

await ready(backend);
const corpus = mobyDick();
const vocab = vocabulary(corpus);
const V = vocab.chars.length;
const ids = encode(corpus, vocab);
const split = Math.floor(ids.length * 0.95);
const trainIds = ids.subarray(0, split),
  heldIds = ids.subarray(split);
const refs = referenceEntropies(trainIds, V);

console.log(`Recur demo: character-level LSTM on Moby Dick, backend "${backend}": ${picked.why}`);
console.log(
  `text: ${ids.length.toLocaleString('en')} characters, ${V} distinct; training on the first 95% (${trainIds.length.toLocaleString('en')}), held out the last 5% (${heldIds.length.toLocaleString('en')})`,
);
console.log(
  `model: ${layers} x LSTM(${hidden}) + dense(${V}); truncated BPTT, ${batch} streams x ${chunk} characters per chunk, Adam lr ${lr}, clip 5; ${seconds} s\n`,
);

const model = new RnnModel(
  {
    inputSize: V,
    layers: Array.from({ length: layers }, () => ({ kind: 'lstm' as const, units: hidden })),
    outputSize: V,
    meta: { vocabulary: vocab.chars },
  },
  { backend, seed },
);
const trainer = new TbpttTrainer(model, { batch, optimizer: new Adam({ learningRate: lr }), clipNorm: 5 });

// each row reads its own contiguous slice of the training text; at the end of a pass every row starts over
const rowLength = Math.floor((trainIds.length - 1) / batch);
const chunksPerPass = Math.floor((rowLength - 1) / chunk);
const inputIds = new Int32Array(batch * chunk),
  targets = new Int32Array(batch * chunk);
const curve: { x: number; y: number }[] = [];
const bar = new SingleBar({
  format: 'training |{bar}| {percentage}% | chunk {chunk} | loss {loss} bits/char | {cps} chars/s | {elapsed}s',
  hideCursor: true,
  noTTYOutput: !process.stderr.isTTY,
  notTTYSchedule: 10_000,
});
bar.start(seconds, 0, { chunk: 0, loss: '-', cps: '-', elapsed: 0 });
const start = performance.now();
let chunks = 0,
  chars = 0;
while ((performance.now() - start) / 1000 < seconds) {
  const offset = (chunks % chunksPerPass) * chunk;
  for (let b = 0; b < batch; b++) {
    const from = b * rowLength + offset;
    inputIds.set(trainIds.subarray(from, from + chunk), b * chunk);
    targets.set(trainIds.subarray(from + 1, from + chunk + 1), b * chunk);
  }
  // token ids: the first layer's projection is a gather of W_ih's columns (no one-hot product)
  const x = tokenIds(inputIds, [batch, chunk], V);
  const endOfPass = chunks % chunksPerPass === chunksPerPass - 1;
  const report = await trainer.trainChunk(x, targets, endOfPass ? { resetAfter: Array.from({ length: batch }, (_, i) => i) } : undefined);
  chunks++;
  chars += batch * chunk;
  const bits = report.loss / LN2;
  curve.push({ x: chunks, y: bits });
  const elapsed = (performance.now() - start) / 1000;
  bar.update(Math.min(elapsed, seconds), {
    chunk: chunks,
    loss: bits.toFixed(3),
    cps: Math.round(chars / elapsed),
    elapsed: elapsed.toFixed(0),
  });
  await new Promise((resolve) => setImmediate(resolve)); // let the progress bar's timer draw
}
bar.stop();
const trainSeconds = (performance.now() - start) / 1000;
console.log(
  `trained ${chunks} chunks, ${chars.toLocaleString('en')} characters (${(chars / trainIds.length).toFixed(2)} passes) in ${trainSeconds.toFixed(1)} s: ${Math.round(chars / trainSeconds)} characters/s`,
);

mkdirSync(outDir, { recursive: true });
const svgPath = resolve(outDir, 'loss.svg');
writeFileSync(
  svgPath,
  lineChart(curve, { title: `Training loss per chunk (${layers} x LSTM ${hidden}, Moby Dick)`, x: 'chunk', y: 'bits per character' }),
);
console.log(`loss curve: ${svgPath}`);
const modelPath = resolve(outDir, 'char-lstm.safetensors');
writeFileSync(modelPath, model.toSafetensors());
console.log(`model: ${modelPath}`);

// the saved file is what the rest of the demo uses: proof that it round-trips
const loaded = RnnModel.fromSafetensors(new Uint8Array(readFileSync(modelPath)), { backend });

/** Held-out bits per character: 16 contiguous segments side by side, state carried across chunks of 128. */
async function heldOutBits(m: RnnModel): Promise<number> {
  const segments = 16,
    length = Math.floor(heldIds.length / segments),
    step = 128;
  const rnn = new StatefulRNN(m.cell, { batch: segments });
  let totalNats = 0,
    count = 0;
  for (let t0 = 0; t0 < length - 1; t0 += step) {
    const n = Math.min(step, length - 1 - t0);
    const xs = new Int32Array(segments * n),
      ys = new Int32Array(segments * n);
    for (let s = 0; s < segments; s++) {
      xs.set(heldIds.subarray(s * length + t0, s * length + t0 + n), s * n);
      ys.set(heldIds.subarray(s * length + t0 + 1, s * length + t0 + n + 1), s * n);
    }
    const y = rnn.run(tokenIds(xs, [segments, n], V));
    const logits = m.head.forward(await y.data(), segments * n);
    totalNats += softmaxCrossEntropy(logits, ys, segments * n, V).loss * segments * n;
    count += segments * n;
    y.dispose();
  }
  rnn.dispose();
  return totalNats / count / LN2;
}

const held = await heldOutBits(loaded);
console.log('\nbits per character (lower is better):');
console.log(`  unigram entropy of the training text        ${refs.unigram.toFixed(3)}`);
console.log(`  bigram conditional entropy (pair table)     ${refs.bigram.toFixed(3)}`);
console.log(
  `  this model on the held-out 5%               ${held.toFixed(3)}   ${held < refs.bigram ? 'below the bigram reference: it uses more context than one character' : 'NOT below the bigram reference: train longer (--seconds)'}`,
);

// generation: one character per call on the stateful level, the state carried by the object
console.log(`\ngenerated (temperature 0.8, one character per call, state carried):\n`);
const rnn = new StatefulRNN(loaded.cell, { batch: 1 });
const random = seededRandom(seed + 7);
const feed = (id: number) => rnn.run(tokenIds([id], [1, 1], V));
const prime = 'Call me Ishmael. ';
let out = feed(vocab.index.get(prime[0])!);
for (const c of prime.slice(1)) {
  out.dispose();
  out = feed(vocab.index.get(c)!);
}
process.stdout.write(prime);
for (let i = 0; i < generate; i++) {
  const logits = loaded.head.forward(await out.data(), 1);
  out.dispose();
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  const p = Array.from(logits, (v) => Math.exp((v - max) / 0.8));
  let r = random() * p.reduce((a, b) => a + b, 0),
    next = 0;
  while (next < V - 1 && (r -= p[next]) > 0) next++;
  process.stdout.write(vocab.chars[next]);
  out = feed(next);
}
out.dispose();
rnn.dispose();
console.log('\n');
trainer.dispose();
if (args.check === true && !(held < refs.bigram)) process.exit(1);
