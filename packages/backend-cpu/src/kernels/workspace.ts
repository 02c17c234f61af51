import type { DType, FloatArray, Gemm, LayerSpec } from '@recur/core';
import type { HostRun } from './slices.js';

/** Grow-only scratch buffers, so that a streamed step allocates nothing but its outputs. */
export class Workspace {
  readonly #slots = new Map<string, FloatArray>();

  get(slot: string, size: number, dtype: DType): FloatArray {
    const key = `${slot}:${dtype}`;
    let buffer = this.#slots.get(key);
    if (!buffer || buffer.length < size) {
      // doubling saves regrowth as chunks vary; past 64 MiB it would only add to the peak
      const doubled = buffer ? buffer.length * 2 : 0;
      buffer = alloc(dtype, doubled * (dtype === 'float64' ? 8 : 4) <= 64 * 1024 * 1024 ? Math.max(size, doubled) : size);
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

/** Arrays up to this many bytes are views into a shared slab (see `alloc`). */
const SLAB_ITEM_MAX = 16 * 1024;
const SLAB_BYTES = 256 * 1024;
let slab = new ArrayBuffer(0);
let slabUsed = 0;

/** Freed tensor arrays by length, for `alloc` to hand out again (see `recycle`). */
const pools = { float32: new Map<number, Float32Array[]>(), float64: new Map<number, Float64Array[]>() };
const POOL_DEPTH = 16;
const POOL_MAX_BYTES = 64 * 1024 * 1024;
let pooledBytes = 0;
/** Arrays that something still reads after their tensor was disposed (a tape's input): never recycled. */
const pinned = new WeakSet<FloatArray>();
let poison = false;

/**
 * Debugging aid (and a test mode): disposed tensors' arrays are filled with NaN and never reused, so that code
 * reading an array after its tensor was disposed computes NaN instead of someone else's numbers.
 * @see [docs/backend-authoring.md (backend-cpu as a base)](../../../../docs/backend-authoring.md#examples-in-this-repository)
 */
export function poisonDisposedArrays(on: boolean): void {
  poison = on;
}

/**
 * A zeroed array. A streamed step makes about ten arrays; fresh memory for each costs more than the step's math
 * here: V8 gives every typed array over 64 bytes its own buffer, and fresh pages fault in (a minor fault costs
 * microseconds in a VM: one run of 30,000 steps took 11,000 of them). So arrays of disposed tensors are reused
 * first; otherwise small arrays are views into 256 KiB slabs (a slab is freed by the GC once no view into it is
 * alive), and big ones get their own buffer. Views never reach users: reads return copies.
 * @see [docs/backend-authoring.md (backend-cpu as a base)](../../../../docs/backend-authoring.md#examples-in-this-repository)
 */
export function alloc(dtype: DType, size: number): FloatArray {
  const reused = pools[dtype].get(size)?.pop();
  if (reused) {
    pooledBytes -= reused.byteLength;
    return reused.fill(0);
  }
  const bytes = size * (dtype === 'float64' ? 8 : 4);
  if (bytes > SLAB_ITEM_MAX || bytes === 0) return dtype === 'float64' ? new Float64Array(size) : new Float32Array(size);
  const start = Math.ceil(slabUsed / 8) * 8;
  if (start + bytes > slab.byteLength) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabUsed = 0;
    return alloc(dtype, size);
  }
  slabUsed = start + bytes;
  return dtype === 'float64' ? new Float64Array(slab, start, size) : new Float32Array(slab, start, size);
}

/** Hands a disposed tensor's array back to `alloc` (unless pinned, or the pool is full). */
export function recycle(values: FloatArray): void {
  if (pinned.has(values) || values.length === 0) return;
  if (poison) {
    values.fill(NaN);
    return;
  }
  if (pooledBytes + values.byteLength > POOL_MAX_BYTES) return;
  const pool = (values instanceof Float64Array ? pools.float64 : pools.float32) as Map<number, FloatArray[]>;
  let list = pool.get(values.length);
  if (!list) pool.set(values.length, (list = []));
  if (list.length >= POOL_DEPTH) return;
  list.push(values);
  pooledBytes += values.byteLength;
}

/** Keeps an array out of the pool for good: something holds it beyond its tensor's life. */
export function pin(values: FloatArray): void {
  pinned.add(values);
}

/** A layer's weights as the CPU kernels keep them: the public layout plus biases folded where the math allows. */
export interface CpuWeights {
  readonly spec: LayerSpec;
  readonly wIh: FloatArray;
  readonly wHh: FloatArray;
  /** The biases in the public layout (the optimizer kernel updates them; the two below derive from them). */
  readonly bIh: FloatArray;
  readonly bHh: FloatArray;
  /** Added to every row of the input projection: b_ih + b_hh (+ forgetBias on f); GRU reset_after keeps b_hn apart. */
  readonly inputBias: FloatArray;
  /** GRU reset_after only: b_hn, which the reset gate scales. */
  readonly hiddenBiasN: FloatArray | null;
  /** Transposed kernels for the backward ([I, G*H] and [H, G*H]), made on the first backward. */
  wIhT?: FloatArray;
  wHhT?: FloatArray;
}

/** A forward kernel's arguments: a chunk on host arrays (see HostRun) and the layer's weights. */
export interface KernelArgs extends HostRun {
  readonly w: CpuWeights;
  /** The matrix product the kernel runs (a faster tier passes its own). */
  readonly gemm: Gemm;
  readonly workspace: Workspace;
  /** Record what the backward needs. */
  readonly keepTape: boolean;
}

/** What a forward keeps for the backward; rows are (t, b) pairs, t-major. */
export interface CpuTape {
  /** Inputs [T*B, I] (the input tensor's own array: tensors are immutable), or null with token ids. */
  readonly x: FloatArray | null;
  /** Token ids [T*B] when they were the input (the first layer of a token model), else null. */
  readonly tokens: Int32Array | null;
  /** h_{t-1} per step [T*B, H]. */
  readonly hPrev: FloatArray;
  /** Activated gates per step [T*B, G] (LSTM i, f, g, o; GRU r, z, n; RNN h_t). */
  readonly act: FloatArray;
  /** LSTM: c_{t-1} and c_t per step [T*B, H]. */
  readonly cPrev: FloatArray | null;
  readonly cNew: FloatArray | null;
  /** GRU reset_after: W_hn h + b_hn; reset_before: r * h_{t-1}. [T*B, H] */
  readonly extra: FloatArray | null;
}

export interface KernelResult {
  readonly y: FloatArray;
  readonly h: FloatArray;
  readonly c: FloatArray | null;
  readonly tape: CpuTape | null;
}

export function tapeBytes(tape: CpuTape): number {
  // x belongs to its tensor and is not counted here
  return (
    tape.hPrev.byteLength +
    tape.act.byteLength +
    (tape.cPrev?.byteLength ?? 0) +
    (tape.cNew?.byteLength ?? 0) +
    (tape.extra?.byteLength ?? 0)
  );
}

/** A copy made with `alloc` (typed arrays' own slice() gets a buffer of its own). */
export function copyOf<A extends FloatArray>(values: A): A {
  const out = alloc(values instanceof Float64Array ? 'float64' : 'float32', values.length) as A;
  out.set(values);
  return out;
}
