import { BackendError, RecurError, ShapeError, describe } from '../errors.js';
import { checkOptions, checkPositiveInt } from '../options.js';
import { copyLayerStates, toLayerStates } from '../run.js';
import type { CellState } from '../cells/state.js';
import type { FloatArray, LayerWeights } from '../spec.js';
import { StateVariables, checkRows, resetRows } from '../state-variables.js';
import { Tensor } from '../tensor.js';
import { TokenIds } from '../tokens.js';
import { checkTargets, meanSquaredError, softmaxCrossEntropy, type LossResult } from './losses.js';
import { RnnModel } from './model.js';
import { clipByGlobalNorm, globalNorm, type Optimizer } from './optimizers.js';
import { dynamicRnnWithTape } from './tape.js';

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
    const reset = opts.resetAfter === undefined ? null : checkRows(opts.resetAfter, this.batch, 'options.resetAfter');
    const chunk = this.#chunk;

    const run = dynamicRnnWithTape(this.model.cell, inputs, { initialState: this.#vars.state });
    const discard = () => {
      run.outputs.dispose();
      for (const s of toLayerStates(this.model.cell, run.state, B, backend, 'state')) {
        s.h.dispose();
        s.c?.dispose();
      }
      run.tape.dispose();
    };
    let result: LossResult, y: FloatArray;
    let dHead: ReturnType<typeof head.backward>;
    try {
      y = await run.outputs.data();
      const predictions = head.forward(y, rows, backend.hostGemm);
      result = classTargets ? softmaxCrossEntropy(predictions, classTargets, rows, head.outputSize) : meanSquaredError(predictions, targets);
      if (!Number.isFinite(result.loss)) throw new RecurError('loss', 'a finite loss', `${result.loss} at chunk ${chunk}`, 'weights and state were left unchanged');
      dHead = head.backward(y, result.dPredictions, rows, backend.hostGemm);
    } catch (error) {
      discard();
      throw error;
    }
    const dOutputs = new Tensor(backend, backend.upload(dHead.dx, run.outputs.shape, dtype), run.outputs.shape, dtype);
    let grads: ReturnType<typeof run.tape.backward>;
    try {
      grads = run.tape.backward({ dOutputs });
    } catch (error) {
      discard(); // a backward refused (over the memory budget, say) leaves nothing behind and changes nothing
      throw error;
    } finally {
      dOutputs.dispose();
    }
    const layerGrads: LayerWeights[] = [];
    for (const g of grads.dWeights) layerGrads.push({ wIh: await g.wIh.data(), wHh: await g.wHh.data(), bIh: await g.bIh.data(), bHh: await g.bHh.data() });
    grads.dispose();
    const gradList = [...layerGrads.flatMap((g) => [g.wIh, g.wHh, g.bIh, g.bHh]), dHead.dWeight, dHead.dBias];
    const norm = globalNorm(gradList);
    if (!Number.isFinite(norm)) {
      discard();
      throw new RecurError('gradients', 'finite gradients', `norm ${norm} at chunk ${chunk}`, 'weights and state were left unchanged');
    }
    if (this.#clipNorm !== undefined) clipByGlobalNorm(gradList, this.#clipNorm);
    const layers = this.model.cell.layers;
    const params = layers.map((l) => l.getWeights());
    this.#optimizer.step([...params.flatMap((p) => [p.wIh, p.wHh, p.bIh, p.bHh]), head.weight, head.bias], gradList);
    layers.forEach((l, i) => l.setWeights(params[i]));
    run.outputs.dispose();
    this.#vars.assign(toLayerStates(this.model.cell, run.state, B, backend, 'state')); // detached: the next chunk starts a new tape
    if (reset && reset.length) resetRows(this.#vars, reset);
    this.#chunk++;
    return { chunk, loss: result.loss, gradNorm: norm };
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

  dispose(): void {
    this.#vars.dispose();
  }
}
