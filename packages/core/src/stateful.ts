import { RecurError, ShapeError, describe } from './errors.js';
import type { Cell } from './cells/multi.js';
import type { CellState, HostLayerState, LayerState } from './cells/state.js';
import { checkCell, prepareChunk, runChunk } from './chunk.js';
import { allowNonFinite, checkOptions, checkPositiveInt } from './options.js';
import { copyLayerStates } from './run.js';
import { registeredName } from './registry.js';
import { checkSnapshotFits, decodeSnapshot, describeLayer, encodeSnapshot } from './snapshot.js';
import { StateVariables, checkRows, resetRows } from './state-variables.js';
import type { FloatArray, RecurBackend } from './spec.js';
import { Tensor, checkNumbers, tensor, type NestedNumbers } from './tensor.js';
import type { TokenIds } from './tokens.js';
import type { LayerCell } from './cells/layer-cell.js';

/** A stream's id: a row's stable name while rows come and go. */
export type StreamId = string | number;

/** Options of `StatefulRNN`. */
export interface StatefulOptions {
  /** Number of streams (batch rows) to start with, ids 0..batch-1; default 1. Ignored if `streams` is given. */
  batch?: number;
  /** Ids of the streams to start with, one per batch row. */
  streams?: readonly StreamId[];
  /** Chunks are [T, B, I] if true, [B, T, I] (default) if false. */
  timeMajor?: boolean;
  /** Check every chunk for NaN/Infinity (default: the global `configure({checkFinite})`). */
  checkFinite?: boolean;
}

/** Options of one `run` (and `predict`). */
export interface RunOptions {
  /** Per-row lengths within this chunk. */
  sequenceLength?: ArrayLike<number>;
  checkFinite?: boolean;
}

/** The JSON snapshot of earlier releases, which `restore` still reads (`snapshot()` now gives bytes). */
export interface StateSnapshot {
  readonly version: 1;
  readonly streams: StreamId[];
  readonly layers: { units: number; h: number[]; c: number[] | null }[];
}

let statefulCounter = 0;

/**
 * A cell with its own state variables: `run(chunk)` carries the state from call to call. Rows are streams with
 * stable ids; streams may join and leave, and the other streams' state is kept exactly. Chunk rows follow the
 * order of `streams`.
 * @example
 * const rnn = new StatefulRNN(new LSTMCell(32, { inputSize: 8 }), { streams: ['a', 'b'] });
 * const y = await rnn.predict(new Float32Array(2 * 10 * 8), [2, 10, 8]); // the state carries on
 * rnn.resetStreams(['b']);
 * @see [docs/stateful.md (Keras's stateful=True)](../../../docs/stateful.md#kerass-statefultrue)
 */
export class StatefulRNN {
  readonly cell: Cell;
  readonly timeMajor: boolean;
  readonly #checkFinite: boolean | undefined;
  readonly #label = `StatefulRNN #${++statefulCounter}`;
  readonly #backend: RecurBackend;
  #vars: StateVariables | null;
  #streams: StreamId[];
  #nextId = 0;
  #disposed = false;

