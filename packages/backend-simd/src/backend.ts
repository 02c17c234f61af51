import { BackendError, RecurError, gemmABt, gemmAtB, type GemmAtB, type Availability, type BackwardArgs, type BackwardResult, type FloatArray, type Gemm, type Capabilities, type ForwardArgs, type ForwardResult, type LayerSpec, type LayerWeights, type MemoryInfo } from '@recur/core';
import { CpuBackend, transposedWeights, weightGradients, type BackwardKernelArgs, type BackwardKernelResult, type CpuTape, type CpuWeights, type HostResult, type HostRun, type KernelResult } from '@recur/backend-cpu';
import { Engine, type PackedLayer } from './engine.js';
import { BLOCK, unitBlocks } from './pack.js';

/**
 * backend-cpu's memory, row operations and training, with the float32 forward replaced by our own WebAssembly
 * SIMD128 kernels split over several threads. Tensors stay plain typed arrays: a chunk is copied into the shared
 * linear memory, run there, and its outputs copied back (for a streamed step, a few hundred floats each way).
 * float64 runs backend-cpu's kernels. Training runs backend-cpu's training kernels with every matrix product on
 * our SIMD GEMMs (each layer's kernels, transposed too, placed in the linear memory once per upload), except where
 * we have our own: LSTM and GRU forwards that keep a tape (the tape kept in the linear memory) and the LSTM
 * backward's time loop.
 */
export class SimdBackend extends CpuBackend {
  override readonly capabilities: Capabilities = { cells: ['lstm', 'gru', 'rnn'], dtypes: ['float32', 'float64'], training: true, syncRead: true, tokens: true };
  readonly #engine: Engine;
  readonly #packed = new Map<CpuWeights, PackedLayer>();
  /** Weight arrays copied into the linear memory for the GEMM (byte offsets), and which belong to which layer. */
  readonly #placed = new Map<FloatArray, number>();
  readonly #placedOf = new Map<CpuWeights, FloatArray[]>();
  /** Tapes whose arrays are views into a block of the linear memory, and that block. */
  readonly #tapeBlocks = new Map<CpuTape, number>();
  #closed = false;

  constructor(engine: Engine, name = 'simd') {
    super(name);
    this.#engine = engine;
    // a time slice's scratch lives in the linear memory: leave most of it to weights
    this.sliceBytes = Math.min(this.sliceBytes, Math.floor(engine.maxBytes / 8));
  }

  override available(): Availability {
    return this.#closed ? { available: false, reason: 'closed by close(): its helper threads are stopped' } : { available: true };
  }

  /** Threads that run a job, this one included. */
  get threads(): number {
    return this.#engine.threads;
  }

  /** Threads the last SIMD forward ran on (0 before the first): a layer under 64 units runs on one. */
  get lastJobThreads(): number {
    return this.#engine.lastJobThreads;
  }

