import { alloc } from '@recur/backend-cpu';
import { gateCount, type FloatArray, type LayerSpec } from '@recur/core';
import { Heap, MAX_BYTES } from './heap.js';
import { ENTRY, JOB, JOB_BYTES, KIND } from './job.js';
import { BLOCK, QUAD, inputPanels, packBias, packPanels, panelFloats, recurrentPanels, unitBlocks } from './pack.js';
import { CONTROL_BYTES, ThreadPool } from './threads.js';

const STACK_BYTES = 64 * 1024;

/** A product's operand: rows x cols at `off` with row stride `ld`; `at` is the byte offset of its row 0 when it already lives in the linear memory. */
interface ProductOperand {
  readonly src: Float32Array;
  readonly off: number;
  readonly ld: number;
  readonly rows: number;
  readonly cols: number;
  readonly at: number | undefined;
}

interface KernelExports {
  readonly [entry: string]: unknown;
  readonly __stack_pointer: WebAssembly.Global;
  readonly __heap_base: WebAssembly.Global;
}

/** One layer's weights in linear memory, packed as the kernels read them. */
export interface PackedLayer {
  readonly spec: LayerSpec;
  readonly nub: number;
  /** Byte offsets: the one block holding everything, then its parts. */
  readonly block: number;
  readonly bytes: number;
  readonly wih: number;
  readonly whh: number;
  readonly whhn: number;
  readonly bias: number;
  readonly bhn: number;
}

export interface LayerInputs {
  /** [T, B, I], or null with `tokens` */
  readonly x: FloatArray | null;
  /** token ids [T, B] (one-hot rows of x), or null */
  readonly tokens: Int32Array | null;
  readonly h0: FloatArray;
  readonly c0: FloatArray | null;
  readonly time: number;
  readonly batch: number;
  readonly seqLens: Int32Array | null;
}

export interface LayerOutputs {
  readonly y: Float32Array;
  readonly h: Float32Array;
  readonly c: Float32Array | null;
  /** LSTM and GRU forwards run with `keepTape`: what backend-cpu's backward reads, in its layout. */
  readonly tape: KernelTape | null;
}

/**
 * An LSTM tape kept in the linear memory: one block (free it with `release`) and views over its parts, which the
 * backward and the GEMMs read in place (`offsetOf`). Views over a shared memory stay valid when it grows.
 */
export interface KernelTape {
  readonly block: number;
  /** [T*B, G*H] activated gates (LSTM i, f, g, o; GRU r, z, n) */
  readonly act: Float32Array;
  /** [T*B, H] each */
  readonly hPrev: Float32Array;
  /** LSTM */
  readonly cPrev: Float32Array | null;
  readonly cNew: Float32Array | null;
  /** GRU: W_hn h + b_hn (reset after) or r * h (reset before) */
  readonly extra: Float32Array | null;
}

export interface EngineOptions {
  /** Threads in all, this one included. */
  readonly threads: number;
  /** How long an idle helper spins for the next job before it sleeps. */
  readonly spinMs: number;
  /** The most the linear memory may grow to (default and ceiling: 4 GiB, wasm32's limit). */
  readonly maxMemoryBytes?: number;
}

/** The kernel module in shared memory, its helper threads, and the packing of weights and chunks into it. */
export class Engine {
  readonly #memory: WebAssembly.Memory;
  /** The module's entry point for each kind of job. */
  readonly #entries: ((job: number, tid: number) => void)[];
  readonly #heap: Heap;
  readonly #pool: ThreadPool | null;
  readonly #job: number;
  readonly #maxBytes: number;
  #scratch = 0;
  /** Views over the linear memory handed out (tapes, gate gradients), by their byte offsets. */
  readonly #offsets = new WeakMap<FloatArray, number>();
  #scratchBytes = 0;
  #f32: Float32Array | null = null;
  #i32: Int32Array | null = null;
  #viewGeneration = -1;
  /** 1 where thread 0 may not block (a browser's main thread): written into every job */
  #tid0Spins = 0;

  private constructor(
    memory: WebAssembly.Memory,
    exports: KernelExports,
    heap: Heap,
    pool: ThreadPool | null,
    job: number,
    maxBytes: number,
  ) {
    this.#memory = memory;
    this.#maxBytes = maxBytes;
    this.#entries = ENTRY.map((name) => exports[name] as (job: number, tid: number) => void);
    this.#heap = heap;
    this.#pool = pool;
    this.#job = job;
  }

