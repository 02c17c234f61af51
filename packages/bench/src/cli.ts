/**
 * pnpm bench: every available Recur backend against its peers (onnxruntime-node with 1 and 2 threads, tfjs-layers
 * on tfjs-backend-cpu and tfjs-backend-wasm), in the same process, on the same weights and inputs.
 *   node packages/bench/dist/cli.js [--quick] [--backend cpu|wasm|simd ...] [--case TEXT ...] [--peer NAME ...] [--reps N] [--out DIR]
 * Prints a table (median, min-max, ratio to each peer), writes bench.json (machine, versions, every sample) and
 * bench.svg, and evaluates the goals. Timings are never asserted: this is a measurement, not a test.
 */
import '@recur/backend-cpu';
import '@recur/backend-wasm';
import { createSimdBackend, relaxedSimdSupported, type SimdBackend } from '@recur/backend-simd';
import { registerBackend, getBackend, listBackends, ready } from '@recur/core';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { QUICK_CASES, allCases, caseFlops, type BenchCase } from './cases.js';
import { ortContender } from './contenders/ort.js';
import { prepareModel, recurContender } from './contenders/recur.js';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { tfjsContender } from './contenders/tfjs.js';
import { TORCH_THREADS, startTorch, stopTorch, torchContender, torchUnavailable } from './contenders/torch.js';
import type { CaseData, Contender, Prepared, StepReport } from './contenders/types.js';
import { evaluateGoals } from './goals.js';
import { formatSvg, formatTable, result, type CaseResult, type ContenderResult } from './report.js';
import { caseData, gradientDiff, maxDiff } from './case-data.js';
import { parseOptions } from './options.js';

const { many, one, has, count } = parseOptions(
  process.argv.slice(2),
  { flags: ['quick'], values: ['backend', 'case', 'peer', 'reps', 'out'] },
  'pnpm bench [--quick] [--backend cpu|wasm|simd ...] [--case TEXT ...] [--peer ort-1t|ort-2t|tfjs-layers-cpu|tfjs-layers-wasm|torch-cpu ...] [--reps N] [--out DIR]',
);
const quick = has('quick');
const reps = count('reps', quick ? 3 : 7);
const outDir = resolve(one('out') ?? 'out/bench');
const QUIET_MS = 30;
const WARM_MS = quick ? 1000 : 1500; // backend-simd's streamed step needs ~0.5 s of calls before V8 has tiered it up

// where the engine runs relaxed SIMD, backend-simd runs its relaxed build: its SIMD128 build competes beside it
if (relaxedSimdSupported()) registerBackend('simd128', () => createSimdBackend({ name: 'simd128', relaxedSimd: false }), 1.4);
const available = (await listBackends()).filter((b) => b.available).map((b) => b.name);
const wantedBackends = many('backend').length ? many('backend') : available;
for (const b of wantedBackends)
  if (!available.includes(b)) throw new Error(`--backend ${b}: not available here (available: ${available.join(', ')})`);
const wantedPeers = many('peer');
const torchInfo = !wantedPeers.length || wantedPeers.includes('torch-cpu') ? await startTorch() : null;
const peers: Contender[] = [ortContender(1), ortContender(2), tfjsContender('cpu'), tfjsContender('wasm'), torchContender()];
for (const p of wantedPeers)
  if (!peers.some((x) => x.name === p)) throw new Error(`--peer ${p}: unknown (peers: ${peers.map((x) => x.name).join(', ')})`);
const contenders = [...wantedBackends.map(recurContender), ...peers.filter((p) => !wantedPeers.length || wantedPeers.includes(p.name))];

/** The SIMD128 peak from backend-simd's microkernel (when it runs here), measured before and after the cases. */
const peakSamples: number[] = [];
function simdPeak(): { flops: number; threads: number } | null {
  if (!wantedBackends.includes('simd')) return null;
  const simd = getBackend('simd') as unknown as { measurePeak(): number; threads: number };
  peakSamples.push(simd.measurePeak());
  return { flops: Math.max(...peakSamples), threads: simd.threads };
}
if (wantedBackends.includes('simd')) await ready('simd');
simdPeak();

