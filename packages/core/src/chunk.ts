import { RecurError, ShapeError, describe } from './errors.js';
import { isCell } from './cells/brand.js';
import type { Cell } from './cells/multi.js';
import type { CellState, LayerState } from './cells/state.js';
import type { LayerCell } from './cells/layer-cell.js';
import { cellBackend, checkFiniteInput, checkTensor, fromLayerStates, runLayers, toLayerStates } from './run.js';
import type { RecurBackend, TapeStorage, TensorStorage } from './spec.js';
import { Tensor } from './tensor.js';
import { TokenIds, idsOf, oneHot, timeMajorIds } from './tokens.js';
import { bytesOf, budgetOf, checkAllocations, type Allocation } from './budget.js';

/**
 * The one way into running a cell: `prepareChunk` validates a call and everything it carries (cell, inputs,
 * lengths, initial state, finite check, the first layer's input size) before anything runs or changes, and
 * `runChunk` checks what it will allocate against the backend's budget and runs it. dynamicRnn, StatefulRNN.run,
 * cell.step and training tapes all go through them.
 */

export function checkCell(cell: unknown, argument = 'cell'): Cell {
  if (!isCell(cell)) throw new RecurError(argument, 'an LSTMCell, GRUCell, BasicRNNCell or MultiRNNCell', describe(cell));
  return cell;
}

export interface ChunkInfo {
  readonly backend: RecurBackend;
  /** The name of the chunk argument, for errors ('inputs', 'chunk', 'input'). */
  readonly argument: string;
  readonly time: number;
  readonly batch: number;
  readonly features: number;
  readonly seqLens: Int32Array | null;
  /** Inputs are [T, B, I] (or, for a step, [B, I]). */
  readonly timeMajor: boolean;
  /** cell.step: inputs [B, I], outputs [B, H]. */
  readonly step: boolean;
  /** Token-id inputs, time-major [T, B] (features = the vocabulary), or null for a tensor. */
  readonly tokens: Int32Array | null;
}

export interface ChunkRequest {
  /** The inputs' argument name in errors. */
  readonly argument: string;
  readonly timeMajor?: boolean;
  /** One step: inputs [B, I] (cell.step). */
  readonly step?: boolean;
  readonly sequenceLength?: unknown;
  /** The per-call finite check (undefined: the object's or the global default). */
  readonly checkFinite?: unknown;
  /** A caller's initial state, validated here; or `trusted`, layer states the caller already owns (a StatefulRNN's). */
  readonly initialState?: { readonly value: unknown; readonly argument: string } | { readonly trusted: readonly LayerState[] };
  /** The batch the call must have (a StatefulRNN's streams), and how to say it. */
  readonly batch?: { readonly size: number; readonly expected: () => string };
}

export interface PreparedCall {
  readonly chunk: ChunkInfo;
  readonly initial: readonly LayerState[] | null;
}

