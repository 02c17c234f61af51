import type { LayerWeights } from '@recur/core';
import type { BenchCase } from '../cases.js';

/** The shared inputs of a case: every contender gets the same weights (public layout) and inputs. */
export interface CaseData {
  readonly weights: LayerWeights<Float32Array>;
  /** batch-major [B, T, H] (mode 'model': one-hot characters [B, T, V]) */
  readonly x: Float32Array;
  /** mode 'model': every layer's weights, the head's, and the next character of each position (b, t). */
  readonly model?: ModelData;
}

export interface ModelData {
  readonly layers: readonly LayerWeights<Float32Array>[];
  /** [V, H] */
  readonly headWeight: Float32Array;
  readonly headBias: Float32Array;
  /** [B * T] class ids, row-major (b, t) */
  readonly targets: Int32Array;
  /** [B * T] the input characters (x's one-hot rows), row-major (b, t) */
  readonly inputIds: Int32Array;
}

/** A training step's loss and global gradient norm (before clipping). */
export interface StepReport {
  readonly loss: number;
  readonly gradNorm: number;
}

/** A training case's gradients for dL/dy = 1/(B*T) everywhere and zero initial state, in Recur's public layout. */
export interface Gradients {
  /** [B, T, H] */
  readonly dx: Float32Array;
  /** [B, H] */
  readonly dh0: Float32Array;
  readonly wIh: Float32Array;
  readonly wHh: Float32Array;
  readonly bIh: Float32Array;
  readonly bHh: Float32Array;
}

/** What a contender that times itself returns from `run` (a peer in another process: the pipe is not timed). */
export interface SelfTimed {
  readonly selfTimedMs: number;
}

export interface Prepared {
  /** One timed unit: a forward over the sequence, T streamed steps, or a forward and backward. */
  run(): unknown;
  /** The outputs [B, T, H] batch-major (sequence and streaming), for the agreement check before timing. */
  outputs?(): Promise<Float32Array>;
  /** Training cases: the gradients, for the same check. */
  gradients?(): Promise<Gradients>;
  /** Training cases of a Keras-layout peer: its kernel and recurrent kernel gradients, concatenated. */
  kernelGradients?(): Promise<Float32Array>;
  /** Model cases: the first training step from the case's weights and zero state (called once, before any run). */
  firstStep?(): Promise<StepReport>;
  dispose(): void;
}

export interface Contender {
  readonly name: string;
  /** Recur backends are measured; peers are what they are measured against. */
  readonly role: 'recur' | 'peer';
  /** Why this contender cannot run the case (null if it can). */
  skip(c: BenchCase): string | null;
  prepare(c: BenchCase, data: CaseData): Promise<Prepared>;
}

/** The T per-step frames [B, H] of a batch-major [B, T, H] input, as a streaming caller receives them. */
export function stepFrames(x: Float32Array, B: number, T: number, H: number): Float32Array[] {
  return Array.from({ length: T }, (_, t) => {
    const f = new Float32Array(B * H);
    for (let b = 0; b < B; b++) f.set(x.subarray((b * T + t) * H, (b * T + t + 1) * H), b * H);
    return f;
  });
}
