import { BackendError, DisposedTensorError, RecurError, ShapeError, describe } from './errors.js';
import type { DType, FloatArray, RecurBackend, TensorStorage } from './spec.js';
import { getBackend } from './registry.js';
import { bytesOf, reserve } from './budget.js';
import { checkOptions } from './options.js';

// `using t = tensor(...)` (TypeScript 5.2+) calls [Symbol.dispose]: where the engine has no Symbol.dispose yet,
// the registry symbol TypeScript's own helpers fall back to
(Symbol as { dispose?: symbol }).dispose ??= Symbol.for('Symbol.dispose');

/** Tensors made inside each running `tidy()`, innermost last. */
const scopes: Set<Tensor>[] = [];

/**
 * A handle to values held by a backend. Immutable: kernels return new tensors. `dispose()` frees it; using it
 * afterwards is an error. Tensors held by a state variable are owned by it and cannot be disposed from outside.
 * @see [README: tensors and their lifetimes](../../../README.md#in-code)
 */
export class Tensor {
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly backend: RecurBackend;
  #storage: TensorStorage;
  #disposed = false;
  #owner: object | null = null;
  #ownerName = '';
  /** Who freed it, for the error of a later use. */
  #freedBy = '';

  /** @internal Use `tensor()` to create one. */
  constructor(backend: RecurBackend, storage: TensorStorage, shape: readonly number[], dtype: DType) {
    this.backend = backend;
    this.#storage = storage;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    scopes.at(-1)?.add(this);
  }

  /** The number of elements (the product of the shape). */
  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** Whether `dispose()` (or an owner, or `tidy()`) freed it. */
  get isDisposed(): boolean {
    return this.#disposed;
  }

  /** @internal The backend storage; throws if disposed. */
  storage(argument = 'tensor'): TensorStorage {
    if (this.#disposed) {
      throw new DisposedTensorError(
        argument,
        'a live tensor',
        `a disposed tensor of shape [${this.shape.join(', ')}] (freed by ${this.#freedBy})`,
      );
    }
    return this.#storage;
  }

  /** Frees the values. Disposing twice is harmless; a tensor owned by state variables refuses. */
  dispose(): void {
    if (this.#owner !== null) {
      throw new RecurError(
        'tensor',
        'a tensor not owned by state variables',
        `a tensor owned by ${this.#ownerName}`,
        'read it with data(); the owner disposes it when the state changes',
      );
    }
    this.#free('its dispose()');
  }

  /** `using x = tensor(...)`: disposed at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  #free(by: string): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#freedBy = by;
    this.backend.dispose(this.#storage);
  }

  /** Copies the values to the host. */
  async data(): Promise<FloatArray> {
    return this.backend.read(this.storage());
  }

  /** Copies the values to the host synchronously, where the backend can. */
  dataSync(): FloatArray {
    const storage = this.storage();
    if (!this.backend.readSync || !this.backend.capabilities.syncRead) {
      throw new BackendError(
        'tensor',
        `a backend that reads synchronously`,
        `backend ${JSON.stringify(this.backend.name)}`,
        'use await tensor.data()',
      );
    }
    return this.backend.readSync(storage);
  }

  /** @internal Marks this tensor as owned; only `releaseOwned` frees it then. */
  static claim(t: Tensor, owner: object, ownerName: string): void {
    if (t.#owner !== null && t.#owner !== owner) {
      throw new RecurError(
        'state',
        'tensors not owned by other state variables',
        `a tensor owned by ${t.#ownerName}`,
        'two state holders may never share a tensor',
      );
    }
    t.#owner = owner;
    t.#ownerName = ownerName;
  }

