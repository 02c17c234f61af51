import { createRequire } from 'node:module';
import {
  BackendError, SPEC_VERSION, gateCount,
  type Availability, type Capabilities, type DType, type FloatArray, type ForwardArgs, type ForwardResult, type LayerSpec, type LayerWeights,
  type ForwardScratch, type MemoryBudget, type MemoryInfo, type RecurBackend,
} from '@recur/core';
import type { GPU, IKernelMapRunShortcut, IKernelRunShortcut, ISubKernelObject, Texture } from 'gpu.js';
import { gruAfterStepKernel, gruBeforeStepKernel, gruResetKernel } from './kernels/gru-step.js';
import { lstmStepKernel } from './kernels/lstm-step.js';
import { projectionKernel } from './kernels/projection.js';
import { rnnStepKernel } from './kernels/rnn-step.js';
import { concatKernel, copyKernel, gatherRowsKernel, transpose01Kernel, writeStepKernel, zeroRowsKernel, zerosKernel } from './kernels/rows.js';
import { detectPlatform, type GpujsPlatform } from './platform.js';

/** A tensor: a texture holding a matrix [rows, cols] (the shape's last dimension as columns), or nothing when empty. */
export class GpuStorage {
  constructor(readonly texture: Texture | null, readonly rows: number, readonly cols: number) {}
}

interface GpuWeights {
  readonly spec: LayerSpec;
  /** [G, I] and [G, H], the public layout */
  readonly wIh: Texture;
  readonly wHh: Texture;
  /** b_ih + b_hh (+ forgetBias on f), but b_hn of a reset-after GRU, which stays in `bhn` */
  readonly bias: Float32Array;
  readonly bhn: Float32Array | null;
  readonly bytes: number;
}

const matrixOf = (shape: readonly number[]): { rows: number; cols: number } => {
  const cols = shape.length ? shape[shape.length - 1] : 1;
  return { rows: shape.slice(0, -1).reduce((a, b) => a * b, 1), cols };
};

/**
 * Recur on gpu.js (in progress: forward only). Every tensor stays a texture between the steps of a chunk and between
 * calls; a chunk is one projection kernel over all T·B rows and a fused kernel per step (two for TF1's GRU).
 */
export class GpujsBackend implements RecurBackend {
  readonly specVersion = SPEC_VERSION;
  readonly name: string;
  readonly capabilities: Capabilities = {
    cells: ['lstm', 'gru', 'rnn'], dtypes: ['float32'], training: false, syncRead: true,
    tolerance: { forward: 2e-4, gradient: 1e-3 }, // the golden README's for shader math
  };
  readonly platform: GpujsPlatform;
  readonly #gpu: GPU | null;
  readonly #kernels = new Map<string, IKernelRunShortcut | IKernelMapRunShortcut<ISubKernelObject>>();
  readonly #live = new Set<GpuStorage>();
  readonly #weights = new Set<GpuWeights>();
  #bytes = 0;
  /**
   * WebGL tells nothing of its memory: a conservative default that `setMemoryBudget` changes (core checks every
   * tensor, upload and chunk against it before anything is allocated).
   */
  #budget: MemoryBudget = { maxAllocationBytes: 256 * 2 ** 20, maxTotalBytes: 2 ** 30 };
  /** Textures made and deleted, counted where it happens (a texture leak shows here first). */
  texturesCreated = 0;
  texturesDeleted = 0;
  /** Why the GL context is gone (lost, or destroyed), once it is: every later kernel refuses. */
  #lost: string | null = null;

  constructor(name = 'gpujs', platform: GpujsPlatform = detectPlatform()) {
    this.name = name;
    this.platform = platform;
    if (!platform.available || !platform.mode) {
      this.#gpu = null;
      return;
    }
    const { GPU: Gpu } = createRequire(import.meta.url)('gpu.js') as typeof import('gpu.js');
    this.#gpu = new Gpu({ mode: platform.mode });
  }

