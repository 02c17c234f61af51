import type { DenseArgs, DenseGradients, LossStorages, OptimizerArgs } from '@recur/core';
import type { Texture } from 'gpu.js';
import { atb, columnSums, linear, matmul } from './products.js';
import type { GpuContext, GpuStorage } from './context.js';
import {
  crossEntropyKernel,
  rowLogSumExpKernel,
  softmaxGradKernel,
  squaredErrorGradKernel,
  squaredErrorRowsKernel,
  sumKernel,
} from './kernels/losses.js';
import { combineNormStatsKernel, normFromStatsKernel, rowNormStatsKernel } from './kernels/norm.js';
import { adamKernel, sgdKernel } from './kernels/optimizer.js';
import { stackTextures } from './stack.js';

// The v2 training kernels: the dense head, the losses, the gradient norm and the optimizer in place. With them a
// TBPTT chunk moves its inputs (or ids) and targets in and only the loss and the norm out.

type Keep = (t: Texture) => Texture;

/**
 * Runs `body` with two ways to hold a texture it makes: `temp` (scratch, deleted when it returns) and `result`
 * (returned, deleted only if it fails), so that a failed kernel leaves nothing behind.
 */
function scratch<R>(ctx: GpuContext, body: (temp: Keep, result: Keep) => R): R {
  const temps: Texture[] = [],
    results: Texture[] = [];
  try {
    return body(
      (t) => (temps.push(t), t),
      (t) => (results.push(t), t),
    );
  } catch (error) {
    for (const t of results) ctx.delete(t);
    throw error;
  } finally {
    for (const t of temps) ctx.delete(t);
  }
}

export function denseForward(ctx: GpuContext, a: DenseArgs): GpuStorage {
  const x = ctx.storage(a.x).texture,
    w = ctx.storage(a.weight).texture,
    b = ctx.storage(a.bias).texture;
  return ctx.wrap(linear(ctx, x!, a.rows, a.inputs, w!, a.outputs, b!), a.rows, a.outputs);
}

export function denseBackward(ctx: GpuContext, a: DenseArgs & { readonly dOut: unknown }): DenseGradients {
  const x = ctx.storage(a.x).texture!,
    w = ctx.storage(a.weight).texture!,
    dOut = ctx.storage(a.dOut).texture!;
  return scratch(ctx, (_, result) => {
    const dx = result(matmul(ctx, dOut, a.rows, a.outputs, w, a.inputs));
    const dWeight = result(atb(ctx, dOut, a.rows, a.outputs, x, a.inputs));
    const dBias = columnSums(ctx, dOut, a.rows, a.outputs);
    return { dx: ctx.wrap(dx, a.rows, a.inputs), dWeight: ctx.wrap(dWeight, a.outputs, a.inputs), dBias: ctx.wrap(dBias, 1, a.outputs) };
  });
}

export function softmaxCrossEntropy(
  ctx: GpuContext,
  a: { logits: unknown; targets: Int32Array; rows: number; classes: number },
): LossStorages {
  const logits = ctx.storage(a.logits).texture!,
    R = a.rows,
    C = a.classes;
  return scratch(ctx, (temp, result) => {
    const targets = temp(ctx.upload(Float32Array.from(a.targets), 1, R));
    const lse = temp(ctx.run(`lse ${R}x${C}`, (gpu) => rowLogSumExpKernel(gpu, R, C), logits));
    const grad = result(ctx.run(`softmax-grad ${R}x${C}`, (gpu) => softmaxGradKernel(gpu, R, C), logits, lse, targets));
    const loss = ctx.run(`cross-entropy ${R}x${C}`, (gpu) => crossEntropyKernel(gpu, R), logits, lse, targets);
    return { loss: ctx.wrap(loss, 1, 1), dPredictions: ctx.wrap(grad, R, C) };
  });
}

