import * as tf from '@tensorflow/tfjs-core';

/**
 * Step t of a time-major tensor of `time` steps ([T, B, W] or [T*B, W]) as [B, W]. tfjs-backend-wasm's slice
 * copies its whole input out of the wasm heap first, so slicing each step out of a chunk would cost the chunk's
 * size T times over; gather runs in wasm and touches only the step.
 */
export function stepRows(x: tf.Tensor, t: number, time: number, batch: number): tf.Tensor2D {
  const perStep = x.size / time;
  return tf.reshape(tf.gather(tf.reshape(x, [time, perStep]), [t]), [batch, perStep / batch]);
}
