import {
  SPEC_VERSION,
  gateCount,
  type Availability,
  type BackwardArgs,
  type BackwardResult,
  type Capabilities,
  type FloatArray,
  type ForwardArgs,
  type ForwardResult,
  type LayerSpec,
  type LayerWeights,
  type MemoryInfo,
  type RecurBackend,
  type MemoryBudget,
  type ForwardScratch,
  type TransferCounts,
  type DenseArgs,
  type DenseGradients,
  type LossStorages,
  type DType,
} from '@recur/core';
import * as tf from '@tensorflow/tfjs-core';
import { backwardSequence, type Recorded } from './kernels/backward.js';
import { runSequence } from './kernels/sequence.js';
import * as training from './kernels/training.js';
import type { WasmWeights } from './kernels/types.js';

/** tfjs-backend-wasm's linear memory is at most 4 GiB (its emscripten build's maximum). */
const WASM_MEMORY_BYTES = 4 * 2 ** 30;
/**
 * A failed malloc inside tfjs-backend-wasm is not an error: tfjs registers the tensor at address 0 and the next
 * kernels corrupt memory or trap. So every chunk is checked against this budget first, with room left for tfjs's
 * own heap and fragmentation.
 */
const WASM_BUDGET: MemoryBudget = { maxAllocationBytes: 2 * 2 ** 30, maxTotalBytes: 3 * 2 ** 30 };

/** What a forward keeps for the backward: its input and every step's activations (see kernels/backward.ts). */
type WasmTape = Recorded;

const tapeTensors = (t: WasmTape): tf.Tensor[] => [t.x, t.hPrev, ...t.saved];
const tensorBytes = (ts: readonly tf.Tensor[]): number => ts.reduce((n, t) => n + t.size * 4, 0);
const weightTensors = (w: WasmWeights): tf.Tensor[] =>
  ([w.wIhT, w.wHhT, w.bIh, w.bHh, w.inputBias, w.bHn, w.wHhRz, w.wHhN] as (tf.Tensor | null)[]).filter((t): t is tf.Tensor => t !== null);

/** Reorders gate blocks of a [G*H, cols] host array; LSTM i, f, g, o <-> i, f, o, g (the swap is its own inverse). */
function swapLstmGates(values: FloatArray, H: number, cols: number): Float32Array {
  const out = Float32Array.from(values);
  out.set(values.subarray(2 * H * cols, 3 * H * cols), 3 * H * cols);
  out.set(values.subarray(3 * H * cols, 4 * H * cols), 2 * H * cols);
  return out;
}

/**
 * The Recur backend on tfjs-core + tfjs-backend-wasm. Tensors are tfjs tensors on tfjs's "wasm" backend: state
 * stays in wasm memory between calls. Every kernel runs inside tf.tidy, so nothing it makes but its results
 * survives.
 * @see [README: packages](../../../README.md#packages)
 */
export class WasmBackend implements RecurBackend {
  readonly specVersion = SPEC_VERSION;
  readonly name: string;
  readonly capabilities: Capabilities = { cells: ['lstm', 'gru', 'rnn'], dtypes: ['float32'], training: true, syncRead: true };
  readonly #live = new Set<tf.Tensor>();
  readonly #weights = new Set<WasmWeights>();
  readonly #tapes = new Set<WasmTape>();
  #budget: MemoryBudget = { ...WASM_BUDGET };
  /** Bytes of live tensors, weight uploads and tapes. */
  #bytes = 0;
  #bytesIn = 0;
  #bytesOut = 0;

  constructor(name = 'wasm') {
    this.name = name;
  }

  available(): Availability {
    return tf.findBackend('wasm') ? { available: true } : { available: false, reason: 'tfjs-backend-wasm did not initialise' };
  }

