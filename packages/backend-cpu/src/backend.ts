import {
  SPEC_VERSION,
  gateCount,
  type Availability,
  type BackwardArgs,
  type BackwardResult,
  type Capabilities,
  type DType,
  type FloatArray,
  type ForwardArgs,
  type ForwardResult,
  type LayerSpec,
  type LayerWeights,
  type MemoryInfo,
  type RecurBackend,
  type MemoryBudget,
  type ForwardScratch,
  hostMemoryBudget,
  gemmABt,
  gemmAtB,
  type Gemm,
  type GemmAtB,
  denseForwardHost,
  denseBackwardHost,
  softmaxCrossEntropy,
  meanSquaredError,
  globalNorm,
  updateParameter,
  type DenseArgs,
  type DenseGradients,
  type LossStorages,
  type OptimizerArgs,
  type TransferCounts,
  type WeightParameters,
} from '@recur/core';
import { gruForward } from './kernels/gru.js';
import { lstmForward } from './kernels/lstm.js';
import { rnnForward } from './kernels/rnn.js';
import { concatRows, gatherRows, transpose01, zeroRows } from './kernels/rows.js';
import {
  Workspace,
  alloc,
  pin,
  recycle,
  tapeBytes,
  type CpuTape,
  type CpuWeights,
  type KernelArgs,
  type KernelResult,
} from './kernels/workspace.js';
import type { BackwardKernelArgs, BackwardKernelResult } from './kernels/backward-common.js';
import { runInSlices, type HostResult, type HostRun } from './kernels/slices.js';
import type { KernelTier } from './tier.js';
import { gruBackward } from './kernels/gru-backward.js';
import { lstmBackward } from './kernels/lstm-backward.js';
import { rnnBackward } from './kernels/rnn-backward.js';

const weightBytes = (w: CpuWeights): number =>
  w.wIh.byteLength + w.wHh.byteLength + w.bIh.byteLength + w.bHh.byteLength + w.inputBias.byteLength + (w.hiddenBiasN?.byteLength ?? 0);

/** The biases the kernels add, from the public ones: b_ih + b_hh (+ forgetBias on f); GRU reset_after keeps b_hn apart. */
function deriveBiases(w: CpuWeights): void {
  const spec = w.spec,
    H = spec.units,
    G = gateCount(spec.kind);
  for (let i = 0; i < G * H; i++) w.inputBias[i] = w.bIh[i] + w.bHh[i];
  if (spec.kind === 'lstm') {
    for (let j = H; j < 2 * H; j++) w.inputBias[j] += spec.forgetBias;
  } else if (w.hiddenBiasN) {
    // b_hn sits inside r·(W_hn h + b_hn): it cannot join the input projection
    w.hiddenBiasN.set(w.bHh.subarray(2 * H, 3 * H));
    for (let j = 2 * H; j < 3 * H; j++) w.inputBias[j] = w.bIh[j];
  }
}

/**
 * A tensor's values on the CPU backend: a flat row-major typed array.
 * @see [docs/backend-authoring.md (backend-cpu as a base)](../../../docs/backend-authoring.md#examples-in-this-repository)
 */
export class CpuStorage {
  constructor(
    readonly data: FloatArray,
    readonly dtype: DType,
  ) {}
}

const KERNELS: Record<LayerSpec['kind'], (args: KernelArgs) => KernelResult> = { lstm: lstmForward, gru: gruForward, rnn: rnnForward };
const BACKWARD: Record<LayerSpec['kind'], (args: BackwardKernelArgs) => BackwardKernelResult> = {
  lstm: lstmBackward,
  gru: gruBackward,
  rnn: rnnBackward,
};

/**
 * The pure TypeScript backend: the embedded default, no native or binary dependency.
 * @see [docs/backend-authoring.md (backend-cpu as a base)](../../../docs/backend-authoring.md#examples-in-this-repository)
 */