export function meanSquaredError(ctx: GpuContext, a: { predictions: unknown; targets: unknown; count: number }): LossStorages {
  const p = ctx.storage(a.predictions),
    t = ctx.storage(a.targets),
    R = p.rows,
    C = p.cols,
    N = a.count;
  return scratch(ctx, (temp, result) => {
    const rows = temp(ctx.run(`mse-rows ${R}x${C}/${N}`, (gpu) => squaredErrorRowsKernel(gpu, R, C, N), p.texture, t.texture));
    const grad = result(ctx.run(`mse-grad ${R}x${C}/${N}`, (gpu) => squaredErrorGradKernel(gpu, R, C, N), p.texture, t.texture));
    const loss = ctx.run(`sum ${R}`, (gpu) => sumKernel(gpu, R), rows);
    return { loss: ctx.wrap(loss, 1, 1), dPredictions: ctx.wrap(grad, R, C) };
  });
}

/** √(Σ v²) over every storage as a [1, 1] tensor, through (max, scaled sum) statistics: no float32 overflow. */
export function globalNorm(ctx: GpuContext, storages: readonly unknown[]): GpuStorage {
  const parts = storages.map((s) => ctx.storage(s)).filter((s) => s.texture !== null);
  if (parts.length === 0) return ctx.wrap(ctx.zeros(1, 1), 1, 1);
  return scratch(ctx, (temp) => {
    const stats = parts.map((s) => {
      const rows = temp(ctx.run(`norm-rows ${s.rows}x${s.cols}`, (gpu) => rowNormStatsKernel(gpu, s.rows, s.cols), s.texture));
      return s.rows === 1 ? rows : temp(ctx.run(`norm-combine ${s.rows}`, (gpu) => combineNormStatsKernel(gpu, s.rows), rows));
    });
    const all =
      stats.length === 1
        ? stats[0]
        : temp(
            ctx.run(
              `norm-combine ${stats.length}`,
              (gpu) => combineNormStatsKernel(gpu, stats.length),
              temp(stackTextures(ctx, stats, 1, 2)),
            ),
          );
    return ctx.wrap(
      ctx.run('norm', (gpu) => normFromStatsKernel(gpu), all),
      1,
      1,
    );
  });
}

/**
 * One optimizer update of every parameter: every new texture is made first, then all are swapped in (a kernel that
 * fails leaves every parameter and slot as it was).
 */
export function applyOptimizer(ctx: GpuContext, a: OptimizerArgs): void {
  const rule = a.rule,
    updates: { storage: GpuStorage; texture: Texture }[] = [];
  try {
    a.params.forEach((param, i) => {
      const p = ctx.storage(param),
        g = ctx.storage(a.grads[i]),
        slots = a.slots[i].map((s) => ctx.storage(s));
      if (!p.texture) return;
      const shape = `${p.rows}x${p.cols}`;
      if (rule.kind === 'sgd') {
        const r = ctx.runMap<'v'>(
          `sgd ${shape}`,
          (gpu) => sgdKernel(gpu, p.rows, p.cols),
          p.texture,
          g.texture,
          slots[0].texture,
          rule.learningRate,
          rule.momentum,
          a.gradScale,
        );
        updates.push({ storage: p, texture: r.result }, { storage: slots[0], texture: r.v });
      } else {
        const c1 = 1 - rule.beta1 ** a.step,
          c2 = 1 - rule.beta2 ** a.step;
        const r = ctx.runMap<'m' | 'v'>(
          `adam ${shape}`,
          (gpu) => adamKernel(gpu, p.rows, p.cols),
          p.texture,
          g.texture,
          slots[0].texture,
          slots[1].texture,
          rule.learningRate / c1,
          1 / c2,
          rule.beta1,
          rule.beta2,
          rule.epsilon,
          a.gradScale,
        );
        updates.push({ storage: p, texture: r.result }, { storage: slots[0], texture: r.m }, { storage: slots[1], texture: r.v });
      }
    });
  } catch (error) {
    for (const u of updates) ctx.delete(u.texture);
    throw error;
  }
  for (const u of updates) ctx.replace(u.storage, u.texture);
}
