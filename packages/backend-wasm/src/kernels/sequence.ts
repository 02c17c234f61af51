import * as tf from '@tensorflow/tfjs-core';
import { stepRows } from './step-rows.js';
import type { SequenceArgs, SequenceResult } from './types.js';

/**
 * Runs a layer over a chunk with tfjs ops: the input projection of the whole chunk as one matrix product, then
 * per step one product with the recurrent kernel and the gate math in as few tfjs ops as tfjs allows. With
 * `record`, each step's activations are kept (stacked [T, B, *]) for the backward.
 */
export function runSequence(args: SequenceArgs, record = false): SequenceResult & { saved: tf.Tensor3D[]; hPrev: tf.Tensor3D | null } {
  const { spec, time: T, batch: B } = args;
  const step = spec.kind === 'lstm' ? lstmStep : spec.kind === 'gru' ? (spec.resetAfter ? gruAfterStep : gruBeforeStep) : rnnStep;
  const { w } = args;
  const H = spec.units;
  const projected = tf.add(tf.matMul(args.x, w.wIhT), w.inputBias);
  const ctx: StepContext = {
    H,
    wHhT: w.wHhT,
    bHn: w.bHn,
    wHhRz: w.wHhRz,
    wHhN: w.wHhN,
    relu: spec.kind === 'rnn' && spec.activation === 'relu',
  };
  let h = args.h0,
    c = args.c0;
  const ys: tf.Tensor2D[] = [],
    hPrev: tf.Tensor2D[] = [],
    saved: tf.Tensor2D[][] = [];
  for (let t = 0; t < T; t++) {
    if (record) hPrev.push(h);
    const next = step(ctx, T === 1 ? (projected as tf.Tensor2D) : stepRows(projected, t, T, B), h, c);
    if (record) saved.push(next.saved);
    const mask = args.masks?.[t];
    if (mask) {
      // finished rows keep their state and emit zeros; a select, so that whatever a finished row's input was
      // (NaN padding, say) never reaches its state
      const running = tf.cast(mask, 'bool');
      const hNext = tf.where(running, next.h, h) as tf.Tensor2D;
      if (c && next.c) c = tf.where(running, next.c, c) as tf.Tensor2D;
      ys.push(tf.where(running, next.h, tf.zerosLike(next.h)) as tf.Tensor2D);
      h = hNext;
    } else {
      h = next.h;
      c = next.c;
      ys.push(h);
    }
  }
  const stacked = record ? saved[0].map((_, k) => tf.stack(saved.map((s) => s[k])) as tf.Tensor3D) : [];
  return {
    y: (T === 1 ? tf.reshape(ys[0], [1, B, H]) : tf.stack(ys)) as tf.Tensor3D,
    h,
    c: spec.kind === 'lstm' ? c : null,
    saved: stacked,
    hPrev: record ? (tf.stack(hPrev) as tf.Tensor3D) : null,
  };
}

interface StepContext {
  readonly H: number;
  readonly wHhT: tf.Tensor2D;
  readonly bHn: tf.Tensor1D | null;
  readonly wHhRz: tf.Tensor2D | null;
  readonly wHhN: tf.Tensor2D | null;
  readonly relu: boolean;
}

/** A step's new state and what the backward needs of it (see backward.ts for each kind's list). */
type Step = (
  ctx: StepContext,
  xt: tf.Tensor2D,
  h: tf.Tensor2D,
  c: tf.Tensor2D | null,
) => { h: tf.Tensor2D; c: tf.Tensor2D | null; saved: tf.Tensor2D[] };

/** Columns i, f, o, g: one sigmoid for three gates. */
const lstmStep: Step = ({ H, wHhT }, xt, h, c) => {
  const gates = tf.add(xt, tf.matMul(h, wHhT));
  const ifo = tf.sigmoid(tf.slice(gates, [0, 0], [-1, 3 * H])) as tf.Tensor2D;
  const [i, f, o] = tf.split(ifo, 3, 1);
  const g = tf.tanh(tf.slice(gates, [0, 3 * H], [-1, H])) as tf.Tensor2D;
  const cNext = tf.add(tf.mul(f, c!), tf.mul(i, g)) as tf.Tensor2D;
  return { h: tf.mul(o, tf.tanh(cNext)) as tf.Tensor2D, c: cNext, saved: [ifo, g, c!, cNext] };
};

const gruAfterStep: Step = ({ H, wHhT, bHn }, xt, h) => {
  const hp = tf.matMul(h, wHhT);
  const [r, z] = tf.split(tf.sigmoid(tf.add(tf.slice(xt, [0, 0], [-1, 2 * H]), tf.slice(hp, [0, 0], [-1, 2 * H]))), 2, 1);
  const hn = tf.add(tf.slice(hp, [0, 2 * H], [-1, H]), bHn!) as tf.Tensor2D;
  const n = tf.tanh(tf.add(tf.slice(xt, [0, 2 * H], [-1, H]), tf.mul(r, hn))) as tf.Tensor2D;
  return { h: tf.add(n, tf.mul(z, tf.sub(h, n))) as tf.Tensor2D, c: null, saved: [r as tf.Tensor2D, z as tf.Tensor2D, n, hn] };
};

const gruBeforeStep: Step = ({ H, wHhRz, wHhN }, xt, h) => {
  const [r, z] = tf.split(tf.sigmoid(tf.add(tf.slice(xt, [0, 0], [-1, 2 * H]), tf.matMul(h, wHhRz!))), 2, 1);
  const rh = tf.mul(r, h) as tf.Tensor2D;
  const n = tf.tanh(tf.add(tf.slice(xt, [0, 2 * H], [-1, H]), tf.matMul(rh, wHhN!))) as tf.Tensor2D;
  return { h: tf.add(n, tf.mul(z, tf.sub(h, n))) as tf.Tensor2D, c: null, saved: [r as tf.Tensor2D, z as tf.Tensor2D, n, rh] };
};

const rnnStep: Step = ({ wHhT, relu }, xt, h) => {
  const pre = tf.add(xt, tf.matMul(h, wHhT));
  const hNext = (relu ? tf.relu(pre) : tf.tanh(pre)) as tf.Tensor2D;
  return { h: hNext, c: null, saved: [hNext] };
};
