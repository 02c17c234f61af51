import { getConfig } from './config.js';
import { BackendError, NonFiniteError, RecurError, ShapeError, describe } from './errors.js';
import type { Cell } from './cells/multi.js';
import { LSTMStateTuple, type CellState, type LayerState, type LayerStateValue } from './cells/state.js';
import type { LayerCell } from './cells/layer-cell.js';
import type { RecurBackend, TapeStorage, TensorStorage } from './spec.js';
import { Tensor } from './tensor.js';

/** The backend a cell runs on, checked to support every layer's kind. */
export function cellBackend(cell: Cell): RecurBackend {
  const layers = cell.layers;
  const backend = layers[0].resolveBackend();
  for (const layer of layers) {
    const own = layer.resolveBackend(backend);
    if (own !== backend) {
      throw new BackendError(
        'cell',
        `every layer on one backend (${JSON.stringify(backend.name)}, the first layer's)`,
        `${layer.name} on ${JSON.stringify(own.name)}`,
      );
    }
    if (!backend.capabilities.cells.includes(layer.kind)) {
      throw new BackendError(
        'cell',
        `a cell kind backend ${JSON.stringify(backend.name)} runs (${backend.capabilities.cells.join(', ')})`,
        layer.kind,
      );
    }
  }
  return backend;
}

/** Checks that `t` is a live tensor of `backend` with the cell's dtype. */
export function checkTensor(t: unknown, argument: string, backend: RecurBackend, dtype: string): Tensor {
  if (!(t instanceof Tensor)) throw new RecurError(argument, 'a Tensor', describe(t));
  t.storage(argument);
  if (t.backend !== backend) {
    throw new BackendError(
      argument,
      `a tensor on backend ${JSON.stringify(backend.name)}`,
      `a tensor on backend ${JSON.stringify(t.backend.name)}`,
      'tensors of different backends never mix',
    );
  }
  if (t.dtype !== dtype) throw new RecurError(argument, `dtype ${dtype}`, `dtype ${t.dtype}`);
  return t;
}

function checkStateTensor(t: unknown, argument: string, backend: RecurBackend, layer: LayerCell, batch: number): Tensor {
  const tensor = checkTensor(t, argument, backend, layer.dtype);
  if (tensor.shape.length !== 2 || tensor.shape[0] !== batch || tensor.shape[1] !== layer.units) {
    throw new ShapeError(argument, `shape [${batch}, ${layer.units}]`, `shape [${tensor.shape.join(', ')}]`);
  }
  return tensor;
}

/** Validates a state against a cell's structure and a batch size; returns it per layer. */
export function toLayerStates(cell: Cell, state: unknown, batch: number, backend: RecurBackend, argument: string): LayerState[] {
  const layers = cell.layers;
  const isStack = !(layers.length === 1 && layers[0] === cell);
  let values: unknown[];
  if (isStack) {
    if (!Array.isArray(state)) throw new ShapeError(argument, `an array of ${layers.length} layer states`, describe(state));
    if (state.length !== layers.length)
      throw new ShapeError(argument, `${layers.length} layer states (one per layer)`, `${state.length} layer states`);
    values = state;
  } else {
    values = [state];
  }
  return layers.map((layer, l) => {
    const value = values[l] as Record<string, unknown> | undefined;
    const name = isStack ? `${argument}[${l}]` : argument;
    if (layer.kind === 'lstm') {
      if (!value || typeof value !== 'object' || !('c' in value) || !('h' in value)) {
        throw new ShapeError(name, 'an LSTMStateTuple {c, h}', describe(value));
      }
      return {
        c: checkStateTensor(value.c, `${name}.c`, backend, layer, batch),
        h: checkStateTensor(value.h, `${name}.h`, backend, layer, batch),
      };
    }
    return { h: checkStateTensor(value, name, backend, layer, batch), c: null };
  });
}

/** The cell-shaped state (LSTMStateTuple / tensor / per-layer array) for per-layer states. */
export function fromLayerStates(cell: Cell, states: readonly LayerState[]): CellState {
  const values: LayerStateValue[] = states.map((s) => (s.c ? new LSTMStateTuple(s.c, s.h) : s.h));
  return cell.layers.length === 1 && cell.layers[0] === cell ? values[0] : values;
}

/**
 * Where a tensor the backend found non-finite is so: the first such value, its index (named by `axes` when given),
 * and how many there are. Read only on this error path; a backend that reads only asynchronously cannot say.
 */
