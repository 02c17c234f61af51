import type { BenchCase } from '../cases.js';
import { caseData, gradientDiff, maxDiff, relativeDiff } from '../case-data.js';
import { recurContender } from '../contenders/recur.js';
import type { Contender, Prepared } from '../contenders/types.js';
import { summarise } from '../stats.js';
import { kerasKernelGradients, tfjsContender } from '../contenders/tfjs.js';

// The browser benchmark: Recur's backends (gpu.js on WebGL2, our WebAssembly SIMD kernels, tfjs's wasm, pure
// TypeScript) against tfjs-layers (tfjs-backend-webgl, tfjs-backend-wasm) and onnxruntime-web, the same weights and
// inputs, agreement with backend-cpu checked before anything is timed. One module for the Chromium page
// (browser/bench-page.ts) and the Node run on headless-gl (webgl-cli.ts: gpu.js against tfjs-layers-webgl).

const make = (cell: 'lstm' | 'gru', mode: BenchCase['mode'], B: number, T: number): BenchCase => ({
  id: `${cell}-${mode === 'sequence' ? 'seq' : mode === 'streaming' ? 'stream' : 'train'}-H256-B${B}${mode === 'streaming' ? '' : `-T${T}`}`,
  cell,
  resetAfter: false,
  H: 256,
  B,
  T,
  mode,
});

/** The issue's cases (GRU with the reset gate before the product: tfjs-layers has no other), with their goals. */
export const WEBGL_CASES: readonly { readonly case: BenchCase; readonly goal: number | null }[] = (['lstm', 'gru'] as const).flatMap(
  (cell) => [
    { case: make(cell, 'sequence', 1, 100), goal: 3 },
    { case: make(cell, 'sequence', 16, 100), goal: 1.5 },
    { case: make(cell, 'streaming', 1, 100), goal: 3 },
    { case: make(cell, 'streaming', 16, 100), goal: 3 },
    { case: make(cell, 'training', 16, 50), goal: null },
  ],
);

/** A quick run for CI: every mode once, at B=1 and a short sequence. */
export const QUICK_WEBGL_CASES = [make('lstm', 'sequence', 1, 20), make('gru', 'streaming', 1, 10), make('lstm', 'training', 2, 10)];

/** Outputs within this of backend-cpu's (gradients: relative to their largest value) count as agreeing. */
export const AGREEMENT = 1e-3;

export interface WebglCaseResult {
  readonly id: string;
  readonly goal: number | null;
  /** Per contender: the largest difference from backend-cpu's reference. */
  readonly agreement: Record<string, number>;
  /** Per contender that ran: its timings in ms (interleaved runs). */
  readonly samples: Record<string, number[]>;
  /** Why a contender was not timed (it cannot run the case, or it disagreed). */
  readonly skipped: Record<string, string>;
  /** tfjs-layers-webgl's median time / recur-gpujs's (above 1: Recur is faster); null when either was not timed. */
  readonly ratio: number | null;
  /** Per Recur contender timed: the fastest timed peer's median / its median (above 1: Recur is faster). */
  readonly againstBestPeer: Record<string, { peer: string; ratio: number }>;
}

async function agreement(
  c: BenchCase,
  p: Prepared,
  reference: Float32Array,
  gradients: ReturnType<typeof caseData>['gradients'],
): Promise<number> {
  if (p.outputs) return maxDiff(await p.outputs(), reference);
  if (p.gradients) return gradientDiff(await p.gradients(), gradients!);
  return relativeDiff(await p.kernelGradients!(), kerasKernelGradients(c, gradients!));
}

/** gpu.js against tfjs-layers on tfjs-backend-webgl: the contenders of the WebGL goals. */
export const WEBGL_CONTENDERS = (): Contender[] => [recurContender('gpujs'), tfjsContender('webgl')];

