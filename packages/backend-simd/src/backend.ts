import {
  BackendError,
  RecurError,
  SPEC_VERSION,
  gemmABt,
  gemmAtB,
  type Availability,
  type BackwardArgs,
  type BackwardResult,
  type Capabilities,
  type DType,
  type FloatArray,
  type ForwardArgs,
  type ForwardResult,
  type ForwardScratch,
  type Gemm,
  type GemmAtB,
  type LayerSpec,
  type LayerWeights,
  type MemoryBudget,
  type MemoryInfo,
  type RecurBackend,
  type DenseArgs,
  type DenseGradients,
  type LossStorages,
  type OptimizerArgs,
  type TransferCounts,
  type WeightParameters,
} from '@recur/core';
import {
  CpuBackend,
  transposedWeights,
  weightGradients,
  type BackwardKernelArgs,
  type BackwardKernelResult,
  type CpuTape,
  type CpuWeights,
  type HostResult,
  type HostRun,
  type KernelResult,
  type KernelTier,
} from '@recur/backend-cpu';
import { Engine, type PackedLayer } from './engine.js';
import { BLOCK, unitBlocks } from './pack.js';

/**
 * Our WebAssembly SIMD128 kernels, split over several threads, lent to a backend-cpu as its kernel tier
 * (composition: backend-cpu keeps the tensors as plain typed arrays, the row operations, the slicing of long
 * chunks and the training bookkeeping; see `KernelTier`). A chunk is copied into the shared linear memory, run
 * there, and its outputs copied back (for a streamed step, a few hundred floats each way). float64 runs
 * backend-cpu's kernels. Training runs backend-cpu's training kernels with every matrix product on our SIMD GEMMs
 * (each layer's kernels, transposed too, placed in the linear memory once per upload), except where we have our
 * own: forwards that keep a tape (every cell kind; the tape kept in the linear memory) and the backward loops of every cell kind.
 * @see [backend-simd README (a tested example)](../README.md)
 */
export class SimdBackend implements RecurBackend {
  readonly specVersion = SPEC_VERSION;
  readonly name: string;
  readonly capabilities: Capabilities = {
    cells: ['lstm', 'gru', 'rnn'],
    dtypes: ['float32', 'float64'],
    training: true,
    syncRead: true,
    tokens: true,
  };
  readonly #engine: Engine;
  readonly #cpu: CpuBackend;
  readonly #packed = new Map<CpuWeights, PackedLayer>();
  /** Weight arrays copied into the linear memory for the GEMM (byte offsets), and which belong to which layer. */
  readonly #placed = new Map<FloatArray, number>();
  readonly #placedOf = new Map<CpuWeights, FloatArray[]>();
  /** Tapes whose arrays are views into a block of the linear memory, and that block. */
  readonly #tapeBlocks = new Map<CpuTape, number>();
  #closed = false;

  /** Products of at least this many multiply-adds run in the linear memory; smaller ones are not worth the copies. */
  static readonly GEMM_MIN_WORK = 1 << 13;

  /** The build of the kernels this backend runs: SIMD128, or relaxed SIMD (fused multiply-adds). */
  readonly instructionSet: 'simd128' | 'relaxed-simd';

  /** Why it runs on this many threads (Node's worker threads; a browser page's isolation or its absence). */
  readonly threading: string;

  constructor(engine: Engine, name = 'simd', instructionSet: 'simd128' | 'relaxed-simd' = 'simd128', threading = 'Node.js worker threads') {
    this.name = name;
    this.instructionSet = instructionSet;
    this.threading = threading;
    this.#engine = engine;
    this.#cpu = new CpuBackend(name, this.#tier());
    // a time slice's scratch lives in the linear memory: leave most of it to weights
    this.#cpu.sliceBytes = Math.min(this.#cpu.sliceBytes, Math.floor(engine.maxBytes / 8));
  }

  available(): Availability {
    return this.#closed
      ? { available: false, reason: 'closed by close(): its helper threads are stopped' }
      : {
          available: true,
          runsOn: `WebAssembly ${this.instructionSet === 'relaxed-simd' ? 'relaxed SIMD' : 'SIMD128'}, ${this.threads} thread${this.threads === 1 ? '' : 's'} (${this.threading})`,
        };
  }

  /** Threads that run a job, this one included. */
  get threads(): number {
    return this.#engine.threads;
  }

  /** Threads the last SIMD forward ran on (0 before the first): a layer under 64 units runs on one. */
  get lastJobThreads(): number {
    return this.#engine.lastJobThreads;
  }

