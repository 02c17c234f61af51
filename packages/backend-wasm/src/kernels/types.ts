import type { LayerSpec } from '@recur/core';
import type * as tf from '@tensorflow/tfjs-core';

/**
 * A layer's weights on tfjs: kernels transposed for x · W (x [rows, I] · WihT [I, G*H]); LSTM gate columns in
 * the order i, f, o, g so that one sigmoid covers three gates (the public layout is i, f, g, o). What every call
 * would otherwise slice or add again is made once at upload (tfjs-wasm's slice copies its whole input).
 */
export interface WasmWeights {
  readonly spec: LayerSpec;
  readonly wIhT: tf.Tensor2D;
  readonly wHhT: tf.Tensor2D;
  readonly bIh: tf.Tensor1D;
  readonly bHh: tf.Tensor1D;
  /** Added to the input projection: b_ih + b_hh (+ forgetBias on LSTM f); GRU reset_after keeps b_hn out. */
  readonly inputBias: tf.Tensor1D;
  /** GRU reset_after: b_hn, inside r·(W_hn h + b_hn). */
  readonly bHn: tf.Tensor1D | null;
  /** GRU reset_before: the r, z and the n columns of WhhT. */
  readonly wHhRz: tf.Tensor2D | null;
  readonly wHhN: tf.Tensor2D | null;
}

export interface SequenceArgs {
  readonly spec: LayerSpec;
  readonly w: WasmWeights;
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