  constructor(cell: Cell, options?: StatefulOptions) {
    checkCell(cell);
    const opts = checkOptions(options, ['batch', 'streams', 'timeMajor', 'checkFinite'], 'options');
    if (opts.timeMajor !== undefined && typeof opts.timeMajor !== 'boolean')
      throw new RecurError('options.timeMajor', 'a boolean', describe(opts.timeMajor));
    if (opts.checkFinite !== undefined && typeof opts.checkFinite !== 'boolean')
      throw new RecurError('options.checkFinite', 'a boolean', describe(opts.checkFinite));
    this.cell = cell;
    this.timeMajor = opts.timeMajor ?? false;
    this.#checkFinite = opts.checkFinite;
    let streams: StreamId[] | null = null;
    let batch: number;
    if (opts.streams !== undefined) {
      if (!Array.isArray(opts.streams) || opts.streams.length === 0)
        throw new RecurError('options.streams', 'a non-empty array of stream ids', describe(opts.streams));
      opts.streams.forEach((id, i) => this.#checkNewId(id, opts.streams!.slice(0, i), `options.streams[${i}]`));
      streams = [...opts.streams];
      batch = streams.length;
    } else {
      batch = opts.batch === undefined ? 1 : checkPositiveInt(opts.batch, 'options.batch');
    }
    // the state variables check the batch against the backend's budget before anything is allocated
    this.#vars = new StateVariables(cell, batch, this.#label);
    this.#backend = this.#vars.backend;
    this.#streams = streams ?? Array.from({ length: batch }, (_, i) => i);
    if (!streams) this.#nextId = batch;
    for (const layer of cell.layers) layer.hold();
  }

  #checkNewId(id: unknown, taken: readonly StreamId[], argument: string): void {
    if (typeof id !== 'string' && !Number.isInteger(id)) throw new RecurError(argument, 'a string or integer stream id', describe(id));
    if (taken.includes(id as StreamId)) throw new RecurError(argument, 'a stream id not in use', `${describe(id)}, already in use`);
  }

  #live(): void {
    if (this.#disposed) throw new RecurError('stateful', 'a live StatefulRNN', `disposed ${this.#label}`);
  }

  #variables(): StateVariables {
    this.#live();
    if (!this.#vars) throw new RecurError('stateful', 'at least one stream', 'no streams (all were removed); addStream() first');
    return this.#vars;
  }

