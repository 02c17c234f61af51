import type { Texture } from 'gpu.js';
import type { GpuContext } from './context.js';
import { fillKernel, stackKernel } from './kernels/rows.js';

/** Rows past their length compare t >= this: never, for a chunk run without lengths. */
const NO_LENGTH = 2 ** 24;

/**
 * The rows' lengths as a [1, B] texture: uploaded when given (B values in), else filled on the GPU (nothing moves).
 * The caller deletes it.
 */
export function lengthsTexture(ctx: GpuContext, seqLens: Int32Array | null, batch: number): Texture {
  if (seqLens) return ctx.upload(Float32Array.from(seqLens), 1, batch);
  return ctx.run(`fill 1x${batch} ${NO_LENGTH}`, (gpu) => fillKernel(gpu, 1, batch, NO_LENGTH));
}

/**
 * Matrices of `rows` rows each stacked into one, 8 at a time (log8 of their count passes, each copying every row
 * once; one matrix: a copy). The result is new; the inputs stay the caller's.
 */
export function stackTextures(ctx: GpuContext, textures: readonly Texture[], rows: number, cols: number, vec4 = false): Texture {
  let level = textures,
    each = rows,
    last = rows,
    made: Texture[] = [],
    next: Texture[] = [];
  try {
    do {
      next = [];
      for (let i = 0; i < level.length; i += 8) {
        const group = level.slice(i, i + 8),
          lastRows = i + 8 >= level.length ? last : each;
        const args = [...group, ...Array.from({ length: 8 - group.length }, () => group[0])];
        const key = `stack${vec4 ? '4' : ''} ${group.length}x${each}+${lastRows}x${cols}`;
        next.push(ctx.run(key, (gpu) => stackKernel(gpu, group.length, each, lastRows, cols, vec4), ...args));
      }
      const groups = Math.ceil(level.length / 8);
      last = (level.length - (groups - 1) * 8 - 1) * each + last;
      each *= 8;
      for (const t of made) ctx.delete(t);
      made = next;
      level = next;
    } while (level.length > 1);
    return level[0];
  } catch (error) {
    for (const t of new Set([...made, ...next])) ctx.delete(t);
    throw error;
  }
}
