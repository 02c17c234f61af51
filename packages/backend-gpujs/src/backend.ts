import {
  SPEC_VERSION,
  type Availability,
  type BackwardArgs,
  type BackwardResult,
  type Capabilities,
  type DType,
  type DenseArgs,
  type DenseGradients,
  type FloatArray,
  type ForwardArgs,
  type ForwardResult,
  type ForwardScratch,
  type LayerSpec,
  type LayerWeights,
  type LossStorages,
  type MemoryBudget,
  type MemoryInfo,
  type OptimizerArgs,
  type RecurBackend,
  type TransferCounts,
  type WeightParameters,
} from '@recur/core';
import type { Texture } from 'gpu.js';
import { backward } from './backward.js';
import { GpuContext, GpuStorage } from './context.js';
import { disposeTape, forward, forwardScratch, type GpuTape } from './forward.js';
import { concatKernel, gatherRowsKernel, transpose01Kernel, zeroRowsKernel } from './kernels/rows.js';
import { detectPlatform, type GpujsPlatform } from './platform.js';
import { applyOptimizer, denseBackward, denseForward, globalNorm, meanSquaredError, softmaxCrossEntropy } from './training.js';
import { disposeWeights, refreshDerived, uploadWeights, type GpuWeights } from './weights.js';

export { GpuStorage };

const matrixOf = (shape: readonly number[]): { rows: number; cols: number } => {
  const cols = shape.length ? shape[shape.length - 1] : 1;
  return { rows: shape.slice(0, -1).reduce((a, b) => a * b, 1), cols };
};

/**
 * Recur on gpu.js. Every tensor stays a texture between the steps of a chunk and between calls: a chunk is one
 * projection kernel over all T·B rows and a fused kernel per step (two for TF1's GRU); its backward recomputes the
 * gates over all rows at once and runs two kernels a step; the v2 training kernels keep a TBPTT chunk on the GPU
 * but for its loss and gradient norm. The parts are functions over one GpuContext (forward.ts, backward.ts,
 * training.ts, weights.ts); this class routes the spec's methods to them.
 * @see [backend-gpujs README (a tested example)](../README.md)
 */
export class GpujsBackend implements RecurBackend {
  readonly specVersion = SPEC_VERSION;
  readonly name: string;
  readonly capabilities: Capabilities = {
    cells: ['lstm', 'gru', 'rnn'],
    dtypes: ['float32'],
    training: true,
    syncRead: true,
    tokens: true,
    tolerance: { forward: 2e-4, gradient: 1e-3 }, // the golden README's for shader math
  };
  readonly platform: GpujsPlatform;
  readonly #ctx: GpuContext | null;
  readonly #weights = new Set<GpuWeights>();
  readonly #tapes = new Set<GpuTape>();
  /**
   * WebGL tells nothing of its memory: a conservative default that `setMemoryBudget` changes (core checks every
   * tensor, upload and chunk against it before anything is allocated).
   */
  #budget: MemoryBudget = { maxAllocationBytes: 256 * 2 ** 20, maxTotalBytes: 2 ** 30 };

  constructor(name = 'gpujs', platform: GpujsPlatform = detectPlatform()) {
    this.name = name;
    this.platform = platform;
    this.#ctx = platform.available && platform.mode ? new GpuContext(platform.mode) : null;
  }

  get #c(): GpuContext {
    if (!this.#ctx) throw new Error(`${this.name}: unavailable (${this.platform.reason})`);
    return this.#ctx;
  }

  /** Textures made and deleted, counted where it happens (a texture leak shows here first). */
  get texturesCreated(): number {
    return this.#ctx?.texturesCreated ?? 0;
  }

  /** Textures deleted so far. */
  get texturesDeleted(): number {
    return this.#ctx?.texturesDeleted ?? 0;
  }