export class CpuBackend implements RecurBackend {
  readonly specVersion = SPEC_VERSION;
  readonly name: string;
  readonly capabilities: Capabilities = {
    cells: ['lstm', 'gru', 'rnn'],
    dtypes: ['float32', 'float64'],
    training: true,
    syncRead: true,
    tokens: true,
  };
  readonly #live = new Set<CpuStorage>();
  readonly #weights = new Set<CpuWeights>();
  readonly #tapes = new Set<CpuTape>();
  readonly #workspace = new Workspace();
  #bytes = 0;
  #weightBytes = 0;
  #bytesIn = 0;
  #bytesOut = 0;
  /** Each upload's parameter storages (`weightParameters`): views of its own arrays, freed with it. */
  readonly #parameters = new Map<
    CpuWeights,
    { readonly wIh: CpuStorage; readonly wHh: CpuStorage; readonly bIh: CpuStorage; readonly bHh: CpuStorage }
  >();
  readonly #parameterStorages = new Set<CpuStorage>();
  #tapeBytes = 0;
  #budget: MemoryBudget = hostMemoryBudget();
  /**
   * Scratch bytes a forward may use per time slice: a longer chunk runs as consecutive slices (same results), so
   * its scratch stays bounded and only its outputs grow with its length. Training forwards (with a tape) need the
   * whole chunk and are not sliced.
   */
  sliceBytes = 32 * 1024 * 1024;
  /** The matrix products every kernel runs: core's, or a kernel tier's. */
  readonly #gemm: Gemm;
  readonly #gemmAtB: GemmAtB;
  readonly #tier: KernelTier;

  /** The spec's `hostGemm`: core's dense head runs the same product as the kernels. */
  get hostGemm(): Gemm {
    return this.#gemm;
  }

  /** `tier`: faster kernels that replace parts of this backend's (see KernelTier); none by default. */
  constructor(name = 'cpu', tier: KernelTier = {}) {
    this.name = name;
    this.#tier = tier;
    this.#gemm = tier.gemm ?? gemmABt;
    this.#gemmAtB = tier.gemmAtB ?? gemmAtB;
  }

  available(): Availability {
    return { available: true };
  }

