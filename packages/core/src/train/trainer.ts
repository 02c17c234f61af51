import { BackendError, RecurError, ShapeError, describe } from '../errors.js';
import { checkOptions, checkPositiveInt } from '../options.js';
import { copyLayerStates, toLayerStates } from '../run.js';
import type { CellState } from '../cells/state.js';
import { optimizerSlots, type FloatArray, type TensorStorage } from '../spec.js';
import { StateVariables, checkRows, resetRows } from '../state-variables.js';
import { Tensor, checkNumbers } from '../tensor.js';
import { TokenIds } from '../tokens.js';
import { checkTargets } from './losses.js';
import { RnnModel } from './model.js';
import { RuleOptimizer, type Optimizer } from './optimizers.js';
import { dynamicRnnWithTape, type RnnGradients } from './tape.js';
import { StepKernels, StepValue, trainingKernelPlacement, type TrainingKernelPlacement } from './step-kernels.js';

/** The trainer's losses. */
export type LossKind = 'softmax-cross-entropy' | 'mse';

/** Options of `TbpttTrainer`. */
export interface TrainerOptions {
  /** Rows per chunk (sequences trained side by side). */
  batch: number;
  optimizer: Optimizer;
  /** Clip gradients by this global norm (no clipping if omitted). */
  clipNorm?: number;
  /** 'softmax-cross-entropy' (integer targets, default) or 'mse' (one value per output). */
  loss?: LossKind;
}

/** What `trainChunk` reports: the chunk's loss and gradient norm. */
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
 * @see [docs/training.md](../../../../docs/training.md)
 */
export class TbpttTrainer {
  readonly model: RnnModel;
  readonly batch: number;
  readonly #optimizer: Optimizer;
  readonly #clipNorm: number | undefined;
  readonly #loss: LossKind;
  readonly #vars: StateVariables;
  readonly #placement: TrainingKernelPlacement;
  /** The optimizer kernel's state per parameter while it lives on the backend (moved back by dispose), and its count of updates. */
  #slots: TensorStorage[][] = [];
  #updates = 0;
  #chunk = 0;
  /** A chunk is running (between its awaits nobody else may start one). */
  #busy = false;
  #disposed = false;
  /** The optimizer state as `sync()` read it, and after how many updates. */
  #synced: { updates: number; slots: FloatArray[][] } | null = null;

