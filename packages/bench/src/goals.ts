import type { CaseResult } from './report.js';

export interface GoalReport {
  readonly goal: string;
  readonly target: string;
  readonly measured: string;
  readonly met: boolean | null;
}

const medianOf = (c: CaseResult, name: string) => c.contenders.find((x) => x.name === name)?.median;
const fastestRecur = (c: CaseResult) => Math.min(...c.contenders.filter((x) => x.role === 'recur').map((x) => x.median));

/** The benchmark goals of the project (docs/benchmarks.md), evaluated on this run's medians. */
export function evaluateGoals(cases: readonly CaseResult[], simdPeakFlops: number | null): GoalReport[] {
  const sequence = cases.filter((c) => c.mode === 'sequence');
  const worst = (recur: string, peer: string) => {
    const ratios = sequence.flatMap((c) => {
      const r = medianOf(c, recur),
        p = medianOf(c, peer);
      return r && p ? [{ id: c.id, ratio: p / r }] : [];
    });
    return ratios.length ? ratios.reduce((a, b) => (b.ratio < a.ratio ? b : a)) : null;
  };
  const reports: GoalReport[] = [];
  const cpu = worst('recur-cpu', 'tfjs-layers-cpu');
  reports.push({
    goal: 'backend-cpu vs tfjs-layers on tfjs-backend-cpu, every sequence case',
    target: '>= 5x faster',
    measured: cpu ? `worst ${cpu.ratio.toFixed(2)}x (${cpu.id})` : 'not measured',
    met: cpu ? cpu.ratio >= 5 : null,
  });
  const wasm = worst('recur-wasm', 'tfjs-layers-wasm');
  reports.push({
    goal: 'backend-wasm vs tfjs-layers on tfjs-backend-wasm, every sequence case',
    target: '>= 3x faster',
    measured: wasm ? `worst ${wasm.ratio.toFixed(2)}x (${wasm.id})` : 'not measured',
    met: wasm ? wasm.ratio >= 3 : null,
  });
  // the WebAssembly tier with our own kernels (backend-simd), against the same peer
  const simd = worst('recur-simd', 'tfjs-layers-wasm');
  reports.push({
    goal: 'backend-simd (own WebAssembly SIMD kernels) vs tfjs-layers on tfjs-backend-wasm, every sequence case',
    target: '>= 3x faster',
    measured: simd ? `worst ${simd.ratio.toFixed(2)}x (${simd.id})` : 'not measured',
    met: simd ? simd.ratio >= 3 : null,
  });
  const stream = cases.find((c) => c.id === 'lstm-stream-H256-B1');
  if (stream) {
    const ours = fastestRecur(stream);
    const ort = Math.min(...stream.contenders.filter((x) => x.name.startsWith('ort-')).map((x) => x.median));
    const goal = 'streaming LSTM B=1 H=256, fastest Recur CPU-side backend vs ORT per step';
    // no ORT contender timed (--peer chose others): not measured, never "met" against an infinite time
    reports.push(
      Number.isFinite(ort)
        ? {
            goal,
            target: '<= 0.5x ORT time',
            measured: `${ours.toFixed(1)} vs ${ort.toFixed(1)} us/step = ${(ours / ort).toFixed(2)}x`,
            met: ours / ort <= 0.5,
          }
        : { goal, target: '<= 0.5x ORT time', measured: 'not measured (needs an ort peer)', met: null },
    );
  }
  const vsOrt = (goal: string, filter: (c: CaseResult) => boolean, target: number) => {
    const speeds = sequence.filter(filter).flatMap((c) => {
      const ours = fastestRecur(c),
        ort = medianOf(c, 'ort-2t');
      return ort ? [{ id: c.id, speed: ort / ours }] : [];
    });
    if (!speeds.length) return;
    const w = speeds.reduce((a, b) => (b.speed < a.speed ? b : a));
    reports.push({
      goal,
      target: `>= ${target.toFixed(1)}x its speed`,
      measured: `worst ${w.speed.toFixed(2)}x (${w.id})`,
      met: w.speed >= target,
    });
  };
  vsOrt('full sequence, fastest Recur CPU-side backend vs ORT with 2 threads', () => true, 0.2);
  // PyTorch on the CPU as the training peer (the spec v2 issue): forward + backward of the same case
  const train = cases.find((c) => c.id === 'lstm-train-H256-B16-T50');
  const torchTrain = train && medianOf(train, 'torch-cpu');
  if (train && torchTrain) {
    const ours = fastestRecur(train);
    reports.push({
      goal: 'training LSTM H=256 B=16 T=50 (forward + backward), fastest Recur backend vs PyTorch CPU',
      target: "<= 1.0x PyTorch's time",
      measured: `${ours.toFixed(1)} vs ${torchTrain.toFixed(1)} ms = ${(ours / torchTrain).toFixed(2)}x`,
      met: ours / torchTrain <= 1,
    });
  } else {
    reports.push({
      goal: 'training LSTM H=256 B=16 T=50 (forward + backward), fastest Recur backend vs PyTorch CPU',
      target: "<= 1.0x PyTorch's time",
      measured: 'not measured (needs torch-cpu and the case)',
      met: null,
    });
  }
  vsOrt('full sequence B=1 (memory-bound), fastest Recur CPU-side backend vs ORT with 2 threads', (c) => /-B1-/.test(c.id), 1);
  const demo = cases.find((c) => c.mode === 'model');
  const torchDemo = demo && medianOf(demo, 'torch-cpu');
  const demoGoal = "the demo's model (2 x LSTM(128) + dense(89), B=16, T=32, Adam, clip 5), fastest Recur backend vs PyTorch CPU";
  if (demo && torchDemo) {
    const ours = fastestRecur(demo),
      chars = 16 * 32;
    reports.push({
      goal: demoGoal,
      target: ">= 1.0x PyTorch's chars/s",
      measured: `${Math.round((chars / ours) * 1000)} vs ${Math.round((chars / torchDemo) * 1000)} chars/s = ${(torchDemo / ours).toFixed(2)}x`,
      met: torchDemo / ours >= 1,
    });
  } else {
    reports.push({
      goal: demoGoal,
      target: ">= 1.0x PyTorch's chars/s",
      measured: 'not measured (needs torch-cpu and the demo-model case)',
      met: null,
    });
  }
  // backend-simd's arithmetic rate on the batched sequences against the peak its own microkernel reaches here
  const fractions =
    simdPeakFlops === null
      ? []
      : sequence
          .filter((c) => c.batch >= 4)
          .flatMap((c) => {
            const ms = medianOf(c, 'recur-simd');
            return ms ? [{ id: c.id, fraction: c.flops / (ms / 1000) / simdPeakFlops }] : [];
          });
  const lowest = fractions.length ? fractions.reduce((a, b) => (b.fraction < a.fraction ? b : a)) : null;
  reports.push({
    goal: "full sequence B >= 4, backend-simd's rate as a fraction of the machine's SIMD128 peak",
    target: '>= 75%',
    measured: lowest
      ? `worst ${(lowest.fraction * 100).toFixed(0)}% (${lowest.id}; ${fractions.map((f) => `${f.id} ${(f.fraction * 100).toFixed(0)}%`).join(', ')})`
      : 'not measured (needs backend-simd and a B >= 4 sequence case)',
    met: lowest ? lowest.fraction >= 0.75 : null,
  });
  return reports;
}
