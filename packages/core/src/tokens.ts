import { RecurError, ShapeError, describe } from './errors.js';
import { checkPositiveInt } from './options.js';

/**
 * Token ids as a chunk's input: each id stands for the one-hot row of its index, so the first layer's input
 * projection is a gather of W_ih's columns instead of a product over a one-hot matrix (PyTorch users write
 * `nn.Embedding`; a character model's input). Shape [batch, time] (or [time, batch] with `timeMajor`, [batch] for
 * one step); `vocabulary` is the first layer's input size. Host memory: ids are small, and every backend reads them.
 */
/** Each TokenIds' own ids: out of the caller's reach, so that none can change after validation. */
const validIds = new WeakMap<TokenIds, Int32Array>();

/** @internal The validated ids of a TokenIds (not a copy: core only reads them). */
export function idsOf(tokens: TokenIds): Int32Array {
  return validIds.get(tokens)!;
}

/**
 * Token ids [batch, time] (or [time, batch], or [batch] for a step) standing for one-hot rows of a vocabulary: what `tokenIds()` makes, accepted wherever a first layer's input goes.
 * @see [README: token ids](../../../README.md#in-code)
 */
export class TokenIds {
  readonly shape: readonly number[];
  readonly vocabulary: number;

  /** Validates (and copies) the ids: a TokenIds never holds an id outside its vocabulary, however it was made. */
  constructor(ids: ArrayLike<number>, shape: readonly number[], vocabulary: number) {
    const v = checkPositiveInt(vocabulary, 'vocabulary');
    if (!Array.isArray(shape) || shape.length < 1 || shape.length > 2 || !shape.every((n) => Number.isInteger(n) && n >= 0)) {
      throw new ShapeError('shape', '[batch, time], [time, batch] or [batch] of non-negative integers', describe(shape));
    }
    const size = shape.reduce((a: number, b: number) => a * b, 1);
    if (!ids || typeof ids !== 'object' || typeof (ids as ArrayLike<number>).length !== 'number')
      throw new RecurError('ids', `an array of ${size} token ids`, describe(ids));
    if (ids.length !== size) throw new ShapeError('ids', `${size} ids (shape [${shape.join(', ')}])`, `${ids.length} ids`);
    const out = new Int32Array(size);
    for (let i = 0; i < size; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= v)
        throw new RecurError(`ids[${i}]`, `an integer in [0, ${v}) (the vocabulary)`, describe(id));
      out[i] = id;
    }
    validIds.set(this, out);
    this.shape = Object.freeze([...shape]);
    this.vocabulary = v;
  }

  /** A copy of the ids. */
  get ids(): Int32Array {
    return idsOf(this).slice();
  }
}

/**
 * Validated token ids: integers in [0, vocabulary), as many as the shape holds (the same as `new TokenIds`).
 * @example
 * const ids = tokenIds(Int32Array.of(3, 1, 4, 1), [2, 2], 89); // [batch, time], vocabulary 89
 */
export function tokenIds(ids: ArrayLike<number>, shape: readonly number[], vocabulary: number): TokenIds {
  return new TokenIds(ids, shape, vocabulary);
}

/** [T, B] ids from [B, T] ones. */
export function timeMajorIds(ids: Int32Array, batch: number, time: number): Int32Array {
  const out = new Int32Array(ids.length);
  for (let b = 0; b < batch; b++) for (let t = 0; t < time; t++) out[t * batch + b] = ids[b * time + t];
  return out;
}

/** The one-hot rows [rows, vocabulary] of time-major ids, for a backend without token kernels. */
export function oneHot(ids: Int32Array, vocabulary: number, dtype: 'float32' | 'float64'): Float32Array | Float64Array {
  const out = dtype === 'float64' ? new Float64Array(ids.length * vocabulary) : new Float32Array(ids.length * vocabulary);
  for (let r = 0; r < ids.length; r++) out[r * vocabulary + ids[r]] = 1;
  return out;
}
