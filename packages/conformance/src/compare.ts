import { RecurError } from '@recur/core';

/**
 * A check's verdict when it fails; carries the numbers.
 * @see [docs/backend-authoring.md (proving a backend)](../../../docs/backend-authoring.md#proving-it)
 */
export class CheckFailure extends Error {
  override name = 'CheckFailure';
}

/**
 * Raised by a check that cannot run here. `hardware`: the machine lacks hardware (a GPU) it needs.
 * @see [docs/backend-authoring.md (proving a backend)](../../../docs/backend-authoring.md#proving-it)
 */
export class SkipCheck extends Error {
  override name = 'SkipCheck';
  constructor(
    readonly reason: string,
    readonly hardware = false,
  ) {
    super(reason);
  }
}

/**
 * The largest |a − b| of two arrays (Infinity when their lengths differ).
 * @see [docs/backend-authoring.md (proving a backend)](../../../docs/backend-authoring.md#proving-it)
 */
export function maxAbsDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): { max: number; at: number } {
  if (actual.length !== expected.length) throw new CheckFailure(`length ${actual.length}, expected ${expected.length}`);
  let max = 0,
    at = -1;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= max)) {
      max = Number.isNaN(d) ? Infinity : d;
      at = i;
      if (max === Infinity) break;
    }
  }
  return { max, at };
}

/**
 * Fails unless every |actual - expected| <= tolerance.
 * @see [docs/backend-authoring.md (proving a backend)](../../../docs/backend-authoring.md#proving-it)
 */
export function expectClose(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number): void {
  const { max, at } = maxAbsDiff(actual, expected);
  if (!(max <= tolerance)) {
    throw new CheckFailure(
      `${what}: max |a - ref| = ${max.toExponential(3)} > ${tolerance.toExponential(1)} at [${at}] (a = ${actual[at]}, ref = ${expected[at]})`,
    );
  }
}

/**
 * Fails unless both arrays hold the same values bit for bit.
 * @see [docs/backend-authoring.md (proving a backend)](../../../docs/backend-authoring.md#proving-it)
 */
export function expectEqualArrays(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>): void {
  const { max, at } = maxAbsDiff(actual, expected);
  if (max !== 0) throw new CheckFailure(`${what}: expected exactly equal values, differs by ${max} at [${at}]`);
}

export function expect(condition: boolean, message: string): void {
  if (!condition) throw new CheckFailure(message);
}

/** The fields a thrown `RecurError` must match (`expectRecurError`). */
export interface ExpectedError {
  readonly type?: abstract new (...args: never[]) => Error;
  readonly argument: string | RegExp;
  /** Substrings (or patterns) the `expected` and `actual` fields must contain. */
  readonly expected: string | RegExp;
  readonly actual: string | RegExp;
}

const matches = (value: string, want: string | RegExp) => (typeof want === 'string' ? value.includes(want) : want.test(value));

/**
 * Runs `fn`, which must throw a RecurError whose argument, expected and actual fields match.
 * @see [docs/backend-authoring.md (proving a backend)](../../../docs/backend-authoring.md#proving-it)
 */
export function expectRecurError(what: string, fn: () => unknown, want: ExpectedError): RecurError {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  if (thrown === undefined) throw new CheckFailure(`${what}: expected a RecurError, nothing was thrown`);
  if (!(thrown instanceof RecurError)) throw new CheckFailure(`${what}: expected a RecurError, got ${String(thrown)}`);
  if (want.type && !(thrown instanceof want.type)) {
    const got = thrown as RecurError;
    throw new CheckFailure(`${what}: expected ${want.type.name}, got ${got.name}: ${got.message}`);
  }
  const argumentOk = typeof want.argument === 'string' ? thrown.argument === want.argument : want.argument.test(thrown.argument);
  if (!argumentOk || !matches(thrown.expected, want.expected) || !matches(thrown.actual, want.actual)) {
    throw new CheckFailure(
      `${what}: error fields {argument: ${JSON.stringify(thrown.argument)}, expected: ${JSON.stringify(thrown.expected)}, actual: ${JSON.stringify(thrown.actual)}} ` +
        `do not match {argument: ${want.argument}, expected: ${want.expected}, actual: ${want.actual}}`,
    );
  }
  return thrown;
}