const filters = many('case');
const cases = allCases().filter((c) => (filters.length ? filters.some((f) => c.id.includes(f)) : !quick || QUICK_CASES.includes(c.id)));
if (!cases.length)
  throw new Error(
    `--case ${filters.join(', ')}: no case matches (cases: ${allCases()
      .map((c) => c.id)
      .join(', ')})`,
  );

/** backend-cpu's first training step of a model case: what every contender's first step must report. */
const firstSteps = new Map<string, StepReport>();
async function referenceStep(c: BenchCase, data: CaseData): Promise<StepReport> {
  let step = firstSteps.get(c.id);
  if (!step) {
    const p = await prepareModel('cpu', c, data.model!);
    step = await p.firstStep!();
    p.dispose();
    firstSteps.set(c.id, step);
  }
  return step;
}

if (torchInfo) {
  console.log(
    `torch-cpu: PyTorch ${torchInfo.torch} (Debian python3-torch), torch.set_num_threads(${TORCH_THREADS}) -> ${torchInfo.threads} threads, OPENBLAS_NUM_THREADS=${torchInfo.openblasThreads}, ${torchInfo.blas}`,
  );
} else if (!wantedPeers.length || wantedPeers.includes('torch-cpu')) {
  console.log(`torch-cpu: not run: ${torchUnavailable()}`);
}
console.log(
  `Recur benchmarks${quick ? ' (quick)' : ''}: ${cases.length} cases, ${reps} interleaved runs (each after a ${QUIET_MS} ms quiet gap and, when under 200 ms, one untimed run) after a warm-up of 2 runs and ${WARM_MS} ms per contender; contenders ${contenders.map((c) => c.name).join(', ')}`,
);
console.log(
  `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`,
);
if (wantedBackends.includes('simd')) {
  const set = (getBackend('simd') as unknown as SimdBackend).instructionSet;
  console.log(
    `recur-simd runs backend-simd's ${set} build${set === 'relaxed-simd' ? ' (fused multiply-adds; recur-simd128 is the SIMD128 build)' : ' (this engine has no relaxed SIMD; Node 20: node --experimental-wasm-relaxed-simd)'}`,
  );
}
console.log('');
const results: CaseResult[] = [];
for (const c of cases) {
  process.stderr.write(`${c.id}: `);
  const { data, reference, gradients } = caseData(c);
  const prepared: { contender: Contender; p: Prepared; diff: number | null }[] = [];
  const skipped: Record<string, string> = {};
  for (const contender of contenders) {
    const why = contender.skip(c);
    if (why) {
      skipped[contender.name] = why;
      continue;
    }
    const p = await contender.prepare(c, data);
    // training cases: every gradient (dx, dh0, each weight) against backend-cpu's, relative to its largest value
    // model cases: the first step's loss and gradient norm against backend-cpu's, relative
    const stepDiff = async () => {
      const [got, ref] = [await p.firstStep!(), await referenceStep(c, data)];
      const d = Math.max(Math.abs(got.loss - ref.loss) / ref.loss, Math.abs(got.gradNorm - ref.gradNorm) / ref.gradNorm);
      return Number.isNaN(d) ? Infinity : d;
    };
    const diff = p.outputs
      ? maxDiff(await p.outputs(), reference)
      : p.gradients && gradients
        ? gradientDiff(await p.gradients(), gradients)
        : p.firstStep
          ? await stepDiff()
          : null;
    if (diff !== null && !(diff < 1e-3)) {
      skipped[contender.name] =
        `${p.outputs ? 'outputs' : p.gradients ? 'gradients' : 'first step (loss, gradient norm)'} differ from backend-cpu's by ${diff.toExponential(2)}: not the same computation, not timed`;
      p.dispose();
      continue;
    }
    prepared.push({ contender, p, diff });
  }
  const samples = new Map<string, number[]>(prepared.map(({ contender }) => [contender.name, []]));
  const spent = new Map<string, number>();
  // warm-up, each contender on its own: at least 2 runs and, for fast ones, WARM_MS (JIT tiers, V8's wasm tier-up,
  // caches and thread pools settle; JavaScript contenders need thousands of calls, native ones a few)
  const typicalMs = new Map<string, number>();
  for (const { contender, p } of prepared) {
    const t0 = performance.now();
    let n = 0;
    for (; n < 2 || (performance.now() - t0 < WARM_MS && n < 200); n++) await p.run();
    spent.set(contender.name, performance.now() - t0);
    typicalMs.set(contender.name, (performance.now() - t0) / n);
  }
  for (let r = 0; r < reps; r++) {
    for (const { contender, p } of prepared) {
      // a very slow peer (tfjs-layers' GRU on tfjs-backend-cpu takes seconds a run) stops at 3 samples after 20 s
      if (r >= 3 && (spent.get(contender.name) ?? 0) > 20_000) continue;
      // a quiet gap first: ORT's and Recur's idle worker threads spin for a while after a call, and would
      // otherwise take a core from whichever contender runs next on this 2-core machine
      await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
      // ...and then one untimed run (when a run is short), so that every contender is timed warm: after the gap
      // caches are cold and idle threads asleep, for native and JavaScript contenders alike
      if (typicalMs.get(contender.name)! < 200) await p.run();
      const t0 = performance.now();
      const ran = await p.run();
      // a peer in another process times itself, so that the pipe is not timed
      const ms =
        ran !== null && typeof ran === 'object' && 'selfTimedMs' in ran
          ? (ran as { selfTimedMs: number }).selfTimedMs
          : performance.now() - t0;
      spent.set(contender.name, (spent.get(contender.name) ?? 0) + ms);
      samples.get(contender.name)!.push(c.mode === 'streaming' ? (ms * 1000) / c.T : ms);
    }
    process.stderr.write('.');
  }
  process.stderr.write('\n');
  const contenderResults: ContenderResult[] = prepared.map(({ contender, diff }) =>
    result(contender.name, contender.role, c.mode === 'streaming' ? 'us/step' : 'ms', samples.get(contender.name)!, diff),
  );
  for (const { p } of prepared) p.dispose();
  results.push({ id: c.id, mode: c.mode, contenders: contenderResults, skipped, batch: c.B, flops: caseFlops(c) });
}

