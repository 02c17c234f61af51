import type { Gemm } from './linalg/gemm.js';
/**
 * The backend spec: what a Recur backend implements. Core owns semantics (validation, state, streams); a backend
 * owns memory and kernels. Bump SPEC_VERSION on any incompatible change; core refuses other versions.
 * v2: `LayerSpec` is a union tagged by `kind`; core checks at adoption that every required method is there;
 * optional memory-budget members (`memoryBudget`, `setMemoryBudget`, `forwardScratch`); optional training kernels
 * (`TrainingKernels`: dense head, losses, gradient norm, optimizer in place) and transfer counters (`transfers`).
 */
import type { MemoryBudget } from './budget.js';

/** The backend spec version this core implements; a backend declares it as `specVersion` (core refuses others). */
export const SPEC_VERSION = 2 as const;

/** Element type of tensors and weights. */
export type DType = 'float32' | 'float64';
/** A host array of a `DType`. */
export type FloatArray = Float32Array | Float64Array;
/** The cell kinds: LSTM, GRU and the simple (Elman) RNN. */
export type CellKind = 'lstm' | 'gru' | 'rnn';
/** The simple RNN's activation. */
export type RnnActivation = 'tanh' | 'relu';

/** Opaque storage owned by a backend. Core wraps it in a `Tensor`; only the owning backend looks inside. */
export type TensorStorage = unknown;
/** Weights of one layer after upload: the backend may repack them as its kernels like. */
export type WeightsStorage = unknown;

interface LayerSpecBase {
  readonly inputSize: number;
  readonly units: number;
  readonly dtype: DType;
}

/** An LSTM layer as kernels see it. */
export interface LstmSpec extends LayerSpecBase {
  readonly kind: 'lstm';
  /** Added to the f gate pre-activation at run time (TF1's forget_bias). */
  readonly forgetBias: number;
}

/** A GRU layer as kernels see it. */
export interface GruSpec extends LayerSpecBase {
  readonly kind: 'gru';
  /** true = PyTorch/cuDNN/Keras-2 (reset after the recurrent product), false = TF1 (before). */
  readonly resetAfter: boolean;
}

/** A simple RNN layer as kernels see it. */
export interface RnnSpec extends LayerSpecBase {
  readonly kind: 'rnn';
  readonly activation: RnnActivation;
}

/**
 * One layer's configuration as kernels see it: a union tagged by `kind`, so that a field exists only where it means
 * something (spec v2; v1 had every field on every kind).
 */
export type LayerSpec = LstmSpec | GruSpec | RnnSpec;

/** Weights in Recur's public layout (PyTorch's): gates LSTM i,f,g,o; GRU r,z,n; G = 4, 3 or 1. */
export interface LayerWeights<A extends FloatArray = FloatArray> {
  /** [G*H, I] row-major */
  readonly wIh: A;
  /** [G*H, H] row-major */
  readonly wHh: A;
  /** [G*H] */
  readonly bIh: A;
  /** [G*H] */
  readonly bHh: A;
}

/** Arguments of the per-layer chunk kernel. All tensors are time-major and already validated by core. */
export interface ForwardArgs {
  readonly layer: LayerSpec;
  readonly weights: WeightsStorage;
  /** [T, B, I], or null when `tokens` is the input */
  readonly x: TensorStorage | null;
  /**
   * First layer only, on a backend with `capabilities.tokens`: token ids [T, B] (time-major), each in [0, I), the
   * input being the one-hot row of each id: the input projection is a gather of W_ih's columns. Null otherwise.
   */
  readonly tokens?: Int32Array | null;
  /** [B, H] */
  readonly h0: TensorStorage;
  /** [B, H], lstm only */
  readonly c0: TensorStorage | null;
  readonly time: number;
  readonly batch: number;
  /**
   * Per-row lengths within this call, or null for all T. A row at step t >= len keeps its state and emits zeros
   * (TF's dynamic_rnn with sequence_length).
   */
  readonly seqLens: Int32Array | null;
  /** Keep what the backward kernel needs (only when training; capabilities.training must be true). */
  readonly keepTape?: boolean;
}

/** What a forward kept for its backward: opaque, owned by the backend, freed by `disposeTape`. */
export type TapeStorage = unknown;

