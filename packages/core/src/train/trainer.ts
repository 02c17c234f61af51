import { BackendError, RecurError, ShapeError, describe } from '../errors.js';
import { checkOptions, checkPositiveInt } from '../options.js';
import { copyLayerStates, toLayerStates } from '../run.js';
import type { CellState } from '../cells/state.js';
import { optimizerSlots, type TensorStorage } from '../spec.js';
import { StateVariables, checkRows, resetRows } from '../state-variables.js';
import { Tensor, checkNumbers } from '../tensor.js';
import { TokenIds } from '../tokens.js';
import { checkTargets } from './losses.js';
import { RnnModel } from './model.js';
import type { Optimizer } from './optimizers.js';
import { dynamicRnnWithTape, type RnnGradients } from './tape.js';
import type { Dense } from './dense.js';
import { StepKernels, StepValue, trainingKernelPlacement, type TrainingKernelPlacement } from './step-kernels.js';

export type LossKind = 'softmax-cross-entropy' | 'mse';

export interface TrainerOptions {
  /** Rows per chunk (sequences trained side by side). */
  batch: number;
  optimizer: Optimizer;
  /** Clip gradients by this global norm (no clipping if omitted). */
  clipNorm?: number;
  /** 'softmax-cross-entropy' (integer targets, default) or 'mse' (one value per output). */
  loss?: LossKind;
}

export interface ChunkReport {
  /** 0-based index of the chunk among those this trainer trained. */
  readonly chunk: number;
  /** Mean loss of the chunk (nats per target for cross-entropy). */
  readonly loss: number;
  /** Global gradient norm before clipping. */
  readonly gradNorm: number;
}

/**
 * Truncated back-propagation through time: chunk after chunk, the state flows forward through state variables
 * (detached: no gradient crosses a chunk boundary), the gradient stays inside the chunk.
 */
export class TbpttTrainer {
  readonly model: RnnModel;
  readonly batch: number;
  readonly #optimizer: Optimizer;
  readonly #clipNorm: number | undefined;
  readonly #loss: LossKind;
  readonly #vars: StateVariables;
  readonly #placement: TrainingKernelPlacement;
  /** The optimizer kernel's state per parameter (on the backend), and its count of updates. */
  #slots: TensorStorage[][] = [];
  #updates = 0;
  #chunk = 0;

  constructor(model: RnnModel, options: TrainerOptions) {
    const opts = checkOptions(options, ['batch', 'optimizer', 'clipNorm', 'loss'], 'options');
    if (!(model instanceof RnnModel)) throw new RecurError('model', 'an RnnModel', describe(model));
    const backend = model.cell.layers[0].resolveBackend();
    if (!backend.capabilities.training || !backend.backward) {
      throw new BackendError('model', 'a model on a backend with backward kernels (capabilities.training)', `backend ${JSON.stringify(backend.name)} without them`);
    }
    this.model = model;
    this.batch = checkPositiveInt(opts.batch, 'options.batch');
    if (!opts.optimizer || typeof opts.optimizer.step !== 'function') throw new RecurError('options.optimizer', 'an optimizer (SGD, Adam)', describe(opts.optimizer));
    this.#optimizer = opts.optimizer;
    if (opts.clipNorm !== undefined && !(typeof opts.clipNorm === 'number' && opts.clipNorm > 0 && Number.isFinite(opts.clipNorm))) {
      throw new RecurError('options.clipNorm', 'a positive finite number', describe(opts.clipNorm));
    }
    this.#clipNorm = opts.clipNorm;
    const loss = opts.loss ?? 'softmax-cross-entropy';
    if (loss !== 'softmax-cross-entropy' && loss !== 'mse') throw new RecurError('options.loss', "'softmax-cross-entropy' or 'mse'", describe(loss));
    this.#loss = loss;
    this.#vars = new StateVariables(model.cell, this.batch, 'TbpttTrainer state');
    const placement = trainingKernelPlacement(backend);
    this.#placement = { ...placement, optimizer: placement.optimizer && this.#optimizer.rule !== undefined };
  }

