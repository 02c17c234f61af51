import { gateCount, type LayerSpec, type LayerWeights } from '@recur/core';
import type { GpuContext, GpuStorage } from './context.js';
import { columnsKernel, foldBiasKernel } from './kernels/optimizer.js';

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
  readonly bytes: number;
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
    return { spec, wIh, wHh, bIh, bHh, bias, bhn, bytes: (G * (I + H + 3) + (bhn ? H : 0)) * 4 };
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
  let bhn = null;
  try {
    if (w.bhn) bhn = ctx.run(`columns 1x${H}+${2 * H}`, (gpu) => columnsKernel(gpu, 1, H, 2 * H), w.bHh.texture);
  } catch (error) {
    ctx.delete(bias);
    throw error;
  }
  ctx.replace(w.bias, bias);
  if (w.bhn && bhn) ctx.replace(w.bhn, bhn);
}

export function disposeWeights(ctx: GpuContext, w: GpuWeights): void {
  for (const s of [w.wIh, w.wHh, w.bIh, w.bHh, w.bias, w.bhn]) if (s) ctx.disown(s);
}