  /** Tracks new storage. */
  #wrap(data: FloatArray, dtype: DType): CpuStorage {
    const s = new CpuStorage(data, dtype);
    this.#live.add(s);
    this.#bytes += data.byteLength;
    return s;
  }

  /** The values of a live storage of this backend; throws for anything else. */
  #dataOf(storage: unknown): FloatArray {
    if (!(storage instanceof CpuStorage) || !(this.#live.has(storage) || this.#parameterStorages.has(storage)))
      throw new Error(`${this.name}: storage is not a live tensor of this backend`);
    return storage.data;
  }

  upload(values: FloatArray, _shape: readonly number[], dtype: DType): CpuStorage {
    const data = alloc(dtype, values.length);
    data.set(values);
    this.#bytesIn += values.byteLength;
    return this.#wrap(data, dtype);
  }

  zeros(shape: readonly number[], dtype: DType): CpuStorage {
    return this.#wrap(
      alloc(
        dtype,
        shape.reduce((a, b) => a * b, 1),
      ),
      dtype,
    );
  }

  async read(storage: unknown): Promise<FloatArray> {
    return this.readSync(storage);
  }

  readSync(storage: unknown): FloatArray {
    const out = this.#dataOf(storage).slice();
    this.#bytesOut += out.byteLength;
    return out;
  }

  /** Host arrays copied in (uploads, weights, ids, row lists, seqLens, targets) and read out, in bytes. */
  transfers(): TransferCounts {
    return { bytesIn: this.#bytesIn, bytesOut: this.#bytesOut };
  }

  /** A host array a kernel reads (ids, rows, lengths, targets): counted as moved in. */
  #argument<A extends ArrayBufferView | null | undefined>(array: A): A {
    if (array) this.#bytesIn += array.byteLength;
    return array;
  }

  dispose(storage: unknown): void {
    if (storage instanceof CpuStorage && this.#live.delete(storage)) {
      this.#bytes -= storage.data.byteLength;
      recycle(storage.data);
    }
  }

  /** Kept as running sums: core reads them before every chunk it runs. */
  memory(): MemoryInfo {
    return {
      numTensors: this.#live.size + this.#weights.size + this.#tapes.size,
      numBytes: this.#bytes + this.#weightBytes + this.#tapeBytes + (this.#tier.extraBytes?.() ?? 0),
    };
  }

  uploadWeights(spec: LayerSpec, weights: LayerWeights): CpuWeights {
    const H = spec.units,
      G = gateCount(spec.kind);
    const copy = (v: FloatArray) => {
      const out = alloc(spec.dtype, v.length);
      out.set(v);
      this.#bytesIn += v.byteLength;
      return out;
    };
    const hiddenBiasN = spec.kind === 'gru' && spec.resetAfter ? alloc(spec.dtype, H) : null;
    const w: CpuWeights = {
      spec,
      wIh: copy(weights.wIh),
      wHh: copy(weights.wHh),
      bIh: copy(weights.bIh),
      bHh: copy(weights.bHh),
      inputBias: alloc(spec.dtype, G * H),
      hiddenBiasN,
    };
    deriveBiases(w);
    this.#weights.add(w);
    this.#weightBytes += weightBytes(w);
    try {
      this.#tier.weightsUploaded?.(w);
    } catch (error) {
      this.disposeWeights(w); // refused by the tier (its memory is full): nothing of it stays
      throw error;
    }
    return w;
  }

  disposeWeights(weights: unknown): void {
    const parameters = this.#parameters.get(weights as CpuWeights);
    if (parameters) for (const p of Object.values(parameters)) this.#parameterStorages.delete(p);
    this.#parameters.delete(weights as CpuWeights);
    if (this.#weights.delete(weights as CpuWeights)) {
      this.#weightBytes -= weightBytes(weights as CpuWeights);
      this.#tier.weightsDisposed?.(weights as CpuWeights);
    }
  }

  memoryBudget(): MemoryBudget {
    return this.#budget;
  }

  setMemoryBudget(budget: MemoryBudget): void {
    this.#budget = { ...budget };
  }

  /** Steps per time slice for a layer and batch (see `sliceBytes`): x, the projection and y of one step. */
  #sliceSteps(spec: LayerSpec, batch: number): number {
    const perStep = batch * (spec.inputSize + (gateCount(spec.kind) + 1) * this.#stepUnits(spec)) * (spec.dtype === 'float64' ? 8 : 4);
    return Math.max(1, Math.floor(this.sliceBytes / perStep));
  }

  /** The width a step's rows take in a kernel's scratch: the units here; a kernel tier may pad them. */
  #stepUnits(spec: LayerSpec): number {
    return this.#tier.stepUnits?.(spec) ?? spec.units;
  }

  forwardScratch(spec: LayerSpec, time: number, batch: number, keepTape: boolean): ForwardScratch {
    const b = spec.dtype === 'float64' ? 8 : 4,
      H = spec.units,
      G = gateCount(spec.kind) * H;
    const steps = keepTape ? time : Math.min(time, this.#sliceSteps(spec, batch));
    const projection = steps * batch * G * b;
    // slices: one slice's outputs and states besides the whole output; a tape: activations per step (see CpuTape)
    const sliceOutputs = steps < time ? (steps * batch * H + 2 * batch * H) * b : 0;
    // RNN: h_{t-1}, and h_t (our tape shares y's array; a kernel tier's, like backend-simd's, keeps its own)
    const tapeRows = spec.kind === 'lstm' ? 3 * H + G : spec.kind === 'gru' ? 2 * H + G : 2 * H;
    return {
      transientBytes: projection + sliceOutputs + 2 * batch * G * b,
      keptBytes: keepTape ? time * batch * tapeRows * b : 0,
      largestBytes: projection,
    };
  }

  forward(args: ForwardArgs): ForwardResult {
    const w = args.weights as CpuWeights;
    if (!this.#weights.has(w)) throw new Error(`${this.name}: weights were disposed or belong to another backend`);
    const dtype = args.layer.dtype;
    const run: HostRun = {
      x: args.x === null ? null : this.#dataOf(args.x),
      tokens: this.#argument(args.tokens) ?? null,
      time: args.time,
      batch: args.batch,
      h0: this.#dataOf(args.h0),
      c0: args.c0 === null ? null : this.#dataOf(args.c0),
      seqLens: this.#argument(args.seqLens),
    };
    if (args.keepTape !== true) {
      const steps = this.#sliceSteps(args.layer, args.batch);
      const out =
        args.time <= steps
          ? this.#forwardHost(w, run) // every streamed step: no slicing machinery
          : runInSlices(run, args.layer.units, args.layer.inputSize, steps, (slice) => this.#forwardHost(w, slice));
      return { y: this.#wrap(out.y, dtype), hT: this.#wrap(out.h, dtype), cT: out.c ? this.#wrap(out.c, dtype) : null };
    }
    const result =
      this.#tier.forwardTape?.(w, run) ?? KERNELS[w.spec.kind]({ w, gemm: this.#gemm, ...run, workspace: this.#workspace, keepTape: true });
    this.#tapes.add(result.tape!);
    this.#tapeBytes += tapeBytes(result.tape!);
    // a tape may share arrays with tensors core disposes before the backward (its input; the RNN's y is its act)
    for (const a of [result.tape!.x, result.tape!.hPrev, result.tape!.act, result.tape!.cPrev, result.tape!.cNew, result.tape!.extra])
      if (a) pin(a);
    return {
      y: this.#wrap(result.y, dtype),
      hT: this.#wrap(result.h, dtype),
      cT: result.c ? this.#wrap(result.c, dtype) : null,
      tape: result.tape!,
    };
  }

  /** A forward without tape over host arrays (one time slice of a chunk): the tier's kernels, else ours. */
  #forwardHost(w: CpuWeights, run: HostRun): HostResult {
    return (
      this.#tier.forwardHost?.(w, run) ??
      KERNELS[w.spec.kind]({
        w,
        gemm: this.#gemm,
        x: run.x,
        tokens: run.tokens,
        time: run.time,
        batch: run.batch,
        h0: run.h0,
        c0: run.c0,
        seqLens: run.seqLens,
        workspace: this.#workspace,
        keepTape: false,
      })
    );
  }

  backward(args: BackwardArgs): BackwardResult {
    const w = args.weights as CpuWeights;
    const tape = args.tape as CpuTape;
    if (!this.#weights.has(w)) throw new Error(`${this.name}: weights were disposed or belong to another backend`);
    if (!this.#tapes.has(tape)) throw new Error(`${this.name}: the tape was disposed or belongs to another backend`);
    const optional = (s: unknown) => (s === null ? null : this.#dataOf(s));
    const kernelArgs: BackwardKernelArgs = {
      w,
      gemm: this.#gemm,
      gemmAtB: this.#gemmAtB,
      tape,
      time: args.time,
      batch: args.batch,
      seqLens: this.#argument(args.seqLens),
      dy: optional(args.dy),
      dhT: optional(args.dhT),
      dcT: optional(args.dcT),
    };
    const r = this.#tier.backward?.(kernelArgs) ?? BACKWARD[args.layer.kind](kernelArgs);
    const dtype = args.layer.dtype;
    const wrap = (a: FloatArray) => this.#wrap(a, dtype);
    return {
      dx: r.dx === null ? null : wrap(r.dx),
      dh0: wrap(r.dh0),
      dc0: r.dc0 ? wrap(r.dc0) : null,
      dWeights: { wIh: wrap(r.dWih), wHh: wrap(r.dWhh), bIh: wrap(r.dbIh), bHh: wrap(r.dbHh) },
    };
  }

  disposeTape(tape: unknown): void {
    if (this.#tapes.delete(tape as CpuTape)) {
      this.#tapeBytes -= tapeBytes(tape as CpuTape);
      this.#tier.tapeDisposed?.(tape as CpuTape);
    }
  }

  transpose01(storage: unknown, shape: readonly [number, number, number]): CpuStorage {
    const s = storage as CpuStorage;
    return this.#wrap(transpose01(this.#dataOf(s), shape, s.dtype), s.dtype);
  }

  zeroRows(storage: unknown, shape: readonly number[], rows: Int32Array): CpuStorage {
    const s = storage as CpuStorage;
    return this.#wrap(zeroRows(this.#dataOf(s), shape, this.#argument(rows)), s.dtype);
  }

  gatherRows(storage: unknown, shape: readonly number[], rows: Int32Array): CpuStorage {
    const s = storage as CpuStorage;
    return this.#wrap(gatherRows(this.#dataOf(s), shape, this.#argument(rows), s.dtype), s.dtype);
  }

  concatRows(storages: readonly unknown[]): CpuStorage {
    const dtype = (storages[0] as CpuStorage).dtype;
    return this.#wrap(
      concatRows(
        storages.map((s) => this.#dataOf(s)),
        dtype,
      ),
      dtype,
    );
  }

  allFinite(storage: unknown): boolean {
    const data = this.#dataOf(storage);
    for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return false;
    return true;
  }

  // training kernels (spec v2): core's host math on this backend's arrays, its products on this backend's GEMMs
  denseForward(args: DenseArgs): CpuStorage {
    const { rows, inputs, outputs, dtype } = args;
    return this.#wrap(
      denseForwardHost(this.#dataOf(args.x), this.#dataOf(args.weight), this.#dataOf(args.bias), rows, inputs, outputs, this.#gemm),
      dtype,
    );
  }

  denseBackward(args: DenseArgs & { readonly dOut: unknown }): DenseGradients {
    const { rows, inputs, outputs, dtype } = args;
    const g = denseBackwardHost(
      this.#dataOf(args.x),
      this.#dataOf(args.weight),
      this.#dataOf(args.dOut),
      rows,
      inputs,
      outputs,
      this.#gemm,
      this.#gemmAtB,
    );
    return { dx: this.#wrap(g.dx, dtype), dWeight: this.#wrap(g.dWeight, dtype), dBias: this.#wrap(g.dBias, dtype) };
  }

  softmaxCrossEntropy(args: {
    readonly logits: unknown;
    readonly targets: Int32Array;
    readonly rows: number;
    readonly classes: number;
    readonly dtype: DType;
  }): LossStorages {
    const r = softmaxCrossEntropy(this.#dataOf(args.logits), this.#argument(args.targets), args.rows, args.classes);
    return { loss: this.#scalar(r.loss, args.dtype), dPredictions: this.#wrap(r.dPredictions, args.dtype) };
  }

  /** A [1] tensor holding `value` (the losses' and the norm's result). */
  #scalar(value: number, dtype: DType): CpuStorage {
    return this.#wrap(alloc(dtype, 1).fill(value), dtype);
  }

  meanSquaredError(args: {
    readonly predictions: unknown;
    readonly targets: unknown;
    readonly count: number;
    readonly dtype: DType;
  }): LossStorages {
    const r = meanSquaredError(this.#dataOf(args.predictions), this.#dataOf(args.targets));
    return { loss: this.#scalar(r.loss, args.dtype), dPredictions: this.#wrap(r.dPredictions, args.dtype) };
  }

  globalNorm(storages: readonly unknown[], dtype: DType): CpuStorage {
    return this.#scalar(globalNorm(storages.map((s) => this.#dataOf(s))), dtype);
  }

  applyOptimizer(args: OptimizerArgs): void {
    // every storage looked up before any changes: a dead one refuses the whole update, not half of it
    const arrays = args.params.map((p, i) => ({
      param: this.#dataOf(p),
      grad: this.#dataOf(args.grads[i]),
      slots: args.slots[i].map((s) => this.#dataOf(s)),
    }));
    for (const a of arrays) updateParameter(args.rule, args.step, args.gradScale, a.param, a.grad, a.slots);
  }

  weightParameters(weights: unknown): WeightParameters {
    const w = weights as CpuWeights;
    if (!this.#weights.has(w)) throw new Error(`${this.name}: weights were disposed or belong to another backend`);
    let p = this.#parameters.get(w);
    if (!p) {
      const view = (a: FloatArray) => {
        const s = new CpuStorage(a, w.spec.dtype);
        this.#parameterStorages.add(s);
        return s;
      };
      p = { wIh: view(w.wIh), wHh: view(w.wHh), bIh: view(w.bIh), bHh: view(w.bHh) };
      this.#parameters.set(w, p);
    }
    return p;
  }

  weightsUpdated(weights: unknown): void {
    const w = weights as CpuWeights;
    if (!this.#weights.has(w)) throw new Error(`${this.name}: weights were disposed or belong to another backend`);
    deriveBiases(w);
    w.wIhT = undefined; // the backward's transposes are made again from the new kernels
    w.wHhT = undefined;
    this.#tier.weightsUpdated?.(w);
  }

  /** Bytes of reusable scratch (not tensors): grows to the largest chunk seen, then stays. */
  get workspaceBytes(): number {
    return this.#workspace.bytes;
  }
}