  /** Bytes of the kernels' shared linear memory in use (packed weights, tapes, scratch, helper stacks). */
  get linearMemoryBytes(): number {
    return this.#engine.heapBytes;
  }

  /** Scratch bytes a forward may use per time slice (backend-cpu's `sliceBytes`, capped by the linear memory). */
  get sliceBytes(): number {
    return this.#cpu.sliceBytes;
  }

  /** Sets the scratch bytes a forward may use per time slice. */
  set sliceBytes(bytes: number) {
    this.#cpu.sliceBytes = bytes;
  }

  /** Bytes of backend-cpu's reusable host scratch. */
  get workspaceBytes(): number {
    return this.#cpu.workspaceBytes;
  }

  /**
   * The SIMD128 peak of this machine in FLOP/s (a multiply and an add count as 2) on `threads` threads (default:
   * all of this backend's), measured by a register-only multiply-add loop in our kernel module: the best of
   * `repeats` runs of about `ms` milliseconds each. The bench divides each case's rate by it.
   */
  measurePeak(options: { threads?: number; ms?: number; repeats?: number } = {}): number {
    this.#refuseIfClosed();
    const threads = options.threads ?? this.threads,
      ms = options.ms ?? 50,
      repeats = options.repeats ?? 5;
    let iterations = 1 << 16;
    for (let rate = this.#engine.peakFlops(threads, iterations); ; rate = this.#engine.peakFlops(threads, iterations)) {
      const took = ((threads * iterations * 64) / rate) * 1000;
      if (took >= ms / 2) break;
      iterations *= 2;
    }
    let best = 0;
    for (let r = 0; r < repeats; r++) best = Math.max(best, this.#engine.peakFlops(threads, iterations));
    return best;
  }

  // backend-cpu's tensors and row operations, as they are
  upload(values: FloatArray, shape: readonly number[], dtype: DType): unknown {
    return this.#cpu.upload(values, shape, dtype);
  }

  zeros(shape: readonly number[], dtype: DType): unknown {
    return this.#cpu.zeros(shape, dtype);
  }

  read(storage: unknown): Promise<FloatArray> {
    return this.#cpu.read(storage);
  }

  readSync(storage: unknown): FloatArray {
    return this.#cpu.readSync(storage);
  }

  dispose(storage: unknown): void {
    this.#cpu.dispose(storage);
  }

  memory(): MemoryInfo {
    return this.#cpu.memory();
  }

  /** backend-cpu's counters: the tensors are its host arrays (copies into the linear memory are the kernels' own). */
  transfers(): TransferCounts {
    return this.#cpu.transfers();
  }

  // the training kernels: backend-cpu's, whose products run on our GEMMs
  denseForward(args: DenseArgs): unknown {
    return this.#cpu.denseForward(args);
  }

  denseBackward(args: DenseArgs & { readonly dOut: unknown }): DenseGradients {
    return this.#cpu.denseBackward(args);
  }

  softmaxCrossEntropy(args: Parameters<CpuBackend['softmaxCrossEntropy']>[0]): LossStorages {
    return this.#cpu.softmaxCrossEntropy(args);
  }

  meanSquaredError(args: Parameters<CpuBackend['meanSquaredError']>[0]): LossStorages {
    return this.#cpu.meanSquaredError(args);
  }

  globalNorm(storages: readonly unknown[], dtype: DType): unknown {
    return this.#cpu.globalNorm(storages, dtype);
  }

  applyOptimizer(args: OptimizerArgs): void {
    this.#cpu.applyOptimizer(args);
  }

  weightParameters(weights: unknown): WeightParameters {
    return this.#cpu.weightParameters(weights);
  }

  weightsUpdated(weights: unknown): void {
    this.#refuseIfClosed();
    this.#cpu.weightsUpdated(weights);
  }

  transpose01(storage: unknown, shape: readonly [number, number, number]): unknown {
    return this.#cpu.transpose01(storage, shape);
  }

  zeroRows(storage: unknown, shape: readonly number[], rows: Int32Array): unknown {
    return this.#cpu.zeroRows(storage, shape, rows);
  }

  gatherRows(storage: unknown, shape: readonly number[], rows: Int32Array): unknown {
    return this.#cpu.gatherRows(storage, shape, rows);
  }

  concatRows(storages: readonly unknown[]): unknown {
    return this.#cpu.concatRows(storages);
  }

  allFinite(storage: unknown): boolean {
    return this.#cpu.allFinite(storage);
  }

  memoryBudget(): MemoryBudget {
    return this.#cpu.memoryBudget();
  }

  setMemoryBudget(budget: MemoryBudget): void {
    this.#cpu.setMemoryBudget(budget);
  }

  forwardScratch(spec: LayerSpec, time: number, batch: number, keepTape: boolean): ForwardScratch {
    return this.#cpu.forwardScratch(spec, time, batch, keepTape);
  }

  /** Core's dense head runs our GEMM. */
  get hostGemm(): Gemm {
    return this.#cpu.hostGemm;
  }

  /** Our Aᵀ · B product over host arrays (what the weight gradients run), for host code that has one to do. */
  get hostGemmAtB(): GemmAtB {
    return this.#gemmAtB;
  }

  // uploads, forwards and backwards: backend-cpu's, with our tier doing the work (refused once closed)
  uploadWeights(spec: LayerSpec, weights: LayerWeights): unknown {
    this.#refuseIfClosed();
    return this.#cpu.uploadWeights(spec, weights);
  }

  disposeWeights(weights: unknown): void {
    this.#cpu.disposeWeights(weights);
  }

  forward(args: ForwardArgs): ForwardResult {
    this.#refuseIfClosed();
    if (args.keepTape === true) this.#place(args.weights as CpuWeights, false);
    return this.#cpu.forward(args);
  }

  backward(args: BackwardArgs): BackwardResult {
    this.#refuseIfClosed();
    this.#place(args.weights as CpuWeights, true);
    return this.#cpu.backward(args);
  }

  disposeTape(tape: unknown): void {
    this.#cpu.disposeTape(tape);
  }

  /** Stops the helper threads; afterwards every forward is refused with a BackendError (it never hangs). */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#engine.dispose();
  }