  static async create(wasm: BufferSource, options: EngineOptions): Promise<Engine> {
    const module = await WebAssembly.compile(wasm);
    const maximum = Math.max(32, Math.min(65536, Math.floor((options.maxMemoryBytes ?? MAX_BYTES) / 65536)));
    const memory = new WebAssembly.Memory({ initial: 32, maximum, shared: true });
    const instance = await WebAssembly.instantiate(module, { env: { memory } });
    const exports = instance.exports as unknown as KernelExports;
    const heap = new Heap(memory, exports.__heap_base.value as number, maximum * 65536);
    const control = heap.alloc(CONTROL_BYTES);
    const job = heap.alloc(JOB_BYTES);
    new Int32Array(memory.buffer, control, CONTROL_BYTES / 4).fill(0);
    new Int32Array(memory.buffer, job, JOB_BYTES / 4).fill(0);
    const helpers = Math.max(0, options.threads - 1);
    const stacks = Array.from({ length: helpers }, () => heap.alloc(STACK_BYTES) + STACK_BYTES);
    const pool = helpers > 0 ? await ThreadPool.start({ module, memory, control, job, stacks, spinMs: options.spinMs }) : null;
    const engine = new Engine(memory, exports, heap, pool, job, maximum * 65536);
    // on a browser's main thread memory.atomic.wait traps: thread 0 (this one) then spins at the kernels' barriers
    engine.#tid0Spins = pool && !pool.mayBlock ? 1 : 0;
    new Int32Array(memory.buffer, job, JOB_BYTES / 4)[JOB.tid0Spins] = engine.#tid0Spins;
    return engine;
  }

  /** The most the linear memory may grow to. */
  get maxBytes(): number {
    return this.#maxBytes;
  }

  get threads(): number {
    return this.#pool?.size ?? 1;
  }

  /** Threads the last job ran on (a small layer runs on fewer). */
  lastJobThreads = 0;

  /** Bytes of linear memory in live blocks (weights, scratch, stacks). */
  get heapBytes(): number {
    return this.#heap.usedBytes;
  }

  /** Views over the whole memory, remade only after it grew (remaking them per call costs more than the copies). */
  #views(): { f32: Float32Array; i32: Int32Array } {
    if (this.#viewGeneration !== this.#heap.generation || this.#f32 === null) {
      this.#f32 = new Float32Array(this.#memory.buffer);
      this.#i32 = new Int32Array(this.#memory.buffer);
      this.#viewGeneration = this.#heap.generation;
    }
    return { f32: this.#f32, i32: this.#i32! };
  }

  pack(spec: LayerSpec, wIh: FloatArray, wHh: FloatArray, inputBias: FloatArray, hiddenBiasN: FloatArray | null): PackedLayer {
    const H = spec.units,
      I = spec.inputSize,
      G = gateCount(spec.kind),
      nub = unitBlocks(H);
    const input = inputPanels(spec),
      [recurrent, recurrentN] = recurrentPanels(spec);
    const floats = {
      wih: panelFloats(H, I, input),
      whh: panelFloats(H, H, recurrent),
      whhn: recurrentN ? panelFloats(H, H, recurrentN) : 0,
      bias: nub * G * BLOCK,
      bhn: hiddenBiasN ? nub * BLOCK : 0,
    };
    const sizes = Object.values(floats).map((n) => align(n * 4));
    const bytes = sizes.reduce((a, b) => a + b, 0);
    const block = this.#heap.alloc(bytes);
    const [wih, whh, whhn, bias, bhn] = carve(block, sizes);
    const { f32 } = this.#views();
    packPanels(wIh, H, I, input, f32, wih / 4);
    packPanels(wHh, H, H, recurrent, f32, whh / 4);
    if (recurrentN) packPanels(wHh, H, H, recurrentN, f32, whhn / 4);
    packBias(
      inputBias,
      H,
      Array.from({ length: G }, (_, g) => g),
      f32,
      bias / 4,
    );
    if (hiddenBiasN) packBias(hiddenBiasN, H, [0], f32, bhn / 4);
    return { spec, nub, block, bytes, wih, whh, whhn: recurrentN ? whhn : 0, bias, bhn: hiddenBiasN ? bhn : 0 };
  }