  available(): Availability {
    if (this.#lost) return { available: false, reason: `the WebGL context was lost (${this.#lost}): make a new GpujsBackend` };
    return this.platform.available ? { available: true } : { available: false, reason: this.platform.reason, missingHardware: true };
  }

  /**
   * Runs GL work: a gpu.js error (a shader that does not compile, a dead context) becomes a BackendError with its
   * message, and a context lost meanwhile refuses the result rather than return what a dead context reads (zeros).
   */
  #guard<T>(fn: () => T): T {
    if (this.#lost) throw new BackendError('backend', 'a live WebGL context', `the context was lost (${this.#lost})`, 'make a new GpujsBackend');
    let result: T;
    try {
      result = fn();
    } catch (error) {
      const message = (error as Error)?.message?.split('\n')[0] ?? String(error);
      if (this.#contextLost() || /invalid gl context|context lost/i.test(message)) this.#lost = message;
      throw new BackendError('backend', this.#lost ? 'a live WebGL context' : 'gpu.js kernels that compile and run', `gpu.js: ${message}`);
    }
    if (this.#contextLost()) {
      this.#lost = 'isContextLost() after a kernel';
      throw new BackendError('backend', 'a live WebGL context', 'the context was lost during the call', 'make a new GpujsBackend');
    }
    return result;
  }

  #contextLost(): boolean {
    const gl = (this.#gpu as unknown as { context?: WebGLRenderingContext } | null)?.context;
    return gl?.isContextLost?.() === true;
  }

  /** @internal Loses the context as a browser or a driver reset would (tests). */
  simulateContextLoss(): void {
    const gl = (this.#gpu as unknown as { context: WebGLRenderingContext }).context;
    const lose = gl.getExtension('WEBGL_lose_context') as { loseContext(): void } | null;
    if (lose) lose.loseContext();
    else (gl.getExtension('STACKGL_destroy_context' as never) as unknown as { destroy(): void }).destroy(); // headless-gl's
  }

  /**
   * A kernel made once per shape: gpu.js compiles a shader per output size and bakes its arguments' texture sizes
   * in, so the key names every size a kernel reads (a step kernel's includes the chunk length: the projection's rows).
   * Called through `#guard`. Kernels live as long as the backend: a destroyed gpu.js kernel takes the textures it
   * produced with it (reads then throw, and as inputs they read as zeros), so none is evicted; a process that runs
   * very many shapes keeps one shader program per shape.
   */
  #kernel(key: string, make: (gpu: GPU) => IKernelRunShortcut | IKernelMapRunShortcut<ISubKernelObject>): (...args: unknown[]) => unknown {
    return (...args: unknown[]) => this.#guard(() => {
      let k = this.#kernels.get(key);
      if (!k) this.#kernels.set(key, (k = make(this.#gpu!)));
      return (k as unknown as (...a: unknown[]) => unknown)(...args);
    });
  }

  #made(texture: Texture): Texture {
    this.texturesCreated++;
    return texture;
  }

