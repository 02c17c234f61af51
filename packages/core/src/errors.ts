/**
 * Every error Recur throws on misuse: it names the argument, what was expected and what was given.
 * @see [README: errors](../../../README.md#errors)
 */
export class RecurError extends Error {
  readonly argument: string;
  readonly expected: string;
  readonly actual: string;

  constructor(argument: string, expected: string, actual: string, detail?: string) {
    super(`${argument}: expected ${expected}, got ${actual}${detail ? ` (${detail})` : ''}`);
    this.name = new.target.name;
    this.argument = argument;
    this.expected = expected;
    this.actual = actual;
  }
}

/**
 * A tensor or state has the wrong rank, size, batch or layer count.
 * @see [README: errors](../../../README.md#errors)
 */
export class ShapeError extends RecurError {}

/**
 * A backend is unknown, unavailable, lacks a capability, or tensors from two backends were mixed.
 * @see [README: errors](../../../README.md#errors)
 */
export class BackendError extends RecurError {}

/**
 * A tensor was used after `dispose()`, or an owned tensor was disposed by someone else.
 * @see [README: errors](../../../README.md#errors)
 */
export class DisposedTensorError extends RecurError {}

/**
 * A TF1 option or wrapper that Recur does not implement yet.
 * @see [README: errors](../../../README.md#errors)
 */
export class UnsupportedOptionError extends RecurError {}

/**
 * Inputs hold NaN or Infinity while the finite check is on.
 * @see [README: errors](../../../README.md#errors)
 */
export class NonFiniteError extends RecurError {}

/** Describes a value briefly for an error message. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) {
    return value.length > 8
      ? `[${value.slice(0, 8).map(describe).join(', ')}, … (${value.length})]`
      : `[${value.map(describe).join(', ')}]`;
  }
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${(value as unknown as ArrayLike<number>).length})`;
  if (typeof value === 'object') {
    const ctor = (value as object).constructor;
    return ctor && ctor !== Object ? ctor.name : 'object';
  }
  return typeof value;
}
