import * as tf from '@tensorflow/tfjs-core';

// The v2 training kernels in tfjs ops on tfjs-backend-wasm: the values stay in wasm memory. Each runs inside
// tf.tidy; only its results survive.

/** logits [rows, O] = x [rows, I] · weightᵀ [O, I] + bias [O]. */
export function denseForward(x: tf.Tensor2D, weight: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  return tf.tidy(() => tf.add(tf.matMul(x, weight, false, true), bias));
}

/** dx = dOut · W, dW = dOutᵀ · x, db = the column sums of dOut. */
export function denseBackward(
  x: tf.Tensor2D,
  weight: tf.Tensor2D,
  dOut: tf.Tensor2D,
): { dx: tf.Tensor2D; dWeight: tf.Tensor2D; dBias: tf.Tensor1D } {
  return tf.tidy(() => ({ dx: tf.matMul(dOut, weight), dWeight: tf.matMul(dOut, x, true, false), dBias: tf.sum(dOut, 0) as tf.Tensor1D }));
}

/** Mean softmax cross-entropy over rows as a [1] tensor, and d(logits) = (softmax - one-hot) / rows. */
export function softmaxCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D): { loss: tf.Tensor1D; dLogits: tf.Tensor2D } {
  return tf.tidy(() => {
    const [rows, classes] = logits.shape;
    const logp = tf.logSoftmax(logits);
    const oneHot = tf.cast(tf.oneHot(targets, classes), 'float32');
    const loss = tf.reshape(tf.neg(tf.div(tf.sum(tf.mul(logp, oneHot)), rows)), [1]) as tf.Tensor1D;
    return { loss, dLogits: tf.div(tf.sub(tf.exp(logp), oneHot), rows) as tf.Tensor2D };
  });
}

/** The largest |v| as a divisor: itself, or 1 when every value is 0 (dividing by it then changes nothing). */
function scaleOf(largest: tf.Scalar | tf.Tensor): tf.Tensor {
  return tf.where(tf.greater(largest, 0), largest, tf.onesLike(largest));
}

/**
 * Mean squared error over every value as a [1] tensor, and its gradient 2·(p - t) / n. The mean is taken of
 * squares scaled by the largest |p - t| and squared back at the end, so it overflows float32 only when the loss
 * itself does (an unscaled float32 sum overflows at n times less).
 */
export function meanSquaredError(predictions: tf.Tensor, targets: tf.Tensor): { loss: tf.Tensor1D; dPredictions: tf.Tensor } {
  return tf.tidy(() => {
    const n = predictions.size;
    const e = tf.sub(predictions, targets);
    const scale = scaleOf(tf.max(tf.abs(e)));
    const root = tf.mul(tf.sqrt(tf.div(tf.sum(tf.square(tf.div(e, scale))), n)), scale); // √loss
    return { loss: tf.reshape(tf.square(root), [1]) as tf.Tensor1D, dPredictions: tf.mul(e, 2 / n) };
  });
}

/**
 * √(Σ v²) over every tensor as a [1] tensor, scaled by the largest |v| first: float32 squares would overflow once
 * a value passes 1.8e19, long before the norm itself does.
 */
export function globalNorm(tensors: readonly tf.Tensor[]): tf.Tensor1D {
  return tf.tidy(() => {
    const scale = scaleOf(tf.max(tf.stack(tensors.map((t) => tf.max(tf.abs(tf.reshape(t, [-1])))))));
    const sum = tf.addN(tensors.map((t) => tf.sum(tf.square(tf.div(t, scale)))));
    return tf.reshape(tf.mul(tf.sqrt(sum), scale), [1]) as tf.Tensor1D;
  });
}