  /** @internal Frees a tensor that `owner` holds. */
  static releaseOwned(t: Tensor, owner: object): void {
    const name = t.#ownerName;
    if (t.#owner === owner) t.#owner = null;
    t.#free(`${name}, which took it over as its state and freed it when the state changed: read it before the next update, or copy it`);
  }

  /** @internal Whether state variables own it (tidy leaves those alone). */
  static isOwned(t: Tensor): boolean {
    return t.#owner !== null;
  }

  /** @internal Frees it on behalf of `tidy()`. */
  static freeByTidy(t: Tensor): void {
    t.#free('the tidy() that made it (return it from the function to keep it)');
  }

  /** @internal The name of another owner holding this tensor, or null. */
  static otherOwner(t: Tensor, owner: object): string | null {
    return t.#owner !== null && t.#owner !== owner ? t.#ownerName : null;
  }
}

/** Options of `tensor()` and `zeros()`. */
export interface TensorOptions {
  /** Backend name; the default backend if omitted. */
  backend?: string;
  /** 'float32' unless given (a Float64Array's values are converted; ask for 'float64' to keep them). */
  dtype?: DType;
}

/** Validates a shape: a non-empty list of positive integers. */
export function checkShape(shape: unknown, argument = 'shape'): number[] {
  if (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new ShapeError(argument, 'a non-empty array of positive integers', describe(shape));
  }
  return shape as number[];
}

/**
 * Creates a tensor on a backend from host values (copied). Every value must be a number (NaN and ±Infinity are numbers).
 * @example
 * const x = tensor([[1, 2, 3], [4, 5, 6]], [2, 3]); // nested or flat, float32 unless asked
 * x.dispose();
 */
export function tensor(values: ArrayLike<number> | NestedNumbers, shape: readonly number[], options?: TensorOptions): Tensor {
  const opts = checkOptions(options, ['backend', 'dtype'], 'options');
  checkShape(shape);
  // float32 unless asked: a Float64Array's values are converted (a float64 tensor is `{ dtype: 'float64' }`)
  const dtype = opts.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'float64') throw new RecurError('options.dtype', "'float32' or 'float64'", describe(dtype));
  const size = shape.reduce((a, b) => a * b, 1);
  if (values === null || typeof values !== 'object' || typeof (values as ArrayLike<number>).length !== 'number') {
    throw new ShapeError('values', 'an array or typed array of numbers', describe(values));
  }
  if (Array.isArray(values) && values.length > 0 && Array.isArray(values[0])) values = flattenNested(values as NestedNumbers, shape);
  values = values as ArrayLike<number>;
  if (values.length !== size) {
    const hint =
      Array.isArray(values) && values.some((v) => Array.isArray(v)) ? ' (nested arrays: every entry an array, one level a dimension)' : '';
    throw new ShapeError(
      'values',
      `${size} values for shape [${shape.join(', ')}], flat row-major or nested`,
      `${values.length} values${hint}`,
    );
  }
  checkNumbers(values, 'values');
  const backend = backendFor(opts.backend, dtype, shape);
  // upload copies: a typed array of the right type goes as it is (a streamed frame is not copied twice)
  const typed =
    dtype === 'float64'
      ? values instanceof Float64Array
        ? values
        : Float64Array.from(values)
      : values instanceof Float32Array
        ? values
        : Float32Array.from(values);
  return new Tensor(backend, backend.upload(typed, shape, dtype), shape, dtype);
}

/** Nested arrays of numbers, one level a dimension ([[1, 2], [3, 4]] for shape [2, 2]). */
export type NestedNumbers = readonly (number | NestedNumbers)[];

/** Nested arrays read row-major into one flat array, every level checked against `shape` by path. */
function flattenNested(values: NestedNumbers, shape: readonly number[]): number[] {
  const out: number[] = [];
  const walk = (v: unknown, depth: number, path: string) => {
    if (depth === shape.length) {
      if (Array.isArray(v))
        throw new ShapeError(path, `a number (the shape [${shape.join(', ')}] has ${shape.length} dimensions)`, `an array of ${v.length}`);
      out.push(v as number); // checked for being a number with the rest
      return;
    }
    if (!Array.isArray(v))
      throw new ShapeError(path, `an array of ${shape[depth]} (dimension ${depth} of [${shape.join(', ')}])`, describe(v));
    if (v.length !== shape[depth])
      throw new ShapeError(path, `${shape[depth]} entries (dimension ${depth} of [${shape.join(', ')}])`, `${v.length} entries`);
    v.forEach((x, i) => walk(x, depth + 1, `${path}[${i}]`));
  };
  walk(values, 0, 'values');
  return out;
}

/** The largest finite float32: a larger number stored as float32 becomes Infinity. */
const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * Every entry of a plain array is a number: a string, a hole of a sparse array, null or an object would become
 * NaN or 0 on the way into a typed array. With `finite`, NaN and ±Infinity are refused too, and so is a number that
 * `dtype` float32 cannot hold (1e39 would become Infinity).
 */
