/** Median, min and max of samples in milliseconds. */
export function summarise(samples: readonly number[]): { median: number; min: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1] };
}

/** Times `fns` interleaved (a, b, a, b, ...) after warm-up so that drift hits every contender alike. */
export function timeInterleaved(fns: Record<string, () => void>, reps: number, warmup = 2): Record<string, number[]> {
  const samples: Record<string, number[]> = {};
  for (const name of Object.keys(fns)) {
    samples[name] = [];
    for (let i = 0; i < warmup; i++) fns[name]();
  }
  for (let r = 0; r < reps; r++) {
    for (const [name, fn] of Object.entries(fns)) {
      const t0 = performance.now();
      fn();
      samples[name].push(performance.now() - t0);
    }
  }
  return samples;
}

export function flag(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(args[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number, got ${args[i + 1]}`);
  return v;
}