/** Validates a call (everything, before any kernel runs) and builds a first layer whose input size was unknown. */
export function prepareChunk(cell: Cell, inputs: unknown, request: ChunkRequest): PreparedCall {
  checkCell(cell);
  const { argument } = request;
  const timeMajor = request.timeMajor ?? false;
  if (typeof timeMajor !== 'boolean') throw new RecurError('options.timeMajor', 'a boolean', describe(timeMajor));
  const backend = cellBackend(cell);
  const tokens = inputs instanceof TokenIds ? inputs : null;
  const x = tokens ? null : checkTensor(inputs, argument, backend, cell.layers[0].dtype);
  const shape = tokens ? tokens.shape : x!.shape;
  const step = request.step === true;
  // token ids have no feature axis: [B, T] / [T, B] / [B] for a step; the vocabulary stands for the features
  const rank = (step ? 2 : 3) - (tokens ? 1 : 0);
  const layout = tokens
    ? step
      ? '[batch] token ids'
      : timeMajor
        ? '[time, batch] token ids'
        : '[batch, time] token ids'
    : step
      ? '[batch, features]'
      : timeMajor
        ? '[time, batch, features]'
        : '[batch, time, features]';
  if (shape.length !== rank) throw new ShapeError(argument, `rank ${rank} ${layout}`, `rank ${shape.length} [${shape.join(', ')}]`);
  const [time, batch] = step ? [1, shape[0]] : timeMajor ? [shape[0], shape[1]] : [shape[1], shape[0]];
  const features = tokens ? tokens.vocabulary : shape[rank - 1];
  const first = cell.layers[0];
  if (first.inputSize !== undefined && first.inputSize !== features) {
    throw new ShapeError(
      argument,
      `${tokens ? 'a vocabulary of' : 'feature size'} ${first.inputSize} (the input size of ${first.name})`,
      `${tokens ? 'a vocabulary of' : 'feature size'} ${features}`,
    );
  }
  if (request.batch && batch !== request.batch.size) throw new ShapeError(argument, request.batch.expected(), `batch ${batch}`);
  const ids =
    tokens === null ? null : timeMajor || step || time === 1 || batch === 1 ? idsOf(tokens) : timeMajorIds(idsOf(tokens), batch, time);
  const chunk: ChunkInfo = {
    backend,
    argument,
    time,
    batch,
    features,
    seqLens: checkSequenceLength(request.sequenceLength, batch, time),
    timeMajor,
    step,
    tokens: ids,
  };
  const init = request.initialState;
  const initial =
    init === undefined ? null : 'trusted' in init ? init.trusted : toLayerStates(cell, init.value, batch, backend, init.argument);
  const axes = step ? ['batch row', 'feature'] : timeMajor ? ['time step', 'batch row', 'feature'] : ['batch row', 'time step', 'feature'];
  if (x) checkFiniteInput(backend, x, argument, request.checkFinite as boolean | undefined, axes);
  first.build(features, argument); // weights of a first layer whose input size was unknown
  return { chunk, initial };
}

function checkSequenceLength(value: unknown, batch: number, time: number): Int32Array | null {
  if (value === undefined || value === null) return null;
  const v = value as ArrayLike<unknown>;
  if (typeof v !== 'object' || typeof v.length !== 'number')
    throw new RecurError('sequenceLength', `an array of ${batch} integers`, describe(value));
  if (v.length !== batch) throw new ShapeError('sequenceLength', `${batch} entries (one per batch row)`, `${v.length} entries`);
  const lens = new Int32Array(batch);
  for (let b = 0; b < batch; b++) {
    const n = v[b];
    if (!Number.isInteger(n) || (n as number) < 0 || (n as number) > time) {
      throw new RecurError(`sequenceLength[${b}]`, `an integer in [0, ${time}]`, describe(n));
    }
    lens[b] = n as number;
  }
  return lens;
}
/**
 * Runs a validated chunk; zero initial state if `initial` is null. Token ids go to the first layer as they are on
 * a backend with token kernels, and as uploaded one-hot rows on any other.
 */
