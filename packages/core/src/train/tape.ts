import { BackendError, RecurError, ShapeError } from '../errors.js';
import type { Cell } from '../cells/multi.js';
import type { CellState, LayerState } from '../cells/state.js';
import { checkCell, runChunk } from '../chunk.js';
import { prepareDynamicRnn, type DynamicRnnOptions } from '../dynamic-rnn.js';
import { checkTensor, fromLayerStates, toLayerStates } from '../run.js';
import type { LayerSpec, RecurBackend, TapeStorage, TensorStorage, WeightsStorage } from '../spec.js';
import { Tensor } from '../tensor.js';
import type { TokenIds } from '../tokens.js';
import { bytesOf, reserve, type Allocation } from '../budget.js';
import { gateCount } from '../spec.js';

/** Weight gradients of one layer, in the public layout. */
export interface LayerGradients {
  readonly wIh: Tensor;
  readonly wHh: Tensor;
  readonly bIh: Tensor;
  readonly bHh: Tensor;
}

/** Gradients from `tape.backward`: of the inputs, the initial state and every layer's weights (yours to dispose). */
export interface RnnGradients {
  /** Gradient with respect to the inputs, in their layout; null when the inputs were token ids. */
  readonly dInputs: Tensor | null;
  /** Gradient with respect to the initial state, shaped like the cell's state. */
  readonly dInitialState: CellState;
  /** One entry per layer. */
  readonly dWeights: readonly LayerGradients[];
  /** Disposes every gradient tensor. */
  dispose(): void;
}

/** What `tape.backward` takes: the gradients of the loss with respect to the outputs and/or the final state. */
export interface BackwardOptions {
  /** Gradient of the loss with respect to the outputs (shape of the outputs), or omitted for zero. */
  dOutputs?: Tensor;
  /** Gradient with respect to the final state (shaped like the cell's state), or omitted for zero. */
  dFinalState?: CellState;
}

interface LayerTape {
  readonly spec: LayerSpec;
  readonly weights: WeightsStorage;
  /** The layer's `weightsVersion` at the forward: an optimizer kernel changes weights in place, under the same upload. */
  readonly version: number;
  readonly tape: TapeStorage;
}

/**
 * What a training forward kept, per layer, for one backward. Backward once, then dispose (or let backward's
 * caller dispose it); changing the weights in between is an error.
 * @see [docs/training.md (backward by hand)](../../../../docs/training.md)
 */
export class RnnTape {
  readonly #cell: Cell;
  readonly #backend: RecurBackend;
  readonly #layers: LayerTape[];
  readonly #time: number;
  readonly #batch: number;
  readonly #features: number;
  /** The forward ran on token ids: there is no input gradient. */
  readonly #tokens: boolean;
  readonly #seqLens: Int32Array | null;
  readonly #timeMajor: boolean;
  readonly #outputShape: readonly number[];
  #disposed = false;

  /** @internal */
  constructor(
    cell: Cell,
    backend: RecurBackend,
    layers: LayerTape[],
    time: number,
    batch: number,
    features: number,
    seqLens: Int32Array | null,
    timeMajor: boolean,
    outputShape: readonly number[],
    tokens = false,
  ) {
    this.#cell = cell;
    this.#backend = backend;
    this.#layers = layers;
    this.#time = time;
    this.#batch = batch;
    this.#features = features;
    this.#seqLens = seqLens;
    this.#timeMajor = timeMajor;
    this.#outputShape = outputShape;
    this.#tokens = tokens;
    for (const layer of cell.layers) layer.hold(); // its uploads must outlive any other holder until the backward
  }