/** Runs the cases: agreement first, then a warm-up run and `reps` interleaved timed runs of each contender. */
export async function runWebglBench(
  cases: readonly { case: BenchCase; goal: number | null }[],
  reps: number,
  print: (line: string) => void,
  contenders: readonly Contender[] = WEBGL_CONTENDERS(),
): Promise<WebglCaseResult[]> {
  const results: WebglCaseResult[] = [];
  for (const { case: c, goal } of cases) {
    const { data, reference, gradients } = caseData(c);
    const prepared = new Map<string, Prepared>();
    const result: WebglCaseResult = { id: c.id, goal, agreement: {}, samples: {}, skipped: {}, ratio: null, againstBestPeer: {} };
    try {
      for (const contender of contenders) {
        const why = contender.skip(c);
        if (why) {
          result.skipped[contender.name] = why;
          continue;
        }
        const p = await contender.prepare(c, data);
        prepared.set(contender.name, p);
        const d = await agreement(c, p, reference, gradients);
        result.agreement[contender.name] = d;
        if (!(d <= AGREEMENT)) {
          result.skipped[contender.name] =
            `its ${c.mode === 'training' ? 'gradients' : 'outputs'} differ from backend-cpu's by ${d.toExponential(2)} (more than ${AGREEMENT}): not timed`;
          prepared.delete(contender.name);
          p.dispose();
          continue;
        }
        await p.run(); // warm-up (shaders compiled, textures made, sessions initialised)
        result.samples[contender.name] = [];
      }
      for (let r = 0; r < reps; r++) {
        for (const [name, p] of prepared) {
          const t0 = performance.now();
          await p.run(); // onnxruntime-web's run is asynchronous; the others return at once
          result.samples[name].push(performance.now() - t0);
        }
      }
    } finally {
      for (const p of prepared.values()) p.dispose();
    }
    const median = (name: string) => (result.samples[name]?.length ? summarise(result.samples[name]).median : null);
    const recur = median('recur-gpujs'),
      peer = median('tfjs-layers-webgl');
    (result as { ratio: number | null }).ratio = recur !== null && peer !== null ? peer / recur : null;
    const peers = contenders
      .filter((k) => k.role === 'peer' && median(k.name) !== null)
      .map((k) => ({ name: k.name, ms: median(k.name)! }));
    const best = peers.sort((a, b) => a.ms - b.ms)[0];
    for (const k of contenders) {
      const ms = median(k.name);
      if (k.role === 'recur' && ms !== null && best) result.againstBestPeer[k.name] = { peer: best.name, ratio: best.ms / ms };
    }
    print(
      formatLine(
        result,
        contenders.map((k) => k.name),
      ),
    );
    results.push(result);
  }
  return results;
}

export function formatLine(r: WebglCaseResult, names: readonly string[] = ['recur-gpujs', 'tfjs-layers-webgl']): string {
  const time = (name: string) => {
    const s = r.samples[name];
    if (!s?.length) return `${name} not timed (${r.skipped[name] ?? 'no samples'})`;
    const { median, min, max } = summarise(s);
    return `${name} ${median.toFixed(1)} ms (${min.toFixed(1)}-${max.toFixed(1)}, agrees to ${r.agreement[name].toExponential(1)})`;
  };
  const ratio =
    r.ratio === null
      ? 'no ratio'
      : `${r.ratio.toFixed(2)}x tfjs-webgl's speed${r.goal ? ` (goal >= ${r.goal}x: ${r.ratio >= r.goal ? 'met' : 'MISSED'})` : ''}`;
  const best = Object.entries(r.againstBestPeer)
    .map(([name, b]) => `${name} ${b.ratio.toFixed(2)}x ${b.peer}'s speed`)
    .join(', ');
  return `${r.id.padEnd(24)} ${ratio}; ${names.map(time).join('; ')}${names.length > 2 && best ? `\n${' '.repeat(25)}against the fastest peer: ${best}` : ''}`;
}