export function checkNumbers(
  values: ArrayLike<unknown>,
  argument: string,
  finite = false,
  dtype: DType = 'float64',
  canOptIn = true,
): void {
  const typed = ArrayBuffer.isView(values) && !(values instanceof BigInt64Array || values instanceof BigUint64Array);
  if (typed && !finite) return;
  const limit = dtype === 'float32' ? FLOAT32_MAX : Number.MAX_VALUE;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number' || (finite && !(Math.abs(v) <= limit))) {
      const hole = !typed && Array.isArray(values) && !(i in values);
      const expected = !finite
        ? 'a number'
        : dtype === 'float32'
          ? 'a finite number that float32 can hold (|v| <= 3.4e38)'
          : 'a finite number';
      throw new RecurError(
        `${argument}[${i}]`,
        expected,
        hole ? 'a hole (sparse array)' : describe(v),
        finite && canOptIn && typeof v === 'number' ? 'pass allowNonFinite: true to accept NaN and Infinity' : undefined,
      );
    }
  }
}

/**
 * Runs `fn` and disposes every tensor made while it ran, except those it returns (a tensor, or tensors inside the
 * arrays, objects and LSTMStateTuples it returns) and those state variables own. Nested tidies hand what they keep
 * to the enclosing one. `fn` must be synchronous: tensors made after an `await` cannot be told apart.
 *
 * @example
 * const y = tidy(() => {
 *   const x = tensor(frame, [1, 1, 8]);
 *   return rnn.run(x);            // x is disposed, y is kept
 * });
 */
export function tidy<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw new RecurError('fn', 'a function', describe(fn));
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (error) {
    scopes.pop();
    release(scope, new Set());
    throw error;
  }
  scopes.pop();
  if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') {
    release(scope, new Set());
    throw new RecurError(
      'fn',
      'a synchronous function (tidy cannot follow an await)',
      'a function that returned a Promise',
      'every tensor it made before its first await was disposed; tidy the synchronous parts, or dispose explicitly',
    );
  }
  const kept = new Set<Tensor>();
  collectTensors(result, kept, 0);
  release(scope, kept);
  const parent = scopes.at(-1);
  if (parent) for (const t of kept) if (scope.has(t)) parent.add(t);
  return result;
}

function release(scope: Set<Tensor>, kept: Set<Tensor>): void {
  for (const t of scope) if (!kept.has(t) && !t.isDisposed && !Tensor.isOwned(t)) Tensor.freeByTidy(t);
}

function collectTensors(value: unknown, into: Set<Tensor>, depth: number): void {
  if (value instanceof Tensor) {
    into.add(value);
    return;
  }
  if (value === null || typeof value !== 'object' || depth > 8 || ArrayBuffer.isView(value)) return; // host arrays hold no tensor
  const children = Array.isArray(value) ? value : Symbol.iterator in value ? [...(value as Iterable<unknown>)] : Object.values(value);
  for (const child of children) collectTensors(child, into, depth + 1);
}

/**
 * Creates a tensor of zeros.
 * @example
 * const h0 = zeros([4, 64]); // [batch, units]
 * h0.dispose();
 */
export function zeros(shape: readonly number[], options?: TensorOptions): Tensor {
  const opts = checkOptions(options, ['backend', 'dtype'], 'options');
  checkShape(shape);
  const dtype = opts.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'float64') throw new RecurError('options.dtype', "'float32' or 'float64'", describe(dtype));
  const backend = backendFor(opts.backend, dtype, shape);
  return new Tensor(backend, backend.zeros(shape, dtype), shape, dtype);
}

/** The backend a new tensor goes to, checked to hold its dtype and, within its budget, its bytes. */
function backendFor(name: string | undefined, dtype: DType, shape: readonly number[]): RecurBackend {
  const backend = getBackend(name);
  requireDtype(backend, dtype, 'options.dtype');
  reserve(
    backend,
    [{ bytes: shape.reduce((a, b) => a * b, 1) * bytesOf(dtype), what: () => `a tensor of shape [${shape.join(', ')}]` }],
    'shape',
  );
  return backend;
}

export function requireDtype(backend: RecurBackend, dtype: DType, argument: string): void {
  if (!backend.capabilities.dtypes.includes(dtype)) {
    throw new BackendError(
      argument,
      `a dtype backend ${JSON.stringify(backend.name)} supports (${backend.capabilities.dtypes.join(', ')})`,
      dtype,
    );
  }
}