export function runChunk(
  cell: Cell,
  chunk: ChunkInfo,
  inputs: Tensor | TokenIds,
  initial: readonly LayerState[] | null,
  keepTape = false,
): { outputs: Tensor; state: CellState; layerStates: LayerState[]; tapes: TapeStorage[] } {
  const { backend, time, batch, timeMajor } = chunk;
  const dtype = cell.layers[0].dtype;
  const units = cell.layers[cell.layers.length - 1].units;
  // [B, T, F] and [T, B, F] are the same bytes when T or B is 1 (every streamed step): no transpose then
  const sameLayout = timeMajor || time === 1 || batch === 1;
  reserveChunk(cell, chunk, sameLayout, initial === null, keepTape);
  const zeros = initial ? null : cell.layers.map((layer) => zeroLayerState(backend, layer, batch));
  const given = inputs instanceof Tensor ? inputs.storage() : null;
  const tokenKernels = chunk.tokens !== null && backend.capabilities.tokens === true;
  let x: TensorStorage | null = null;
  try {
    if (chunk.tokens !== null) {
      if (!tokenKernels) x = backend.upload(oneHot(chunk.tokens, chunk.features, dtype), [time * batch, chunk.features], dtype);
    } else {
      x = sameLayout ? given : backend.transpose01(given, [batch, time, chunk.features]);
      if (keepTape && chunk.seqLens) x = zeroPadding(backend, x, x !== given, chunk);
    }
    const run = runLayers(cell, backend, x, time, batch, initial ?? zeros!, chunk.seqLens, keepTape, tokenKernels ? chunk.tokens : null);
    let y = run.y;
    if (!sameLayout) {
      y = backend.transpose01(run.y, [time, batch, units]);
      backend.dispose(run.y);
    }
    const shape = chunk.step ? [batch, units] : timeMajor ? [time, batch, units] : [batch, time, units];
    return {
      outputs: new Tensor(backend, y, shape, dtype),
      state: fromLayerStates(cell, run.states),
      layerStates: run.states,
      tapes: run.tapes,
    };
  } finally {
    if (x !== null && x !== given) backend.dispose(x);
    for (const z of zeros ?? []) {
      z.h.dispose();
      z.c?.dispose();
    }
  }
}

type PlannedPart = 'input copy' | 'outputs' | 'state' | 'largest scratch' | 'other scratch' | 'output copy';

interface ChunkPlan {
  /** The largest single buffer and all buffers together. */
  largest: number;
  total: number;
  /** Bytes of intermediate outputs that are never alive at once (see below). */
  notAtOnce: number;
}

/**
 * Everything a chunk will allocate, part by part: the time-major copy of the input (and its padding-free copy for
 * training with lengths), zero initial states, each layer's outputs and states, the backend's scratch and tapes,
 * the batch-major copy of the outputs. Numbers only on every streamed step; `describe` is given only to say what
 * a refused chunk needed.
 */
function planChunk(
  cell: Cell,
  chunk: ChunkInfo,
  sameLayout: boolean,
  zeroInitial: boolean,
  keepTape: boolean,
  describe?: (bytes: number, part: PlannedPart, layer: number) => void,
): ChunkPlan {
  const { backend, time, batch } = chunk;
  const b = bytesOf(cell.layers[0].dtype);
  const plan: ChunkPlan = { largest: 0, total: 0, notAtOnce: 0 };
  const add = (bytes: number, part: PlannedPart, layer: number) => {
    if (bytes > plan.largest) plan.largest = bytes;
    plan.total += bytes;
    describe?.(bytes, part, layer);
  };
  const input = time * batch * chunk.features * b;
  if (chunk.tokens !== null) {
    if (backend.capabilities.tokens !== true) add(input, 'input copy', -1); // the one-hot rows
  } else {
    if (!sameLayout) add(input, 'input copy', -1);
    if (keepTape && chunk.seqLens) add(input, 'input copy', -1);
  }
  let last = 0,
    pair = 0,
    sum = 0;
  const layers = cell.layers;
  for (let l = 0; l < layers.length; l++) {
    const spec = layers[l].spec();
    const y = time * batch * spec.units * b,
      state = batch * spec.units * b;
    add(y, 'outputs', l);
    const states = (spec.kind === 'lstm' ? 2 : 1) * (zeroInitial ? 2 : 1);
    for (let k = 0; k < states; k++) add(state, 'state', l);
    const scratch = backend.forwardScratch?.(spec, time, batch, keepTape);
    if (scratch) {
      if (scratch.largestBytes > 0) add(scratch.largestBytes, 'largest scratch', l);
      const rest = scratch.transientBytes + scratch.keptBytes - scratch.largestBytes;
      if (rest > 0) add(rest, 'other scratch', l);
    }
    pair = Math.max(pair, last + y);
    last = y;
    sum += y;
  }
  if (!sameLayout) add(last, 'output copy', layers.length - 1);
  // a layer's input is freed once the next layer has run: at most two layers' outputs are alive at once
  plan.notAtOnce = sum - pair;
  return plan;
}