/** What the chunk kernel returns: the outputs of every step and the final state. */
export interface ForwardResult {
  /** [T, B, H] */
  readonly y: TensorStorage;
  readonly hT: TensorStorage;
  /** lstm only */
  readonly cT: TensorStorage | null;
  /** Present when `keepTape` was set. */
  readonly tape?: TapeStorage;
}

/** Arguments of the per-layer chunk backward kernel, for the forward that made `tape`. */
export interface BackwardArgs {
  readonly layer: LayerSpec;
  readonly weights: WeightsStorage;
  readonly tape: TapeStorage;
  readonly time: number;
  readonly batch: number;
  readonly seqLens: Int32Array | null;
  /** Gradient of the loss with respect to the outputs y [T, B, H], or null for zero. */
  readonly dy: TensorStorage | null;
  /** Gradients with respect to the final state [B, H], or null for zero. */
  readonly dhT: TensorStorage | null;
  readonly dcT: TensorStorage | null;
}

/** What the chunk backward returns: the gradients of the inputs, the initial state and the weights. */
export interface BackwardResult {
  /** [T, B, I]; null when the forward ran on token ids (an id has no gradient) */
  readonly dx: TensorStorage | null;
  /** [B, H] */
  readonly dh0: TensorStorage;
  /** lstm only */
  readonly dc0: TensorStorage | null;
  /** Weight gradients in the public layout, summed over time and batch. */
  readonly dWeights: { readonly wIh: TensorStorage; readonly wHh: TensorStorage; readonly bIh: TensorStorage; readonly bHh: TensorStorage };
}

/** Bytes a forward allocates besides its outputs (see `RecurBackend.forwardScratch`). */
export interface ForwardScratch {
  readonly transientBytes: number;
  readonly keptBytes: number;
  readonly largestBytes: number;
}

/** Whether a backend can run here, and if not, why. */
export interface Availability {
  readonly available: boolean;
  /** Why not, in words a person can act on ("no CUDA driver"). */
  readonly reason?: string;
  /**
   * True when the machine lacks hardware the backend needs (a GPU): an unavailable backend's checks are then
   * hardware skips in conformance; an available one runs, but on a substitute (a GPU backend on a CPU renderer),
   * and a caller choosing the fastest backend passes it over.
   */
  readonly missingHardware?: boolean;
  /**
   * Where the kernels run, for reports, when that is not plain from the name: a mode and a renderer ("headlessgl:
   * ANGLE, WebGL 1.0"), an instruction set. The conformance CLI and `describeConformance` print it.
   */
  readonly runsOn?: string;
}

/** What a backend can do: cell kinds, dtypes, training, synchronous reads, token inputs, tolerances. */
export interface Capabilities {
  readonly cells: readonly CellKind[];
  readonly dtypes: readonly DType[];
  /** Backward kernels present (the training issue adds them to the spec). */
  readonly training: boolean;
  /** Whether `dataSync` works (false on GPU backends that can only read asynchronously). */
  readonly syncRead: boolean;
  /** Forward kernels that take token ids as a first layer's input (`ForwardArgs.tokens`); without, core uploads one-hot rows. */
  readonly tokens?: boolean;
  /** Conformance tolerances when they differ from the golden README's defaults (e.g. shader math). */
  readonly tolerance?: { readonly forward: number; readonly gradient: number };
}

/** What a backend holds: live tensors, weight uploads and tapes, and their bytes. */
export interface MemoryInfo {
  /** Live tensors plus live weight uploads. */
  readonly numTensors: number;
  readonly numBytes: number;
}

/**
 * A backend. Every method may assume its arguments were validated by core (shapes agree, indices are in range,
 * storages belong to this backend and are alive). Methods that return storage return new storage: core treats
 * tensors as immutable.
 */
export interface RecurBackend extends TrainingKernels {
  readonly specVersion: typeof SPEC_VERSION;
  readonly name: string;
  readonly capabilities: Capabilities;
  /** Whether the backend runs here (never throws: an unavailable backend says why). */
  available(): Availability;