export function describeNonFinite(backend: RecurBackend, x: Tensor, argument: string, axes?: readonly string[]): string {
  if (!backend.readSync || !backend.capabilities.syncRead)
    return 'NaN or Infinity (this backend reads asynchronously: the position is not shown)';
  const values = backend.readSync(x.storage(argument));
  let first = -1,
    count = 0;
  for (let i = 0; i < values.length; i++) {
    if (Number.isFinite(values[i])) continue;
    if (first < 0) first = i;
    count++;
  }
  if (first < 0) return 'NaN or Infinity';
  const index: number[] = [];
  for (let a = x.shape.length - 1, rest = first; a >= 0; a--) {
    index.unshift(rest % x.shape[a]);
    rest = Math.floor(rest / x.shape[a]);
  }
  const named = axes && axes.length === index.length ? ` (${index.map((n, a) => `${axes[a]} ${n}`).join(', ')})` : '';
  return `${String(values[first])} at [${index.join(', ')}]${named}${count > 1 ? `; ${count} non-finite values in all` : ''}`;
}

/** The opt-in finite check of an input; `axes` names its dimensions for the error ("batch row", "time step", …). */
export function checkFiniteInput(
  backend: RecurBackend,
  x: Tensor,
  argument: string,
  enabled: boolean | undefined,
  axes?: readonly string[],
): void {
  if (enabled !== undefined && typeof enabled !== 'boolean') throw new RecurError('options.checkFinite', 'a boolean', describe(enabled));
  if (!(enabled ?? getConfig().checkFinite)) return;
  if (!backend.allFinite(x.storage(argument))) {
    throw new NonFiniteError(argument, 'finite values (the finite check is on)', describeNonFinite(backend, x, argument, axes));
  }
}

export interface LayerRun {
  /** Top layer outputs, time-major [T, B, H_last]. */
  readonly y: TensorStorage;
  readonly states: LayerState[];
  /** Per layer, when run with keepTape. */
  readonly tapes: TapeStorage[];
}

/**
 * Runs every layer over a validated time-major chunk, through the backend's per-layer chunk kernel. Wraps the
 * outgoing states as new tensors; frees the intermediate layers' outputs.
 */
export function runLayers(
  cell: Cell,
  backend: RecurBackend,
  x: TensorStorage | null,
  time: number,
  batch: number,
  initial: readonly LayerState[],
  seqLens: Int32Array | null,
  keepTape = false,
  tokens: Int32Array | null = null,
): LayerRun {
  let input = x;
  const states: LayerState[] = [];
  const tapes: TapeStorage[] = [];
  try {
    cell.layers.forEach((layer, l) => {
      const spec = layer.spec();
      const result = backend.forward({
        layer: spec,
        weights: layer.weightsOn(backend),
        x: input,
        tokens: l === 0 ? tokens : null,
        h0: initial[l].h.storage(),
        c0: initial[l].c ? initial[l].c!.storage() : null,
        time,
        batch,
        seqLens,
        keepTape,
      });
      if (input !== x && input !== null) backend.dispose(input);
      input = result.y;
      if (keepTape) tapes.push(result.tape);
      const shape = [batch, spec.units];
      states.push({
        h: new Tensor(backend, result.hT, shape, spec.dtype),
        c: result.cT === null ? null : new Tensor(backend, result.cT, shape, spec.dtype),
      });
    });
  } catch (error) {
    // a kernel that failed part-way (a backend out of memory) leaves nothing of this call behind
    if (input !== x && input !== null) backend.dispose(input);
    for (const s of states) {
      s.h.dispose();
      s.c?.dispose();
    }
    for (const tape of tapes) backend.disposeTape?.(tape);
    throw error;
  }
  return { y: input!, states, tapes };
}

/**
 * Copies of a cell-shaped tensor state, per layer (validated as `toLayerStates` does): for holders that keep a
 * state while the caller keeps its tensors. Non-finite values are refused unless allowed.
 */
export function copyLayerStates(
  cell: Cell,
  state: unknown,
  batch: number,
  backend: RecurBackend,
  argument: string,
  allowNonFinite: boolean,
): LayerState[] {
  const tensors = toLayerStates(cell, state, batch, backend, argument);
  if (!allowNonFinite) {
    tensors.forEach((s, l) => {
      for (const [part, t] of [
        ['h', s.h],
        ['c', s.c],
      ] as const) {
        if (t && !backend.allFinite(t.storage())) {
          throw new RecurError(
            `${argument}[${l}].${part}`,
            'finite values',
            describeNonFinite(backend, t, `${argument}[${l}].${part}`, ['batch row', 'unit']),
            'pass allowNonFinite: true to accept them',
          );
        }
      }
    });
  }
  const copy = (t: Tensor) =>
    new Tensor(
      t.backend,
      t.backend.gatherRows(
        t.storage(),
        t.shape,
        Int32Array.from({ length: t.shape[0] }, (_, i) => i),
      ),
      t.shape,
      t.dtype,
    );
  return tensors.map((s) => ({ h: copy(s.h), c: s.c ? copy(s.c) : null }));
}
