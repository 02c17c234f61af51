import { RecurError, ShapeError, describe } from '../errors.js';
import type { FloatArray } from '../spec.js';

/** A loss and its gradient with respect to the predictions. */
export interface LossResult {
  /** Mean over the rows (nats for cross-entropy). */
  readonly loss: number;
  /** Gradient of the mean loss with respect to the predictions. */
  readonly dPredictions: FloatArray;
}

/** Validates integer class targets: `rows` integers in [0, classes). */
export function checkTargets(targets: unknown, rows: number, classes: number, argument = 'targets'): Int32Array {
  const v = targets as ArrayLike<unknown>;
  if (!v || typeof v !== 'object' || typeof v.length !== 'number')
    throw new RecurError(argument, `an array of ${rows} class indices`, describe(targets));
  if (v.length !== rows) throw new ShapeError(argument, `${rows} targets (one per batch row and step)`, `${v.length} targets`);
  const out = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    const c = v[i];
    if (!Number.isInteger(c) || (c as number) < 0 || (c as number) >= classes) {
      throw new RecurError(`${argument}[${i}]`, `a class index in [0, ${classes}) (the vocabulary)`, describe(c));
    }
    out[i] = c as number;
  }
  return out;
}

/**
 * Softmax cross-entropy with integer targets over logits [rows, classes], mean over rows.
 * @see [docs/backend-authoring.md (training kernels)](../../../../docs/backend-authoring.md#training-kernels-keep-a-training-step-on-the-backend-optional)
 */
export function softmaxCrossEntropy(logits: FloatArray, targets: ArrayLike<number>, rows: number, classes: number): LossResult {
  if (logits.length !== rows * classes)
    throw new ShapeError('logits', `${rows * classes} values ([${rows}, ${classes}])`, `${logits.length} values`);
  const t = checkTargets(targets, rows, classes);
  const d = logits instanceof Float64Array ? new Float64Array(logits.length) : new Float32Array(logits.length);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const o = r * classes;
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, logits[o + c]);
    // each exponential once: kept in d, then scaled to softmax / rows
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += d[o + c] = Math.exp(logits[o + c] - max);
    total += Math.log(sum) + max - logits[o + t[r]];
    const scale = 1 / (sum * rows);
    for (let c = 0; c < classes; c++) d[o + c] *= scale;
    d[o + t[r]] -= 1 / rows;
  }
  return { loss: total / rows, dPredictions: d };
}

/**
 * Mean squared error over all elements.
 * @see [docs/backend-authoring.md (training kernels)](../../../../docs/backend-authoring.md#training-kernels-keep-a-training-step-on-the-backend-optional)
 */
export function meanSquaredError(predictions: FloatArray, targets: ArrayLike<number>): LossResult {
  if (!targets || targets.length !== predictions.length)
    throw new ShapeError('targets', `${predictions.length} values (the predictions' size)`, `${targets?.length} values`);
  const n = predictions.length;
  const d = predictions instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const target = targets[i];
    if (!Number.isFinite(target)) throw new RecurError(`targets[${i}]`, 'a finite number', describe(target));
    const e = predictions[i] - target;
    total += e * e;
    d[i] = (2 * e) / n;
  }
  return { loss: total / n, dPredictions: d };
}
