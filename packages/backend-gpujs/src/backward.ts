import type { BackwardArgs, BackwardResult } from '@recur/core';
import type { Texture } from 'gpu.js';
import type { GpuContext } from './context.js';
import { project, type GpuTape } from './forward.js';
import {
  gruAfterActivationsKernel,
  gruAfterHiddenGradsKernel,
  gruBeforeActivationsKernel,
  gruBeforeResetKernel,
  gruCarryKernel,
  gruGateGradsKernel,
  gruResetHiddenKernel,
} from './kernels/gru-backward.js';
import { lstmActivationsKernel, lstmCarryKernel, lstmGateGradsKernel } from './kernels/lstm-backward.js';
import { tokenWeightGradKernel } from './kernels/products.js';
import { atb, byColumns, byRows, columnSums, linear, matmul } from './products.js';
import { recurrentGradKernel, rnnGateGradsKernel } from './kernels/rnn-backward.js';
import { rowsKernel } from './kernels/rows.js';
import { stackTextures } from './stack.js';

/**
 * A chunk's backward: the input projection and the gates of every row recomputed over all T·B rows, two kernels a
 * step back (the gate gradients, the state gradients through W_hh), the step gradients stacked, then each weight
 * gradient as one product over all rows.
 */
export function backward(ctx: GpuContext, args: BackwardArgs, tape: GpuTape): BackwardResult {
  const w = tape.weights,
    spec = w.spec,
    T = tape.time,
    B = tape.batch,
    H = spec.units,
    I = spec.inputSize,
    G = w.wIh.rows,
    R = T * B;
  const dy = args.dy === null ? null : ctx.storage(args.dy).texture;
  const dhT = args.dhT === null ? null : ctx.storage(args.dhT).texture,
    dcT = args.dcT === null ? null : ctx.storage(args.dcT).texture;
  const made = new Set<Texture>();
  const keep = (t: Texture): Texture => (made.add(t), t);
  const drop = (t: Texture | null) => {
    if (t && made.delete(t)) ctx.delete(t);
  };
  const whh = w.wHh.texture,
    withDy = dy !== null && T > 0,
    hs = tape.hs,
    lengths = tape.lengths;
  const resetAfter = spec.kind === 'gru' && spec.resetAfter;
  try {
    let dh = dhT ?? keep(ctx.zeros(B, H));
    let dc = spec.kind === 'lstm' ? (dcT ?? keep(ctx.zeros(B, H))) : null;
    // the gates of every row at once, from the input projection (RNN needs neither: its derivative comes from h_t)
    let act: Texture | null = null,
      rh: Texture | null = null; // rh: r ⊙ h_{t-1}, what a reset-before GRU's W_hn multiplies
    const proj = spec.kind === 'rnn' ? null : keep(project(ctx, w, tape.x, tape.ids, R));
    if (spec.kind === 'lstm') {
      const pre = keep(linear(ctx, hs, R, H, whh!, G, null, proj));
      act = keep(ctx.run(`lstm-act ${R}x${H}`, (gpu) => lstmActivationsKernel(gpu, R, H), pre));
      drop(pre);
    } else if (spec.kind === 'gru') {
      const pre = keep(linear(ctx, hs, R, H, whh!, G, null));
      if (resetAfter)
        act = keep(ctx.run(`gru-after-act ${R}x${H}`, (gpu) => gruAfterActivationsKernel(gpu, R, H), proj!, pre, w.bhn!.texture));
      else {
        const reset = keep(ctx.run(`gru-before-reset ${R}x${H}`, (gpu) => gruBeforeResetKernel(gpu, R, H), proj!, pre));
        rh = keep(ctx.run(`gru-rh ${R}x${H}`, (gpu) => gruResetHiddenKernel(gpu, R, H), reset, hs));
        const whn = keep(ctx.run(`rows ${G}x${H}+${2 * H}`, (gpu) => rowsKernel(gpu, H, H, 2 * H), whh));
        const preN = keep(linear(ctx, rh, R, H, whn, H, null));
        act = keep(ctx.run(`gru-before-act ${R}x${H}`, (gpu) => gruBeforeActivationsKernel(gpu, R, H), proj!, pre, reset, preN));
        for (const t of [reset, whn, preN]) drop(t);
      }
      drop(pre);
    }
    const dGs: Texture[] = new Array(T);
    // W_hh four rows a texel, for the state gradient's product each step (LSTM, RNN)
    const whhRows = spec.kind === 'gru' ? null : keep(byRows(ctx, whh!, G, H));
    const dyArg = () => dy ?? dh;
    for (let t = T - 1; t >= 0; t--) {
      let dG: Texture,
        dhPrev: Texture,
        dcPrev: Texture | null = null;
      if (spec.kind === 'lstm') {
        dG = keep(
          ctx.run(
            `lstm-dg ${T}x${B}x${H} ${withDy}`,
            (gpu) => lstmGateGradsKernel(gpu, B, H, withDy),
            act,
            tape.cs,
            dyArg(),
            dh,
            dc,
            t,
            lengths,
          ),
        );
        const dG4 = keep(byColumns(ctx, dG, B, G));
        const r = ctx.runMap<'dc'>(
          `lstm-carry ${T}x${B}x${H} ${withDy}`,
          (gpu) => lstmCarryKernel(gpu, B, H, withDy),
          dG4,
          whhRows,
          act,
          tape.cs,
          dyArg(),
          dh,
          dc,
          t,
          lengths,
        );
        drop(dG4);
        dhPrev = keep(r.result);
        dcPrev = keep(r.dc);
      } else if (spec.kind === 'gru') {
        dG = keep(
          ctx.run(
            `gru-dg ${T}x${B}x${H} ${resetAfter} ${withDy}`,
            (gpu) => gruGateGradsKernel(gpu, B, H, resetAfter, withDy),
            act,
            proj!,
            hs,
            whh,
            dyArg(),
            dh,
            t,
            lengths,
          ),
        );
        dhPrev = keep(
          ctx.run(
            `gru-carry ${T}x${B}x${H} ${resetAfter} ${withDy}`,
            (gpu) => gruCarryKernel(gpu, B, H, resetAfter, withDy),
            dG,
            act,
            whh,
            dyArg(),
            dh,
            t,
            lengths,
          ),
        );
      } else {
        const relu = spec.activation === 'relu';
        dG = keep(
          ctx.run(
            `rnn-dg ${T}x${B}x${H} ${relu} ${withDy}`,
            (gpu) => rnnGateGradsKernel(gpu, B, H, relu, withDy),
            hs,
            dyArg(),
            dh,
            t,
            lengths,
          ),
        );
        const dG4 = keep(byColumns(ctx, dG, B, G));
        dhPrev = keep(ctx.run(`carry ${B}x${H}x${H}`, (gpu) => recurrentGradKernel(gpu, B, H, H), dG4, whhRows, dh, t, lengths));
        drop(dG4);
      }
      dGs[t] = dG;
      drop(dh);
      dh = dhPrev;
      if (dcPrev) {
        drop(dc);
        dc = dcPrev;
      }
    }
    let dx: Texture | null = null,
      dWih: Texture,
      dWhh: Texture,
      dbIh: Texture,
      dbHh: Texture;
    if (T === 0) {
      dx = null;
      dWih = keep(ctx.zeros(G, I));
      dWhh = keep(ctx.zeros(G, H));
      dbIh = keep(ctx.zeros(1, G));
      dbHh = keep(ctx.zeros(1, G));
    } else {
      const dXP = keep(stackTextures(ctx, dGs, B, G));
      dGs.forEach(drop);
      // the recurrent side: dn scaled by r (reset-after), or W_hn's input r ⊙ h (reset-before)
      const dHP = resetAfter ? keep(ctx.run(`gru-after-dhp ${R}x${H}`, (gpu) => gruAfterHiddenGradsKernel(gpu, R, H), dXP, act)) : dXP;
      if (tape.ids) {
        dWih = keep(ctx.run(`token-dw ${R}x${G}x${I}`, (gpu) => tokenWeightGradKernel(gpu, R, G, I), dXP, tape.ids));
      } else {
        dx = keep(matmul(ctx, dXP, R, G, w.wIh.texture!, I));
        dWih = keep(atb(ctx, dXP, R, G, tape.x!, I));
      }
      dWhh = keep(atb(ctx, dHP, R, G, hs, H, rh ?? hs, rh ? 2 * H : G));
      dbIh = keep(columnSums(ctx, dXP, R, G));
      dbHh = keep(columnSums(ctx, dHP, R, G));
    }
    const own = (t: Texture, rows: number, cols: number) =>
      ctx.wrap(made.has(t) ? (made.delete(t), t) : ctx.copy(t, rows, cols), rows, cols);
    const result: BackwardResult = {
      dx: dx ? own(dx, R, I) : null,
      dh0: own(dh, B, H),
      dc0: dc ? own(dc, B, H) : null,
      dWeights: { wIh: own(dWih, G, I), wHh: own(dWhh, G, H), bIh: own(dbIh, 1, G), bHh: own(dbHh, 1, G) },
    };
    for (const t of made) ctx.delete(t);
    return result;
  } catch (error) {
    for (const t of made) ctx.delete(t);
    throw error;
  }
}
