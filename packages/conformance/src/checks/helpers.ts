import {
  BasicRNNCell,
  GRUCell,
  LSTMCell,
  LSTMStateTuple,
  MultiRNNCell,
  seededRandom,
  tensor,
  type Cell,
  type CellState,
  type DType,
  type LayerCell,
  type Tensor,
} from '@recur/core';
import type { GoldenCase, GoldenLayer } from '../fixtures.js';

/** Disposes what a check made, whatever happens in it. */
export class Scope {
  readonly #items: { dispose(): void }[] = [];

  add<T extends { dispose(): void }>(item: T): T {
    this.#items.push(item);
    return item;
  }

  /** Adds every tensor of a state. */
  state<T extends CellState>(state: T): T {
    for (const v of Array.isArray(state) ? state : [state]) this.add(v as { dispose(): void });
    return state;
  }

  dispose(): void {
    for (const item of this.#items.reverse()) item.dispose();
  }
}

export async function scoped<T>(fn: (scope: Scope) => T | Promise<T>): Promise<T> {
  const scope = new Scope();
  try {
    return await fn(scope);
  } finally {
    scope.dispose();
  }
}

export interface CellConfig {
  readonly kind: 'lstm' | 'gru' | 'rnn';
  readonly sizes: readonly number[];
  readonly activation?: 'tanh' | 'relu';
  readonly resetAfter?: boolean;
}

/** Builds a cell (one layer) or a MultiRNNCell (several) bound to a backend. */
export function makeCell(config: CellConfig, backend: string, dtype: DType = 'float32', seed = 7): Cell {
  const layers: LayerCell[] = config.sizes.slice(1).map((units, l) => {
    const common = { backend, dtype, inputSize: config.sizes[l], seed: seed + l };
    if (config.kind === 'lstm') return new LSTMCell(units, common);
    if (config.kind === 'gru') return new GRUCell(units, { ...common, resetAfter: config.resetAfter ?? true });
    return new BasicRNNCell(units, { ...common, activation: config.activation ?? 'tanh' });
  });
  return layers.length === 1 ? layers[0] : new MultiRNNCell(layers);
}

export function disposeCell(cell: Cell): { dispose(): void } {
  return { dispose: () => cell.dispose() };
}

/** A float32 cell of a configuration on the check's backend, disposed with the scope. */
export function cellIn(scope: Scope, ctx: { readonly backend: string }, config: CellConfig, seed = 11): Cell {
  const cell = makeCell(config, ctx.backend, 'float32', seed);
  scope.add(disposeCell(cell));
  return cell;
}

/** The golden case's cell with its weights. */
export function goldenCell(c: GoldenCase, backend: string, dtype: DType = 'float32'): Cell {
  const cell = makeCell(
    { kind: c.cell, sizes: c.sizes, activation: c.activation ?? undefined, resetAfter: c.gru_variant !== 'reset_before' },
    backend,
    dtype,
  );
  setGoldenWeights(cell, c.layers);
  return cell;
}

/** Gives every layer of a cell the golden case's parameters (PyTorch's layout, as Recur's public one). */
export function setGoldenWeights(cell: Cell, layers: readonly GoldenLayer[]): void {
  cell.layers.forEach((layer, l) => {
    const w = layers[l];
    layer.setWeights({ wIh: w.w_ih, wHh: w.w_hh, bIh: w.b_ih, bHh: w.b_hh });
  });
}

/** A cell-shaped state from per-layer host arrays (c ignored for GRU/RNN). */
export function stateFrom(
  cell: Cell,
  batch: number,
  h: readonly ArrayLike<number>[],
  c: readonly ArrayLike<number>[] | null,
  backend: string,
  dtype: DType = 'float32',
): CellState {
  const values = cell.layers.map((layer, l) => {
    const t = (v: ArrayLike<number>) => tensor(v, [batch, layer.units], { backend, dtype });
    return layer.kind === 'lstm' ? new LSTMStateTuple(t(c![l]), t(h[l])) : t(h[l]);
  });
  return values.length === 1 && cell.layers[0] === cell ? values[0] : values;
}

/** Per-layer host copies of a cell-shaped state. */
export async function readState(state: CellState): Promise<{ h: Float32Array | Float64Array; c: Float32Array | Float64Array | null }[]> {
  const values = Array.isArray(state) ? state : [state];
  return Promise.all(
    values.map(async (v) =>
      v instanceof LSTMStateTuple ? { h: await v.h.data(), c: await v.c.data() } : { h: await (v as Tensor).data(), c: null },
    ),
  );
}

export function randomValues(n: number, seed: number, scale = 1): Float32Array {
  const random = seededRandom(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (random() * 2 - 1) * scale;
  return out;
}

/** Steps [t0, t0 + n) of a time-major [T, B, F] host array. */
export function timeSlice(x: ArrayLike<number>, t0: number, n: number, rowSize: number): Float32Array {
  return Float32Array.from(Array.prototype.slice.call(x, t0 * rowSize, (t0 + n) * rowSize) as number[]);
}

/** [B, T, F] host array from a time-major one. */
export function toBatchMajor(x: ArrayLike<number>, T: number, B: number, F: number, dtype: DType = 'float32'): Float32Array | Float64Array {
  const out = dtype === 'float64' ? new Float64Array(T * B * F) : new Float32Array(T * B * F);
  for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) for (let f = 0; f < F; f++) out[(b * T + t) * F + f] = x[(t * B + b) * F + f];
  return out;
}

/** The cell configurations behaviour checks run on: every kind and variant, stacked, with unequal sizes. */
export const BEHAVIOUR_CONFIGS: readonly { readonly name: string; readonly config: CellConfig }[] = [
  { name: 'lstm', config: { kind: 'lstm', sizes: [5, 7, 6] } },
  { name: 'gru-reset-after', config: { kind: 'gru', sizes: [5, 7, 6], resetAfter: true } },
  { name: 'gru-reset-before', config: { kind: 'gru', sizes: [5, 7, 6], resetAfter: false } },
  { name: 'rnn-tanh', config: { kind: 'rnn', sizes: [5, 7, 6], activation: 'tanh' } },
  { name: 'rnn-relu', config: { kind: 'rnn', sizes: [5, 7, 6], activation: 'relu' } },
];
