import type { Availability, Capabilities, ForwardArgs, ForwardResult, LayerSpec, LayerWeights, MemoryInfo } from '@recur/core';
import { CpuBackend, type CpuWeights } from '@recur/backend-cpu';
import { Engine, type PackedLayer } from './engine.js';

/**
 * backend-cpu's memory, row operations and training, with the float32 forward replaced by our own WebAssembly
 * SIMD128 kernels split over several threads. Tensors stay plain typed arrays: a chunk is copied into the shared
 * linear memory, run there, and its outputs copied back (for a streamed step, a few hundred floats each way).
 * float64 and forwards that keep a tape (training) run backend-cpu's kernels.
 */
export class SimdBackend extends CpuBackend {
  override readonly capabilities: Capabilities = { cells: ['lstm', 'gru', 'rnn'], dtypes: ['float32', 'float64'], training: true, syncRead: true };
  readonly #engine: Engine;
  readonly #packed = new Map<CpuWeights, PackedLayer>();

  constructor(engine: Engine, name = 'simd') {
    super(name);
    this.#engine = engine;
  }

  override available(): Availability {
    return { available: true };
  }

  /** Threads that run a job, this one included. */
  get threads(): number {
    return this.#engine.threads;
  }

  /** Threads the last SIMD forward ran on (0 before the first): a layer under 64 units runs on one. */
  get lastJobThreads(): number {
    return this.#engine.lastJobThreads;
  }

  /** Bytes of the kernels' shared linear memory in use (packed weights, scratch, helper stacks). */
  get linearMemoryBytes(): number {
    return this.#engine.heapBytes;
  }

  override memory(): MemoryInfo {
    const base = super.memory();
    let packed = 0;
    for (const p of this.#packed.values()) packed += p.bytes;
    return { numTensors: base.numTensors, numBytes: base.numBytes + packed };
  }

  override uploadWeights(spec: LayerSpec, weights: LayerWeights): CpuWeights {
    const w = super.uploadWeights(spec, weights);
    if (spec.dtype === 'float32') this.#packed.set(w, this.#engine.pack(spec, w.wIh, w.wHh, w.inputBias, w.hiddenBiasN));
    return w;
  }

  override disposeWeights(weights: unknown): void {
    const packed = this.#packed.get(weights as CpuWeights);
    if (packed) {
      this.#engine.free(packed);
      this.#packed.delete(weights as CpuWeights);
    }
    super.disposeWeights(weights);
  }

  override forward(args: ForwardArgs): ForwardResult {
    const packed = this.#packed.get(args.weights as CpuWeights);
    if (!packed || args.keepTape === true) return super.forward(args);
    const out = this.#engine.forward(packed, {
      x: this.dataOf(args.x), h0: this.dataOf(args.h0), c0: args.c0 === null ? null : this.dataOf(args.c0),
      time: args.time, batch: args.batch, seqLens: args.seqLens,
    });
    return { y: this.wrap(out.y, 'float32'), hT: this.wrap(out.h, 'float32'), cT: out.c ? this.wrap(out.c, 'float32') : null };
  }

  /** Stops the helper threads; the backend cannot run afterwards. */
  async close(): Promise<void> {
    await this.#engine.dispose();
  }
}