  /** Which parts of a step run on the backend's training kernels and which on the host (the fallback). */
  get kernels(): TrainingKernelPlacement {
    return this.#placement;
  }

  /** The carried state (owned by the trainer). */
  get state() {
    return this.#vars.state;
  }

  /**
   * One TBPTT step on a chunk [B, T, I] (batch-major), or token ids [B, T] (`tokenIds`), with targets per row and step (B*T class indices, or
   * B*T*outputs values for mse), row-major (b, t). Rows in `resetAfter` start from zero state next chunk.
   * A non-finite loss or gradient stops with an error naming the chunk, and changes neither weights nor state.
   */
  async trainChunk(inputs: Tensor | TokenIds, targets: ArrayLike<number>, options?: { resetAfter?: ArrayLike<number> }): Promise<ChunkReport> {
    const opts = checkOptions(options, ['resetAfter'], 'options');
    const tokens = inputs instanceof TokenIds;
    if (!(inputs instanceof Tensor || tokens) || inputs.shape.length !== (tokens ? 2 : 3)) {
      throw new ShapeError('inputs', 'a rank 3 tensor [batch, time, features] or token ids [batch, time]',
        inputs instanceof Tensor || tokens ? `shape [${inputs.shape.join(', ')}]` : describe(inputs));
    }
    const [B, T] = inputs.shape;
    const backend = this.#vars.backend, dtype = this.model.cell.layers[0].dtype;
    if (B !== this.batch) throw new ShapeError('inputs', `batch ${this.batch} (the trainer's)`, `batch ${B}`);
    const rows = B * T, head = this.model.head;
    const classTargets = this.#loss === 'softmax-cross-entropy' ? checkTargets(targets, rows, head.outputSize) : null;
    if (!classTargets && targets?.length !== rows * head.outputSize) throw new ShapeError('targets', `${rows * head.outputSize} values`, `${targets?.length} values`);
    if (!classTargets) checkNumbers(targets, 'targets', true, dtype, false);
    const reset = opts.resetAfter === undefined ? null : checkRows(opts.resetAfter, this.batch, 'options.resetAfter');
    const chunk = this.#chunk;

    const run = dynamicRnnWithTape(this.model.cell, inputs, { initialState: this.#vars.state });
    const k = new StepKernels(backend, dtype, this.#placement);
    const discard = () => {
      run.outputs.dispose();
      for (const s of toLayerStates(this.model.cell, run.state, B, backend, 'state')) {
        s.h.dispose();
        s.c?.dispose();
      }
      run.tape.dispose();
    };
    let loss: number, norm: number;
    let grads: RnnGradients | null = null;
    try {
      const H = head.inputSize, O = head.outputSize;
      const y = new StepValue(null, run.outputs.storage(), [rows, H]);
      // the head's parameters: the backend's own copy when its optimizer kernel updates them, else the host's
      const device = this.#placement.optimizer ? head.parametersOn(backend) : null;
      const weight = device ? new StepValue(null, device.weight, [O, H]) : new StepValue(head.weight, null, [O, H]);
      const bias = device ? new StepValue(null, device.bias, [O]) : new StepValue(head.bias, null, [O]);
      const logits = await k.denseForward(y, weight, bias, rows, H, O);
      const lossTargets = classTargets ?? new StepValue(dtype === 'float64' ? Float64Array.from(targets) : Float32Array.from(targets), null, [rows, O]);
      const lossResult = await k.loss(logits, lossTargets, rows, O);
      loss = lossResult.loss;
      if (!Number.isFinite(loss)) throw new RecurError('loss', 'a finite loss', `${loss} at chunk ${chunk}`, 'weights and state were left unchanged');
      const dHead = await k.denseBackward(y, weight, bias, lossResult.dPredictions, rows, H, O);
      const dOutputs = new Tensor(backend, k.storage(dHead.dx), run.outputs.shape, dtype);
      grads = run.tape.backward({ dOutputs }); // dOutputs' storage is the step's (freed with it)
      const gradValues = [
        ...grads.dWeights.flatMap((g) => [g.wIh, g.wHh, g.bIh, g.bHh].map((t) => new StepValue(null, t.storage(), t.shape))), dHead.dWeight, dHead.dBias,
      ];
      norm = await k.globalNorm(gradValues);
      if (!Number.isFinite(norm)) throw new RecurError('gradients', 'finite gradients', `norm ${norm} at chunk ${chunk}`, 'weights and state were left unchanged');
      const gradScale = this.#clipNorm !== undefined && norm > this.#clipNorm ? this.#clipNorm / norm : 1;
      if (device) this.#updateOnBackend(k, gradValues, gradScale, device);
      else await this.#updateOnHost(k, gradValues, gradScale);
    } catch (error) {
      grads?.dispose();
      k.dispose();
      discard(); // a refused step leaves nothing behind and changes nothing
      throw error;
    }
    grads.dispose();
    k.dispose();
    run.outputs.dispose();
    this.#vars.assign(toLayerStates(this.model.cell, run.state, B, backend, 'state')); // detached: the next chunk starts a new tape
    if (reset && reset.length) resetRows(this.#vars, reset);
    this.#chunk++;
    return { chunk, loss, gradNorm: norm };
  }

  /** The optimizer kernel, in place on the layers' uploads and the head's copy, with its state kept here. */
  #updateOnBackend(k: StepKernels, gradValues: StepValue[], gradScale: number, head: ReturnType<Dense['parametersOn']>): void {
    const backend = this.#vars.backend, dtype = this.model.head.dtype;
    const layers = this.model.cell.layers.map((l) => l.parametersOn(backend));
    const params = [...layers.flatMap((l) => l.params), head.weight, head.bias];
    const rule = this.#optimizer.rule!;
    if (this.#slots.length === 0) {
      this.#slots = gradValues.map((g) => Array.from({ length: optimizerSlots(rule) }, () => backend.zeros(g.shape, dtype)));
    }
    backend.applyOptimizer!({ rule, step: ++this.#updates, gradScale, dtype, params, grads: gradValues.map((g) => k.storage(g)), slots: this.#slots });
    for (const l of layers) l.updated();
    head.updated();
  }

  /** The host fallback: gradients read back, the optimizer's host step, the weights set again. */
  async #updateOnHost(k: StepKernels, gradValues: StepValue[], gradScale: number): Promise<void> {
    const gradList = await Promise.all(gradValues.map((g) => k.host(g)));
    // the values read back or made on the host are this step's own: scaled in place
    if (gradScale !== 1) for (const g of gradList) for (let i = 0; i < g.length; i++) g[i] *= gradScale;
    const layers = this.model.cell.layers, head = this.model.head;
    const params = layers.map((l) => l.getWeights());
    const headWeight = head.weight, headBias = head.bias;
    this.#optimizer.step([...params.flatMap((p) => [p.wIh, p.wHh, p.bIh, p.bHh]), headWeight, headBias], gradList);
    layers.forEach((l, i) => l.setWeights(params[i]));
    head.setWeights(headWeight, headBias);
  }

  /**
   * Sets the carried state the next chunk starts from (resuming from a checkpoint, or a known initial state): a
   * cell-shaped state on the model's backend, [batch, units] per layer. The trainer keeps copies; the caller
   * keeps its tensors. Non-finite values are refused.
   */
  setState(state: CellState): void {
    this.#vars.assign(copyLayerStates(this.model.cell, state, this.batch, this.#vars.backend, 'state', false));
  }

  /** Zeroes the carried state of all rows, or of the given rows. */
  reset(rows?: ArrayLike<number>): void {
    resetRows(this.#vars, rows === undefined ? null : checkRows(rows, this.batch));
  }

  /** Frees the carried state and the optimizer state kept on the backend. */
  dispose(): void {
    this.#vars.dispose();
    for (const slots of this.#slots) for (const s of slots) this.#vars.backend.dispose(s);
    this.#slots = [];
  }
}
