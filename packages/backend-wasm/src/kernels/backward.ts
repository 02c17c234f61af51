import * as tf from '@tensorflow/tfjs-core';
import type { LayerSpec } from '@recur/core';
import { stepRows } from './step-rows.js';
import type { WasmWeights } from './types.js';

/** What the forward recorded, stacked [T, B, *]: LSTM [σ(i,f,o), tanh g, c_prev, c]; GRU [r, z, n, W_hn h + b_hn or r·h]; RNN [h]. */
export interface Recorded {
  readonly x: tf.Tensor2D;
  readonly hPrev: tf.Tensor3D;
  readonly saved: readonly tf.Tensor3D[];
}

export interface BackwardInputs {
  readonly spec: LayerSpec;
  readonly w: WasmWeights;
  readonly rec: Recorded;
  readonly time: number;
  readonly batch: number;
  readonly masks: tf.Tensor2D[] | null;
  readonly dy: tf.Tensor3D | null;
  readonly dhT: tf.Tensor2D | null;
  readonly dcT: tf.Tensor2D | null;
}

/** Gradients in the backend's internal layout (transposed kernels; LSTM columns i, f, o, g). */
export interface InternalGrads {
  readonly dx: tf.Tensor2D;
  readonly dh0: tf.Tensor2D;
  readonly dc0: tf.Tensor2D | null;
  readonly dWihT: tf.Tensor2D;
  readonly dWhhT: tf.Tensor2D;
  readonly dbIh: tf.Tensor1D;
  readonly dbHh: tf.Tensor1D;
}

const oneMinus = (t: tf.Tensor) => tf.sub(1, t);
/** d tanh / d pre = 1 - tanh², d σ / d pre = σ (1 - σ), from the activation's value */
const dTanh = (a: tf.Tensor) => oneMinus(tf.square(a));
const dSigmoid = (a: tf.Tensor) => tf.mul(a, oneMinus(a));

/**
 * The backward of a chunk with tfjs ops: a reverse time loop for the pre-activation gradients (one product with
 * the recurrent kernel per step), then every weight gradient as one product over all T*B rows.
 */