  constructor(model: RnnModel, options: TrainerOptions) {
    const opts = checkOptions(options, ['batch', 'optimizer', 'clipNorm', 'loss'], 'options');
    if (!(model instanceof RnnModel)) throw new RecurError('model', 'an RnnModel', describe(model));
    const backend = model.cell.layers[0].resolveBackend();
    if (!backend.capabilities.training || !backend.backward) {
      throw new BackendError(
        'model',
        'a model on a backend with backward kernels (capabilities.training)',
        `backend ${JSON.stringify(backend.name)} without them`,
      );
    }
    this.model = model;
    this.batch = checkPositiveInt(opts.batch, 'options.batch');
    if (!opts.optimizer || typeof opts.optimizer.step !== 'function')
      throw new RecurError('options.optimizer', 'an optimizer (SGD, Adam)', describe(opts.optimizer));
    this.#optimizer = opts.optimizer;
    if (opts.clipNorm !== undefined && !(typeof opts.clipNorm === 'number' && opts.clipNorm > 0 && Number.isFinite(opts.clipNorm))) {
      throw new RecurError('options.clipNorm', 'a positive finite number', describe(opts.clipNorm));
    }
    this.#clipNorm = opts.clipNorm;
    const loss = opts.loss ?? 'softmax-cross-entropy';
    if (loss !== 'softmax-cross-entropy' && loss !== 'mse')
      throw new RecurError('options.loss', "'softmax-cross-entropy' or 'mse'", describe(loss));
    this.#loss = loss;
    this.#vars = new StateVariables(model.cell, this.batch, 'TbpttTrainer state');
    try {
      if (this.#optimizer instanceof RuleOptimizer) this.#optimizer.claim(this);
    } catch (error) {
      this.#vars.dispose();
      throw error;
    }
    const placement = trainingKernelPlacement(backend);
    // SGD and Adam as they are; a subclass that changes step() runs its own step on the host
    const ruleOptimizer = this.#optimizer instanceof RuleOptimizer && this.#optimizer.step === RuleOptimizer.prototype.step;
    this.#placement = { ...placement, optimizer: placement.optimizer && ruleOptimizer };
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
  async trainChunk(
    inputs: Tensor | TokenIds,
    targets: ArrayLike<number>,
    options?: { resetAfter?: ArrayLike<number> },
  ): Promise<ChunkReport> {
    if (this.#disposed) throw new RecurError('trainer', 'a live TbpttTrainer', 'a disposed one');
    if (this.#busy)
      throw new RecurError(
        'trainer',
        'one trainChunk at a time (await the previous one)',
        `a call while chunk ${this.#chunk} is still running`,
      );
    this.#busy = true;
    try {
      return await this.#trainChunk(inputs, targets, options);
    } finally {
      this.#busy = false;
    }
  }

  async #trainChunk(
    inputs: Tensor | TokenIds,
    targets: ArrayLike<number>,
    options?: { resetAfter?: ArrayLike<number> },
  ): Promise<ChunkReport> {
    const opts = checkOptions(options, ['resetAfter'], 'options');
    const tokens = inputs instanceof TokenIds;
    if (!(inputs instanceof Tensor || tokens) || inputs.shape.length !== (tokens ? 2 : 3)) {
      throw new ShapeError(
        'inputs',
        'a rank 3 tensor [batch, time, features] or token ids [batch, time]',
        inputs instanceof Tensor || tokens ? `shape [${inputs.shape.join(', ')}]` : describe(inputs),
      );
    }
    const [B, T] = inputs.shape;
    const backend = this.#vars.backend,
      dtype = this.model.cell.layers[0].dtype;
    if (B !== this.batch) throw new ShapeError('inputs', `batch ${this.batch} (the trainer's)`, `batch ${B}`);
    const rows = B * T,
      head = this.model.head;
    const classTargets = this.#loss === 'softmax-cross-entropy' ? checkTargets(targets, rows, head.outputSize) : null;
    if (!classTargets && targets?.length !== rows * head.outputSize)
      throw new ShapeError('targets', `${rows * head.outputSize} values`, `${targets?.length} values`);
    if (!classTargets) checkNumbers(targets, 'targets', true, dtype, false);
    const reset = opts.resetAfter === undefined ? null : checkRows(opts.resetAfter, this.batch, 'options.resetAfter');
    const chunk = this.#chunk;

    const versions = this.#versions();
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
      const H = head.inputSize,
        O = head.outputSize;
      const y = new StepValue(null, run.outputs.storage(), [rows, H]);
      // the head's parameters: the backend's own copy when its optimizer kernel updates them, else the host's
      const device = this.#placement.optimizer ? head.parametersOn(backend) : null;
      const weight = device ? new StepValue(null, device.weight, [O, H]) : new StepValue(head.weight, null, [O, H]);
      const bias = device ? new StepValue(null, device.bias, [O]) : new StepValue(head.bias, null, [O]);
      const logits = await k.denseForward(y, weight, bias, rows, H, O);
      const lossTargets =
        classTargets ?? new StepValue(dtype === 'float64' ? Float64Array.from(targets) : Float32Array.from(targets), null, [rows, O]);
      const lossResult = await k.loss(logits, lossTargets, rows, O);
      loss = lossResult.loss;
      this.#checkUnchanged(versions, chunk); // after each read the step awaited: nothing may have changed the model
      if (!Number.isFinite(loss))
        throw new RecurError('loss', 'a finite loss', `${loss} at chunk ${chunk}`, 'weights and state were left unchanged');
      const dHead = await k.denseBackward(y, weight, bias, lossResult.dPredictions, rows, H, O);
      const dOutputs = new Tensor(backend, k.storage(dHead.dx), run.outputs.shape, dtype);
      grads = run.tape.backward({ dOutputs }); // dOutputs' storage is the step's (freed with it)
      const gradValues = [
        ...grads.dWeights.flatMap((g) => [g.wIh, g.wHh, g.bIh, g.bHh].map((t) => new StepValue(null, t.storage(), t.shape))),
        dHead.dWeight,
        dHead.dBias,
      ];
      norm = await k.globalNorm(gradValues);
      this.#checkUnchanged(versions, chunk);
      if (!Number.isFinite(norm))
        throw new RecurError('gradients', 'finite gradients', `norm ${norm} at chunk ${chunk}`, 'weights and state were left unchanged');
      const gradScale = this.#clipNorm !== undefined && norm > this.#clipNorm ? this.#clipNorm / norm : 1;
      if (device) {
        this.#updateOnBackend(k, gradValues, gradScale);
      } else {
        const grads = await Promise.all(gradValues.map((g) => k.host(g)));
        this.#checkUnchanged(versions, chunk);
        this.#updateOnHost(grads, gradScale);
      }
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

  /** The weights' versions (every layer's, the head's): a step refuses to update weights changed while it ran. */
  #versions(): number[] {
    return [...this.model.cell.layers.map((l) => l.weightsVersion), this.model.head.version];
  }

  #checkUnchanged(versions: readonly number[], chunk: number): void {
    if (this.#versions().some((v, i) => v !== versions[i])) {
      throw new RecurError(
        'model',
        'weights left alone while a training step runs',
        `weights set during chunk ${chunk}`,
        'this step updated nothing and kept the state',
      );
    }
  }

  /**
   * The optimizer kernel, in place on the layers' uploads and the head's copy. Its state moves onto the backend at
   * the first update (the optimizer's, or zeros) and back to the optimizer when the trainer is disposed.
   */
  #updateOnBackend(k: StepKernels, gradValues: StepValue[], gradScale: number): void {
    const backend = this.#vars.backend,
      dtype = this.model.head.dtype;
    const optimizer = this.#optimizer as RuleOptimizer;
    const layers = this.model.cell.layers.map((l) => l.parametersOn(backend));
    const head = this.model.head.parametersOn(backend);
    const params = [...layers.flatMap((l) => l.params), head.weight, head.bias];
    const grads = gradValues.map((g) => k.storage(g));
    if (this.#slots.length === 0) {
      const state = optimizer.exportState(backend.name);
      this.#slots = gradValues.map((g, i) =>
        Array.from({ length: optimizerSlots(optimizer.rule) }, (_, j) => {
          const host = state.slots[i]?.[j];
          return host
            ? backend.upload(dtype === 'float64' ? Float64Array.from(host) : Float32Array.from(host), g.shape, dtype)
            : backend.zeros(g.shape, dtype);
        }),
      );
      this.#updates = state.t;
    }
    backend.applyOptimizer!({ rule: optimizer.rule, step: this.#updates + 1, gradScale, dtype, params, grads, slots: this.#slots });
    this.#updates++;
    for (const l of layers) l.updated();
    head.updated();
  }

  /** The host fallback: the optimizer's host step on the gradients read back, the weights set again. */
  #updateOnHost(gradList: FloatArray[], gradScale: number): void {
    // the values read back or made on the host are this step's own: scaled in place
    if (gradScale !== 1) for (const g of gradList) for (let i = 0; i < g.length; i++) g[i] *= gradScale;
    const layers = this.model.cell.layers,
      head = this.model.head;
    const params = layers.map((l) => l.getWeights());
    const headWeight = head.weight,
      headBias = head.bias;
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

  /**
   * Reads the optimizer state kept on the backend back into the optimizer (so that it carries on elsewhere), and
   * the model's parameters: needed before `dispose()` only on backends that read asynchronously.
   */
  async sync(): Promise<void> {
    await this.model.sync();
    if (this.#slots.length === 0) return;
    const updates = this.#updates,
      backend = this.#vars.backend;
    const slots = await Promise.all(this.#slots.map((list) => Promise.all(list.map((s) => backend.read(s)))));
    if (this.#updates === updates) this.#synced = { updates, slots: slots.map((list) => list.map((a) => Float64Array.from(a))) };
  }

  /**
   * Frees the carried state and the optimizer state kept on the backend, after moving that state back into the
   * optimizer (on a backend that reads only asynchronously, `await trainer.sync()` first: dispose refuses rather
   * than lose it). The optimizer is then free for another trainer, and carries on from where this one stopped.
   */
  dispose(): void {
    if (this.#disposed) return;
    if (this.#busy)
      throw new RecurError('trainer', 'no trainChunk running (await it before dispose)', `chunk ${this.#chunk} still running`);
    const backend = this.#vars.backend,
      optimizer = this.#optimizer;
    if (this.#slots.length && optimizer instanceof RuleOptimizer) {
      let slots = this.#synced?.updates === this.#updates ? this.#synced.slots : null;
      if (!slots) {
        if (!backend.readSync) {
          throw new RecurError(
            'trainer',
            'its optimizer state read back first (await trainer.sync())',
            `state on backend ${JSON.stringify(backend.name)}, which reads asynchronously`,
          );
        }
        slots = this.#slots.map((list) => list.map((s) => Float64Array.from(backend.readSync!(s))));
      }
      optimizer.importState(this.#updates, slots);
    }
    for (const list of this.#slots) for (const s of list) backend.dispose(s);
    this.#slots = [];
    if (optimizer instanceof RuleOptimizer) optimizer.unclaim(this);
    this.#vars.dispose();
    this.#disposed = true;
  }
}