  free(layer: PackedLayer): void {
    this.#heap.free(layer.block);
  }

  /**
   * One layer over a chunk: copy the chunk in, run every thread's share, copy the outputs out. `keepTape` (LSTM
   * and GRU) also records the tape backend-cpu's backward reads.
   */
  forward(layer: PackedLayer, input: LayerInputs, keepTape = false): LayerOutputs {
    const { spec, nub } = layer;
    const { time: T, batch: B, seqLens } = input;
    const H = spec.units,
      I = spec.inputSize,
      Hp = nub * BLOCK,
      G = gateCount(spec.kind);
    const lstm = spec.kind === 'lstm',
      gruBefore = spec.kind === 'gru' && !spec.resetAfter;
    const taped = keepTape,
      gru = spec.kind === 'gru';
    // scratch: x [T][B][I], proj [T][B][nub][G][4], h [2][B][Hp], c [B][Hp], rh [B][Hp], y [T][B][Hp], seqlens [B],
    // and with a tape act [T][B][4H], h_{t-1}, c_{t-1}, c_t [T][B][H]
    const stateBytes = align(B * Hp * 4),
      rowsBytes = align(T * B * H * 4);
    const sizes = [
      input.tokens ? align(T * B * 4) : align(T * B * I * 4),
      align(T * B * Hp * G * 4),
      align(2 * B * Hp * 4),
      lstm ? stateBytes : 0,
      gruBefore ? stateBytes : 0,
      align(T * B * Hp * 4),
      seqLens ? align(B * 4) : 0,
    ];
    // the tape gets a block of its own: it lives until the backward has run, across other jobs' scratch.
    // act [T*B][G*H], h_{t-1}, then LSTM c_{t-1}, c_t or GRU's extra (RNN: act is h_t)
    const tapeSizes = [G * rowsBytes, rowsBytes, lstm || gru ? rowsBytes : 0, lstm ? rowsBytes : 0];
    const tapeBlock = taped ? this.#heap.alloc(tapeSizes.reduce((a, b) => a + b, 0)) : 0;
    let scratch: number;
    try {
      scratch = this.#scratchFor(sizes.reduce((a, b) => a + b, 0));
    } catch (error) {
      if (taped) this.#heap.free(tapeBlock);
      throw error;
    }
    const [x, proj, h, c, rh, y, lens] = carve(scratch, sizes);
    const [act, hPrev, third, fourth] = taped ? carve(tapeBlock, tapeSizes) : [0, 0, 0, 0];

    const { f32, i32 } = this.#views();
    if (input.tokens) i32.set(input.tokens, x / 4);
    else f32.set(input.x!, x / 4);
    writeRows(f32, h / 4, input.h0, B, H, Hp);
    if (lstm) writeRows(f32, c / 4, input.c0!, B, H, Hp);
    if (seqLens) i32.set(seqLens, lens / 4);

    const threads = Math.min(this.threads, Math.max(1, Math.floor(nub / (2 * QUAD)))); // at least 32 units a thread
    const job = this.#job / 4;
    i32.fill(0, job, job + JOB_BYTES / 4);
    i32[job + JOB.tid0Spins] = this.#tid0Spins;
    i32[job + JOB.kind] = KIND[spec.kind];
    i32[job + JOB.variant] = spec.kind === 'gru' ? Number(spec.resetAfter) : spec.kind === 'rnn' ? Number(spec.activation === 'relu') : 0;
    i32[job + JOB.T] = T;
    i32[job + JOB.B] = B;
    i32[job + JOB.I] = I;
    i32[job + JOB.H] = H;
    i32[job + JOB.nub] = nub;
    i32[job + JOB.nthreads] = threads;
    i32[job + JOB.x] = input.tokens ? 0 : x;
    i32[job + JOB.tokens] = input.tokens ? x : 0;
    i32[job + JOB.wih] = layer.wih;
    i32[job + JOB.whh] = layer.whh;
    i32[job + JOB.whhn] = layer.whhn;
    i32[job + JOB.bias] = layer.bias;
    i32[job + JOB.bhn] = layer.bhn;
    i32[job + JOB.proj] = proj;
    i32[job + JOB.h] = h;
    i32[job + JOB.c] = lstm ? c : 0;
    i32[job + JOB.rh] = gruBefore ? rh : 0;
    i32[job + JOB.y] = y;
    i32[job + JOB.seqlens] = seqLens ? lens : 0;
    if (taped) {
      i32[job + JOB.tapeAct] = act;
      i32[job + JOB.tapeHprev] = hPrev;
      if (lstm) {
        i32[job + JOB.tapeCprev] = third;
        i32[job + JOB.tapeCnew] = fourth;
      } else if (gru) i32[job + JOB.tapeExtra] = third;
    }

    this.lastJobThreads = threads > 1 && this.#pool ? threads : 1;
    try {
      if (threads > 1 && this.#pool) this.#pool.run(this.#runHere);
      else this.#runHere();
    } catch (error) {
      if (taped) this.#heap.free(tapeBlock);
      throw error;
    }

    return {
      y: readRows(f32, y / 4, T * B, H, Hp),
      h: readRows(f32, h / 4 + (T % 2) * B * Hp, B, H, Hp), // the kernels' two h slots are B * Hp floats apart
      c: lstm ? readRows(f32, c / 4, B, H, Hp) : null,
      tape: taped
        ? {
            block: tapeBlock,
            act: this.#view(act, T * B * G * H),
            hPrev: this.#view(hPrev, T * B * H),
            cPrev: lstm ? this.#view(third, T * B * H) : null,
            cNew: lstm ? this.#view(fourth, T * B * H) : null,
            extra: gru ? this.#view(third, T * B * H) : null,
          }
        : null,
    };
  }

  /** A float32 view of `length` values at byte offset `at` (what `offsetOf` knows). */
  #view(at: number, length: number): Float32Array {
    const view = new Float32Array(this.#memory.buffer, at, length);
    this.#offsets.set(view, at);
    return view;
  }

  /** Frees a block that views were made over, and forgets them (no later product reads freed memory through them). */
  releaseViews(block: number, views: readonly FloatArray[]): void {
    for (const v of views) this.#offsets.delete(v);
    this.#heap.free(block);
  }

  /** The byte offset of a view this engine made over its linear memory, or undefined for any other array. */
  offsetOf(values: FloatArray): number | undefined {
    return this.#offsets.get(values);
  }

  /** Copies values into a block of their own (weights that many products read): its byte offset. */
  place(values: Float32Array): number {
    const at = this.#heap.alloc(values.byteLength);
    this.#views().f32.set(values, at / 4);
    return at;
  }

  /** Frees a block made by `place`. */
  release(at: number): void {
    this.#heap.free(at);
  }

  /**
   * C[m, n] (+)= sum_k A[m, k] * W[n, k] (C = A · Wᵀ, row-major with the given row strides), float32, on every
   * thread. A, and C when accumulating, are copied into the scratch; W too unless `wAt` gives the byte offset of
   * a placed copy (with row stride `ldw`, starting at its row 0: `wOff` then counts from there).
   */
  gemm(
    M: number,
    N: number,
    K: number,
    A: Float32Array,
    aOff: number,
    lda: number,
    W: Float32Array,
    wOff: number,
    ldw: number,
    C: Float32Array,
    cOff: number,
    ldc: number,
    accumulate: boolean,
    wAt: number | null,
  ): void {
    this.#productOf(
      KIND.gemm,
      M,
      N,
      K,
      { src: A, off: aOff, ld: lda, rows: M, cols: K, at: this.offsetOf(A) },
      { src: W, off: wOff, ld: ldw, rows: N, cols: K, at: wAt ?? undefined },
      C,
      cOff,
      ldc,
      accumulate,
    );
  }

