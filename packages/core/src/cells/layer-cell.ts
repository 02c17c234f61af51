import { RecurError, ShapeError, describe } from '../errors.js';
import { glorotUniform, orthogonal, seededRandom } from '../init.js';
import { allowNonFinite, checkFiniteNumber, checkOptions, checkPositiveInt } from '../options.js';
import { getBackend } from '../registry.js';
import {
  gateCount,
  type CellKind,
  type DType,
  type FloatArray,
  type LayerSpec,
  type LayerWeights,
  type RecurBackend,
  type RnnActivation,
  type TensorStorage,
  type WeightsStorage,
} from '../spec.js';
import { checkNumbers, requireDtype, type Tensor } from '../tensor.js';
import type { TokenIds } from '../tokens.js';
import { LSTMStateTuple, type CellState } from './state.js';
import { stateAllocations, stepCell, zeroLayerState, type StepResult } from '../chunk.js';
import { CELL } from './brand.js';
import { bytesOf, reserve, reserveHost, type Allocation } from '../budget.js';
import { trackUpload, untrackUpload } from '../uploads.js';

/** Options every cell takes. */
export interface CellOptions {
  /** Backend this cell runs on; the default backend at call time if omitted. */
  backend?: string;
  dtype?: DType;
  /** Input feature size; inferred from the first input or from `setWeights` if omitted. */
  inputSize?: number;
  /** Seed of the initialisers (Glorot-uniform input kernel, orthogonal recurrent kernel). */
  seed?: number;
  name?: string;
}

export const CELL_OPTION_NAMES = ['backend', 'dtype', 'inputSize', 'seed', 'name'] as const;

let seedCounter = 1;

/**
 * One recurrent layer: weights in the public layout (PyTorch's), uploaded lazily to each backend that runs it.
 * @see [README: porting weights (setWeights, getWeights)](../../../../README.md#porting-weights)
 */
export abstract class LayerCell {
  readonly [CELL] = true;
  abstract readonly kind: CellKind;
  readonly units: number;
  readonly dtype: DType;
  readonly backendName: string | undefined;
  readonly name: string;
  #inputSize: number | undefined;
  #spec: LayerSpec | null;
  #weights: LayerWeights | undefined;
  #seed: number;
  #uploads = new Map<RecurBackend, WeightsStorage>();
  #holders = 0;
  #bound: RecurBackend | null = null;
  /** The backend whose upload holds weights newer than the host's (a training kernel updated them in place). */
  #newerOn: RecurBackend | null = null;
  #version = 0;

  protected constructor(units: number, options: CellOptions, kindName: string) {
    this.units = checkPositiveInt(units, `${kindName}.units`);
    const dtype = options.dtype ?? 'float32';
    if (dtype !== 'float32' && dtype !== 'float64') throw new RecurError('options.dtype', "'float32' or 'float64'", describe(dtype));
    this.dtype = dtype;
    if (options.backend !== undefined && typeof options.backend !== 'string')
      throw new RecurError('options.backend', 'a backend name', describe(options.backend));
    this.backendName = options.backend;
    this.#inputSize = options.inputSize === undefined ? undefined : checkPositiveInt(options.inputSize, 'options.inputSize');
    this.#spec = null;
    this.#seed = options.seed === undefined ? seedCounter++ : checkFiniteNumber(options.seed, 'options.seed');
    this.name = options.name ?? `${kindName}_${this.#seed}`;
  }

