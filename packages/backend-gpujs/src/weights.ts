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

/** The packed copies of an upload's parameters: [H, I], [H, H] and [1, H], four values a texel. */
function packed(ctx: GpuContext, spec: LayerSpec, wIh: Texture | null, wHh: Texture | null, bias: Texture | null) {
  const H = spec.units, G = gateCount(spec.kind), I = spec.inputSize, made: Texture[] = [];
  try {
    made.push(ctx.run(`pack-gates ${G}x${H}x${I}`, (gpu) => packGatesKernel(gpu, G, H, I), wIh));
    made.push(ctx.run(`pack-gates ${G}x${H}x${H}`, (gpu) => packGatesKernel(gpu, G, H, H), wHh));
    made.push(ctx.run(`pack-bias ${G}x${H}`, (gpu) => packBiasKernel(gpu, G, H), bias));
    return made;
  } catch (error) {
    for (const t of made) ctx.delete(t);
    throw error;
  }
}

const resetAfterOf = (spec: LayerSpec) => spec.kind === 'gru' && spec.resetAfter;

export function uploadWeights(ctx: GpuContext, spec: LayerSpec, weights: LayerWeights): GpuWeights {
  const H = spec.units, G = gateCount(spec.kind) * H, I = spec.inputSize;
  const made: GpuStorage[] = [];
  const own = (values: ArrayLike<number>, rows: number, cols: number) => {
    const s = ctx.own(ctx.upload(values, rows, cols), rows, cols);
    made.push(s);
    return s;
  };
  try {
    const wIh = own(weights.wIh, G, I), wHh = own(weights.wHh, G, H), bIh = own(weights.bIh, 1, G), bHh = own(weights.bHh, 1, G);
    const bias = ctx.own(foldBias(ctx, spec, bIh, bHh), 1, G);
    made.push(bias);
    const bhn = resetAfterOf(spec) ? ctx.own(ctx.run(`columns 1x${H}+${2 * H}`, (gpu) => columnsKernel(gpu, 1, H, 2 * H), bHh.texture), 1, H) : null;
    if (bhn) made.push(bhn);
    const [pIh, pHh, pBias] = packed(ctx, spec, wIh.texture, wHh.texture, bias.texture);
    const p = { wIh: ctx.own(pIh, H, I), wHh: ctx.own(pHh, H, H), bias: ctx.own(pBias, 1, H) };
    return { spec, wIh, wHh, bIh, bHh, bias, bhn, packed: p, bytes: (G * (I + H + 3) + (bhn ? H : 0) + 4 * H * (I + H + 1)) * 4 };
  } catch (error) {
    for (const s of made) ctx.disown(s);
    throw error;
  }
}

function foldBias(ctx: GpuContext, spec: LayerSpec, bIh: GpuStorage, bHh: GpuStorage) {
  const H = spec.units, G = gateCount(spec.kind) * H, forgetBias = spec.kind === 'lstm' ? spec.forgetBias : 0, after = resetAfterOf(spec);
  return ctx.run(`fold-bias ${G}/${H} ${after} ${forgetBias}`, (gpu) => foldBiasKernel(gpu, H, G, after, forgetBias), bIh.texture, bHh.texture);
}

/** After the optimizer changed the parameters: the derived bias (and b_hn) again. */
export function refreshDerived(ctx: GpuContext, w: GpuWeights): void {
  const H = w.spec.units;
  const bias = foldBias(ctx, w.spec, w.bIh, w.bHh);
  let bhn: Texture | null = null, pack: Texture[] = [];
  try {
    if (w.bhn) bhn = ctx.run(`columns 1x${H}+${2 * H}`, (gpu) => columnsKernel(gpu, 1, H, 2 * H), w.bHh.texture);
    pack = packed(ctx, w.spec, w.wIh.texture, w.wHh.texture, bias);
  } catch (error) {
    ctx.delete(bias);
    ctx.delete(bhn);
    throw error;
  }
  ctx.replace(w.bias, bias);
  if (w.bhn && bhn) ctx.replace(w.bhn, bhn);
  ctx.replace(w.packed.wIh, pack[0]);
  ctx.replace(w.packed.wHh, pack[1]);
  ctx.replace(w.packed.bias, pack[2]);
}

export function disposeWeights(ctx: GpuContext, w: GpuWeights): void {
  for (const s of [w.wIh, w.wHh, w.bIh, w.bHh, w.bias, w.bhn, w.packed.wIh, w.packed.wHh, w.packed.bias]) if (s) ctx.disown(s);
}