  // memory
  /** New storage holding a copy of `values` (the caller may change or reuse them afterwards). */
  upload(values: FloatArray, shape: readonly number[], dtype: DType): TensorStorage;
  /** New storage of zeros. */
  zeros(shape: readonly number[], dtype: DType): TensorStorage;
  /** A host copy of a storage's values. */
  read(storage: TensorStorage): Promise<FloatArray>;
  /** Only when capabilities.syncRead. */
  readSync?(storage: TensorStorage): FloatArray;
  /** Frees a storage (disposing twice is harmless). */
  dispose(storage: TensorStorage): void;
  /** What the backend holds now (core checks budgets and leaks against it). */
  memory(): MemoryInfo;

  // weights
  /** Uploads a layer's weights (public layout); the backend may repack them. */
  uploadWeights(layer: LayerSpec, weights: LayerWeights): WeightsStorage;
  /** Frees an upload. */
  disposeWeights(weights: WeightsStorage): void;

  // kernels
  /** The per-layer chunk kernel: a whole chunk in one call. */
  forward(args: ForwardArgs): ForwardResult;
  /** [T, B, F] <-> [B, T, F] */
  transpose01(storage: TensorStorage, shape: readonly [number, number, number]): TensorStorage;
  /** Copy of a [B, ...] tensor with the given rows set to zero. */
  zeroRows(storage: TensorStorage, shape: readonly number[], rows: Int32Array): TensorStorage;
  /** The given rows of a [B, ...] tensor, in the given order. */
  gatherRows(storage: TensorStorage, shape: readonly number[], rows: Int32Array): TensorStorage;
  /** Concatenation along axis 0 of tensors of shapes [B_i, ...rest]. */
  concatRows(storages: readonly TensorStorage[], shapes: readonly (readonly number[])[]): TensorStorage;
  /** Whether every element is finite (used by the opt-in finite check). */
  allFinite(storage: TensorStorage): boolean;

  // memory budget (optional: a backend without one gets the host's, `hostMemoryBudget()`)
  /** What this backend may allocate; core checks every size against it before asking for anything. */
  memoryBudget?(): MemoryBudget;
  /** Replaces the budget (core validated it). */
  setMemoryBudget?(budget: MemoryBudget): void;
  /**
   * What a forward of this shape allocates besides its outputs (y, hT, cT): `transientBytes` of kernel scratch
   * (freed or reused when the call returns), `keptBytes` it keeps (the tape when `keepTape`), and the largest
   * single buffer among them. Core refuses a chunk that would exceed the budget before any kernel runs; a backend
   * that runs long chunks in time slices reports its bounded scratch.
   */
  forwardScratch?(layer: LayerSpec, time: number, batch: number, keepTape: boolean): ForwardScratch;

  // training (required when capabilities.training)
  /** The per-layer chunk backward kernel. Leaves the tape alive (core frees it). */
  backward?(args: BackwardArgs): BackwardResult;
  /** Frees a tape `forward` kept. */
  disposeTape?(tape: TapeStorage): void;
  /**
   * Optional, for backends whose tensors live in host memory: their matrix product C (+)= A · Wᵀ over host
   * arrays, which core's host-side training parts (the dense head) then use instead of core's own scalar one.
   */
  readonly hostGemm?: Gemm;

  /** Optional: bytes moved across the backend's boundary so far (uploads, reads, id arrays, weights). */
  transfers?(): TransferCounts;
}

/** An optimizer's update rule as training kernels see it (the optimizer classes' `rule`). */
export type OptimizerRule =
  | { readonly kind: 'sgd'; readonly learningRate: number; readonly momentum: number }
  | { readonly kind: 'adam'; readonly learningRate: number; readonly beta1: number; readonly beta2: number; readonly epsilon: number };

/**
 * Slots of optimizer state per parameter: sgd [velocity], adam [m, v].
 * @see [docs/training.md](../../../docs/training.md)
 */
export function optimizerSlots(rule: OptimizerRule): number {
  return rule.kind === 'sgd' ? 1 : 2;
}

/** The dense head's forward: logits [rows, outputs] = x [rows, inputs] · weightᵀ [outputs, inputs] + bias [outputs]. */
export interface DenseArgs {
  readonly x: TensorStorage;
  readonly weight: TensorStorage;
  readonly bias: TensorStorage;
  readonly rows: number;
  readonly inputs: number;
  readonly outputs: number;
  readonly dtype: DType;
}

