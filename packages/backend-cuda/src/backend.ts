import {
  BackendError,
  SPEC_VERSION,
  gateCount,
  hostMemoryBudget,
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
import { loadAddon, type Addon, type DeviceBuffer, type DeviceInfo, type LayerBuffers } from './addon.js';

/**
 * A tensor: a device buffer of `floats` float32 values.
 * @see [backend-cuda README (a tested example)](../README.md)
 */
export class CudaStorage {
  constructor(
    public buffer: DeviceBuffer,
    readonly floats: number,
  ) {}
  /** Its size in bytes. */
  get bytes(): number {
    return this.floats * 4;
  }
}

interface CudaWeights {
  readonly spec: LayerSpec;
  readonly layer: LayerBuffers;
  readonly params: { readonly wIh: CudaStorage; readonly wHh: CudaStorage; readonly bIh: CudaStorage; readonly bHh: CudaStorage };
  readonly derived: readonly CudaStorage[];
  readonly bytes: number;
}

interface CudaTape {
  readonly x: CudaStorage | null;
  readonly tokens: CudaStorage | null;
  readonly hs: CudaStorage;
  readonly cs: CudaStorage | null;
  readonly acts: CudaStorage;
  readonly extra: CudaStorage | null;
  readonly bytes: number;
}

/**
 * The addon's cell kinds (native/cells.h).
 * @see [backend-cuda README (a tested example)](../README.md)
 */
export function kernelKind(spec: LayerSpec): number {
  if (spec.kind === 'lstm') return 0;
  if (spec.kind === 'gru') return spec.resetAfter ? 1 : 2;
  return spec.activation === 'relu' ? 4 : 3;
}

const product = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

const cudaVersion = (v: number): string => `${Math.floor(v / 1000)}.${(v % 1000) / 10}`;

/** Why a loaded addon cannot run here, in words a person can act on; null when it can. */
function unusable(info: DeviceInfo): string | null {
  if (info.driverVersion === 0) return `no NVIDIA driver on this machine (libcuda could not be loaded; ${info.error ?? 'no error given'})`;
  if (info.error?.startsWith('cudaErrorInsufficientDriver')) {
    return `the NVIDIA driver supports CUDA ${cudaVersion(info.driverVersion)}, older than the CUDA ${cudaVersion(info.runtimeVersion)} this addon was built with: update the driver`;
  }
  if (info.error) return `the CUDA driver refused to start (${info.error})`;
  if (info.devices < 1) return 'no CUDA device (the driver sees no NVIDIA GPU)';
  return null;
}

/** Options of `CudaBackend`. */
export interface CudaBackendOptions {
  /**
   * Small batches (B <= 16) run a chunk as one persistent launch that keeps W_hh in shared memory (default true;
   * RECUR_CUDA_PERSISTENT=0 turns it off, for comparisons).
   */
  readonly persistent?: boolean;
  /**
   * The smallest batch the batch-tiled persistent kernel takes (default 17: up to 16 rows the row-per-warp one is
   * faster; above 64 neither applies). Lower it to run that kernel on small cases (the GPU check's conformance pass).
   */
  readonly batchKernelMinBatch?: number;
}

/**
 * Recur on our own CUDA kernels (a Node-API addon). Weights, state and every intermediate stay on the device
 * between calls; a chunk is one projection product plus a recurrent loop that never returns to the host (one
 * persistent launch for small batches); a TBPTT chunk moves its inputs in and the loss and norm out.
 * @see [backend-cuda README (a tested example)](../README.md)
 */
export class CudaBackend implements RecurBackend {
  readonly specVersion = SPEC_VERSION;
  readonly name: string;
  readonly capabilities: Capabilities = {
    cells: ['lstm', 'gru', 'rnn'],
    dtypes: ['float32'],
    training: true,
    syncRead: true,
    tokens: true,
  };
  readonly #addon: Addon | null;
  readonly #reason: string | null;
  readonly #info: DeviceInfo | null;
  readonly #persistent: boolean;
  readonly #batchKernelMinBatch: number;
  readonly #live = new Set<CudaStorage>();
  readonly #parameters = new Set<CudaStorage>();
  readonly #weights = new Set<CudaWeights>();
  readonly #tapes = new Set<CudaTape>();
  #bytes = 0;
  #bytesIn = 0;
  #bytesOut = 0;
  #budget: MemoryBudget;

  constructor(name = 'cuda', options: CudaBackendOptions = {}) {
    this.name = name;
    this.#persistent = options.persistent ?? process.env.RECUR_CUDA_PERSISTENT !== '0';
    this.#batchKernelMinBatch = options.batchKernelMinBatch ?? 17;
    const load = loadAddon();
    let info: DeviceInfo | null = null,
      reason: string | null = load.reason ?? null;
    if (load.addon) {
      try {
        info = load.addon.info();
        reason = unusable(info);
      } catch (error) {
        reason = `the CUDA addon could not query the device (${(error as Error).message})`;
      }
    }
    this.#addon = reason === null ? load.addon : null;
    this.#reason = reason;
    this.#info = info;
    const total = info?.totalBytes;
    this.#budget = total ? { maxAllocationBytes: Math.floor(total * 0.9), maxTotalBytes: Math.floor(total * 0.9) } : hostMemoryBudget();
  }

  available(): Availability {
    if (!this.#addon) return { available: false, reason: this.#reason ?? 'unavailable', missingHardware: true };
    const i = this.#info!;
    return {
      available: true,
      runsOn: `${i.name} (sm_${i.major}${i.minor}, ${i.multiprocessors} SMs), driver for CUDA ${cudaVersion(i.driverVersion)}, runtime ${cudaVersion(i.runtimeVersion)}`,
    };
  }

  /** The device as the driver reports it (null when unavailable). */
  get device(): DeviceInfo | null {
    return this.#info;
  }

  get #a(): Addon {
    if (!this.#addon) throw new BackendError('backend', `an available ${this.name} backend`, `one that is unavailable (${this.#reason})`);
    return this.#addon;
  }

  /** Runs an addon call; its failures become BackendErrors carrying CUDA's message. */
  #call<T>(what: string, run: (a: Addon) => T): T {
    const addon = this.#a;
    try {
      return run(addon);
    } catch (error) {
      if (error instanceof BackendError) throw error;
      throw new BackendError(`${this.name}.${what}`, 'the CUDA call to succeed', (error as Error).message);
    }
  }

  /** New storage of `floats` values, tracked. */
  #alloc(floats: number): CudaStorage {
    const s = new CudaStorage(
      this.#call('alloc', (a) => a.alloc(floats * 4)),
      floats,
    );
    this.#live.add(s);
    this.#bytes += s.bytes;
    return s;
  }

  /** Allocates every size, runs `fill` on them; frees them all if anything fails (nothing half-made survives). */
  #made<T extends CudaStorage[]>(sizes: { [K in keyof T]: number }, fill: (...s: T) => void): T {
    const made: CudaStorage[] = [];
    try {
      for (const n of sizes as number[]) made.push(this.#alloc(n));
      fill(...(made as T));
      return made as T;
    } catch (error) {
      for (const s of made) this.dispose(s);
      throw error;
    }
  }

  /** The buffer of a live storage (or an upload's parameter) of this backend. */
  #buf(storage: unknown): DeviceBuffer {
    if (!(storage instanceof CudaStorage) || !(this.#live.has(storage) || this.#parameters.has(storage))) {
      throw new BackendError(
        'storage',
        `a live tensor of the ${this.name} backend`,
        storage instanceof CudaStorage ? 'a disposed one' : 'something else',
      );
    }
    return storage.buffer;
  }

  #optional(storage: unknown): DeviceBuffer | null {
    return storage === null || storage === undefined ? null : this.#buf(storage);
  }

  #counted<A extends ArrayBufferView | null | undefined>(array: A): A {
    if (array) this.#bytesIn += array.byteLength;
    return array;
  }

  upload(values: FloatArray, shape: readonly number[], _dtype: DType): CudaStorage {
    const data = values instanceof Float32Array ? values : Float32Array.from(values);
    const n = product(shape);
    if (data.length !== n) throw new BackendError('values', `${n} values (shape [${shape.join(', ')}])`, `${data.length}`);
    const [s] = this.#made<[CudaStorage]>([n], (s) => this.#call('upload', (a) => a.upload(s.buffer, data, 0)));
    this.#bytesIn += data.byteLength;
    return s;
  }

  zeros(shape: readonly number[]): CudaStorage {
    return this.#made<[CudaStorage]>([product(shape)], (s) => this.#call('zeros', (a) => a.zero(s.buffer)))[0];
  }

  async read(storage: unknown): Promise<FloatArray> {
    return this.readSync(storage);
  }

  readSync(storage: unknown): FloatArray {
    const buffer = this.#buf(storage),
      n = (storage as CudaStorage).floats;
    const out = this.#call('read', (a) => a.download(buffer, n, 0));
    this.#bytesOut += out.byteLength;
    return out;
  }

  dispose(storage: unknown): void {
    if (storage instanceof CudaStorage && this.#live.delete(storage)) {
      this.#bytes -= storage.bytes;
      this.#addon?.free(storage.buffer);
    }
  }

  memory(): MemoryInfo {
    let weightBytes = 0,
      tapeBytes = 0;
    for (const w of this.#weights) weightBytes += w.bytes;
    for (const t of this.#tapes) tapeBytes += t.bytes;
    return { numTensors: this.#live.size + this.#weights.size + this.#tapes.size, numBytes: this.#bytes + weightBytes + tapeBytes };
  }

  /**
   * What the addon holds on the device: live buffers (tensors, weights, tapes: `bytes`, `buffers`), its reusable
   * kernel workspace, the freed buffers its caching allocator keeps for reuse (`cachedBytes`), and what the device
   * has free. Shared by every CudaBackend of the process (one addon, one device).
   */
  deviceMemory(): { bytes: number; buffers: number; workspaceBytes: number; cachedBytes: number; deviceFreeBytes?: number } {
    return this.#call('deviceMemory', (a) => a.live());
  }

  /**
   * Returns the cached freed buffers and the kernel workspace to the driver (`cachedBytes` and `workspaceBytes`
   * become 0). Freed buffers are otherwise kept for reuse, as PyTorch's caching allocator does, so that a streamed
   * step allocates nothing; an allocation that fails returns them and tries again by itself.
   */
  releaseCachedMemory(): void {
    this.#call('releaseCachedMemory', (a) => a.releaseCached());
  }

  memoryBudget(): MemoryBudget {
    return this.#budget;
  }

  setMemoryBudget(budget: MemoryBudget): void {
    this.#budget = { ...budget };
  }

  transfers(): TransferCounts {
    return { bytesIn: this.#bytesIn, bytesOut: this.#bytesOut };
  }

  forwardScratch(spec: LayerSpec, time: number, batch: number, keepTape = false): ForwardScratch {
    const H = spec.units,
      GH = gateCount(spec.kind) * H,
      BH = batch * H,
      rows = time * batch;
    let scratch = rows * GH + batch * GH + 4 * BH;
    if (kernelKind(spec) === 2) scratch += 2 * BH + (keepTape ? 0 : rows * GH);
    const kept = keepTape ? this.#tapeFloats(spec, time, batch) : 0;
    return { transientBytes: scratch * 4, keptBytes: kept * 4, largestBytes: Math.max(scratch, rows * GH) * 4 };
  }

  #tapeFloats(spec: LayerSpec, time: number, batch: number): number {
    const H = spec.units,
      rows = time * batch,
      states = (rows + batch) * H;
    return (
      rows * spec.inputSize +
      states * (spec.kind === 'lstm' ? 2 : 1) +
      rows * gateCount(spec.kind) * H +
      (spec.kind === 'gru' ? rows * H : 0)
    );
  }

  uploadWeights(spec: LayerSpec, weights: LayerWeights): CudaWeights {
    const H = spec.units,
      GH = gateCount(spec.kind) * H,
      kind = kernelKind(spec);
    const f32 = (v: FloatArray) => (v instanceof Float32Array ? v : Float32Array.from(v));
    const [wIh, wHh, bIh, bHh, bias, hbn] = this.#made<CudaStorage[]>(
      [GH * spec.inputSize, GH * H, GH, GH, GH, kind === 1 ? H : 0],
      (...s) => {
        this.#call('uploadWeights', (a) => {
          a.upload(s[0].buffer, f32(weights.wIh), 0);
          a.upload(s[1].buffer, f32(weights.wHh), 0);
          a.upload(s[2].buffer, f32(weights.bIh), 0);
          a.upload(s[3].buffer, f32(weights.bHh), 0);
        });
      },
    );
    const all = [wIh, wHh, bIh, bHh, bias, hbn];
    // the weights' storages belong to the upload from here on: parameters, not tensors core may dispose
    for (const s of all) {
      this.#live.delete(s);
      this.#bytes -= s.bytes;
    }
    for (const s of [wIh, wHh, bIh, bHh]) this.#parameters.add(s);
    this.#bytesIn += (weights.wIh.length + weights.wHh.length + 2 * GH) * 4;
    const w: CudaWeights = {
      spec,
      params: { wIh, wHh, bIh, bHh },
      derived: [bias, hbn],
      bytes: all.reduce((n, s) => n + s.bytes, 0),
      layer: {
        kind,
        inputSize: spec.inputSize,
        units: H,
        wIh: wIh.buffer,
        wHh: wHh.buffer,
        bias: bias.buffer,
        hbn: kind === 1 ? hbn.buffer : null,
      },
    };
    this.#weights.add(w);
    try {
      this.#derive(w);
    } catch (error) {
      this.disposeWeights(w);
      throw error;
    }
    return w;
  }

  #derive(w: CudaWeights): void {
    const forgetBias = w.spec.kind === 'lstm' ? w.spec.forgetBias : 0;
    this.#call('deriveBias', (a) =>
      a.deriveBias(w.layer.kind, w.spec.units, forgetBias, w.params.bIh.buffer, w.params.bHh.buffer, w.layer.bias, w.layer.hbn),
    );
  }

  disposeWeights(weights: unknown): void {
    const w = weights as CudaWeights;
    if (!this.#weights.delete(w)) return;
    for (const s of [...Object.values(w.params), ...w.derived]) {
      this.#parameters.delete(s);
      this.#addon?.free(s.buffer);
    }
  }

  #weightsOf(weights: unknown): CudaWeights {
    const w = weights as CudaWeights;
    if (!this.#weights.has(w))
      throw new BackendError('weights', `weights uploaded to this ${this.name} backend`, "disposed weights or another backend's");
    return w;
  }

  forward(args: ForwardArgs): ForwardResult {
    const w = this.#weightsOf(args.weights);
    const spec = args.layer,
      H = spec.units,
      T = args.time,
      B = args.batch,
      rows = T * B,
      lstm = spec.kind === 'lstm';
    const tape = args.keepTape === true;
    const tokens = args.tokens ?? null;
    const x = tokens ? null : this.#buf(args.x),
      h0 = this.#buf(args.h0),
      c0 = lstm ? this.#buf(args.c0) : null;
    this.#counted(tokens);
    this.#counted(args.seqLens);
    const G = gateCount(spec.kind) * H,
      gru = spec.kind === 'gru';
    const sizes = [rows * H, B * H, lstm ? B * H : 0];
    if (tape)
      sizes.push(
        tokens ? 0 : rows * spec.inputSize,
        tokens ? rows + spec.inputSize + 1 : 0,
        (rows + B) * H,
        lstm ? (rows + B) * H : 0,
        rows * G,
        gru ? rows * H : 0,
      );
    const made = this.#made<CudaStorage[]>(sizes, (y, hT, cT, tx, tt, hs, cs, acts, extra) => {
      this.#call('forward', (a) =>
        a.forward({
          layer: w.layer,
          time: T,
          batch: B,
          x,
          tokens,
          h0,
          c0,
          seqLens: args.seqLens,
          y: y.buffer,
          hT: hT.buffer,
          cT: lstm ? cT.buffer : null,
          keepTape: tape,
          persistent: this.#persistent,
          batchKernelMinBatch: this.#batchKernelMinBatch,
          ...(tape
            ? {
                tapeX: tokens ? null : tx.buffer,
                tapeTokens: tokens ? tt.buffer : null,
                hs: hs.buffer,
                cs: lstm ? cs.buffer : null,
                acts: acts.buffer,
                extra: gru ? extra.buffer : null,
              }
            : {}),
        }),
      );
    });
    const [y, hT, cT] = made;
    if (!lstm) this.dispose(cT);
    if (!tape) return { y, hT, cT: lstm ? cT : null };
    const [, , , tx, tt, hs, cs, acts, extra] = made;
    const kept = { x: tokens ? null : tx, tokens: tokens ? tt : null, hs, cs: lstm ? cs : null, acts, extra: gru ? extra : null };
    for (const s of [tx, tt, hs, cs, acts, extra]) {
      this.#live.delete(s); // the tape's from here on
      this.#bytes -= s.bytes;
    }
    for (const [s, keep] of [
      [tx, !tokens],
      [tt, !!tokens],
      [cs, lstm],
      [extra, gru],
    ] as const)
      if (!keep) this.#addon!.free(s.buffer);
    const t: CudaTape = { ...kept, bytes: this.#tapeFloats(spec, T, B) * 4 };
    this.#tapes.add(t);
    return { y, hT, cT: lstm ? cT : null, tape: t };
  }

  backward(args: BackwardArgs): BackwardResult {
    const w = this.#weightsOf(args.weights);
    const t = args.tape as CudaTape;
    if (!this.#tapes.has(t))
      throw new BackendError('tape', `a live tape of this ${this.name} backend`, "a disposed tape or another backend's");
    const spec = args.layer,
      H = spec.units,
      I = spec.inputSize,
      T = args.time,
      B = args.batch,
      rows = T * B,
      lstm = spec.kind === 'lstm';
    const G = gateCount(spec.kind) * H;
    const dy = this.#optional(args.dy),
      dhT = this.#optional(args.dhT),
      dcT = lstm ? this.#optional(args.dcT) : null;
    this.#counted(args.seqLens);
    const [dx, dh0, dc0, dWih, dWhh, dbIh, dbHh] = this.#made<CudaStorage[]>(
      [t.tokens ? 0 : rows * I, B * H, lstm ? B * H : 0, G * I, G * H, G, G],
      (dx, dh0, dc0, dWih, dWhh, dbIh, dbHh) => {
        this.#call('backward', (a) =>
          a.backward({
            layer: w.layer,
            time: T,
            batch: B,
            seqLens: args.seqLens,
            x: t.x?.buffer ?? null,
            tokens: t.tokens?.buffer ?? null,
            hs: t.hs.buffer,
            cs: t.cs?.buffer ?? null,
            acts: t.acts.buffer,
            extra: t.extra?.buffer ?? null,
            dy,
            dhT,
            dcT,
            dx: t.tokens ? null : dx.buffer,
            dh0: dh0.buffer,
            dc0: lstm ? dc0.buffer : null,
            dWih: dWih.buffer,
            dWhh: dWhh.buffer,
            dbIh: dbIh.buffer,
            dbHh: dbHh.buffer,
          }),
        );
      },
    );
    if (t.tokens) this.dispose(dx);
    if (!lstm) this.dispose(dc0);
    return { dx: t.tokens ? null : dx, dh0, dc0: lstm ? dc0 : null, dWeights: { wIh: dWih, wHh: dWhh, bIh: dbIh, bHh: dbHh } };
  }

  disposeTape(tape: unknown): void {
    const t = tape as CudaTape;
    if (!this.#tapes.delete(t)) return;
    for (const s of [t.x, t.tokens, t.hs, t.cs, t.acts, t.extra]) if (s) this.#addon?.free(s.buffer);
  }

  transpose01(storage: unknown, [a, b, f]: readonly [number, number, number]): CudaStorage {
    const src = this.#buf(storage);
    return this.#made<[CudaStorage]>([a * b * f], (dst) => this.#call('transpose01', (x) => x.transpose01(src, dst.buffer, a, b, f)))[0];
  }

  zeroRows(storage: unknown, shape: readonly number[], rows: Int32Array): CudaStorage {
    const src = this.#buf(storage),
      per = product(shape.slice(1)),
      clear = new Int32Array(shape[0]);
    for (const r of rows) clear[r] = 1;
    this.#counted(clear);
    return this.#made<[CudaStorage]>([shape[0] * per], (dst) =>
      this.#call('zeroRows', (x) => x.zeroRows(src, dst.buffer, shape[0], per, clear)),
    )[0];
  }

  gatherRows(storage: unknown, shape: readonly number[], rows: Int32Array): CudaStorage {
    const src = this.#buf(storage),
      per = product(shape.slice(1));
    this.#counted(rows);
    return this.#made<[CudaStorage]>([rows.length * per], (dst) =>
      this.#call('gatherRows', (x) => x.gatherRows(src, shape[0], dst.buffer, per, rows)),
    )[0];
  }

  concatRows(storages: readonly unknown[]): CudaStorage {
    const parts = storages.map((s) => ({ buffer: this.#buf(s), floats: (s as CudaStorage).floats }));
    return this.#made<[CudaStorage]>([parts.reduce((n, p) => n + p.floats, 0)], (dst) =>
      this.#call('concatRows', (x) => {
        let at = 0;
        for (const p of parts) {
          x.copy(dst.buffer, at * 4, p.buffer, 0, p.floats * 4);
          at += p.floats;
        }
      }),
    )[0];
  }

  allFinite(storage: unknown): boolean {
    const buffer = this.#buf(storage);
    return this.#call('allFinite', (a) => a.allFinite(buffer, (storage as CudaStorage).floats));
  }

  // the v2 training kernels
  denseForward(args: DenseArgs): CudaStorage {
    const { rows, inputs, outputs } = args;
    const x = this.#buf(args.x),
      weight = this.#buf(args.weight),
      bias = this.#buf(args.bias);
    return this.#made<[CudaStorage]>([rows * outputs], (out) =>
      this.#call('denseForward', (a) =>
        a.gemm({
          M: rows,
          N: outputs,
          K: inputs,
          a: x,
          sam: inputs,
          sak: 1,
          b: weight,
          sbk: 1,
          sbn: inputs,
          c: out.buffer,
          ldc: outputs,
          bias,
          accumulate: false,
        }),
      ),
    )[0];
  }

  denseBackward(args: DenseArgs & { readonly dOut: unknown }): DenseGradients {
    const { rows, inputs: I, outputs: O } = args;
    const x = this.#buf(args.x),
      weight = this.#buf(args.weight),
      dOut = this.#buf(args.dOut);
    const [dx, dWeight, dBias] = this.#made<[CudaStorage, CudaStorage, CudaStorage]>([rows * I, O * I, O], (dx, dW, dB) =>
      this.#call('denseBackward', (a) => {
        a.gemm({
          M: rows,
          N: I,
          K: O,
          a: dOut,
          sam: O,
          sak: 1,
          b: weight,
          sbk: I,
          sbn: 1,
          c: dx.buffer,
          ldc: I,
          bias: null,
          accumulate: false,
        });
        a.gemm({ M: O, N: I, K: rows, a: dOut, sam: 1, sak: O, b: x, sbk: I, sbn: 1, c: dW.buffer, ldc: I, bias: null, accumulate: false });
        a.columnSums(dOut, rows, O, dB.buffer);
      }),
    );
    return { dx, dWeight, dBias };
  }

  softmaxCrossEntropy(args: {
    readonly logits: unknown;
    readonly targets: Int32Array;
    readonly rows: number;
    readonly classes: number;
  }): LossStorages {
    const logits = this.#buf(args.logits);
    this.#counted(args.targets);
    const [loss, dPredictions] = this.#made<[CudaStorage, CudaStorage]>([1, args.rows * args.classes], (loss, d) =>
      this.#call('softmaxCrossEntropy', (a) => a.softmaxCrossEntropy(logits, args.targets, args.rows, args.classes, loss.buffer, d.buffer)),
    );
    return { loss, dPredictions };
  }

  meanSquaredError(args: { readonly predictions: unknown; readonly targets: unknown; readonly count: number }): LossStorages {
    const p = this.#buf(args.predictions),
      t = this.#buf(args.targets);
    const [loss, dPredictions] = this.#made<[CudaStorage, CudaStorage]>([1, args.count], (loss, d) =>
      this.#call('meanSquaredError', (a) => a.meanSquaredError(p, t, args.count, loss.buffer, d.buffer)),
    );
    return { loss, dPredictions };
  }

  globalNorm(storages: readonly unknown[]): CudaStorage {
    const buffers = storages.map((s) => this.#buf(s)),
      sizes = storages.map((s) => (s as CudaStorage).floats);
    return this.#made<[CudaStorage]>([1], (out) => this.#call('globalNorm', (a) => a.globalNorm(buffers, sizes, out.buffer)))[0];
  }

  applyOptimizer(args: OptimizerArgs): void {
    const r = args.rule;
    // every storage looked up before anything changes: a dead one refuses the whole update
    const parts = args.params.map((p, i) => ({
      param: this.#buf(p),
      grad: this.#buf(args.grads[i]),
      slots: args.slots[i].map((s) => this.#buf(s)),
      n: (p as CudaStorage).floats,
    }));
    const rule =
      r.kind === 'sgd'
        ? {
            adam: 0,
            learningRate: r.learningRate,
            momentum: r.momentum,
            beta1: 0,
            beta2: 0,
            epsilon: 0,
            stepSize: 0,
            inverseC2: 0,
            gradScale: args.gradScale,
          }
        : {
            adam: 1,
            learningRate: r.learningRate,
            momentum: 0,
            beta1: r.beta1,
            beta2: r.beta2,
            epsilon: r.epsilon,
            stepSize: r.learningRate / (1 - r.beta1 ** args.step),
            inverseC2: 1 / (1 - r.beta2 ** args.step),
            gradScale: args.gradScale,
          };
    this.#call('applyOptimizer', (a) => {
      for (const p of parts) a.optimizer(rule, p.param, p.grad, p.slots[0], p.slots[1] ?? null, p.n);
    });
  }

  weightParameters(weights: unknown): WeightParameters {
    return this.#weightsOf(weights).params;
  }

  weightsUpdated(weights: unknown): void {
    this.#derive(this.#weightsOf(weights));
  }

  /** Waits for every kernel queued so far (benchmarks; reads synchronise by themselves). */
  synchronize(): void {
    this.#call('synchronize', (a) => a.synchronize());
  }
}
