import type { LayerSpec } from '@recur/core';
import type * as tf from '@tensorflow/tfjs-core';

/**
 * A layer's weights on tfjs: kernels transposed for x · W (x [rows, I] · WihT [I, G*H]); LSTM gate columns in
 * the order i, f, o, g so that one sigmoid covers three gates (the public layout is i, f, g, o).
 */
export interface WasmWeights {
  readonly spec: LayerSpec;
  readonly wIhT: tf.Tensor2D;
  readonly wHhT: tf.Tensor2D;
  readonly bIh: tf.Tensor1D;
  readonly bHh: tf.Tensor1D;
  /** LSTM: forgetBias on the f columns (a constant, not a parameter); null otherwise. */
  readonly forget: tf.Tensor1D | null;
}

/** The trainable parts, which tf.grads differentiates. */
export interface Params {
  readonly wIhT: tf.Tensor2D;
  readonly wHhT: tf.Tensor2D;
  readonly bIh: tf.Tensor1D;
  readonly bHh: tf.Tensor1D;
}

export interface SequenceArgs {
  readonly spec: LayerSpec;
  readonly params: Params;
  readonly forget: tf.Tensor1D | null;
  /** [T*B, I] */
  readonly x: tf.Tensor2D;
  readonly h0: tf.Tensor2D;
  readonly c0: tf.Tensor2D | null;
  readonly time: number;
  readonly batch: number;
  /** Per step [B, 1] of 1 (running) or 0 (finished), or null. */
  readonly masks: tf.Tensor2D[] | null;
}

export interface SequenceResult {
  /** [T, B, H] */
  readonly y: tf.Tensor3D;
  readonly h: tf.Tensor2D;
  readonly c: tf.Tensor2D | null;
}