/** The dense head's gradients. */
export interface DenseGradients {
  /** [rows, inputs] */
  readonly dx: TensorStorage;
  /** [outputs, inputs] */
  readonly dWeight: TensorStorage;
  /** [outputs] */
  readonly dBias: TensorStorage;
}

/** A loss kernel's result: the mean loss as a [1] tensor, and its gradient with respect to the predictions. */
export interface LossStorages {
  readonly loss: TensorStorage;
  readonly dPredictions: TensorStorage;
}

/** The optimizer kernel's arguments: every parameter updated in place, `slots` too. */
export interface OptimizerArgs {
  readonly rule: OptimizerRule;
  /** 1 for the first update of these parameters (Adam's bias correction). */
  readonly step: number;
  /** Every gradient is multiplied by this first (global-norm clipping; 1 without). */
  readonly gradScale: number;
  readonly dtype: DType;
  /** Parameter storages: a layer's `weightParameters` or uploads core made for the purpose (the dense head's). */
  readonly params: readonly TensorStorage[];
  readonly grads: readonly TensorStorage[];
  /** Per parameter, `optimizerSlots(rule)` tensors of its size (zeros before the first update). */
  readonly slots: readonly (readonly TensorStorage[])[];
}

/** A layer's uploaded weights as parameter storages in the public layout (see `weightParameters`). */
export interface WeightParameters {
  readonly wIh: TensorStorage;
  readonly wHh: TensorStorage;
  readonly bIh: TensorStorage;
  readonly bHh: TensorStorage;
}

/** Bytes a backend moved across its own boundary (host arrays into its memory, and back) since it was made. */
export interface TransferCounts {
  readonly bytesIn: number;
  readonly bytesOut: number;
}

/**
 * Optional training kernels (spec v2): with all of them, a TBPTT chunk moves only its inputs (or token ids) and
 * targets in, and the loss and gradient norm out. Core falls back to its host code kernel by kernel, moving the
 * values a missing kernel needs (`trainingKernels()` in core says which run where).
 */
export interface TrainingKernels {
  /** The dense head's forward: logits [rows, outputs] = x · weightᵀ + bias. */
  denseForward?(args: DenseArgs): TensorStorage;
  /** Gradients of the dense head given dOut [rows, outputs]. */
  denseBackward?(args: DenseArgs & { readonly dOut: TensorStorage }): DenseGradients;
  /** Mean softmax cross-entropy of logits [rows, classes] with class indices `targets` (validated by core). */
  softmaxCrossEntropy?(args: {
    readonly logits: TensorStorage;
    readonly targets: Int32Array;
    readonly rows: number;
    readonly classes: number;
    readonly dtype: DType;
  }): LossStorages;
  /** Mean squared error over `count` values. */
  meanSquaredError?(args: {
    readonly predictions: TensorStorage;
    readonly targets: TensorStorage;
    readonly count: number;
    readonly dtype: DType;
  }): LossStorages;
  /**
   * The global L2 norm √(Σ v²) over every element of every storage, as a [1] tensor: accumulate so that it cannot
   * overflow while the norm itself fits the dtype (backend-cpu sums in float64).
   */
  globalNorm?(storages: readonly TensorStorage[], dtype: DType): TensorStorage;
  /**
   * Applies one optimizer update in place. Needs `weightParameters` and `weightsUpdated` too (core uses the three
   * together or none).
   */
  applyOptimizer?(args: OptimizerArgs): void;
  /**
   * The parameter storages of an upload, in the public layout, which `applyOptimizer` updates in place: they live
   * as long as the upload, and `dispose` must not free them. `read` reads them (core's `getWeights` after training).
   */
  weightParameters?(weights: WeightsStorage): WeightParameters;
  /** Called after `applyOptimizer` changed an upload's parameters: refresh whatever the kernels derive from them. */
  weightsUpdated?(weights: WeightsStorage): void;
}

/** Makes a backend when it is first used (`registerBackend`); may be asynchronous (then `await ready(name)`). */
export type BackendFactory = () => RecurBackend | Promise<RecurBackend>;

/**
 * Gates per cell kind.
 * @see [docs/backend-authoring.md](../../../docs/backend-authoring.md)
 */
export function gateCount(kind: CellKind): number {
  return kind === 'lstm' ? 4 : kind === 'gru' ? 3 : 1;
}