  #delete(texture: Texture | null): void {
    if (texture) {
      try {
        texture.delete();
      } catch {
        // a lost context has freed it already
      }
      this.texturesDeleted++;
    }
  }

  #wrap(texture: Texture | null, rows: number, cols: number): GpuStorage {
    const s = new GpuStorage(texture, rows, cols);
    this.#live.add(s);
    this.#bytes += rows * cols * 4;
    return s;
  }

  #storage(storage: unknown): GpuStorage {
    if (!(storage instanceof GpuStorage) || !this.#live.has(storage)) throw new Error(`${this.name}: storage is not a live tensor of this backend`);
    return storage;
  }

  #rowsOf(values: FloatArray, rows: number, cols: number): Float32Array[] {
    return Array.from({ length: rows }, (_, r) => Float32Array.from(values.subarray(r * cols, (r + 1) * cols)));
  }

  /** A new texture with a texture's values (results are new storages; the kernel reads a texture, not host rows). */
  #copyTexture(texture: Texture, rows: number, cols: number): Texture {
    return this.#made(this.#kernel(`copy-texture ${rows}x${cols}`, (gpu) => copyKernel(gpu, rows, cols))(texture) as Texture);
  }

  #texture(values: FloatArray, rows: number, cols: number): Texture {
    return this.#made(this.#kernel(`copy ${rows}x${cols}`, (gpu) => copyKernel(gpu, rows, cols))(this.#rowsOf(values, rows, cols)) as Texture);
  }

  upload(values: FloatArray, shape: readonly number[], _dtype: DType): GpuStorage {
    const { rows, cols } = matrixOf(shape);
    return this.#wrap(rows * cols === 0 ? null : this.#texture(values, rows, cols), rows, cols);
  }

  zeros(shape: readonly number[]): GpuStorage {
    const { rows, cols } = matrixOf(shape);
    if (rows * cols === 0) return this.#wrap(null, rows, cols);
    return this.#wrap(this.#made(this.#kernel(`zeros ${rows}x${cols}`, (gpu) => zerosKernel(gpu, rows, cols))() as Texture), rows, cols);
  }

  async read(storage: unknown): Promise<FloatArray> {
    return this.readSync(storage);
  }

  readSync(storage: unknown): FloatArray {
    const s = this.#storage(storage);
    const out = new Float32Array(s.rows * s.cols);
    if (!s.texture) return out;
    const rows = this.#guard(() => s.texture!.toArray() as Float32Array[]);
    rows.forEach((row, r) => out.set(row.subarray(0, s.cols), r * s.cols));
    return out;
  }

  dispose(storage: unknown): void {
    if (storage instanceof GpuStorage && this.#live.delete(storage)) {
      this.#bytes -= storage.rows * storage.cols * 4;
      this.#delete(storage.texture);
    }
  }

  memory(): MemoryInfo {
    let weightBytes = 0;
    for (const w of this.#weights) weightBytes += w.bytes;
    return { numTensors: this.#live.size + this.#weights.size, numBytes: this.#bytes + weightBytes };
  }

  memoryBudget(): MemoryBudget {
    return this.#budget;
  }

  setMemoryBudget(budget: MemoryBudget): void {
    this.#budget = { ...budget };
  }

  /** A forward's scratch besides its outputs: the projection [T·B, G], y's copy as each step is written, a step's states. */
  forwardScratch(spec: LayerSpec, time: number, batch: number): ForwardScratch {
    const G = gateCount(spec.kind) * spec.units, projection = time * batch * G * 4, y = time * batch * spec.units * 4;
    return { transientBytes: projection + y + 4 * batch * spec.units * 4, keptBytes: 0, largestBytes: Math.max(projection, y) };
  }

  uploadWeights(spec: LayerSpec, weights: LayerWeights): GpuWeights {
    const H = spec.units, G = gateCount(spec.kind) * H;
    const resetAfter = spec.kind === 'gru' && spec.resetAfter;
    const bias = Float32Array.from(weights.bIh, (v, i) => v + (resetAfter && i >= 2 * H ? 0 : weights.bHh[i]));
    if (spec.kind === 'lstm') for (let j = H; j < 2 * H; j++) bias[j] += spec.forgetBias;
    const w: GpuWeights = {
      spec, wIh: this.#texture(weights.wIh, G, spec.inputSize), wHh: this.#texture(weights.wHh, G, H), bias,
      bhn: resetAfter ? Float32Array.from(weights.bHh.subarray(2 * H)) : null, bytes: G * (spec.inputSize + H + 2) * 4,
    };
    this.#weights.add(w);
    return w;
  }

  disposeWeights(weights: unknown): void {
    const w = weights as GpuWeights;
    if (this.#weights.delete(w)) {
      this.#delete(w.wIh);
      this.#delete(w.wHh);
    }
  }

  forward(args: ForwardArgs): ForwardResult {
    const w = args.weights as GpuWeights;
    if (!this.#weights.has(w)) throw new Error(`${this.name}: weights were disposed or belong to another backend`);
    const spec = args.layer, T = args.time, B = args.batch, H = spec.units, I = spec.inputSize, G = gateCount(spec.kind) * H;
    const x = this.#storage(args.x), h0 = this.#storage(args.h0), c0 = args.c0 === null ? null : this.#storage(args.c0);
    if (T === 0) { // no step: empty outputs, the state as it was (copies: results are new storages)
      const copy = (s: GpuStorage) => this.#wrap(this.#copyTexture(s.texture!, B, H), B, H);
      return { y: this.#wrap(null, 0, H), hT: copy(h0), cT: c0 ? copy(c0) : null };
    }
    const lengths = Float32Array.from({ length: B }, (_, b) => args.seqLens?.[b] ?? T);
    const proj = this.#made(this.#kernel(`proj ${T * B}x${I}x${G}`, (gpu) => projectionKernel(gpu, T * B, I, G))(x.texture!, w.wIh, w.bias) as Texture);
    const write = this.#kernel(`y ${T}x${B}x${H}`, (gpu) => writeStepKernel(gpu, T, B, H));
    let y = this.#made(this.#kernel(`zeros ${T * B}x${H}`, (gpu) => zerosKernel(gpu, T * B, H))() as Texture);
    let h: Texture = h0.texture!, c: Texture | null = c0?.texture ?? null;
    const own = (t: Texture, input: Texture | null) => t !== input; // the inputs stay the caller's
    let pending: Texture[] = []; // made this step, not yet h or c
    try {
      for (let t = 0; t < T; t++) {
        let hNew: Texture, cNew: Texture | null = null;
        pending = [];
        if (spec.kind === 'lstm') {
          const r = this.#kernel(`lstm ${T}x${B}x${H}`, (gpu) => lstmStepKernel(gpu, B, H))(proj, t, h, c!, w.wHh, lengths) as unknown as { result: Texture; c: Texture };
          hNew = this.#made(r.result);
          cNew = this.#made(r.c);
          pending.push(cNew);
        } else if (spec.kind === 'gru' && spec.resetAfter) {
          hNew = this.#made(this.#kernel(`gru-after ${T}x${B}x${H}`, (gpu) => gruAfterStepKernel(gpu, B, H))(proj, t, h, w.wHh, w.bhn!, lengths) as Texture);
        } else if (spec.kind === 'gru') {
          const reset = this.#made(this.#kernel(`gru-reset ${T}x${B}x${H}`, (gpu) => gruResetKernel(gpu, B, H))(proj, t, h, w.wHh) as Texture);
          hNew = this.#made(this.#kernel(`gru-before ${T}x${B}x${H}`, (gpu) => gruBeforeStepKernel(gpu, B, H))(proj, t, h, reset, w.wHh, lengths) as Texture);
          this.#delete(reset);
        } else {
          const relu = spec.activation === 'relu';
          hNew = this.#made(this.#kernel(`rnn ${T}x${B}x${H}x${relu}`, (gpu) => rnnStepKernel(gpu, B, H, relu))(proj, t, h, w.wHh, lengths) as Texture);
        }
        pending.push(hNew);
        const yNew = this.#made(write(y, hNew, t, lengths) as Texture);
        this.#delete(y);
        y = yNew;
        if (own(h, h0.texture)) this.#delete(h);
        if (c && cNew && own(c, c0?.texture ?? null)) this.#delete(c);
        h = hNew;
        if (cNew) c = cNew;
        pending = [];
      }
    } catch (error) {
      // a failed kernel (a shader that does not compile, a lost context) leaves none of this call's textures behind
      for (const t of pending) this.#delete(t);
      this.#delete(y);
      if (own(h, h0.texture)) this.#delete(h);
      if (c && own(c, c0?.texture ?? null)) this.#delete(c);
      throw error;
    } finally {
      this.#delete(proj);
    }
    return {
      y: this.#wrap(y, T * B, H),
      hT: this.#wrap(h === h0.texture ? this.#copyTexture(h, B, H) : h, B, H),
      cT: c === null ? null : this.#wrap(c === c0?.texture ? this.#copyTexture(c, B, H) : c, B, H),
    };
  }

  transpose01(storage: unknown, [a, b, f]: readonly [number, number, number]): GpuStorage {
    const s = this.#storage(storage);
    if (!s.texture) return this.#wrap(null, a * b, f);
    return this.#wrap(this.#made(this.#kernel(`t01 ${a}x${b}x${f}`, (gpu) => transpose01Kernel(gpu, a, b, f))(s.texture!) as Texture), a * b, f);
  }

  zeroRows(storage: unknown, shape: readonly number[], rows: Int32Array): GpuStorage {
    const s = this.#storage(storage), per = s.rows / Math.max(shape[0], 1);
    if (!s.texture) return this.#wrap(null, s.rows, s.cols);
    const keep = new Float32Array(shape[0]).fill(1);
    for (const r of rows) keep[r] = 0;
    const k = this.#kernel(`zero-rows ${s.rows}x${s.cols}/${per}`, (gpu) => zeroRowsKernel(gpu, s.rows, s.cols, per));
    return this.#wrap(this.#made(k(s.texture, keep) as Texture), s.rows, s.cols);
  }

  gatherRows(storage: unknown, shape: readonly number[], rows: Int32Array): GpuStorage {
    const s = this.#storage(storage), per = s.rows / Math.max(shape[0], 1), outRows = rows.length * per;
    if (!s.texture || outRows === 0) return this.#wrap(null, outRows, s.cols);
    const k = this.#kernel(`gather ${s.rows}x${s.cols}/${per}->${rows.length}`, (gpu) => gatherRowsKernel(gpu, outRows, s.cols, per));
    return this.#wrap(this.#made(k(s.texture, Float32Array.from(rows)) as Texture), outRows, s.cols);
  }

  concatRows(storages: readonly unknown[]): GpuStorage {
    const parts = storages.map((s) => this.#storage(s)), cols = parts[0].cols;
    let acc: Texture | null = null, rows = 0;
    for (const p of parts) {
      if (!p.texture) continue;
      const joined: Texture = acc === null ? this.#copyTexture(p.texture, p.rows, cols)
        : this.#made(this.#kernel(`concat ${rows}+${p.rows}x${cols}`, (gpu) => concatKernel(gpu, rows, p.rows, cols))(acc, p.texture) as Texture);
      this.#delete(acc);
      acc = joined;
      rows += p.rows;
    }
    return this.#wrap(acc, parts.reduce((a, p) => a + p.rows, 0), cols);
  }

  allFinite(storage: unknown): boolean {
    const data = this.readSync(storage);
    for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return false;
    return true;
  }
}