  /**
   * What the backward will allocate, checked against the backend's budget first: every layer's weight and state
   * gradients (returned), and at the peak one layer's transients — its incoming output gradient, its input
   * gradient and its gate gradients [T*B, G*H] (the largest scratch a backward of ours needs) — then the
   * batch-major copy of the input gradient.
   */
  #reserve(): void {
    const T = this.#time,
      B = this.#batch,
      b = bytesOf(this.#cell.layers[0].dtype);
    const allocations: Allocation[] = [];
    let peak = 0,
      peakLayer = 0;
    this.#layers.forEach(({ spec }, l) => {
      const G = gateCount(spec.kind) * spec.units;
      allocations.push({
        bytes: (G * (spec.inputSize + spec.units + 2) + 2 * B * spec.units) * b,
        what: () => `the weight and state gradients of layer ${l}`,
      });
      const transient = T * B * (spec.units + spec.inputSize + G) * b;
      if (transient > peak) [peak, peakLayer] = [transient, l];
    });
    allocations.push({ bytes: peak, what: () => `layer ${peakLayer}'s output, input and gate gradients (${T} steps x batch ${B})` });
    if (!this.#timeMajor && !this.#tokens)
      allocations.push({ bytes: T * B * this.#features * b, what: () => `the batch-major input gradient (${T} steps x batch ${B})` });
    reserve(this.#backend, allocations, 'tape');
  }

  /** Back-propagates through the chunk: gradients for the inputs, the initial state and every weight. */
  backward(options: BackwardOptions = {}): RnnGradients {
    if (this.#disposed) throw new RecurError('tape', 'a live tape (one backward per forward)', 'a disposed tape');
    const backend = this.#backend,
      cell = this.#cell,
      T = this.#time,
      B = this.#batch;
    if (!backend.backward)
      throw new BackendError('tape', 'a backend with backward kernels', `backend ${JSON.stringify(backend.name)} without them`);
    this.#cell.layers.forEach((layer, l) => {
      if (layer.weightsOn(backend) !== this.#layers[l].weights || layer.weightsVersion !== this.#layers[l].version) {
        throw new RecurError(`cell.layers[${l}]`, 'the weights the forward ran with', 'weights changed since the forward');
      }
    });
    const dtype = cell.layers[0].dtype;
    let dOut: TensorStorage | null = null;
    if (options.dOutputs !== undefined) {
      const d = checkTensor(options.dOutputs, 'dOutputs', backend, dtype);
      if (d.shape.join() !== this.#outputShape.join())
        throw new ShapeError('dOutputs', `shape [${this.#outputShape.join(', ')}] (the outputs)`, `shape [${d.shape.join(', ')}]`);
      dOut = d.storage();
    }
    const dFinal = options.dFinalState === undefined ? null : toLayerStates(cell, options.dFinalState, B, backend, 'dFinalState');
    const H = cell.layers[cell.layers.length - 1].units;
    this.#reserve();
    let dy: TensorStorage | null = dOut !== null && !this.#timeMajor ? backend.transpose01(dOut, [B, T, H]) : dOut;
    const dInit: LayerState[] = [];
    const dWeights: LayerGradients[] = [];
    for (let l = this.#layers.length - 1; l >= 0; l--) {
      const { spec, weights, tape } = this.#layers[l];
      const r = backend.backward({
        layer: spec,
        weights,
        tape,
        time: T,
        batch: B,
        seqLens: this.#seqLens,
        dy,
        dhT: dFinal ? dFinal[l].h.storage() : null,
        dcT: dFinal && dFinal[l].c ? dFinal[l].c!.storage() : null,
      });
      if (dy !== null && dy !== dOut) backend.dispose(dy);
      dy = r.dx;
      const wrap = (s: TensorStorage, shape: number[]) => new Tensor(backend, s, shape, spec.dtype);
      const G = spec.kind === 'lstm' ? 4 : spec.kind === 'gru' ? 3 : 1;
      dWeights[l] = {
        wIh: wrap(r.dWeights.wIh, [G * spec.units, spec.inputSize]),
        wHh: wrap(r.dWeights.wHh, [G * spec.units, spec.units]),
        bIh: wrap(r.dWeights.bIh, [G * spec.units]),
        bHh: wrap(r.dWeights.bHh, [G * spec.units]),
      };
      dInit[l] = { h: wrap(r.dh0, [B, spec.units]), c: r.dc0 ? wrap(r.dc0, [B, spec.units]) : null };
    }
    this.dispose();
    const I = this.#features;
    let dInputs: Tensor | null = null;
    if (this.#tokens) {
      if (dy !== null) backend.dispose(dy); // the one-hot rows' gradient of a backend without token kernels
    } else {
      let dx: TensorStorage = dy;
      if (!this.#timeMajor) {
        dx = backend.transpose01(dy, [T, B, I]);
        backend.dispose(dy);
      }
      dInputs = new Tensor(backend, dx, this.#timeMajor ? [T, B, I] : [B, T, I], dtype);
    }
    const dInitialState = fromLayerStates(cell, dInit);
    return {
      dInputs,
      dInitialState,
      dWeights,
      dispose: () => {
        dInputs?.dispose();
        for (const s of dInit) {
          s.h.dispose();
          s.c?.dispose();
        }
        for (const w of dWeights) for (const t of [w.wIh, w.wHh, w.bIh, w.bHh]) t.dispose();
      },
    };
  }

  /** Frees what the forward kept (backward does it too). */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const l of this.#layers) this.#backend.disposeTape?.(l.tape);
    for (const layer of this.#cell.layers) layer.release(false);
  }
}

/** What `dynamicRnnWithTape` returns: `dynamicRnn`'s outputs and state, and the tape for `backward`. */
export interface TapeRunResult {
  readonly outputs: Tensor;
  readonly state: CellState;
  readonly tape: RnnTape;
}

/**
 * dynamicRnn that keeps a tape for `tape.backward(...)`. Same options and validation as dynamicRnn.
 * @see [docs/training.md (a tested loop)](../../../../docs/training.md)
 */
export function dynamicRnnWithTape(cell: Cell, inputs: Tensor | TokenIds, options?: DynamicRnnOptions): TapeRunResult {
  const target = checkCell(cell).layers[0].resolveBackend();
  if (!target.capabilities.training || !target.backward) {
    throw new BackendError(
      'cell',
      'a backend with backward kernels (capabilities.training)',
      `backend ${JSON.stringify(target.name)} without them`,
    );
  }
  const call = prepareDynamicRnn(cell, inputs, options);
  const backend = call.chunk.backend;
  const run = runChunk(cell, call.chunk, inputs, call.initial, true);
  const layers = cell.layers.map((layer, l) => ({
    spec: layer.spec(),
    weights: layer.weightsOn(backend),
    version: layer.weightsVersion,
    tape: run.tapes[l],
  }));
  const { time, batch, features, seqLens } = call.chunk;
  const tape = new RnnTape(
    cell,
    backend,
    layers,
    time,
    batch,
    features,
    seqLens,
    call.chunk.timeMajor,
    run.outputs.shape,
    call.chunk.tokens !== null,
  );
  return { outputs: run.outputs, state: run.state, tape };
}