export function backwardSequence({ spec, w, rec, time: T, batch: B, masks, dy, dhT, dcT }: BackwardInputs): InternalGrads {
  const H = spec.units;
  const at = (k: number, t: number) => stepRows(rec.saved[k], t, T, B);
  const dyAt = (t: number) => (dy ? stepRows(dy, t, T, B) : null);
  const hPrevAt = (t: number) => stepRows(rec.hPrev, t, T, B);
  let dh: tf.Tensor2D = dhT ?? tf.zeros([B, H]);
  let dc: tf.Tensor2D | null = spec.kind === 'lstm' ? (dcT ?? tf.zeros([B, H])) : null;
  const dX: tf.Tensor2D[] = new Array(T),
    dH: tf.Tensor2D[] = new Array(T);
  const resetBefore = spec.kind === 'gru' && !spec.resetAfter;
  const { wHhRz, wHhN } = w;
  for (let t = T - 1; t >= 0; t--) {
    const m = masks?.[t] ?? null;
    const yGrad = dyAt(t);
    // finished rows took no output gradient and pass dh, dc through unchanged
    const dht = yGrad ? tf.add(dh, m ? tf.mul(m, yGrad) : yGrad) : dh;
    let dPre: tf.Tensor2D,
      dRec: tf.Tensor2D,
      dhPrev: tf.Tensor2D,
      dcPrev: tf.Tensor2D | null = null;
    if (spec.kind === 'lstm') {
      const ifo = at(0, t),
        g = at(1, t),
        cp = at(2, t),
        cn = at(3, t);
      const [i, f, o] = tf.split(ifo, 3, 1);
      const tc = tf.tanh(cn);
      const dcAll = tf.add(dc!, tf.mul(tf.mul(dht, o), dTanh(tc)));
      const dIfo = tf.mul(tf.concat([tf.mul(dcAll, g), tf.mul(dcAll, cp), tf.mul(dht, tc)], 1), dSigmoid(ifo));
      dPre = tf.concat([dIfo, tf.mul(tf.mul(dcAll, i), dTanh(g))], 1) as tf.Tensor2D;
      dRec = dPre;
      dcPrev = tf.mul(dcAll, f) as tf.Tensor2D;
      dhPrev = tf.matMul(dPre, w.wHhT, false, true);
    } else if (spec.kind === 'gru') {
      const r = at(0, t),
        z = at(1, t),
        n = at(2, t),
        extra = at(3, t),
        hp = hPrevAt(t);
      const dpn = tf.mul(tf.mul(dht, oneMinus(z)), dTanh(n));
      const dpz = tf.mul(tf.mul(dht, tf.sub(hp, n)), dSigmoid(z));
      const direct = tf.mul(dht, z);
      if (spec.resetAfter) {
        const dpr = tf.mul(tf.mul(dpn, extra), dSigmoid(r));
        dPre = tf.concat([dpr, dpz, dpn], 1) as tf.Tensor2D;
        dRec = tf.concat([dpr, dpz, tf.mul(dpn, r)], 1) as tf.Tensor2D;
        dhPrev = tf.add(direct, tf.matMul(dRec, w.wHhT, false, true));
      } else {
        const dRh = tf.matMul(dpn, wHhN!, false, true);
        const dpr = tf.mul(tf.mul(dRh, hp), dSigmoid(r));
        dPre = tf.concat([dpr, dpz, dpn], 1) as tf.Tensor2D;
        dRec = dPre;
        dhPrev = tf.add(tf.add(direct, tf.mul(dRh, r)), tf.matMul(tf.concat([dpr, dpz], 1), wHhRz!, false, true));
      }
    } else {
      const hNew = at(0, t);
      dPre = tf.mul(dht, spec.activation === 'relu' ? tf.step(hNew) : dTanh(hNew)) as tf.Tensor2D;
      dRec = dPre;
      dhPrev = tf.matMul(dPre, w.wHhT, false, true);
    }
    if (m) {
      const same = dRec === dPre;
      dPre = tf.mul(m, dPre) as tf.Tensor2D;
      dRec = same ? dPre : (tf.mul(m, dRec) as tf.Tensor2D);
      dh = tf.add(tf.mul(m, dhPrev), tf.mul(oneMinus(m), dh)) as tf.Tensor2D;
      if (dc && dcPrev) dc = tf.add(tf.mul(m, dcPrev), tf.mul(oneMinus(m), dc)) as tf.Tensor2D;
    } else {
      dh = dhPrev;
      dc = dcPrev;
    }
    dX[t] = dPre;
    dH[t] = dRec;
  }
  const dXP = tf.concat(dX, 0) as tf.Tensor2D;
  const dHP = spec.kind === 'gru' && spec.resetAfter ? (tf.concat(dH, 0) as tf.Tensor2D) : dXP;
  const hPrev = tf.reshape(rec.hPrev, [T * B, H]) as tf.Tensor2D;
  let dWhhT: tf.Tensor2D;
  if (resetBefore) {
    // the n rows of W_hh saw r·h, not h
    const rh = tf.reshape(rec.saved[3], [T * B, H]) as tf.Tensor2D;
    dWhhT = tf.concat(
      [tf.matMul(hPrev, tf.slice(dHP, [0, 0], [-1, 2 * H]), true, false), tf.matMul(rh, tf.slice(dHP, [0, 2 * H], [-1, H]), true, false)],
      1,
    ) as tf.Tensor2D;
  } else {
    dWhhT = tf.matMul(hPrev, dHP, true, false);
  }
  return {
    dx: tf.matMul(dXP, w.wIhT, false, true),
    dh0: dh,
    dc0: dc,
    dWihT: tf.matMul(rec.x, dXP, true, false),
    dWhhT,
    dbIh: tf.sum(dXP, 0) as tf.Tensor1D,
    dbHh: tf.sum(dHP, 0) as tf.Tensor1D,
  };
}
