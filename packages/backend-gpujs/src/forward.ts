import type { ForwardArgs, ForwardResult } from '@recur/core';
import type { Texture } from 'gpu.js';
import type { GpuContext } from './context.js';
import { gruAfterStepKernel, gruBeforeStepKernel, gruResetKernel } from './kernels/gru-step.js';
import { lstmStepKernel } from './kernels/lstm-step.js';
import { tokenProjectionKernel } from './kernels/projection.js';
import { linear } from './products.js';
import { rnnStepKernel } from './kernels/rnn-step.js';
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
  /** h_0 … h_T [(T+1)·B, H], and c likewise (LSTM) */
  readonly hs: Texture;
  readonly cs: Texture | null;
  readonly lengths: Texture;
}

/** x [T·B, I] · W_ihᵀ + bias over all rows in one kernel (or the gather of token ids' columns): the backward's. */
export function project(ctx: GpuContext, w: GpuWeights, x: Texture | null, ids: Texture | null, rows: number): Texture {
  const I = w.spec.inputSize,
    G = w.wIh.rows;
  if (ids) return ctx.run(`token-proj ${rows}x${I}x${G}`, (gpu) => tokenProjectionKernel(gpu, rows, G), ids, w.wIh.texture, w.bias.texture);
  return linear(ctx, x!, rows, I, w.wIh.texture!, G, w.bias.texture!);
}

/** A chunk's inputs as the step kernels take them. */
interface StepInputs {
  /** x packed over batch rows [T·B4, I], or the token ids [1, T·B] */
  readonly x4: Texture | null;
  readonly ids: Texture | null;
  /** [1, B], or null: every row runs every step */
  readonly lengths: Texture | null;
  /** a plain texture for the arguments a kernel does not read (x's, or the ids) */
  readonly plain: Texture;
}

/** One step's kernels: packed h_t (and c_t) from h_{t-1} (and c_{t-1}). */
function step(
  ctx: GpuContext,
  w: GpuWeights,
  inp: StepInputs,
  t: number,
  T: number,
  B: number,
  h: Texture,
  c: Texture | null,
): { h: Texture; c: Texture | null } {
  const spec = w.spec,
    H = spec.units,
    I = spec.inputSize,
    tok = inp.ids !== null,
    len = inp.lengths !== null,
    p = w.packed,
    lengths = inp.lengths ?? inp.plain;
  // the argument a kernel's other input branch reads gets a texture of that branch's type (kernels/step-terms.ts)
  const inputs = [inp.x4 ?? p.wIh.texture, inp.ids ?? inp.plain, t, h] as const,
    shape = `${T}x${B}x${I}x${H} ${tok} ${len}`;
  if (spec.kind === 'lstm') {
    const r = ctx.runMap<'c'>(
      `lstm ${shape}`,
      (gpu) => lstmStepKernel(gpu, B, I, H, tok, len),
      ...inputs,
      c,
      p.wIh.texture,
      p.wHh.texture,
      p.bias.texture,
      lengths,
    );
    return { h: r.result, c: r.c };
  }
  if (spec.kind === 'gru' && spec.resetAfter) {
    return {
      h: ctx.run(
        `gru-after ${shape}`,
        (gpu) => gruAfterStepKernel(gpu, B, I, H, tok, len),
        ...inputs,
        p.wIh.texture,
        p.wHh.texture,
        p.bias.texture,
        w.bhn!.texture,
        lengths,
      ),
      c: null,
    };
  }
  if (spec.kind === 'gru') {
    const r = ctx.runMap<'z' | 'n'>(
      `gru-reset ${shape}`,
      (gpu) => gruResetKernel(gpu, B, I, H, tok, len),
      ...inputs,
      p.wIh.texture,
      p.wHh.texture,
      p.bias.texture,
    );
    try {
      return {
        h: ctx.run(
          `gru-before ${shape}`,
          (gpu) => gruBeforeStepKernel(gpu, B, I, H, tok, len),
          t,
          h,
          r.result,
          r.z,
          r.n,
          p.wHh.texture,
          lengths,
        ),
        c: null,
      };
    } finally {
      for (const o of [r.result, r.z, r.n]) ctx.delete(o);
    }
  }
  const relu = spec.activation === 'relu';
  return {
    h: ctx.run(
      `rnn ${shape} ${relu}`,
      (gpu) => rnnStepKernel(gpu, B, I, H, tok, len, relu),
      ...inputs,
      p.wIh.texture,
      p.wHh.texture,
      p.bias.texture,
      lengths,
    ),
    c: null,
  };
}

/**
 * A chunk: its inputs and state packed over batch rows (kernels/packed.ts), one fused kernel a step (input and
 * recurrent products, gates, state; two for TF1's GRU), the packed states stacked once (log8 T passes) and unpacked
 * into y in one kernel. With `keepTape` the states unpacked whole, and a copy of the input, stay for the backward.
 */