stopTorch();
const peak = simdPeak();
console.log(formatTable(results));
if (peak)
  console.log(
    `\nSIMD128 peak of this machine (backend-simd's multiply-add microkernel, ${peak.threads} threads, best of before and after the runs): ${(peak.flops / 1e9).toFixed(1)} GFLOP/s`,
  );
const goals = evaluateGoals(results, peak?.flops ?? null);
console.log('\ngoals:');
for (const g of goals) console.log(`  ${g.met === null ? 'n/a ' : g.met ? 'met ' : 'MISS'} ${g.goal}: ${g.target}; measured ${g.measured}`);

const require = createRequire(import.meta.url);
const version = (pkg: string) => (JSON.parse(readFileSync(require.resolve(`${pkg}/package.json`), 'utf8')) as { version: string }).version;
mkdirSync(outDir, { recursive: true });
const json = {
  date: new Date().toISOString(),
  machine: {
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    relaxedSimd: relaxedSimdSupported(),
  },
  versions: {
    ...Object.fromEntries(['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers', 'onnxruntime-node'].map((p) => [p, version(p)])),
    ...(torchInfo ? { torch: torchInfo } : {}),
  },
  settings: {
    quick,
    reps,
    warmup: { minRuns: 2, minMs: WARM_MS, maxRuns: 200 },
    quietMsBeforeEachRun: QUIET_MS,
    untimedRunBeforeEachUnderMs: 200,
  },
  cases: results,
  goals,
};
writeFileSync(resolve(outDir, 'bench.json'), JSON.stringify(json, null, 2));
writeFileSync(resolve(outDir, 'bench.svg'), formatSvg(results, `Recur benchmarks (${cpus().length} cores, Node ${process.version})`));
console.log(`\nwrote ${resolve(outDir, 'bench.json')} and ${resolve(outDir, 'bench.svg')}`);
// a contender that computes something else is a bug in a model conversion, not a timing: fail the run
const disagreeing = results.flatMap((r) =>
  Object.entries(r.skipped)
    .filter(([, why]) => / differ from backend-cpu/.test(why))
    .map(([n]) => `${r.id} ${n}`),
);
if (disagreeing.length) {
  console.error(`outputs disagreed with backend-cpu: ${disagreeing.join(', ')}`);
  process.exit(1);
}
