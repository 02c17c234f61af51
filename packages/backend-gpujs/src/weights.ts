import { gateCount, type LayerSpec, type LayerWeights } from '@recur/core';
import type { Texture } from 'gpu.js';
import type { GpuContext, GpuStorage } from './context.js';
import { columnsKernel, foldBiasKernel } from './kernels/optimizer.js';
import { packBiasKernel, packGatesKernel } from './kernels/packed.js';

/**
 * A layer's upload: the parameters in the public layout (storages the optimizer kernel updates in place), and what
 * the kernels derive from them: the projection's folded bias and a reset-after GRU's b_hn.
 */
export interface GpuWeights {
  readonly spec: LayerSpec;
  /** [G, I], [G, H], [1, G], [1, G] */
  readonly wIh: GpuStorage;
  readonly wHh: GpuStorage;
  readonly bIh: GpuStorage;
  readonly bHh: GpuStorage;
  /** b_ih + b_hh (+ forgetBias on f), but b_hn of a reset-after GRU, which stays in `bhn` [1, H] */
  readonly bias: GpuStorage;
  readonly bhn: GpuStorage | null;
  /** What the forward's step kernels read (kernels/packed.ts): W_ih, W_hh and the folded bias packed over gates */
  readonly packed: { readonly wIh: GpuStorage; readonly wHh: GpuStorage; readonly bias: GpuStorage };
  readonly bytes: number;
}

const resetAfterOf = (spec: LayerSpec) => spec.kind === 'gru' && spec.resetAfter;

/** What the kernels derive from the parameters, as new textures (all made, or none). */
interface Derived {
  readonly bias: Texture;
  readonly bhn: Texture | null;
  /** W_ih, W_hh and the folded bias packed over gates: [H, I], [H, H] and [1, H], four values a texel */
  readonly packed: readonly [Texture, Texture, Texture];
}

function derive(ctx: GpuContext, spec: LayerSpec, p: { wIh: GpuStorage; wHh: GpuStorage; bIh: GpuStorage; bHh: GpuStorage }): Derived {
  const H = spec.units,
    G = gateCount(spec.kind),
    I = spec.inputSize,
    forgetBias = spec.kind === 'lstm' ? spec.forgetBias : 0,
    after = resetAfterOf(spec);
  const made: Texture[] = [];
  const keep = (t: Texture) => (made.push(t), t);
  try {
    const bias = keep(
      ctx.run(
        `fold-bias ${G * H}/${H} ${after} ${forgetBias}`,
        (gpu) => foldBiasKernel(gpu, H, G * H, after, forgetBias),
        p.bIh.texture,
        p.bHh.texture,
      ),
    );
    const bhn = after ? keep(ctx.run(`columns 1x${H}+${2 * H}`, (gpu) => columnsKernel(gpu, 1, H, 2 * H), p.bHh.texture)) : null;
    const packed = [
      keep(ctx.run(`pack-gates ${G}x${H}x${I}`, (gpu) => packGatesKernel(gpu, G, H, I), p.wIh.texture)),
      keep(ctx.run(`pack-gates ${G}x${H}x${H}`, (gpu) => packGatesKernel(gpu, G, H, H), p.wHh.texture)),
      keep(ctx.run(`pack-bias ${G}x${H}`, (gpu) => packBiasKernel(gpu, G, H), bias)),
    ] as const;
    return { bias, bhn, packed };
  } catch (error) {
    for (const t of made) ctx.delete(t);
    throw error;
  }
}

export function uploadWeights(ctx: GpuContext, spec: LayerSpec, weights: LayerWeights): GpuWeights {
  const H = spec.units,
    G = gateCount(spec.kind) * H,
    I = spec.inputSize;
  const made: GpuStorage[] = [];
  const own = (values: ArrayLike<number>, rows: number, cols: number) => {
    const s = ctx.own(ctx.upload(values, rows, cols), rows, cols);
    made.push(s);
    return s;
  };
  try {
    const params = { wIh: own(weights.wIh, G, I), wHh: own(weights.wHh, G, H), bIh: own(weights.bIh, 1, G), bHh: own(weights.bHh, 1, G) };
    const d = derive(ctx, spec, params);
    const [pIh, pHh, pBias] = d.packed;
    return {
      spec,
      ...params,
      bias: ctx.own(d.bias, 1, G),
      bhn: d.bhn ? ctx.own(d.bhn, 1, H) : null,
      packed: { wIh: ctx.own(pIh, H, I), wHh: ctx.own(pHh, H, H), bias: ctx.own(pBias, 1, H) },
      bytes: (G * (I + H + 3) + (d.bhn ? H : 0) + 4 * H * (I + H + 1)) * 4,
    };
  } catch (error) {
    for (const s of made) ctx.disown(s);
    throw error;
  }
}

/** After the optimizer changed the parameters: what the kernels derive from them, again. */
export function refreshDerived(ctx: GpuContext, w: GpuWeights): void {
  const d = derive(ctx, w.spec, w);
  ctx.replace(w.bias, d.bias);
  if (w.bhn && d.bhn) ctx.replace(w.bhn, d.bhn);
  ctx.replace(w.packed.wIh, d.packed[0]);
  ctx.replace(w.packed.wHh, d.packed[1]);
  ctx.replace(w.packed.bias, d.packed[2]);
}

export function disposeWeights(ctx: GpuContext, w: GpuWeights): void {
  for (const s of [w.wIh, w.wHh, w.bIh, w.bHh, w.bias, w.bhn, w.packed.wIh, w.packed.wHh, w.packed.bias]) if (s) ctx.disown(s);
}