  /** C[m, n] (+)= sum_r A[r, m] * B[r, n] (C = Aᵀ · B), float32, on every thread; A, B (and C when accumulating) are copied in. */
  gemmAtB(
    M: number,
    N: number,
    R: number,
    A: Float32Array,
    aOff: number,
    lda: number,
    B: Float32Array,
    bOff: number,
    ldb: number,
    C: Float32Array,
    cOff: number,
    ldc: number,
    accumulate: boolean,
  ): void {
    this.#productOf(
      KIND.gemmAtB,
      M,
      N,
      R,
      { src: A, off: aOff, ld: lda, rows: R, cols: M, at: this.offsetOf(A) },
      { src: B, off: bOff, ld: ldb, rows: R, cols: N, at: this.offsetOf(B) },
      C,
      cOff,
      ldc,
      accumulate,
    );
  }

  /**
   * Either product over two operands, each read in place when it lives in the linear memory (`at`: where its row 0
   * starts) and otherwise copied, packed, into the scratch; C is copied in when accumulating and out at the end.
   */
  #productOf(
    kind: number,
    M: number,
    N: number,
    K: number,
    a: ProductOperand,
    b: ProductOperand,
    C: Float32Array,
    cOff: number,
    ldc: number,
    accumulate: boolean,
  ): void {
    const sizes = [
      a.at === undefined ? align(a.rows * a.cols * 4) : 0,
      b.at === undefined ? align(b.rows * b.cols * 4) : 0,
      align(M * N * 4),
    ];
    const [aCopy, bCopy, c] = carve(this.#scratchFor(sizes[0] + sizes[1] + sizes[2]), sizes);
    const { f32 } = this.#views();
    const place = (o: ProductOperand, copy: number): [number, number] => {
      if (o.at !== undefined) return [o.at + o.off * 4, o.ld];
      copyRows(o.src, o.off, o.ld, f32, copy / 4, o.cols, o.rows, o.cols);
      return [copy, o.cols];
    };
    const [aAt, lda] = place(a, aCopy),
      [bAt, ldb] = place(b, bCopy);
    if (accumulate) copyRows(C, cOff, ldc, f32, c / 4, N, M, N);
    this.#product(kind, M, N, K, aAt, lda, bAt, ldb, c, accumulate);
    copyRows(f32, c / 4, N, C, cOff, ldc, M, N);
  }

  /**
   * Runs a product job (C = A·Wᵀ or Aᵀ·B) on operands in the linear memory (byte offsets; row strides in floats)
   * into C at byte offset `c`, [M][N].
   */
  #product(
    kind: number,
    M: number,
    N: number,
    K: number,
    a: number,
    lda: number,
    w: number,
    ldw: number,
    c: number,
    accumulate: boolean,
  ): void {
    const i32 = this.#views().i32,
      job = this.#job / 4;
    const threads = M * N * K >= 1 << 18 ? this.threads : 1;
    i32[job + JOB.kind] = kind;
    i32[job + JOB.nthreads] = threads;
    i32[job + JOB.M] = M;
    i32[job + JOB.N] = N;
    i32[job + JOB.K] = K;
    i32[job + JOB.lda] = lda;
    i32[job + JOB.ldw] = ldw;
    i32[job + JOB.ldc] = N;
    i32[job + JOB.a] = a;
    i32[job + JOB.w] = w;
    i32[job + JOB.cm] = c;
    i32[job + JOB.accumulate] = Number(accumulate);
    i32[job + JOB.abort] = 0;
    if (threads > 1 && this.#pool) this.#pool.run(this.#runHere);
    else this.#runHere();
  }

  /**
   * The time loop of an LSTM backward (backend-cpu's lstmBackward, same tape layout): gate gradients dG [T*B, 4H]
   * and dh_0, dc_0. `whhT` is the byte offset of W_hhᵀ [H, 4H] placed in the linear memory.
   */
  lstmBackward(
    H: number,
    T: number,
    B: number,
    seqLens: Int32Array | null,
    tape: { act: Float32Array; cPrev: Float32Array; cNew: Float32Array },
    dy: Float32Array | null,
    dhT: Float32Array | null,
    dcT: Float32Array | null,
    whhT: number,
  ): { dG: Float32Array; dGBlock: number; dh0: Float32Array; dc0: Float32Array } {
    const r = this.#loopBackward(KIND.lstmBackward, 0, 4, H, T, B, seqLens, [tape.act, tape.cPrev, tape.cNew], dy, dhT, dcT, whhT);
    return { ...r, dc0: r.dc0! };
  }

  /** The time loop of an Elman RNN backward (backend-cpu's rnnBackward): dG [T*B, H] and dh_0 from the tape's act (h_t). */
  rnnBackward(
    H: number,
    T: number,
    B: number,
    relu: boolean,
    seqLens: Int32Array | null,
    act: Float32Array,
    dy: Float32Array | null,
    dhT: Float32Array | null,
    whhT: number,
  ): { dG: Float32Array; dGBlock: number; dh0: Float32Array } {
    return this.#loopBackward(KIND.rnnBackward, Number(relu), 1, H, T, B, seqLens, [act], dy, dhT, null, whhT);
  }

  /**
   * An LSTM or RNN backward loop: the tape's arrays (act, and LSTM's c_{t-1}, c_t) in place when they are ours
   * (made by `forward`), else copied into the scratch; the gate gradients in a block of their own, which the
   * weight-gradient products then read in place (release it with `releaseViews`).
   */
  #loopBackward(
    kind: number,
    variant: number,
    gates: number,
    H: number,
    T: number,
    B: number,
    seqLens: Int32Array | null,
    tapeArrays: Float32Array[],
    dy: Float32Array | null,
    dhT: Float32Array | null,
    dcT: Float32Array | null,
    whhT: number,
  ): { dG: Float32Array; dGBlock: number; dh0: Float32Array; dc0: Float32Array | null } {
    const rows = T * B,
      G = gates * H,
      lstm = tapeArrays.length === 3;
    const resident = tapeArrays.map((a) => this.offsetOf(a));
    const copied = resident.some((at) => at === undefined);
    const tapeSizes = tapeArrays.map((a) => (copied ? align(a.length * 4) : 0));
    const sizes = [
      ...tapeSizes,
      dy ? align(rows * H * 4) : 0,
      align(B * H * 4),
      lstm ? align(B * H * 4) : 0,
      align(B * H * 4),
      seqLens ? align(B * 4) : 0,
    ];
    const dg = this.#heap.alloc(rows * G * 4);
    let scratch: number;
    try {
      scratch = this.#scratchFor(sizes.reduce((a, b) => a + b, 0));
    } catch (error) {
      this.#heap.free(dg);
      throw error;
    }
    const carved = carve(scratch, sizes);
    const tapeAt = tapeArrays.map((_, i) => (copied ? carved[i] : resident[i]!));
    const [dyAt, dh, dc, dhp, lens] = carved.slice(tapeArrays.length);
    const { f32, i32 } = this.#views();
    if (copied) tapeArrays.forEach((a, i) => f32.set(a, tapeAt[i] / 4));
    if (dy) f32.set(dy, dyAt / 4);
    if (dhT) f32.set(dhT, dh / 4);
    else f32.fill(0, dh / 4, dh / 4 + B * H);
    if (lstm) {
      if (dcT) f32.set(dcT, dc / 4);
      else f32.fill(0, dc / 4, dc / 4 + B * H);
    }
    if (seqLens) i32.set(seqLens, lens / 4);
    const job = this.#job / 4;
    i32.fill(0, job, job + JOB_BYTES / 4);
    i32[job + JOB.tid0Spins] = this.#tid0Spins;
    const threads = Math.min(this.threads, Math.max(1, Math.floor(H / 32)));
    i32[job + JOB.kind] = kind;
    i32[job + JOB.variant] = variant;
    i32[job + JOB.nthreads] = threads;
    i32[job + JOB.T] = T;
    i32[job + JOB.B] = B;
    i32[job + JOB.H] = H;
    i32[job + JOB.seqlens] = seqLens ? lens : 0;
    i32[job + JOB.tapeAct] = tapeAt[0];
    if (lstm) {
      i32[job + JOB.tapeCprev] = tapeAt[1];
      i32[job + JOB.tapeCnew] = tapeAt[2];
      i32[job + JOB.dc] = dc;
    }
    i32[job + JOB.dy] = dy ? dyAt : 0;
    i32[job + JOB.dh] = dh;
    i32[job + JOB.dg] = dg;
    i32[job + JOB.dhp] = dhp;
    i32[job + JOB.whht] = whhT;
    try {
      if (threads > 1 && this.#pool) this.#pool.run(this.#runHere);
      else this.#runHere();
    } catch (error) {
      this.#heap.free(dg);
      throw error;
    }
    return {
      dG: this.#view(dg, rows * G),
      dGBlock: dg,
      dh0: readRows(f32, dh / 4, B, H, H),
      dc0: lstm ? readRows(f32, dc / 4, B, H, H) : null,
    };
  }

  /**
   * The time loop of a GRU backward (backend-cpu's gruBackward, same tape layout): the input-side gate gradients
   * dXP [T*B, 3H], the recurrent-side ones dHP (reset after; reset before they are dXP), and dh_0. `whhT` is the
   * byte offset of W_hhᵀ [H, 3H] placed in the linear memory. dXP and dHP are views over `block`: release them.
   */
  gruBackward(
    H: number,
    T: number,
    B: number,
    resetAfter: boolean,
    seqLens: Int32Array | null,
    tape: { act: Float32Array; hPrev: Float32Array; extra: Float32Array },
    dy: Float32Array | null,
    dhT: Float32Array | null,
    whhT: number,
  ): { dXP: Float32Array; dHP: Float32Array; block: number; dh0: Float32Array } {
    const rows = T * B,
      G = 3 * H;
    const resident = [tape.act, tape.hPrev, tape.extra].map((a) => this.offsetOf(a));
    const copied = resident.some((at) => at === undefined);
    const sizes = [
      copied ? align(rows * G * 4) : 0,
      copied ? align(rows * H * 4) : 0,
      copied ? align(rows * H * 4) : 0,
      dy ? align(rows * H * 4) : 0,
      align(B * H * 4),
      align(B * H * 4),
      align(B * H * 4),
      align(B * H * 4),
      seqLens ? align(B * 4) : 0,
    ];
    const gradBytes = align(rows * G * 4);
    const block = this.#heap.alloc(resetAfter ? 2 * gradBytes : gradBytes);
    let scratch: number;
    try {
      scratch = this.#scratchFor(sizes.reduce((a, b) => a + b, 0));
    } catch (error) {
      this.#heap.free(block);
      throw error;
    }
    const [act, hPrev, extra, dyAt, dh, direct, dhp, drh, lens] = carve(scratch, sizes);
    const { f32, i32 } = this.#views();
    if (copied) {
      f32.set(tape.act, act / 4);
      f32.set(tape.hPrev, hPrev / 4);
      f32.set(tape.extra, extra / 4);
    }
    if (dy) f32.set(dy, dyAt / 4);
    if (dhT) f32.set(dhT, dh / 4);
    else f32.fill(0, dh / 4, dh / 4 + B * H);
    if (seqLens) i32.set(seqLens, lens / 4);
    const job = this.#job / 4;
    i32.fill(0, job, job + JOB_BYTES / 4);
    i32[job + JOB.tid0Spins] = this.#tid0Spins;
    const threads = Math.min(this.threads, Math.max(1, Math.floor(H / 32)));
    i32[job + JOB.kind] = KIND.gruBackward;
    i32[job + JOB.variant] = Number(resetAfter);
    i32[job + JOB.nthreads] = threads;
    i32[job + JOB.T] = T;
    i32[job + JOB.B] = B;
    i32[job + JOB.H] = H;
    i32[job + JOB.seqlens] = seqLens ? lens : 0;
    i32[job + JOB.tapeAct] = copied ? act : resident[0]!;
    i32[job + JOB.tapeHprev] = copied ? hPrev : resident[1]!;
    i32[job + JOB.tapeExtra] = copied ? extra : resident[2]!;
    i32[job + JOB.dy] = dy ? dyAt : 0;
    i32[job + JOB.dh] = dh;
    i32[job + JOB.dc] = direct;
    i32[job + JOB.dhp] = dhp;
    i32[job + JOB.rh] = drh;
    i32[job + JOB.dg] = block;
    i32[job + JOB.dhg] = resetAfter ? block + gradBytes : 0;
    i32[job + JOB.whht] = whhT;
    try {
      if (threads > 1 && this.#pool) this.#pool.run(this.#runHere);
      else this.#runHere();
    } catch (error) {
      this.#heap.free(block);
      throw error;
    }
    const dXP = this.#view(block, rows * G);
    return { dXP, dHP: resetAfter ? this.#view(block + gradBytes, rows * G) : dXP, block, dh0: readRows(f32, dh / 4, B, H, H) };
  }

  /**
   * Multiply-adds per second (2 FLOP each, 4 lanes) that `threads` threads sustain in a register-only SIMD128 loop
   * of `iterations` x 8 vector multiply-adds each: the peak our kernels are held to.
   */
  peakFlops(threads: number, iterations: number): number {
    const buffer = this.place(Float32Array.from({ length: 64 + 4 * threads }, (_, i) => 1 + i / 1024));
    try {
      const { i32 } = this.#views();
      const job = this.#job / 4;
      i32.fill(0, job, job + JOB_BYTES / 4);
      i32[job + JOB.tid0Spins] = this.#tid0Spins;
      i32[job + JOB.kind] = KIND.peak;
      i32[job + JOB.nthreads] = Math.min(threads, this.threads);
      i32[job + JOB.K] = iterations;
      i32[job + JOB.a] = buffer;
      i32[job + JOB.cm] = buffer + 64 * 4;
      const start = performance.now();
      if (i32[job + JOB.nthreads] > 1 && this.#pool) this.#pool.run(this.#runHere);
      else this.#runHere();
      const seconds = (performance.now() - start) / 1000;
      return (i32[job + JOB.nthreads] * iterations * 8 * 4 * 2) / seconds;
    } finally {
      this.release(buffer);
    }
  }

  /** Thread 0's share of the job. */
  readonly #runHere = (): void => {
    try {
      this.#entries[this.#views().i32[this.#job / 4 + JOB.kind]](this.#job, 0);
    } catch (error) {
      Atomics.store(this.#views().i32, this.#job / 4 + JOB.abort, 1); // release the helpers' barriers
      throw error;
    }
  };

  /**
   * One grow-only scratch block for the chunk being run. If the memory cannot grow, the old block is gone and no
   * block is recorded (the next call allocates afresh): a refused chunk never leaves a stale offset or size behind.
   */
  #scratchFor(bytes: number): number {
    if (bytes > this.#scratchBytes) {
      const roomy = Math.max(bytes, Math.ceil(this.#scratchBytes * 1.5));
      if (this.#scratch) this.#heap.free(this.#scratch);
      this.#scratch = 0;
      this.#scratchBytes = 0;
      let block: number;
      try {
        block = this.#heap.alloc(roomy);
      } catch {
        block = this.#heap.alloc(bytes); // no room to spare: exactly what this chunk needs, or the heap's error
      }
      this.#scratch = block;
      this.#scratchBytes = this.#heap.sizeOf(block);
    }
    return this.#scratch;
  }

  async dispose(): Promise<void> {
    await this.#pool?.stop();
  }
}

function align(bytes: number): number {
  return Math.ceil(bytes / 64) * 64;
}

/** Offsets of consecutive parts of the given sizes, from `base`. */
function carve(base: number, sizes: readonly number[]): number[] {
  const offsets: number[] = [];
  for (const size of sizes) {
    offsets.push(base);
    base += size;
  }
  return offsets;
}

/** rows x H values into rows of Hp floats (the padding lanes zeroed). */
function writeRows(f32: Float32Array, at: number, values: FloatArray, rows: number, H: number, Hp: number): void {
  if (H === Hp) {
    f32.set(values, at);
    return;
  }
  f32.fill(0, at, at + rows * Hp);
  for (let r = 0; r < rows; r++) f32.set(values.subarray(r * H, (r + 1) * H), at + r * Hp);
}

/** `rows` rows of `cols` values from `src` (row stride `srcStride`) to `dst` (row stride `dstStride`). */
function copyRows(
  src: Float32Array,
  srcOff: number,
  srcStride: number,
  dst: Float32Array,
  dstOff: number,
  dstStride: number,
  rows: number,
  cols: number,
): void {
  if (srcStride === cols && dstStride === cols) {
    dst.set(src.subarray(srcOff, srcOff + rows * cols), dstOff);
    return;
  }
  for (let r = 0; r < rows; r++) dst.set(src.subarray(srcOff + r * srcStride, srcOff + r * srcStride + cols), dstOff + r * dstStride);
}

function readRows(f32: Float32Array, at: number, rows: number, H: number, Hp: number): Float32Array {
  const out = alloc('float32', rows * H) as Float32Array;
  if (H === Hp) {
    out.set(f32.subarray(at, at + rows * H));
    return out;
  }
  for (let r = 0; r < rows; r++) out.set(f32.subarray(at + r * Hp, at + r * Hp + H), r * H);
  return out;
}
