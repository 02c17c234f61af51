import { gateCount, type ForwardArgs, type ForwardResult } from '@recur/core';
import type { Texture } from 'gpu.js';
import type { GpuContext, GpuStorage } from './context.js';
import { gruAfterStepKernel, gruBeforeStepKernel, gruResetKernel } from './kernels/gru-step.js';
import { lstmStepKernel } from './kernels/lstm-step.js';
import { projectionKernel, tokenProjectionKernel } from './kernels/projection.js';
import { rnnStepKernel } from './kernels/rnn-step.js';
import { stepOutputsKernel } from './kernels/rows.js';
import { lengthsTexture, stackTextures } from './stack.js';
import type { GpuWeights } from './weights.js';

/** What a forward keeps for its backward (every texture the tape's own). */
export interface GpuTape {
  readonly weights: GpuWeights;
  readonly time: number;
  readonly batch: number;
  /** The chunk's input [T·B, I], or its token ids [1, T·B] */
  readonly x: Texture | null;
  readonly ids: Texture | null;
  /** P [T·B, G] */
  readonly proj: Texture;
  /** h_0 … h_T [(T+1)·B, H], and c likewise (LSTM) */
  readonly hs: Texture;
  readonly cs: Texture | null;
  readonly lengths: Texture;
}

/** x [T·B, I] · W_ihᵀ + bias over all rows in one kernel (or the gather of token ids' columns). */
export function project(ctx: GpuContext, w: GpuWeights, x: Texture | null, ids: Texture | null, rows: number): Texture {
  const I = w.spec.inputSize, G = w.wIh.rows;
  if (ids) return ctx.run(`token-proj ${rows}x${I}x${G}`, (gpu) => tokenProjectionKernel(gpu, rows, G), ids, w.wIh.texture, w.bias.texture);
  return ctx.run(`proj ${rows}x${I}x${G}`, (gpu) => projectionKernel(gpu, rows, I, G), x, w.wIh.texture, w.bias.texture);
}

/** One step's kernels: h_t (and c_t) from h_{t-1} (and c_{t-1}). */
function step(ctx: GpuContext, w: GpuWeights, proj: Texture, t: number, T: number, B: number, h: Texture, c: Texture | null, lengths: Texture): { h: Texture; c: Texture | null } {
  const spec = w.spec, H = spec.units, whh = w.wHh.texture;
  if (spec.kind === 'lstm') {
    const r = ctx.runMap<'c'>(`lstm ${T}x${B}x${H}`, (gpu) => lstmStepKernel(gpu, B, H), proj, t, h, c, whh, lengths);
    return { h: r.result, c: r.c };
  }
  if (spec.kind === 'gru' && spec.resetAfter) {
    return { h: ctx.run(`gru-after ${T}x${B}x${H}`, (gpu) => gruAfterStepKernel(gpu, B, H), proj, t, h, whh, w.bhn!.texture, lengths), c: null };
  }
  if (spec.kind === 'gru') {
    const reset = ctx.run(`gru-reset ${T}x${B}x${H}`, (gpu) => gruResetKernel(gpu, B, H), proj, t, h, whh);
    try {
      return { h: ctx.run(`gru-before ${T}x${B}x${H}`, (gpu) => gruBeforeStepKernel(gpu, B, H), proj, t, h, reset, whh, lengths), c: null };
    } finally {
      ctx.delete(reset);
    }
  }
  const relu = spec.activation === 'relu';
  return { h: ctx.run(`rnn ${T}x${B}x${H}x${relu}`, (gpu) => rnnStepKernel(gpu, B, H, relu), proj, t, h, whh, lengths), c: null };
}

/**
 * A chunk: one projection kernel over all T·B rows, the step kernels, then every step's state stacked once (log8 T
 * passes) into hs, from which y comes in one kernel. With `keepTape` the stacked states, the projection and a copy
 * of the input stay for the backward.
 */
export function forward(ctx: GpuContext, args: ForwardArgs, w: GpuWeights): ForwardResult & { tape?: GpuTape } {
  const spec = args.layer, T = args.time, B = args.batch, H = spec.units, I = spec.inputSize;
  const x = args.x === null ? null : ctx.storage(args.x), h0 = ctx.storage(args.h0), c0 = args.c0 === null ? null : ctx.storage(args.c0);
  if (T === 0) { // no step: empty outputs, the state as it was (copies: results are new storages)
    const copy = (s: GpuStorage) => ctx.wrap(ctx.copy(s.texture!, B, H), B, H);
    return { y: ctx.wrap(null, 0, H), hT: copy(h0), cT: c0 ? copy(c0) : null };
  }
  const made = new Set<Texture>(); // this call's textures, deleted if it fails
  const keep = <X extends Texture | null>(t: X): X => {
    if (t) made.add(t);
    return t;
  };
  const hList: Texture[] = [h0.texture!], cList: Texture[] = c0 ? [c0.texture!] : [];
  try {
    const lengths = keep(lengthsTexture(ctx, args.seqLens, B));
    const ids = args.tokens ? keep(ctx.upload(Float32Array.from(args.tokens), 1, T * B)) : null;
    const proj = keep(project(ctx, w, x?.texture ?? null, ids, T * B));
    for (let t = 0; t < T; t++) {
      const next = step(ctx, w, proj, t, T, B, hList[t], cList[t] ?? null, lengths);
      hList.push(keep(next.h));
      if (next.c) cList.push(keep(next.c));
    }
    const hs = keep(stackTextures(ctx, hList, B, H)), cs = c0 ? keep(stackTextures(ctx, cList, B, H)) : null;
    const y = keep(ctx.run(`y ${T}x${B}x${H}`, (gpu) => stepOutputsKernel(gpu, T, B, H), hs, lengths));
    const tape: GpuTape | undefined = args.keepTape
      ? { weights: w, time: T, batch: B, x: x ? keep(ctx.copy(x.texture!, T * B, I)) : null, ids, proj, hs, cs, lengths }
      : undefined;
    const result = { y: ctx.wrap(y, T * B, H), hT: ctx.wrap(hList[T], B, H), cT: c0 ? ctx.wrap(cList[T], B, H) : null, tape };
    const kept = new Set<Texture>([y, hList[T], ...(c0 ? [cList[T]] : []), ...(tape ? [tape.proj, tape.hs, tape.lengths, ...[tape.cs, tape.x, tape.ids].filter((v): v is Texture => v !== null)] : [])]);
    for (const t of made) if (!kept.has(t)) ctx.delete(t);
    return result;
  } catch (error) {
    for (const t of made) ctx.delete(t);
    throw error;
  }
}

export function disposeTape(ctx: GpuContext, tape: GpuTape): void {
  for (const t of new Set([tape.x, tape.ids, tape.proj, tape.hs, tape.cs, tape.lengths])) ctx.delete(t);
}

/** What a forward allocates besides its outputs: the projection, each step's states and their stack (and the tape). */
export function forwardScratch(spec: ForwardArgs['layer'], time: number, batch: number, keepTape: boolean) {
  const G = gateCount(spec.kind) * spec.units, proj = time * batch * G * 4;
  const states = (time + 1) * batch * spec.units * 4 * (spec.kind === 'lstm' ? 2 : 1);
  const kept = keepTape ? time * batch * spec.inputSize * 4 + proj + states : 0;
  return { transientBytes: proj + 2 * states, keptBytes: kept, largestBytes: Math.max(proj, states, kept ? time * batch * spec.inputSize * 4 : 0) };
}