/** Refuses a chunk whose allocations would exceed the backend's budget, before anything runs; names what it needed. */
function reserveChunk(cell: Cell, chunk: ChunkInfo, sameLayout: boolean, zeroInitial: boolean, keepTape: boolean): void {
  const { backend } = chunk;
  const budget = budgetOf(backend);
  const plan = planChunk(cell, chunk, sameLayout, zeroInitial, keepTape);
  const live = backend.memory().numBytes;
  if (plan.largest <= budget.maxAllocationBytes && live + plan.total <= budget.maxTotalBytes + plan.notAtOnce) return;
  // refused: say what for (only now are the descriptions made)
  const steps = `${chunk.time} steps x batch ${chunk.batch}`;
  const allocations: Allocation[] = [];
  planChunk(cell, chunk, sameLayout, zeroInitial, keepTape, (bytes, part, l) => {
    const layer = cell.layers[l];
    const what =
      part === 'input copy'
        ? `a time-major copy of the chunk (${steps})`
        : part === 'output copy'
          ? `the batch-major copy of the outputs (${steps})`
          : part === 'outputs'
            ? `${layer.name}'s outputs (${steps} x ${layer.units} units)`
            : part === 'state'
              ? `${layer.name}'s [${chunk.batch}, ${layer.units}] state`
              : part === 'largest scratch'
                ? `${layer.name}'s largest kernel buffer (${steps})`
                : `${layer.name}'s other kernel scratch${keepTape ? ' and tape' : ''}`;
    allocations.push({ bytes, what });
  });
  checkAllocations(
    { maxAllocationBytes: budget.maxAllocationBytes, maxTotalBytes: budget.maxTotalBytes + plan.notAtOnce },
    live,
    allocations,
    chunk.argument,
    `backend ${JSON.stringify(backend.name)}`,
  );
}

/**
 * Training with lengths: the inputs past each row's length are padding and may hold anything (NaN, say). The
 * forward ignores them, but a backward sums weight gradients over every (t, b) row, and 0 x NaN is NaN: so the
 * tape gets a copy of the time-major chunk with those rows zeroed.
 */
function zeroPadding(backend: RecurBackend, x: TensorStorage, owned: boolean, chunk: ChunkInfo): TensorStorage {
  const { time, batch, seqLens } = chunk;
  const rows: number[] = [];
  for (let t = 0; t < time; t++) for (let b = 0; b < batch; b++) if (t >= seqLens![b]) rows.push(t * batch + b);
  if (rows.length === 0) return x;
  const clean = backend.zeroRows(x, [time * batch, chunk.features], Int32Array.from(rows));
  if (owned) backend.dispose(x);
  return clean;
}

/** The state tensors of a cell for a batch, as planned allocations. */
export function stateAllocations(cell: Cell, batch: number): Allocation[] {
  return cell.layers.flatMap((layer) => {
    const a = { bytes: batch * layer.units * bytesOf(layer.dtype), what: () => `${layer.name}'s [${batch}, ${layer.units}] state` };
    return layer.kind === 'lstm' ? [a, a] : [a];
  });
}

export function zeroLayerState(backend: RecurBackend, layer: LayerCell, batch: number): LayerState {
  const shape = [batch, layer.units];
  const zero = () => new Tensor(backend, backend.zeros(shape, layer.dtype), shape, layer.dtype);
  return { h: zero(), c: layer.kind === 'lstm' ? zero() : null };
}

/** What a step returns: the output [B, H] and the new state (both yours). */
export interface StepResult {
  readonly output: Tensor;
  readonly state: CellState;
}

/** One step of a cell or stack: input [B, I] (or token ids [B]) and the state (not consumed). */
export function stepCell(cell: Cell, input: Tensor | TokenIds, state: CellState): StepResult {
  const call = prepareChunk(cell, input, { argument: 'input', step: true, initialState: { value: state, argument: 'state' } });
  const { outputs, state: next } = runChunk(cell, call.chunk, input, call.initial);
  return { output: outputs, state: next };
}