  available(): Availability {
    if (this.#ctx?.lost) return { available: false, reason: `the WebGL context was lost (${this.#ctx.lost}): make a new GpujsBackend` };
    const p = this.platform;
    if (!p.available) return { available: false, reason: p.reason, missingHardware: true };
    const renderer = p.software ? 'a CPU renderer' : p.software === null ? 'a renderer the driver does not name' : 'a GPU';
    // it runs, but on no GPU that anyone can see: callers choosing the fastest backend pass it over (the demo)
    return { available: true, runsOn: `${p.mode}: ${p.renderer}, ${p.version} (${renderer})`, missingHardware: p.software !== false };
  }

  /** @internal Loses the context as a browser or a driver reset would (tests). */
  simulateContextLoss(): void {
    const gl = this.#c.gl;
    const lose = gl.getExtension('WEBGL_lose_context') as { loseContext(): void } | null;
    if (lose) lose.loseContext();
    else (gl.getExtension('STACKGL_destroy_context' as never) as unknown as { destroy(): void }).destroy(); // headless-gl's
  }

  upload(values: FloatArray, shape: readonly number[], _dtype: DType): GpuStorage {
    const { rows, cols } = matrixOf(shape);
    return this.#c.wrap(rows * cols === 0 ? null : this.#c.upload(values, rows, cols), rows, cols);
  }

  zeros(shape: readonly number[]): GpuStorage {
    const { rows, cols } = matrixOf(shape);
    return this.#c.wrap(rows * cols === 0 ? null : this.#c.zeros(rows, cols), rows, cols);
  }

  async read(storage: unknown): Promise<FloatArray> {
    return this.readSync(storage);
  }

  readSync(storage: unknown): FloatArray {
    return this.#c.read(this.#c.storage(storage));
  }

  dispose(storage: unknown): void {
    this.#ctx?.dispose(storage);
  }

  memory(): MemoryInfo {
    let weightBytes = 0;
    for (const w of this.#weights) weightBytes += w.bytes;
    return { numTensors: (this.#ctx?.live.size ?? 0) + this.#weights.size, numBytes: (this.#ctx?.bytes ?? 0) + weightBytes };
  }

  memoryBudget(): MemoryBudget {
    return this.#budget;
  }

  setMemoryBudget(budget: MemoryBudget): void {
    this.#budget = { ...budget };
  }

  forwardScratch(spec: LayerSpec, time: number, batch: number, keepTape = false): ForwardScratch {
    return forwardScratch(spec, time, batch, keepTape);
  }

  transfers(): TransferCounts {
    return this.#c.transfers();
  }

  uploadWeights(spec: LayerSpec, weights: LayerWeights): GpuWeights {
    const w = uploadWeights(this.#c, spec, weights);
    this.#weights.add(w);
    return w;
  }

  disposeWeights(weights: unknown): void {
    const w = weights as GpuWeights;
    if (this.#weights.delete(w)) disposeWeights(this.#c, w);
  }

  #weightsOf(weights: unknown): GpuWeights {
    const w = weights as GpuWeights;
    if (!this.#weights.has(w)) throw new Error(`${this.name}: weights were disposed or belong to another backend`);
    return w;
  }

  forward(args: ForwardArgs): ForwardResult {
    const result = forward(this.#c, args, this.#weightsOf(args.weights));
    if (result.tape) this.#tapes.add(result.tape);
    return result;
  }

  backward(args: BackwardArgs): BackwardResult {
    const tape = args.tape as GpuTape;
    if (!this.#tapes.has(tape)) throw new Error(`${this.name}: the tape was disposed or belongs to another backend`);
    return backward(this.#c, args, tape);
  }

  disposeTape(tape: unknown): void {
    if (this.#tapes.delete(tape as GpuTape)) disposeTape(this.#c, tape as GpuTape);
  }

  denseForward(args: DenseArgs): GpuStorage {
    return denseForward(this.#c, args);
  }

  denseBackward(args: DenseArgs & { readonly dOut: unknown }): DenseGradients {
    return denseBackward(this.#c, args);
  }

  softmaxCrossEntropy(args: {
    readonly logits: unknown;
    readonly targets: Int32Array;
    readonly rows: number;
    readonly classes: number;
  }): LossStorages {
    return softmaxCrossEntropy(this.#c, args);
  }

  meanSquaredError(args: { readonly predictions: unknown; readonly targets: unknown; readonly count: number }): LossStorages {
    return meanSquaredError(this.#c, args);
  }

  globalNorm(storages: readonly unknown[]): GpuStorage {
    return globalNorm(this.#c, storages);
  }

  applyOptimizer(args: OptimizerArgs): void {
    applyOptimizer(this.#c, args);
  }

  weightParameters(weights: unknown): WeightParameters {
    const w = this.#weightsOf(weights);
    return { wIh: w.wIh, wHh: w.wHh, bIh: w.bIh, bHh: w.bHh };
  }

  weightsUpdated(weights: unknown): void {
    refreshDerived(this.#c, this.#weightsOf(weights));
  }

  #rowOp(s: GpuStorage, rows: number, key: string, make: Parameters<GpuContext['run']>[1], ...args: unknown[]): GpuStorage {
    return this.#c.wrap(s.texture && rows > 0 ? this.#c.run(key, make, s.texture, ...args) : null, rows, s.cols);
  }

  transpose01(storage: unknown, [a, b, f]: readonly [number, number, number]): GpuStorage {
    return this.#rowOp(this.#c.storage(storage), a * b, `t01 ${a}x${b}x${f}`, (gpu) => transpose01Kernel(gpu, a, b, f));
  }

  zeroRows(storage: unknown, shape: readonly number[], rows: Int32Array): GpuStorage {
    const s = this.#c.storage(storage),
      per = s.rows / Math.max(shape[0], 1);
    const keep = new Float32Array(shape[0]).fill(1);
    for (const r of rows) keep[r] = 0;
    return this.#rowOp(
      s,
      s.rows,
      `zero-rows ${s.rows}x${s.cols}/${per}`,
      (gpu) => zeroRowsKernel(gpu, s.rows, s.cols, per),
      this.#c.hostArgument(keep),
    );
  }

  gatherRows(storage: unknown, shape: readonly number[], rows: Int32Array): GpuStorage {
    const s = this.#c.storage(storage),
      per = s.rows / Math.max(shape[0], 1),
      outRows = rows.length * per;
    const k = `gather ${s.rows}x${s.cols}/${per}->${rows.length}`;
    return this.#rowOp(s, outRows, k, (gpu) => gatherRowsKernel(gpu, outRows, s.cols, per), this.#c.hostArgument(Float32Array.from(rows)));
  }

  concatRows(storages: readonly unknown[]): GpuStorage {
    const c = this.#c,
      parts = storages.map((s) => c.storage(s)),
      cols = parts[0].cols;
    let acc: Texture | null = null,
      rows = 0;
    for (const p of parts) {
      if (!p.texture) continue;
      const joined: Texture =
        acc === null
          ? c.copy(p.texture, p.rows, cols)
          : c.run(`concat ${rows}+${p.rows}x${cols}`, (gpu) => concatKernel(gpu, rows, p.rows, cols), acc, p.texture);
      c.delete(acc);
      acc = joined;
      rows += p.rows;
    }
    return c.wrap(
      acc,
      parts.reduce((a, p) => a + p.rows, 0),
      cols,
    );
  }

  allFinite(storage: unknown): boolean {
    const data = this.readSync(storage);
    for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return false;
    return true;
  }
}