  /** What backend-cpu borrows from us (see KernelTier). */
  #tier(): KernelTier {
    return {
      gemm: this.#gemm,
      gemmAtB: this.#gemmAtB,
      // our kernels pad a step's rows to whole unit blocks (see engine.ts); float64 runs backend-cpu's
      stepUnits: (spec) => (spec.dtype === 'float32' ? unitBlocks(spec.units) * BLOCK : spec.units),
      forwardHost: (w, run) => this.#forwardHost(w, run),
      forwardTape: (w, run) => this.#forwardTape(w, run),
      backward: (args) => this.#backward(args),
      weightsUploaded: (w) => {
        if (w.spec.dtype === 'float32') this.#packed.set(w, this.#engine.pack(w.spec, w.wIh, w.wHh, w.inputBias, w.hiddenBiasN));
      },
      weightsDisposed: (w) => this.#weightsDisposed(w),
      // new values in place (the optimizer kernel): packed and placed again from them
      weightsUpdated: (w) => {
        this.#weightsDisposed(w);
        if (w.spec.dtype !== 'float32') return;
        try {
          this.#packed.set(w, this.#engine.pack(w.spec, w.wIh, w.wHh, w.inputBias, w.hiddenBiasN));
        } catch (error) {
          if (!(error instanceof RecurError) || error.argument !== 'memory') throw error; // no room: backend-cpu's kernels run this layer
        }
      },
      tapeDisposed: (tape) => {
        const block = this.#tapeBlocks.get(tape);
        if (block === undefined) return;
        this.#engine.releaseViews(
          block,
          [tape.act, tape.hPrev, tape.cPrev, tape.cNew, tape.extra].filter((a): a is FloatArray => a !== null),
        );
        this.#tapeBlocks.delete(tape);
      },
      extraBytes: () => {
        let bytes = 0;
        for (const p of this.#packed.values()) bytes += p.bytes;
        for (const arrays of this.#placedOf.values()) for (const a of arrays) bytes += a.byteLength;
        return bytes;
      },
    };
  }

  /** Our SIMD GEMM for float32 products worth its copies; core's for the rest (and if the memory is full). */
  readonly #gemm: Gemm = (M, N, K, A, aOff, lda, W, wOff, ldw, C, cOff, ldc, accumulate) => {
    this.#refuseIfClosed(); // its helpers are gone: a threaded product would wait for them forever
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
  readonly #gemmAtB: GemmAtB = (M, N, R, A, aOff, lda, B, bOff, ldb, C, cOff, ldc, accumulate) => {
    this.#refuseIfClosed();
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

