import type { FloatArray } from '@recur/core';
import { alloc, recycle } from './workspace.js';

/** A forward over host arrays: x [T, B, I] time-major (or token ids [T, B]), state [B, H]. */
export interface HostRun {
  readonly x: FloatArray | null;
  /** Token ids [T, B] instead of x (the first layer of a token model), else null. */
  readonly tokens: Int32Array | null;
  readonly time: number;
  readonly batch: number;
  readonly h0: FloatArray;
  readonly c0: FloatArray | null;
  readonly seqLens: Int32Array | null;
}

/** A forward's host arrays: the outputs and the final state. */
export interface HostResult {
  readonly y: FloatArray;
  readonly h: FloatArray;
  readonly c: FloatArray | null;
}

/**
 * Runs a chunk longer than `sliceSteps` as consecutive time slices of at most that many steps, each starting from the state the
 * last one left, so that a kernel's scratch (the input projection, T x B x G x H) stays bounded whatever the chunk
 * length. The outputs are gathered into one [T, B, H] array. `seqLens` are cut per slice: a row past its length
 * in a slice keeps its state and emits zeros, exactly as in one call.
 */
export function runInSlices(
  run: HostRun,
  units: number,
  inputSize: number,
  sliceSteps: number,
  kernel: (slice: HostRun) => HostResult,
): HostResult {
  const { x, tokens, time: T, batch: B, seqLens } = run;
  const dtype = run.h0 instanceof Float64Array ? 'float64' : 'float32';
  const y = alloc(dtype, T * B * units);
  let h = run.h0,
    c = run.c0;
  const lens = seqLens ? new Int32Array(B) : null;
  for (let t0 = 0; t0 < T; t0 += sliceSteps) {
    const steps = Math.min(sliceSteps, T - t0);
    if (lens) for (let b = 0; b < B; b++) lens[b] = Math.max(0, Math.min(steps, seqLens![b] - t0));
    const out = kernel({
      x: x && x.subarray(t0 * B * inputSize, (t0 + steps) * B * inputSize),
      tokens: tokens && tokens.subarray(t0 * B, (t0 + steps) * B),
      time: steps,
      batch: B,
      h0: h,
      c0: c,
      seqLens: lens,
    });
    y.set(out.y, t0 * B * units);
    recycle(out.y);
    if (h !== run.h0) recycle(h);
    if (c && c !== run.c0) recycle(c);
    h = out.h;
    c = out.c;
  }
  return { y, h, c };
}