export function forward(ctx: GpuContext, args: ForwardArgs, w: GpuWeights): ForwardResult & { tape?: GpuTape } {
  const spec = args.layer,
    T = args.time,
    B = args.batch,
    H = spec.units,
    I = spec.inputSize,
    B4 = Math.ceil(B / 4);
  if (T === 0) {
    // no step: empty outputs, the state as it was (copies: results are new storages)
    const copy = (s: unknown) => ctx.wrap(ctx.copy(ctx.storage(s).texture!, B, H), B, H);
    return { y: ctx.wrap(null, 0, H), hT: copy(args.h0), cT: args.c0 === null ? null : copy(args.c0) };
  }
  // the state as it is: a packed one (a state this backend made) is read packed, never unpacked for this
  const x = args.x === null ? null : ctx.storage(args.x),
    h0 = ctx.storage(args.h0, true),
    c0 = args.c0 === null ? null : ctx.storage(args.c0, true);
  const made = new Set<Texture>(); // this call's textures, deleted if it fails
  const keep = <X extends Texture | null>(t: X): X => {
    if (t) made.add(t);
    return t;
  };
  try {
    // without lengths every row runs every step: the kernels read none (but a backward's tape keeps them)
    const lengths = args.seqLens || args.keepTape ? keep(lengthsTexture(ctx, args.seqLens, B)) : null;
    const ids = args.tokens ? keep(ctx.upload(Float32Array.from(args.tokens), 1, T * B)) : null;
    const x4 = ids ? null : keep(ctx.packRows(x!.texture!, T, B, I));
    const inputs: StepInputs = { x4, ids, lengths: args.seqLens ? lengths : null, plain: ids ?? x!.texture! };
    // a state this backend made keeps its packed form (a streamed step's carried state is never packed again)
    const hList: Texture[] = [h0.packed ?? keep(ctx.packRows(h0.texture!, 1, B, H))];
    const cList: Texture[] = c0 ? [c0.packed ?? keep(ctx.packRows(c0.texture!, 1, B, H))] : [];
    for (let t = 0; t < T; t++) {
      const next = step(ctx, w, inputs, t, T, B, hList[t], cList[t] ?? null);
      hList.push(keep(next.h));
      if (next.c) cList.push(keep(next.c));
    }
    // one step and no tape: y straight from the new state; else every state stacked once
    const h4s = T === 1 && !args.keepTape ? null : keep(stackTextures(ctx, hList, B4, H, true));
    const y = keep(h4s ? ctx.unpackRows(h4s, T, B, H, 1, inputs.lengths) : ctx.unpackRows(hList[1], 1, B, H, 0, inputs.lengths));
    let tape: GpuTape | undefined;
    if (args.keepTape) {
      const hs = keep(ctx.unpackRows(h4s!, T + 1, B, H));
      const cs = c0 ? keep(ctx.unpackRows(keep(stackTextures(ctx, cList, B4, H, true)), T + 1, B, H)) : null;
      tape = { weights: w, time: T, batch: B, x: x ? keep(ctx.copy(x.texture!, T * B, I)) : null, ids, hs, cs, lengths: lengths! };
    }
    // the final state stays packed; its plain form is made when something reads it (GpuContext.storage)
    const result = { y: ctx.wrap(y, T * B, H), hT: ctx.wrap(null, B, H, hList[T]), cT: c0 ? ctx.wrap(null, B, H, cList[T]) : null, tape };
    const kept = new Set<Texture | null>([
      y,
      hList[T],
      cList[T] ?? null,
      ...(tape ? [tape.hs, tape.cs, tape.x, tape.ids, tape.lengths] : []),
    ]);
    for (const t of made) if (!kept.has(t)) ctx.delete(t);
    return result;
  } catch (error) {
    for (const t of made) ctx.delete(t);
    throw error;
  }
}

export function disposeTape(ctx: GpuContext, tape: GpuTape): void {
  for (const t of new Set([tape.x, tape.ids, tape.hs, tape.cs, tape.lengths])) ctx.delete(t);
}

/**
 * What a forward allocates besides its outputs: the packed input, each step's packed states and their stack (rows
 * rounded up to 4), their unpacked copies (and the tape: those and the input).
 */
export function forwardScratch(spec: ForwardArgs['layer'], time: number, batch: number, keepTape: boolean) {
  const packedRows = Math.ceil(batch / 4) * 4,
    input = time * packedRows * spec.inputSize * 4;
  const states = (time + 1) * packedRows * spec.units * 4 * (spec.kind === 'lstm' ? 2 : 1);
  const kept = keepTape ? time * batch * spec.inputSize * 4 + states : 0;
  return { transientBytes: input + 2 * states, keptBytes: kept, largestBytes: Math.max(input, states) };
}