  /** Stream ids in row order. */
  get streams(): readonly StreamId[] {
    return [...this.#streams];
  }

  /** Rows (streams) now. */
  get batch(): number {
    return this.#streams.length;
  }

  /** The row of a stream now (rows compact when streams leave; ids never change). */
  rowOf(id: StreamId): number {
    const row = this.#streams.indexOf(id);
    if (row < 0) throw new RecurError('id', `a stream id in use (${this.#streams.map(describe).join(', ')})`, describe(id));
    return row;
  }

  /** The current state (owned by this object: read it, feed it, never dispose it). */
  get state(): CellState {
    return this.#variables().state;
  }

  /** Runs a chunk with the carried state, updates the state from its last step, returns the outputs (yours). */
  run(chunk: Tensor | TokenIds, options?: RunOptions): Tensor {
    const vars = this.#variables();
    const opts = checkOptions(options, ['sequenceLength', 'checkFinite'], 'options');
    const call = prepareChunk(this.cell, chunk, {
      argument: 'chunk',
      timeMajor: this.timeMajor,
      sequenceLength: opts.sequenceLength,
      checkFinite: opts.checkFinite ?? this.#checkFinite,
      initialState: { trusted: vars.layerStates() },
      batch: { size: vars.batch, expected: () => this.#batchExpected(vars.batch) },
    });
    const result = runChunk(this.cell, call.chunk, chunk, call.initial);
    vars.assign(result.layerStates);
    return result.outputs;
  }

  /**
   * The host-array path (Keras's `predict` with `stateful=True`): `values` of a chunk in, its outputs out, the state
   * carried as by `run`, every tensor made and freed here. `values` flat (row-major) or nested, of `shape`
   * [batch, time, features] ([time, batch, features] with `timeMajor`). Asynchronous, as GPU backends read.
   *
   * @example
   * const rnn = new StatefulRNN(new LSTMCell(32, { inputSize: 8 }), { batch: 2 });
   * const y = await rnn.predict(new Float32Array(2 * 5 * 8), [2, 5, 8]); // Float32Array of 2 * 5 * 32
   */
  async predict(values: ArrayLike<number> | NestedNumbers, shape: readonly number[], options?: RunOptions): Promise<FloatArray> {
    const y = this.#runValues(values, shape, options);
    try {
      return await y.data();
    } finally {
      y.dispose();
    }
  }

  /** `predict`, synchronous where the backend reads synchronously (a BackendError says so where it cannot). */
  predictSync(values: ArrayLike<number> | NestedNumbers, shape: readonly number[], options?: RunOptions): FloatArray {
    const y = this.#runValues(values, shape, options);
    try {
      return y.dataSync();
    } finally {
      y.dispose();
    }
  }

  #runValues(values: ArrayLike<number> | NestedNumbers, shape: readonly number[], options?: RunOptions): Tensor {
    this.#variables();
    const x = tensor(values, shape, { backend: registeredName(this.#backend) ?? this.#backend.name, dtype: this.cell.layers[0].dtype });
    try {
      return this.run(x, options);
    } finally {
      x.dispose();
    }
  }

  /** `using rnn = new StatefulRNN(...)`: disposed at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** How a chunk's batch must be, for errors (built only when one is wrong). */
  #batchExpected(batch: number): string {
    return `batch ${batch} (one row per stream: ${this.#streams.map(describe).join(', ')})`;
  }

  /** Zeroes the state of every row, or of the given rows. */
  reset(rows?: ArrayLike<number>): void {
    const vars = this.#variables();
    resetRows(vars, rows === undefined ? null : checkRows(rows, vars.batch));
  }

  /** Zeroes the state of the given streams. */
  resetStreams(ids: readonly StreamId[]): void {
    if (!Array.isArray(ids)) throw new RecurError('ids', 'an array of stream ids', describe(ids));
    const rows = ids.map((id) => this.rowOf(id));
    this.reset(rows);
  }

  /** Host copies of every layer's state ([batch, units] each, row-major). */
  async readState(): Promise<HostLayerState[]> {
    const layers = this.#variables().layerStates();
    return Promise.all(layers.map(async (s) => ({ h: await s.h.data(), c: s.c ? await s.c.data() : null })));
  }

  /**
   * Replaces the whole state (all rows) by a copy of `state`: a cell-shaped state of tensors or host arrays per
   * layer. Values must be finite numbers unless `options.allowNonFinite`; on any error nothing changes.
   */
  setState(state: CellState | readonly HostLayerState[], options?: { allowNonFinite?: boolean }): void {
    const vars = this.#variables();
    vars.assign(this.#stateFrom(state, vars.batch, 'state', allowNonFinite(options)));
  }

  /** New owned tensors from host arrays per layer, or copies of a cell-shaped tensor state. */
  #stateFrom(state: unknown, batch: number, argument: string, allowNonFinite: boolean): LayerState[] {
    const backend = this.#backend;
    const layers = this.cell.layers;
    // host arrays per layer ({h, c} of typed or plain arrays), as readState() gives and snapshots hold
    const isHost =
      Array.isArray(state) &&
      state.length > 0 &&
      state.every(
        (s) =>
          s &&
          typeof s === 'object' &&
          !(s instanceof Tensor) &&
          (ArrayBuffer.isView((s as HostLayerState).h) || Array.isArray((s as HostLayerState).h)),
      );
    if (!isHost) return copyLayerStates(this.cell, state, batch, backend, argument, allowNonFinite);
    const host = state as readonly HostLayerState[];
    if (host.length !== layers.length) throw new ShapeError(argument, `${layers.length} layer states`, `${host.length} layer states`);
    checkHostLayers(layers, host, batch, argument, allowNonFinite);
    return layers.map((layer, l) => {
      const upload = (values: FloatArray | ArrayLike<number>) => {
        const typed = layer.dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values);
        return new Tensor(backend, backend.upload(typed, [batch, layer.units], layer.dtype), [batch, layer.units], layer.dtype);
      };
      return { h: upload(host[l].h), c: layer.kind === 'lstm' ? upload(host[l].c!) : null };
    });
  }

  /** Adds a stream as the last row, from zero state or from a given one-row state; returns its id. */
  addStream(options?: { id?: StreamId; state?: CellState | readonly HostLayerState[]; allowNonFinite?: boolean }): StreamId {
    this.#live();
    const opts = checkOptions(options, ['id', 'state', 'allowNonFinite'], 'options');
    const allow = allowNonFinite({ allowNonFinite: opts.allowNonFinite });
    const id = opts.id ?? this.#freshId();
    this.#checkNewId(id, this.#streams, 'options.id');
    if (!this.#vars) {
      // all streams had left: start over with one row
      const vars = new StateVariables(this.cell, 1, this.#label);
      try {
        if (opts.state !== undefined) vars.assign(this.#stateFrom(opts.state, 1, 'options.state', allow));
      } catch (error) {
        vars.dispose();
        throw error;
      }
      this.#vars = vars;
    } else {
      const vars = this.#vars;
      const backend = vars.backend;
      const joining = opts.state === undefined ? null : this.#stateFrom(opts.state, 1, 'options.state', allow);
      const grown = vars.layerStates().map((s, l) => {
        const grow = (t: Tensor, add: Tensor | null) => {
          const row = add ?? new Tensor(backend, backend.zeros([1, t.shape[1]], t.dtype), [1, t.shape[1]], t.dtype);
          const shape = [t.shape[0] + 1, t.shape[1]];
          const out = new Tensor(backend, backend.concatRows([t.storage(), row.storage()], [t.shape, row.shape]), shape, t.dtype);
          row.dispose();
          return out;
        };
        return { h: grow(s.h, joining ? joining[l].h : null), c: s.c ? grow(s.c, joining ? joining[l].c : null) : null };
      });
      vars.assign(grown, vars.batch + 1);
    }
    this.#streams.push(id);
    return id;
  }

  #freshId(): number {
    while (this.#streams.includes(this.#nextId)) this.#nextId++;
    return this.#nextId++;
  }

  /** Removes a stream; the rows after it move up, their state untouched. */
  removeStream(id: StreamId): void {
    this.#live();
    const row = this.rowOf(id);
    const vars = this.#variables();
    if (vars.batch === 1) {
      vars.dispose();
      this.#vars = null;
    } else {
      const keep = Int32Array.from({ length: vars.batch - 1 }, (_, i) => (i < row ? i : i + 1));
      const backend = vars.backend;
      const shrink = (t: Tensor) => {
        const shape = [keep.length, t.shape[1]];
        return new Tensor(backend, backend.gatherRows(t.storage(), t.shape, keep), shape, t.dtype);
      };
      vars.assign(
        vars.layerStates().map((s) => ({ h: shrink(s.h), c: s.c ? shrink(s.c) : null })),
        keep.length,
      );
    }
    this.#streams.splice(row, 1);
  }

  /**
   * The streams and their state as bytes (docs/snapshots.md: versioned header, the states, a CRC-32), every stream
   * or `options.streams` alone. `restore` puts them back into this or another object with a compatible cell (in
   * this process or another); `restoreStreams` adds them beside the streams an object has.
   *
   * @example
   * const bytes = await rnn.snapshot({ streams: ['mic-2'] }); // a Uint8Array: store it, send it
   * other.restoreStreams(bytes);                               // mic-2 continues there, exactly
   */
  async snapshot(options?: { streams?: readonly StreamId[] }): Promise<Uint8Array> {
    const opts = checkOptions(options, ['streams'], 'options');
    this.#variables();
    const all = this.#streams;
    const chosen = opts.streams === undefined ? [...all] : [...opts.streams];
    if (!Array.isArray(opts.streams) && opts.streams !== undefined)
      throw new RecurError('options.streams', 'an array of stream ids', describe(opts.streams));
    chosen.forEach((id, i) => {
      if (!all.includes(id))
        throw new RecurError(`options.streams[${i}]`, `a stream id in use (${all.map(describe).join(', ')})`, describe(id));
      if (chosen.indexOf(id) !== i) throw new RecurError(`options.streams[${i}]`, 'each stream once', `${describe(id)} again`);
    });
    if (chosen.length === 0) throw new RecurError('options.streams', 'at least one stream', '[]');
    const host = await this.readState();
    const rows = chosen.map((id) => all.indexOf(id));
    const pick = (v: FloatArray, units: number) => {
      const out = v instanceof Float64Array ? new Float64Array(rows.length * units) : new Float32Array(rows.length * units);
      rows.forEach((r, i) => out.set(v.subarray(r * units, (r + 1) * units), i * units));
      return out;
    };
    const layers = this.cell.layers;
    return encodeSnapshot({
      dtype: layers[0].dtype,
      streams: chosen,
      layers: layers.map(describeLayer),
      states: host.map((st, l) => ({ h: pick(st.h, layers[l].units), c: st.c ? pick(st.c, layers[l].units) : null })),
    });
  }

  /**
   * Replaces streams and state by a snapshot's: the bytes `snapshot()` gives (or a version 1 snapshot object of
   * earlier releases). It either fully succeeds or changes nothing and says what was wrong: the bytes (magic,
   * version, checksum, sizes), the cell (every layer's kind, variant and units, the dtype) and every value (finite
   * unless `options.allowNonFinite`) are checked first.
   */
  restore(snapshot: Uint8Array | StateSnapshot, options?: { allowNonFinite?: boolean }): void {
    this.#live();
    const allow = allowNonFinite(options);
    const { streams, layers: host } = this.#readSnapshot(snapshot, allow);
    if (streams.length === 0) throw new RecurError('snapshot.streams', 'at least one stream', '[]');
    streams.forEach((id, i) => this.#checkNewId(id, streams.slice(0, i), `snapshot.streams[${i}]`));
    const layers = this.cell.layers;
    checkHostLayers(layers, host, streams.length, 'snapshot.layers', allow);
    const vars = new StateVariables(this.cell, streams.length, this.#label);
    try {
      vars.assign(this.#stateFrom(host, streams.length, 'snapshot.layers', allow));
    } catch (error) {
      vars.dispose();
      throw error;
    }
    this.#vars?.dispose();
    this.#vars = vars;
    this.#streams = [...streams];
  }

  /**
   * Adds a snapshot's streams (all, or `options.streams`) as new rows after this object's, keeping every other
   * stream's state exactly: a stream migrates here from another object, process or machine. Everything is checked
   * before anything changes (ids must be free here); returns the ids added.
   */
  restoreStreams(snapshot: Uint8Array, options?: { streams?: readonly StreamId[]; allowNonFinite?: boolean }): StreamId[] {
    this.#live();
    const opts = checkOptions(options, ['streams', 'allowNonFinite'], 'options');
    const allow = allowNonFinite({ allowNonFinite: opts.allowNonFinite });
    const { streams, layers: host } = this.#readSnapshot(snapshot, allow);
    const wanted = opts.streams === undefined ? [...streams] : [...opts.streams];
    wanted.forEach((id, i) => {
      if (!streams.includes(id))
        throw new RecurError(`options.streams[${i}]`, `a stream of the snapshot (${streams.map(describe).join(', ')})`, describe(id));
      this.#checkNewId(id, [...this.#streams, ...wanted.slice(0, i)], `options.streams[${i}]`);
    });
    const layers = this.cell.layers;
    checkHostLayers(layers, host, streams.length, 'snapshot.layers', allow);
    const rowState = (row: number): HostLayerState[] =>
      host.map((st, l) => {
        const u = layers[l].units;
        return { h: st.h.subarray(row * u, (row + 1) * u), c: st.c ? st.c.subarray(row * u, (row + 1) * u) : null };
      });
    const added: StreamId[] = [];
    try {
      for (const id of wanted) added.push(this.addStream({ id, state: rowState(streams.indexOf(id)), allowNonFinite: allow }));
    } catch (error) {
      for (const id of added) this.removeStream(id); // all or nothing
      throw error;
    }
    return added;
  }

  /** A snapshot's streams and per-layer host state, from bytes (verified, and checked against this cell) or a v1 object. */
  #readSnapshot(snapshot: unknown, allow: boolean): { streams: StreamId[]; layers: { h: FloatArray; c: FloatArray | null }[] } {
    const layers = this.cell.layers;
    if (snapshot instanceof Uint8Array) {
      const decoded = decodeSnapshot(snapshot);
      checkSnapshotFits(decoded, layers);
      return { streams: [...decoded.streams], layers: decoded.states.map((st) => ({ h: st.h, c: st.c })) };
    }
    const v1 = snapshot as StateSnapshot | null;
    if (!v1 || typeof v1 !== 'object' || v1.version !== 1 || !Array.isArray(v1.streams) || !Array.isArray(v1.layers)) {
      throw new RecurError('snapshot', 'the Uint8Array snapshot() gives (or a version 1 snapshot object)', describe(snapshot));
    }
    if (v1.layers.length !== layers.length)
      throw new ShapeError('snapshot.layers', `${layers.length} layer states`, `${v1.layers.length} layer states`);
    v1.layers.forEach((s, l) => {
      if (!s || typeof s !== 'object') throw new RecurError(`snapshot.layers[${l}]`, 'a layer state {units, h, c}', describe(s));
      if (s.units !== layers[l].units) throw new ShapeError(`snapshot.layers[${l}].units`, String(layers[l].units), describe(s.units));
    });
    checkHostLayers(layers, v1.layers as unknown as HostLayerState[], v1.streams.length, 'snapshot.layers', allow);
    return {
      streams: [...v1.streams],
      layers: v1.layers.map((s) => ({ h: Float64Array.from(s.h), c: s.c ? Float64Array.from(s.c) : null })),
    };
  }

  /**
   * Frees the state, and the cell's weight uploads unless another live object (a StatefulRNN, a training tape)
   * still runs the cell. Call it when done: only then is the memory back at once.
   */
  dispose(): void {
    if (!this.#disposed) for (const layer of this.cell.layers) layer.release();
    this.#vars?.dispose();
    this.#vars = null;
    this.#disposed = true;
  }
}

/** Host state per layer: an object with h (and c for LSTM) of batch x units numbers each, finite unless allowed. */
function checkHostLayers(
  layers: readonly LayerCell[],
  host: readonly HostLayerState[],
  batch: number,
  argument: string,
  allowNonFinite: boolean,
): void {
  layers.forEach((layer, l) => {
    const entry = host[l] as unknown as Record<string, unknown> | null;
    if (!entry || typeof entry !== 'object') throw new RecurError(`${argument}[${l}]`, 'a layer state {h, c}', describe(entry));
    const size = batch * layer.units;
    const parts: ['h' | 'c', unknown][] =
      layer.kind === 'lstm'
        ? [
            ['h', entry.h],
            ['c', entry.c],
          ]
        : [['h', entry.h]];
    if (layer.kind !== 'lstm' && entry.c !== null && entry.c !== undefined) {
      throw new RecurError(`${argument}[${l}].c`, `null (a ${layer.kind} layer has no cell state)`, describe(entry.c));
    }
    for (const [part, v] of parts) {
      const values = v as ArrayLike<unknown> | null | undefined;
      if (!values || typeof values !== 'object' || typeof values.length !== 'number') {
        throw new ShapeError(`${argument}[${l}].${part}`, `${size} numbers ([${batch}, ${layer.units}])`, describe(values));
      }
      if (values.length !== size)
        throw new ShapeError(`${argument}[${l}].${part}`, `${size} values ([${batch}, ${layer.units}])`, `${values.length} values`);
      checkNumbers(values, `${argument}[${l}].${part}`, !allowNonFinite, layer.dtype);
    }
  });
}