  /** The layer as kernels see it; the input size must be known. Made once: it is read on every call. */
  spec(): LayerSpec {
    if (this.#spec === null || this.#spec.inputSize !== this.#inputSize) this.#spec = Object.freeze(this.makeSpec());
    return this.#spec;
  }

  protected abstract makeSpec(): LayerSpec;

  /** Stored-bias values the initialiser writes (LSTM: 1 in the forget gate of b_ih). */
  protected initBias(_bIh: FloatArray): void {}

  /** Weights tagged with a GRU variant (`resetAfter`, see `GruWeights`): only a GRU cell of that variant takes them. */
  protected checkWeightsVariant(resetAfter: boolean): void {
    throw new RecurError('weights.resetAfter', `no resetAfter: it tags GRU weights, and this is ${this.name}`, String(resetAfter));
  }

  /** Gates of this kind: LSTM 4, GRU 3, RNN 1. */
  get gates(): number {
    return gateCount(this.kind);
  }

  /** The input feature size, once known (option, first input or `setWeights`). */
  get inputSize(): number | undefined {
    return this.#inputSize;
  }

  /** This cell as a one-layer stack. */
  get layers(): readonly LayerCell[] {
    return [this];
  }

  /** Fixes the input size and initialises weights if none were set (refused sizes change nothing). */
  build(inputSize: number, argument = 'inputSize'): void {
    checkPositiveInt(inputSize, argument);
    if (this.#inputSize !== undefined && this.#inputSize !== inputSize) {
      throw new ShapeError('inputs', `feature size ${this.#inputSize} (the input size of ${this.name})`, `feature size ${inputSize}`);
    }
    if (!this.#weights) this.#weights = this.#initialWeights(inputSize, argument);
    this.#inputSize = inputSize;
  }

  /** The four weight arrays of this layer for an input size, as planned allocations. */
  weightAllocations(inputSize: number): Allocation[] {
    const G = this.gates,
      H = this.units,
      b = bytesOf(this.dtype);
    return [
      { bytes: G * H * inputSize * b, what: `${this.name}'s w_ih [${G * H}, ${inputSize}]` },
      { bytes: G * H * H * b, what: `${this.name}'s w_hh [${G * H}, ${H}]` },
      { bytes: 2 * G * H * b, what: `${this.name}'s biases` },
    ];
  }

  #initialWeights(inputSize: number, argument: string): LayerWeights {
    const G = this.gates,
      H = this.units;
    reserveHost(this.weightAllocations(inputSize), argument);
    const make = (n: number) => (this.dtype === 'float64' ? new Float64Array(n) : new Float32Array(n));
    const random = seededRandom(this.#seed);
    const weights = { wIh: make(G * H * inputSize), wHh: make(G * H * H), bIh: make(G * H), bHh: make(G * H) };
    // Keras's layout is the transpose of ours: kernel [I, G*H] Glorot, recurrent [H, G*H] orthogonal.
    glorotUniform(weights.wIh, G * H, inputSize, random);
    orthogonal(weights.wHh, G * H, H, random);
    this.initBias(weights.bIh);
    return weights;
  }

  /**
   * Sets the weights from host arrays in the public layout (copied; sizes checked). Every value must be a finite
   * number unless `options.allowNonFinite` (a NaN weight would silently poison every output).
   */
  setWeights(
    weights: LayerWeights<FloatArray> | { wIh: ArrayLike<number>; wHh: ArrayLike<number>; bIh: ArrayLike<number>; bHh: ArrayLike<number> },
    options?: { allowNonFinite?: boolean },
  ): void {
    const finite = !allowNonFinite(options);
    if (weights === null || typeof weights !== 'object') throw new RecurError('weights', '{wIh, wHh, bIh, bHh}', describe(weights));
    checkOptions(weights, ['wIh', 'wHh', 'bIh', 'bHh', 'resetAfter'], 'weights');
    const variant = (weights as { resetAfter?: unknown }).resetAfter;
    if (variant !== undefined) {
      if (typeof variant !== 'boolean')
        throw new RecurError('weights.resetAfter', 'a boolean (the GRU variant the weights belong to)', describe(variant));
      this.checkWeightsVariant(variant);
    }
    const G = this.gates,
      H = this.units;
    for (const key of ['wIh', 'wHh', 'bIh', 'bHh'] as const) {
      const v = (weights as Record<string, unknown>)[key] as ArrayLike<number> | undefined;
      if (!v || typeof v.length !== 'number') throw new RecurError(`weights.${key}`, 'an array of numbers', describe(v));
    }
    const wIhLength = weights.wIh.length;
    if (wIhLength % (G * H) !== 0 || wIhLength === 0) {
      throw new ShapeError('weights.wIh', `[${G * H}, inputSize] = a multiple of ${G * H} values`, `${wIhLength} values`);
    }
    const inputSize = wIhLength / (G * H);
    if (this.#inputSize !== undefined && inputSize !== this.#inputSize) {
      throw new ShapeError('weights.wIh', `[${G * H}, ${this.#inputSize}] = ${G * H * this.#inputSize} values`, `${wIhLength} values`);
    }
    const expect: Record<'wHh' | 'bIh' | 'bHh', number> = { wHh: G * H * H, bIh: G * H, bHh: G * H };
    for (const key of ['wHh', 'bIh', 'bHh'] as const) {
      if (weights[key].length !== expect[key])
        throw new ShapeError(`weights.${key}`, `${expect[key]} values`, `${weights[key].length} values`);
    }
    for (const key of ['wIh', 'wHh', 'bIh', 'bHh'] as const) checkNumbers(weights[key], `weights.${key}`, finite, this.dtype);
    reserveHost(this.weightAllocations(inputSize), 'weights');
    const copy = (v: ArrayLike<number>) => (this.dtype === 'float64' ? Float64Array.from(v) : Float32Array.from(v));
    this.#inputSize = inputSize;
    this.#weights = { wIh: copy(weights.wIh), wHh: copy(weights.wHh), bIh: copy(weights.bIh), bHh: copy(weights.bHh) };
    this.#newerOn = null; // the host's are the newest now: uploads go without a read back
    this.#version++;
    this.#dropUploads();
  }

  /** Copies of the weights in the public layout; builds them first if `inputSize` is known. */
  getWeights(): LayerWeights {
    if (!this.#weights) {
      if (this.#inputSize === undefined) {
        throw new RecurError(
          'cell',
          'a built cell (call it once, pass options.inputSize, or setWeights)',
          `${this.name} with unknown input size`,
        );
      }
      this.build(this.#inputSize);
    }
    const w = this.#hostWeights();
    return { wIh: w.wIh.slice(), wHh: w.wHh.slice(), bIh: w.bIh.slice(), bHh: w.bHh.slice() };
  }

  /** @internal Changes with every change of the weights (a tape checks that its forward's are still there). */
  get weightsVersion(): number {
    return this.#version;
  }

  /** Reads weights a backend's optimizer kernel updated back to the host (a no-op when the host's are current). */
  async syncWeights(): Promise<void> {
    const backend = this.#newerOn;
    if (!backend) return;
    const p = backend.weightParameters!(this.#uploads.get(backend));
    const version = this.#version;
    const [wIh, wHh, bIh, bHh] = await Promise.all([backend.read(p.wIh), backend.read(p.wHh), backend.read(p.bIh), backend.read(p.bHh)]);
    if (this.#newerOn === backend && this.#version === version) {
      // not overtaken by an update or setWeights meanwhile
      this.#weights = { wIh, wHh, bIh, bHh };
      this.#newerOn = null;
    }
  }

  /**
   * @internal The upload on `backend` as parameter storages for its optimizer kernel (`weightParameters`);
   * `updated()` after the kernel ran: the upload is then the newest copy (uploads elsewhere are dropped, the host's
   * are read back when asked for).
   */
  parametersOn(backend: RecurBackend): { params: readonly TensorStorage[]; updated(): void } {
    const upload = this.weightsOn(backend);
    const p = backend.weightParameters!(upload);
    return {
      params: [p.wIh, p.wHh, p.bIh, p.bHh],
      updated: () => {
        backend.weightsUpdated!(upload);
        this.#version++;
        this.#newerOn = backend;
        for (const [other, u] of this.#uploads) {
          if (other === backend) continue;
          untrackUpload(u);
          other.disposeWeights(u);
          this.#uploads.delete(other);
        }
      },
    };
  }

  /** The host's weights, read back first (synchronously) if an upload's are newer. */
  #hostWeights(): LayerWeights {
    const backend = this.#newerOn;
    if (backend) {
      if (!backend.readSync) {
        throw new RecurError(
          'cell',
          'weights read back from the backend first (await cell.syncWeights())',
          `${this.name}'s weights updated on backend ${JSON.stringify(backend.name)}, which reads asynchronously`,
        );
      }
      const p = backend.weightParameters!(this.#uploads.get(backend));
      this.#weights = {
        wIh: backend.readSync(p.wIh),
        wHh: backend.readSync(p.wHh),
        bIh: backend.readSync(p.bIh),
        bHh: backend.readSync(p.bHh),
      };
      this.#newerOn = null;
    }
    return this.#weights!;
  }

  /**
   * @internal The backend that runs this cell: the named one, or the default when the cell is first used (or, in a
   * stack, the stack's). The cell keeps it: a later change of the default affects new cells only, so state and
   * uploads made here never meet tensors of another backend.
   */
  resolveBackend(stack?: RecurBackend): RecurBackend {
    if (this.#bound) return this.#bound;
    const backend = this.backendName === undefined && stack ? stack : getBackend(this.backendName, 'cell.backend');
    requireDtype(backend, this.dtype, `${this.name}.dtype`);
    this.#bound = backend;
    return backend;
  }

  /** @internal Weights uploaded to `backend` (cached until weights change). */
  weightsOn(backend: RecurBackend): WeightsStorage {
    let upload = this.#uploads.get(backend);
    if (upload === undefined) {
      if (!this.#weights) this.build(this.#inputSize!);
      reserve(backend, this.weightAllocations(this.#inputSize!), 'cell');
      upload = backend.uploadWeights(this.spec(), this.#hostWeights());
      this.#uploads.set(backend, upload);
      trackUpload(this, backend, upload);
    }
    return upload;
  }

  /**
   * Frees the uploads; newer weights on a backend are read back first. `keepNewer` (the last holder letting go):
   * an upload whose newer weights cannot be read back synchronously stays, rather than lose them or throw.
   */
  #dropUploads(keepNewer = false): void {
    const keep = keepNewer && this.#newerOn && !this.#newerOn.readSync ? this.#newerOn : null;
    if (!keep) this.#hostWeights();
    for (const [backend, upload] of this.#uploads) {
      if (backend === keep) continue;
      untrackUpload(upload);
      backend.disposeWeights(upload);
      this.#uploads.delete(backend);
    }
  }

  /** Zero state for a batch: an LSTMStateTuple or a [batch, units] tensor. */
  zeroState(batch: number): CellState {
    checkPositiveInt(batch, 'batch');
    const backend = this.resolveBackend();
    reserve(backend, stateAllocations(this, batch), 'batch');
    const { h, c } = zeroLayerState(backend, this, batch);
    return c ? new LSTMStateTuple(c, h) : h;
  }

  /** One time step: input [B, I] and the state; returns the output [B, H] and the new state. */
  step(input: Tensor | TokenIds, state: CellState): StepResult {
    return stepCell(this, input, state);
  }

  /** Frees the weights uploaded to backends. The cell can still run (it uploads again). */
  dispose(): void {
    this.#dropUploads();
    this.#version++; // uploads a tape or a training step holds are gone
  }

  /**
   * @internal Objects that run this cell for a while (a StatefulRNN, a training tape) hold it; when the last one
   * lets go, the uploads are freed, so that creating and disposing such objects never accumulates weights while a
   * cell shared by several of them keeps its uploads until the last one is done.
   */
  hold(): void {
    this.#holders++;
  }

  /** @internal See `hold`. A tape lets go without freeing (`free` false): the next forward reuses the uploads. */
  release(free = true): void {
    if (this.#holders > 0 && --this.#holders === 0 && free) this.#dropUploads(true);
  }

  protected baseSpec(): { inputSize: number; units: number; dtype: DType } {
    if (this.#inputSize === undefined) {
      throw new RecurError('cell', 'a cell whose input size is known', `${this.name} with unknown input size`);
    }
    return { inputSize: this.#inputSize, units: this.units, dtype: this.dtype };
  }
}

export type { RnnActivation };