  #weightsDisposed(w: CpuWeights): void {
    for (const a of this.#placedOf.get(w) ?? []) {
      this.#engine.release(this.#placed.get(a)!);
      this.#placed.delete(a);
    }
    this.#placedOf.delete(w);
    const packed = this.#packed.get(w);
    if (packed) {
      this.#engine.free(packed);
      this.#packed.delete(w);
    }
  }

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
      throw new BackendError(
        'backend',
        'an open backend',
        `backend ${JSON.stringify(this.name)}, closed by close()`,
        'create a new one with createSimdBackend()',
      );
    }
  }

  /** One time slice without tape: our kernels when the weights are packed (float32). */
  #forwardHost(w: CpuWeights, run: HostRun): HostResult | null {
    const packed = this.#packed.get(w);
    return packed ? this.#engine.forward(packed, run) : null;
  }

  /**
   * A training forward: LSTM and GRU layers run our kernels and record the tape in backend-cpu's layout in the
   * linear memory (its backward reads it in place); RNN runs backend-cpu's forward with our GEMM. If the tape does
   * not fit the linear memory, backend-cpu's forward runs instead (same results, host memory).
   */
  #forwardTape(w: CpuWeights, run: HostRun): KernelResult | null {
    const packed = this.#packed.get(w);
    if (!packed) return null;
    try {
      const out = this.#engine.forward(packed, run, true);
      const { block, act, hPrev, cPrev, cNew, extra } = out.tape!;
      const tape: CpuTape = { x: run.x, tokens: run.tokens, hPrev, act, cPrev, cNew, extra };
      this.#tapeBlocks.set(tape, block);
      return { y: out.y, h: out.h, c: out.c, tape };
    } catch (error) {
      if (!(error instanceof RecurError) || error.argument !== 'memory') throw error;
      return null;
    }
  }

  /**
   * An LSTM or GRU backward: the time loop in our kernels (gate gradients, dh through W_hh on every thread), then
   * the weight gradients as backend-cpu computes them, on our GEMMs. RNN runs backend-cpu's backward on our GEMMs.
   */
  #backward(args: BackwardKernelArgs): BackwardKernelResult | null {
    const { w, tape, time: T, batch: B } = args;
    const whhT = w.wHhT && this.#placed.get(w.wHhT);
    const f32 = (a: FloatArray | null) => a === null || a instanceof Float32Array;
    if (whhT === undefined || !f32(args.dy) || !f32(args.dhT) || !f32(args.dcT) || !(tape.act instanceof Float32Array)) return null;
    if (w.spec.kind === 'gru') return this.#gruBackward(args, w.spec.resetAfter, whhT);
    try {
      const H = w.spec.units,
        dy = args.dy as Float32Array | null,
        dhT = args.dhT as Float32Array | null;
      const r =
        w.spec.kind === 'lstm'
          ? this.#engine.lstmBackward(
              H,
              T,
              B,
              args.seqLens,
              tape as { act: Float32Array; cPrev: Float32Array; cNew: Float32Array },
              dy,
              dhT,
              args.dcT as Float32Array | null,
              whhT,
            )
          : { ...this.#engine.rnnBackward(H, T, B, w.spec.activation === 'relu', args.seqLens, tape.act, dy, dhT, whhT), dc0: null };
      const G = w.spec.kind === 'lstm' ? 4 * H : H;
      try {
        // dG and the tape stay in the linear memory: the products read them in place
        return {
          ...weightGradients(this.#gemm, this.#gemmAtB, w, tape, T * B, r.dG, r.dG, [{ g0: 0, g1: G, src: tape.hPrev }]),
          dh0: r.dh0,
          dc0: r.dc0,
        };
      } finally {
        this.#engine.releaseViews(r.dGBlock, [r.dG]);
      }
    } catch (error) {
      if (!(error instanceof RecurError) || error.argument !== 'memory') throw error;
      return null;
    }
  }

  #gruBackward(args: BackwardKernelArgs, resetAfter: boolean, whhT: number): BackwardKernelResult | null {
    const { w, tape, time: T, batch: B } = args;
    const H = w.spec.units,
      G = 3 * H;
    try {
      const r = this.#engine.gruBackward(
        H,
        T,
        B,
        resetAfter,
        args.seqLens,
        tape as { act: Float32Array; hPrev: Float32Array; extra: Float32Array },
        args.dy as Float32Array | null,
        args.dhT as Float32Array | null,
        whhT,
      );
      try {
        const hInputs = resetAfter
          ? [{ g0: 0, g1: G, src: tape.hPrev }]
          : [
              { g0: 0, g1: 2 * H, src: tape.hPrev },
              { g0: 2 * H, g1: G, src: tape.extra! },
            ];
        return { ...weightGradients(this.#gemm, this.#gemmAtB, w, tape, T * B, r.dXP, r.dHP, hInputs), dh0: r.dh0, dc0: null };
      } finally {
        this.#engine.releaseViews(r.block, [r.dXP, r.dHP]);
      }
    } catch (error) {
      if (!(error instanceof RecurError) || error.argument !== 'memory') throw error;
      return null;
    }
  }
}