  /**
   * The SIMD128 peak of this machine in FLOP/s (a multiply and an add count as 2) on `threads` threads (default:
   * all of this backend's), measured by a register-only multiply-add loop in our kernel module: the best of
   * `repeats` runs of about `ms` milliseconds each. The bench divides each case's rate by it.
   */
  measurePeak(options: { threads?: number; ms?: number; repeats?: number } = {}): number {
    this.#refuseIfClosed();
    const threads = options.threads ?? this.threads, ms = options.ms ?? 50, repeats = options.repeats ?? 5;
    let iterations = 1 << 16;
    for (let rate = this.#engine.peakFlops(threads, iterations); ; rate = this.#engine.peakFlops(threads, iterations)) {
      const took = (threads * iterations * 64) / rate * 1000;
      if (took >= ms / 2) break;
      iterations *= 2;
    }
    let best = 0;
    for (let r = 0; r < repeats; r++) best = Math.max(best, this.#engine.peakFlops(threads, iterations));
    return best;
  }

  /** Bytes of the kernels' shared linear memory in use (packed weights, scratch, helper stacks). */
  get linearMemoryBytes(): number {
    return this.#engine.heapBytes;
  }

  override memory(): MemoryInfo {
    const base = super.memory();
    let packed = 0;
    for (const p of this.#packed.values()) packed += p.bytes;
    for (const arrays of this.#placedOf.values()) for (const a of arrays) packed += a.byteLength;
    return { numTensors: base.numTensors, numBytes: base.numBytes + packed };
  }

  override uploadWeights(spec: LayerSpec, weights: LayerWeights): CpuWeights {
    this.#refuseIfClosed();
    const w = super.uploadWeights(spec, weights);
    if (spec.dtype === 'float32') {
      try {
        this.#packed.set(w, this.#engine.pack(spec, w.wIh, w.wHh, w.inputBias, w.hiddenBiasN));
      } catch (error) {
        super.disposeWeights(w); // a layer too big for the linear memory: nothing of it stays
        throw error;
      }
    }
    return w;
  }

  override disposeWeights(weights: unknown): void {
    for (const a of this.#placedOf.get(weights as CpuWeights) ?? []) {
      this.#engine.release(this.#placed.get(a)!);
      this.#placed.delete(a);
    }
    this.#placedOf.delete(weights as CpuWeights);
    const packed = this.#packed.get(weights as CpuWeights);
    if (packed) {
      this.#engine.free(packed);
      this.#packed.delete(weights as CpuWeights);
    }
    super.disposeWeights(weights);
  }

  override forward(args: ForwardArgs): ForwardResult {
    this.#refuseIfClosed();
    if (args.keepTape === true) this.#place(args.weights as CpuWeights, false);
    return super.forward(args);
  }

  override backward(args: BackwardArgs): BackwardResult {
    this.#refuseIfClosed();
    this.#place(args.weights as CpuWeights, true);
    return super.backward(args);
  }

  /** Products of at least this many multiply-adds run in the linear memory; smaller ones are not worth the copies. */
  static readonly GEMM_MIN_WORK = 1 << 13;

  /** Our SIMD GEMM for float32 products worth its copies; backend-cpu's for the rest (and if the memory is full). */
  protected override readonly gemm: Gemm = (M, N, K, A, aOff, lda, W, wOff, ldw, C, cOff, ldc, accumulate) => {
    if (A instanceof Float32Array && W instanceof Float32Array && C instanceof Float32Array && M * N * K >= SimdBackend.GEMM_MIN_WORK) {
      try {
        this.#engine.gemm(M, N, K, A, aOff, lda, W, wOff, ldw, C, cOff, ldc, accumulate, this.#placed.get(W) ?? null);
        return;
      } catch (error) {
        if (!(error instanceof RecurError) || error.argument !== 'memory') throw error; // no room for the copies: C is untouched
      }
    }
    gemmABt(M, N, K, A, aOff, lda, W, wOff, ldw, C, cOff, ldc, accumulate);
  };

  /** The weight gradients' Aᵀ · B on our SIMD kernel likewise. */
  protected override readonly gemmAtB: GemmAtB = (M, N, R, A, aOff, lda, B, bOff, ldb, C, cOff, ldc, accumulate) => {
    if (A instanceof Float32Array && B instanceof Float32Array && C instanceof Float32Array && M * N * R >= SimdBackend.GEMM_MIN_WORK) {
      try {
        this.#engine.gemmAtB(M, N, R, A, aOff, lda, B, bOff, ldb, C, cOff, ldc, accumulate);
        return;
      } catch (error) {
        if (!(error instanceof RecurError) || error.argument !== 'memory') throw error;
      }
    }
    gemmAtB(M, N, R, A, aOff, lda, B, bOff, ldb, C, cOff, ldc, accumulate);
  };

  /** Copies a float32 layer's kernels (and, for a backward, their transposes) into the linear memory, once. */
  #place(w: CpuWeights, transposed: boolean): void {
    if (w.spec.dtype !== 'float32' || !this.#packed.has(w)) return;
    const arrays = [w.wIh, w.wHh];
    if (transposed) {
      const { wIhT, wHhT } = transposedWeights(w);
      arrays.push(wIhT, wHhT);
    }
    let list = this.#placedOf.get(w);
    if (!list) this.#placedOf.set(w, (list = []));
    for (const a of arrays) {
      if (this.#placed.has(a)) continue;
      try {
        this.#placed.set(a, this.#engine.place(a as Float32Array));
        list.push(a);
      } catch {
        return; // no room: the GEMM copies this operand per product instead
      }
    }
  }

  #refuseIfClosed(): void {
    if (this.#closed) {
      throw new BackendError('backend', 'an open backend', `backend ${JSON.stringify(this.name)}, closed by close()`, 'create a new one with createSimdBackend()');
    }
  }

  /** Our kernels pad a step's rows to whole unit blocks (see engine.ts); float64 runs backend-cpu's. */
  protected override stepUnits(spec: LayerSpec): number {
    return spec.dtype === 'float32' ? unitBlocks(spec.units) * BLOCK : spec.units;
  }

  /** One time slice without tape (backend-cpu slices long chunks): our kernels when the weights are packed. */
  protected override forwardHost(w: CpuWeights, run: HostRun): HostResult {
    const packed = this.#packed.get(w);
    return packed ? this.#engine.forward(packed, run) : super.forwardHost(w, run);
  }

  /**
   * A training forward: LSTM and GRU layers run our kernels and record the tape in backend-cpu's layout in the
   * linear memory (its backward reads it in place); RNN runs backend-cpu's forward with our GEMM. If the tape does
   * not fit the linear memory, backend-cpu's forward runs instead (same results, host memory).
   */
  protected override forwardTape(w: CpuWeights, run: HostRun): KernelResult {
    const packed = this.#packed.get(w);
    if (packed && w.spec.kind !== 'rnn') {
      try {
        const out = this.#engine.forward(packed, run, true);
        const { block, act, hPrev, cPrev, cNew, extra } = out.tape!;
        const tape: CpuTape = { x: run.x, tokens: run.tokens, hPrev, act, cPrev, cNew, extra };
        this.#tapeBlocks.set(tape, block);
        return { y: out.y, h: out.h, c: out.c, tape };
      } catch (error) {
        if (!(error instanceof RecurError) || error.argument !== 'memory') throw error;
      }
    }
    return super.forwardTape(w, run);
  }

  /**
   * An LSTM backward: the time loop in our kernels (gate gradients, dh through W_hh on every thread), then the
   * weight gradients as backend-cpu computes them, on our GEMMs. Others run backend-cpu's backward on our GEMMs.
   */
  protected override backwardKernel(args: BackwardKernelArgs): BackwardKernelResult {
    const { w, tape, time: T, batch: B } = args;
    const whhT = w.wHhT && this.#placed.get(w.wHhT);
    const f32 = (a: FloatArray | null) => a === null || a instanceof Float32Array;
    if (w.spec.kind === 'lstm' && whhT !== undefined && f32(args.dy) && f32(args.dhT) && f32(args.dcT) && tape.act instanceof Float32Array) {
      try {
        const H = w.spec.units;
        const r = this.#engine.lstmBackward(H, T, B, args.seqLens, tape as { act: Float32Array; cPrev: Float32Array; cNew: Float32Array },
          args.dy as Float32Array | null, args.dhT as Float32Array | null, args.dcT as Float32Array | null, whhT);
        try {
          // dG and the tape stay in the linear memory: the products read them in place
          return { ...weightGradients(this.gemm, this.gemmAtB, w, tape, T * B, r.dG, r.dG, [{ g0: 0, g1: 4 * H, src: tape.hPrev }]), dh0: r.dh0, dc0: r.dc0 };
        } finally {
          this.#engine.releaseViews(r.dGBlock, [r.dG]);
        }
      } catch (error) {
        if (!(error instanceof RecurError) || error.argument !== 'memory') throw error;
      }
    }
    return super.backwardKernel(args);
  }

  /** Frees a tape; one our kernels kept in the linear memory gives its block back. */
  override disposeTape(tape: unknown): void {
    const t = tape as CpuTape, block = this.#tapeBlocks.get(t);
    if (block !== undefined) {
      this.#engine.releaseViews(block, [t.act, t.hPrev, t.cPrev, t.cNew, t.extra].filter((a): a is FloatArray => a !== null));
      this.#tapeBlocks.delete(t);
    }
    super.disposeTape(tape);
  }

  /** Stops the helper threads; afterwards every forward is refused with a BackendError (it never hangs). */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#engine.dispose();
  }
}