  /** Our tensors must run on tfjs's wasm backend even if the application switched tfjs to another one. */
  #onWasm(): void {
    if (tf.getBackend() !== 'wasm') void tf.setBackend('wasm'); // already initialised: takes effect synchronously
  }

  #track<T extends tf.Tensor>(t: T): T {
    if (!this.#live.has(t)) {
      this.#live.add(t);
      this.#bytes += t.size * 4;
    }
    return t;
  }

  #tensor(storage: unknown): tf.Tensor {
    const t = storage as tf.Tensor;
    if (!this.#live.has(t)) throw new Error(`${this.name}: storage is not a live tensor of this backend`);
    return t;
  }

  /** A storage viewed as [rows, cols] (tfjs reshapes share data). */
  #matrix(storage: unknown, rows: number): tf.Tensor2D {
    const t = this.#tensor(storage);
    return tf.reshape(t, [rows, t.size / rows]);
  }

  upload(values: FloatArray, shape: readonly number[]): tf.Tensor {
    this.#onWasm();
    this.#bytesIn += values.length * 4;
    return this.#track(tf.tensor(Float32Array.from(values), [...shape], 'float32'));
  }

  zeros(shape: readonly number[]): tf.Tensor {
    this.#onWasm();
    return this.#track(tf.zeros([...shape]));
  }

  async read(storage: unknown): Promise<FloatArray> {
    return this.#readOut((await this.#tensor(storage).data()) as Float32Array);
  }

  readSync(storage: unknown): FloatArray {
    return this.#readOut(this.#tensor(storage).dataSync() as Float32Array);
  }

  #readOut(values: Float32Array): Float32Array {
    this.#bytesOut += values.byteLength;
    return values;
  }

  /** Bytes copied into tfjs's wasm memory (uploads, weights, masks and row lists) and read out of it. */
  transfers(): TransferCounts {
    return { bytesIn: this.#bytesIn, bytesOut: this.#bytesOut };
  }

  dispose(storage: unknown): void {
    const t = storage as tf.Tensor;
    if (this.#live.delete(t)) {
      this.#bytes -= t.size * 4;
      t.dispose();
    }
  }

  /** Kept as a running sum: core reads it before every chunk it runs. */
  memory(): MemoryInfo {
    return { numTensors: this.#live.size + this.#weights.size + this.#tapes.size, numBytes: this.#bytes };
  }

  memoryBudget(): MemoryBudget {
    return this.#budget;
  }

  setMemoryBudget(budget: MemoryBudget): void {
    // tfjs-backend-wasm cannot use more than its 4 GiB linear memory, whatever the caller asks
    this.#budget = {
      maxAllocationBytes: Math.min(budget.maxAllocationBytes, WASM_MEMORY_BYTES),
      maxTotalBytes: Math.min(budget.maxTotalBytes, WASM_MEMORY_BYTES),
    };
  }

  /**
   * tfjs frees a kernel's temporaries only when its tidy ends, so a chunk holds every step's intermediates at once:
   * the projection [T*B, G*H], per step about three G*H-wide and eight H-wide rows per batch row, and the stacked
   * outputs; a tape keeps the stacked activations too.
   */
  forwardScratch(spec: LayerSpec, time: number, batch: number, keepTape: boolean): ForwardScratch {
    const H = spec.units,
      G = gateCount(spec.kind) * H,
      rows = time * batch;
    const projection = rows * G * 4;
    const perStep = rows * (3 * G + 8 * H) * 4;
    const tape = keepTape ? rows * (G + 3 * H) * 4 : 0;
    return { transientBytes: projection + perStep + rows * H * 4, keptBytes: tape, largestBytes: projection };
  }

  uploadWeights(spec: LayerSpec, weights: LayerWeights): WasmWeights {
    this.#onWasm();
    const H = spec.units,
      G = gateCount(spec.kind);
    const order = (v: FloatArray, cols: number) => (spec.kind === 'lstm' ? swapLstmGates(v, H, cols) : Float32Array.from(v));
    const transposed = (v: FloatArray, cols: number) => tf.tidy(() => tf.transpose(tf.tensor2d(order(v, cols), [G * H, cols])));
    const wIhT = transposed(weights.wIh, spec.inputSize),
      wHhT = transposed(weights.wHh, H);
    const bIhHost = order(weights.bIh, 1),
      bHhHost = order(weights.bHh, 1);
    const bIh = tf.tensor1d(bIhHost),
      bHh = tf.tensor1d(bHhHost);
    const resetAfter = spec.kind === 'gru' && spec.resetAfter,
      resetBefore = spec.kind === 'gru' && !spec.resetAfter;
    // biases that can join the input projection do (and LSTM's run-time forgetBias on f); b_hn of reset_after stays out
    const folded = Float32Array.from(bIhHost, (v, i) => v + (resetAfter && i >= 2 * H ? 0 : bHhHost[i]));
    if (spec.kind === 'lstm') for (let j = H; j < 2 * H; j++) folded[j] += spec.forgetBias;
    const w: WasmWeights = {
      spec,
      wIhT,
      wHhT,
      bIh,
      bHh,
      inputBias: tf.tensor1d(folded),
      bHn: resetAfter ? tf.tensor1d(bHhHost.subarray(2 * H)) : null,
      wHhRz: resetBefore ? tf.tidy(() => tf.slice(wHhT, [0, 0], [H, 2 * H])) : null,
      wHhN: resetBefore ? tf.tidy(() => tf.slice(wHhT, [0, 2 * H], [H, H])) : null,
    };
    this.#weights.add(w);
    this.#bytes += tensorBytes(weightTensors(w));
    this.#bytesIn += (weights.wIh.length + weights.wHh.length + weights.bIh.length + weights.bHh.length) * 4;
    return w;
  }

  disposeWeights(weights: unknown): void {
    const w = weights as WasmWeights;
    if (!this.#weights.delete(w)) return;
    this.#bytes -= tensorBytes(weightTensors(w));
    for (const t of weightTensors(w)) t.dispose();
  }

  #weightsOf(weights: unknown): WasmWeights {
    const w = weights as WasmWeights;
    if (!this.#weights.has(w)) throw new Error(`${this.name}: weights were disposed or belong to another backend`);
    return w;
  }

  /** Per step [B, 1] running masks for seqLens, made once per chunk. */
  #masks(seqLens: Int32Array | null, T: number, B: number): tf.Tensor2D[] | null {
    if (!seqLens) return null;
    const m = new Float32Array(T * B);
    for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) m[t * B + b] = t < seqLens[b] ? 1 : 0;
    this.#bytesIn += m.byteLength;
    return tf.split(tf.tensor2d(m, [T * B, 1]), T, 0) as tf.Tensor2D[];
  }

  forward(args: ForwardArgs): ForwardResult {
    this.#onWasm();
    const w = this.#weightsOf(args.weights);
    const { time: T, batch: B, layer } = args;
    const record = args.keepTape === true;
    const out = tf.tidy(() => {
      const x = this.#matrix(args.x, T * B),
        h0 = this.#matrix(args.h0, B),
        c0 = args.c0 === null ? null : this.#matrix(args.c0, B);
      const r = runSequence({ spec: layer, w, x, h0, c0, time: T, batch: B, masks: this.#masks(args.seqLens, T, B) }, record);
      // tfjs clones share data: the tape keeps x even if its tensor is disposed
      const tape = record ? [tf.clone(x), r.hPrev!, ...r.saved] : [];
      return [r.y, r.h, ...(r.c ? [r.c] : []), ...tape];
    });
    const n = layer.kind === 'lstm' ? 3 : 2;
    let tape: WasmTape | undefined;
    if (record) {
      tape = { x: out[n] as tf.Tensor2D, hPrev: out[n + 1] as tf.Tensor3D, saved: out.slice(n + 2) as tf.Tensor3D[] };
      this.#tapes.add(tape);
      this.#bytes += tensorBytes(tapeTensors(tape));
    }
    return { y: this.#track(out[0]), hT: this.#track(out[1]), cT: n === 3 ? this.#track(out[2]) : null, tape };
  }

  backward(args: BackwardArgs): BackwardResult {
    this.#onWasm();
    const w = this.#weightsOf(args.weights);
    const tape = args.tape as WasmTape;
    if (!this.#tapes.has(tape)) throw new Error(`${this.name}: the tape was disposed or belongs to another backend`);
    const { time: T, batch: B, layer: spec } = args;
    const H = spec.units,
      lstm = spec.kind === 'lstm';
    const results = tf.tidy(() => {
      const g = backwardSequence({
        spec,
        w,
        rec: tape,
        time: T,
        batch: B,
        masks: this.#masks(args.seqLens, T, B),
        dy: args.dy === null ? null : tf.reshape(this.#tensor(args.dy), [T, B, H]),
        dhT: args.dhT === null ? null : this.#matrix(args.dhT, B),
        dcT: args.dcT === null ? null : this.#matrix(args.dcT, B),
      });
      // back to the public layout: [G*H, cols] with LSTM gates i, f, g, o
      const publicKernel = (t: tf.Tensor) => {
        const k = tf.transpose(t);
        return lstm
          ? tf.concat([tf.slice(k, [0, 0], [2 * H, -1]), tf.slice(k, [3 * H, 0], [H, -1]), tf.slice(k, [2 * H, 0], [H, -1])], 0)
          : k;
      };
      const publicBias = (t: tf.Tensor) => (lstm ? tf.concat([tf.slice(t, 0, 2 * H), tf.slice(t, 3 * H, H), tf.slice(t, 2 * H, H)]) : t);
      return [g.dx, g.dh0, ...(g.dc0 ? [g.dc0] : []), publicKernel(g.dWihT), publicKernel(g.dWhhT), publicBias(g.dbIh), publicBias(g.dbHh)];
    });
    const [dx, dh0] = results;
    const dc0 = lstm ? results[2] : null;
    const [wIh, wHh, bIh, bHh] = results.slice(lstm ? 3 : 2).map((t) => this.#track(t));
    return { dx: this.#track(dx), dh0: this.#track(dh0), dc0: dc0 ? this.#track(dc0) : null, dWeights: { wIh, wHh, bIh, bHh } };
  }

  disposeTape(tape: unknown): void {
    const t = tape as WasmTape;
    if (!this.#tapes.delete(t)) return;
    this.#bytes -= tensorBytes(tapeTensors(t));
    for (const x of tapeTensors(t)) x.dispose();
  }

  // training kernels (spec v2) in tfjs ops; the optimizer stays core's (tfjs tensors cannot change in place)
  denseForward(args: DenseArgs): tf.Tensor {
    this.#onWasm();
    return this.#track(
      training.denseForward(
        this.#matrix(args.x, args.rows),
        this.#matrix(args.weight, args.outputs),
        this.#tensor(args.bias) as tf.Tensor1D,
      ),
    );
  }

  denseBackward(args: DenseArgs & { readonly dOut: unknown }): DenseGradients {
    this.#onWasm();
    const g = training.denseBackward(
      this.#matrix(args.x, args.rows),
      this.#matrix(args.weight, args.outputs),
      this.#matrix(args.dOut, args.rows),
    );
    return { dx: this.#track(g.dx), dWeight: this.#track(g.dWeight), dBias: this.#track(g.dBias) };
  }

  softmaxCrossEntropy(args: {
    readonly logits: unknown;
    readonly targets: Int32Array;
    readonly rows: number;
    readonly classes: number;
    readonly dtype: DType;
  }): LossStorages {
    this.#onWasm();
    this.#bytesIn += args.targets.byteLength;
    const targets = tf.tensor1d(args.targets, 'int32');
    try {
      const r = training.softmaxCrossEntropy(this.#matrix(args.logits, args.rows), targets);
      return { loss: this.#track(r.loss), dPredictions: this.#track(r.dLogits) };
    } finally {
      targets.dispose();
    }
  }

  meanSquaredError(args: {
    readonly predictions: unknown;
    readonly targets: unknown;
    readonly count: number;
    readonly dtype: DType;
  }): LossStorages {
    this.#onWasm();
    const r = training.meanSquaredError(this.#tensor(args.predictions), this.#tensor(args.targets));
    return { loss: this.#track(r.loss), dPredictions: this.#track(r.dPredictions) };
  }

  globalNorm(storages: readonly unknown[]): tf.Tensor {
    this.#onWasm();
    return this.#track(training.globalNorm(storages.map((s) => this.#tensor(s))));
  }

  transpose01(storage: unknown, [A, B, F]: readonly [number, number, number]): tf.Tensor {
    this.#onWasm();
    return this.#track(tf.tidy(() => tf.transpose(tf.reshape(this.#tensor(storage), [A, B, F]), [1, 0, 2])));
  }

  zeroRows(storage: unknown, shape: readonly number[], rows: Int32Array): tf.Tensor {
    this.#onWasm();
    const keep = new Uint8Array(shape[0]).fill(1);
    for (const r of rows) keep[r] = 0;
    this.#bytesIn += keep.byteLength;
    // a select, not a 0/1 multiply: NaN x 0 is NaN, and zeroing must write zeros whatever the row held
    return this.#track(
      tf.tidy(() => {
        const m = this.#matrix(storage, shape[0]);
        return tf.reshape(tf.where(tf.tensor2d(keep, [shape[0], 1], 'bool'), m, tf.zerosLike(m)), [...shape]);
      }),
    );
  }

  gatherRows(storage: unknown, shape: readonly number[], rows: Int32Array): tf.Tensor {
    this.#onWasm();
    this.#bytesIn += rows.byteLength;
    return this.#track(
      tf.tidy(() => tf.reshape(tf.gather(this.#matrix(storage, shape[0]), tf.tensor1d(rows, 'int32')), [rows.length, ...shape.slice(1)])),
    );
  }

  concatRows(storages: readonly unknown[], shapes: readonly (readonly number[])[]): tf.Tensor {
    this.#onWasm();
    return this.#track(
      tf.tidy(() =>
        tf.concat(
          storages.map((s, i) => this.#matrix(s, shapes[i][0])),
          0,
        ),
      ),
    );
  }

  allFinite(storage: unknown): boolean {
    this.#onWasm();
    return tf.tidy(() => tf.all(tf.isFinite(this.#tensor(storage))).dataSync()[0] === 1);
  }
}
