import { RecurError, ShapeError, describe } from './errors.js';
import type { Cell } from './cells/multi.js';
import type { CellState, LayerState } from './cells/state.js';
import { checkCell, stateAllocations, zeroLayerState } from './chunk.js';
import { checkPositiveInt } from './options.js';
import { cellBackend, fromLayerStates, toLayerStates } from './run.js';
import type { RecurBackend } from './spec.js';
import { Tensor } from './tensor.js';
import { reserve } from './budget.js';

let variablesCounter = 0;

/**
 * State variables for a cell and a fixed batch (TF1's recipe: variables built from `zero_state`, an assign op
 * per LSTMStateTuple, a reset op). They own their tensors: `state` is readable and can be fed to `dynamicRnn`,
 * but only the variables free it, when the state is replaced or on `dispose()`.
 * @see [the TF1 recipe in docs/stateful.md](../../../docs/stateful.md#the-tf1-recipe-line-by-line)
 */
export class StateVariables {
  readonly cell: Cell;
  readonly backend: RecurBackend;
  readonly label: string;
  #batch: number;
  #layers: LayerState[];
  #disposed = false;

  /** @internal Use `getStateVariables`. */
  constructor(cell: Cell, batch: number, label = `state variables #${++variablesCounter}`) {
    this.cell = cell;
    this.backend = cellBackend(cell);
    this.label = label;
    this.#batch = batch;
    reserve(this.backend, stateAllocations(cell, batch), 'batch');
    this.#layers = cell.layers.map((layer) => zeroLayerState(this.backend, layer, batch));
    this.#claimAll(this.#layers);
  }

  /** Rows of the state. */
  get batch(): number {
    return this.#batch;
  }

  /** The current state, shaped like the cell's state. Owned by these variables: do not dispose it. */
  get state(): CellState {
    return fromLayerStates(this.cell, this.layerStates());
  }

  /** @internal */
  layerStates(): LayerState[] {
    if (this.#disposed) throw new RecurError('vars', 'live state variables', `disposed ${this.label}`);
    return this.#layers;
  }

  /** @internal Replaces the state (new tensors are taken over; the old ones are freed). */
  assign(layers: LayerState[], batch = this.#batch): void {
    const old = this.layerStates();
    this.#claimAll(layers);
    // runs once per streamed step: plain loops, no temporary sets or arrays
    const kept = (t: Tensor) => layers.some((s) => s.h === t || s.c === t);
    for (const s of old) {
      if (!kept(s.h)) Tensor.releaseOwned(s.h, this);
      if (s.c && !kept(s.c)) Tensor.releaseOwned(s.c, this);
    }
    this.#layers = layers;
    this.#batch = batch;
  }

  /** @internal Checks that `layers` can be taken over: distinct tensors owned by nobody else. */
  checkTakeable(layers: readonly LayerState[], argument: string): void {
    const seen = new Set<Tensor>();
    layers.forEach((s, l) => {
      for (const [part, t] of s.c
        ? ([
            ['h', s.h],
            ['c', s.c],
          ] as const)
        : ([['h', s.h]] as const)) {
        const other = Tensor.otherOwner(t, this);
        if (other)
          throw new RecurError(`${argument}[${l}].${part}`, 'a tensor not owned by other state variables', `a tensor owned by ${other}`);
        if (seen.has(t))
          throw new RecurError(`${argument}[${l}].${part}`, 'distinct tensors for every layer and part', 'a tensor used twice');
        seen.add(t);
      }
    });
  }

  #claimAll(layers: readonly LayerState[]): void {
    for (const s of layers) {
      Tensor.claim(s.h, this, this.label);
      if (s.c) Tensor.claim(s.c, this, this.label);
    }
  }

  /** Frees the state. */
  dispose(): void {
    if (this.#disposed) return;
    for (const s of this.#layers) {
      Tensor.releaseOwned(s.h, this);
      if (s.c) Tensor.releaseOwned(s.c, this);
    }
    this.#disposed = true;
  }
}

/**
 * TF1's `get_state_variables(batch_size, cell)`: zero-initialised variables holding the cell's state.
 * @see [the TF1 recipe in docs/stateful.md](../../../docs/stateful.md#the-tf1-recipe-line-by-line)
 */
export function getStateVariables(batch: number, cell: Cell): StateVariables {
  checkPositiveInt(batch, 'batch');
  checkCell(cell);
  return new StateVariables(cell, batch);
}

function checkVariables(vars: unknown): StateVariables {
  if (!(vars instanceof StateVariables)) throw new RecurError('vars', 'StateVariables from getStateVariables', describe(vars));
  vars.layerStates();
  return vars;
}

/**
 * TF1's `get_state_update_op`: the variables take over `newStates` (e.g. the final state of `dynamicRnn`),
 * freeing the previous state. Eager: it happens now. The tensors belong to the variables afterwards.
 * @see [the TF1 recipe in docs/stateful.md](../../../docs/stateful.md#the-tf1-recipe-line-by-line)
 */
export function getStateUpdateOp(vars: StateVariables, newStates: CellState): void {
  checkVariables(vars);
  const layers = toLayerStates(vars.cell, newStates, vars.batch, vars.backend, 'newStates');
  vars.checkTakeable(layers, 'newStates');
  vars.assign(layers);
}

/** Validates row indices: integers in [0, batch), no duplicates. */
export function checkRows(rows: unknown, batch: number, argument = 'rows'): Int32Array {
  const v = rows as ArrayLike<unknown>;
  if (!v || typeof v !== 'object' || typeof v.length !== 'number')
    throw new RecurError(argument, 'an array of row indices', describe(rows));
  const out = new Int32Array(v.length);
  const seen = new Set<number>();
  for (let i = 0; i < v.length; i++) {
    const r = v[i];
    if (!Number.isInteger(r) || (r as number) < 0 || (r as number) >= batch) {
      throw new RecurError(`${argument}[${i}]`, `a row index in [0, ${batch})`, describe(r));
    }
    if (seen.has(r as number)) throw new RecurError(`${argument}[${i}]`, 'row indices without duplicates', `${describe(r)} again`);
    seen.add(r as number);
    out[i] = r as number;
  }
  return out;
}

/** Zeroes the given rows (all rows if omitted) of every layer's state, as new owned tensors. */
export function resetRows(vars: StateVariables, rows: Int32Array | null): void {
  const backend = vars.backend;
  const layers = vars.layerStates().map((s) => {
    const zero = (t: Tensor) =>
      new Tensor(backend, rows ? backend.zeroRows(t.storage(), t.shape, rows) : backend.zeros(t.shape, t.dtype), t.shape, t.dtype);
    return { h: zero(s.h), c: s.c ? zero(s.c) : null };
  });
  vars.assign(layers);
}

/**
 * TF1's `get_state_reset_op(state_variables, cell, batch_size)`, plus chosen rows only. Eager.
 * @see [the TF1 recipe in docs/stateful.md](../../../docs/stateful.md#the-tf1-recipe-line-by-line)
 */
export function getStateResetOp(vars: StateVariables, cell: Cell, batch: number, rows?: ArrayLike<number>): void {
  checkVariables(vars);
  checkCell(cell);
  if (cell !== vars.cell) throw new RecurError('cell', 'the cell the state variables were made for', 'another cell');
  checkPositiveInt(batch, 'batch');
  if (batch !== vars.batch) throw new ShapeError('batch', `the batch of the state variables (${vars.batch})`, String(batch));
  resetRows(vars, rows === undefined ? null : checkRows(rows, vars.batch));
}
