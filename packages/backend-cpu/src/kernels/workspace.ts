import type { DType, FloatArray, LayerSpec } from '@recur/core';

/** Grow-only scratch buffers, so that a streamed step allocates nothing but its outputs. */
export class Workspace {
  readonly #slots = new Map<string, FloatArray>();

  get(slot: string, size: number, dtype: DType): FloatArray {
    const key = `${slot}:${dtype}`;
    let buffer = this.#slots.get(key);
    if (!buffer || buffer.length < size) {
      buffer = alloc(dtype, Math.max(size, buffer ? buffer.length * 2 : 0));
      this.#slots.set(key, buffer);
    }
    return buffer;
  }

  get bytes(): number {
    let total = 0;
    for (const b of this.#slots.values()) total += b.byteLength;
    return total;
  }
}

export function alloc(dtype: DType, size: number): FloatArray {
  return dtype === 'float64' ? new Float64Array(size) : new Float32Array(size);
}

/** A layer's weights as the CPU kernels keep them: the public layout plus biases folded where the math allows. */
export interface CpuWeights {
  readonly spec: LayerSpec;
  readonly wIh: FloatArray;
  readonly wHh: FloatArray;
  /** Added to every row of the input projection: b_ih + b_hh (+ forgetBias on f); GRU reset_after keeps b_hn apart. */
  readonly inputBias: FloatArray;
  /** GRU reset_after only: b_hn, which the reset gate scales. */
  readonly hiddenBiasN: FloatArray | null;
}

export interface KernelArgs {
  readonly w: CpuWeights;
  readonly x: FloatArray;
  readonly time: number;
  readonly batch: number;
  readonly h0: FloatArray;
  readonly c0: FloatArray | null;
  readonly seqLens: Int32Array | null;
  readonly workspace: Workspace;
}

export interface KernelResult {
  readonly y: FloatArray;
  readonly h: FloatArray;
  readonly c: FloatArray | null;
}
