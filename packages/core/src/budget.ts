import { RecurError, describe } from './errors.js';
import { checkOptions } from './options.js';
import type { RecurBackend } from './spec.js';

/**
 * How much memory a backend may use. Every size is checked against it before anything is allocated, so a call
 * that could not succeed is refused with a `RecurError` (and changes nothing) instead of aborting the process.
 */
export interface MemoryBudget {
  /** The largest single buffer in bytes: one tensor, one weight matrix, one kernel's scratch. */
  readonly maxAllocationBytes: number;
  /** Bytes the backend may hold at once: live tensors, weight uploads, tapes and kernel scratch. */
  readonly maxTotalBytes: number;
}

const GiB = 2 ** 30;

/**
 * The host's limits as the JavaScript engine states them: V8 makes typed arrays of at most 2^32 elements (we stay at
 * 4 GiB per buffer: a larger one is rarely meant, and setMemoryBudget raises it), and the process should not take
 * more than three quarters of the machine's memory. Where
 * that cannot be read synchronously (browsers; Node before 20.16, which lacks process.getBuiltinModule) the total
 * is 2 GiB in a browser tab and 8 GiB in Node. `setMemoryBudget` changes a backend's, `setHostMemoryBudget` core's own.
 * @see [docs/backend-authoring.md (memory budgets)](../../../docs/backend-authoring.md#memory-refuse-before-allocating)
 */
export function hostMemoryBudget(): MemoryBudget {
  const proc = (
    globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?: (id: string) => { totalmem?: () => number } | undefined } }
  ).process;
  const os = proc?.getBuiltinModule?.('node:os');
  const total =
    typeof os?.totalmem === 'function' ? Math.floor(os.totalmem() * 0.75) : typeof proc?.versions?.node === 'string' ? 8 * GiB : 2 * GiB;
  return { maxAllocationBytes: Math.min(4 * GiB, total), maxTotalBytes: total };
}

let hostBudget: MemoryBudget | null = null;

/** The budget of core's own host arrays (weights before upload, the dense head): the engine's limits. */
export function coreHostBudget(): MemoryBudget {
  return (hostBudget ??= hostMemoryBudget());
}

/**
 * Changes the budget of core's own host arrays (fields left out keep their values); returns the previous one.
 * @see [docs/backend-authoring.md (memory budgets)](../../../docs/backend-authoring.md#memory-refuse-before-allocating)
 */
export function setHostMemoryBudget(budget: Partial<MemoryBudget>): MemoryBudget {
  const previous = coreHostBudget();
  hostBudget = mergeBudget(previous, budget);
  return { ...previous };
}

/** Validates a (partial) budget given by a user and merges it into `current`. */
export function mergeBudget(current: MemoryBudget, budget: unknown, argument = 'budget'): MemoryBudget {
  const opts = checkOptions(budget as Partial<MemoryBudget> | undefined, ['maxAllocationBytes', 'maxTotalBytes'], argument);
  if (budget === undefined) throw new RecurError(argument, 'a budget {maxAllocationBytes?, maxTotalBytes?}', 'undefined');
  const next = { ...current };
  for (const key of ['maxAllocationBytes', 'maxTotalBytes'] as const) {
    const v = opts[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !(v > 0) || !(Number.isSafeInteger(v) || v === Infinity)) {
      throw new RecurError(`${argument}.${key}`, 'a positive integer number of bytes (or Infinity)', describe(v));
    }
    next[key] = v;
  }
  return next;
}

/**
 * A byte count for people: "1.50 GiB".
 * @see [README: errors](../../../README.md#errors)
 */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return String(bytes);
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = bytes,
    u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} bytes` : `${v.toFixed(2)} ${units[u]}`;
}

/** One planned allocation: its size and what it is for (named in the error; a function when it costs to say). */
export interface Allocation {
  readonly bytes: number;
  readonly what: string | (() => string);
}

const say = (a: Allocation): string => (typeof a.what === 'string' ? a.what : a.what());

/**
 * Refuses allocations that would exceed a budget: any one larger than `maxAllocationBytes`, or all of them together
 * on top of what is live (`liveBytes`) past `maxTotalBytes`. Sizes come from shapes, so a product that overflows
 * (1e9 x 1e9) is still refused, never allocated.
 */
export function checkAllocations(
  budget: MemoryBudget,
  liveBytes: number,
  allocations: readonly Allocation[],
  argument: string,
  owner: string,
): void {
  let total = 0;
  for (const a of allocations) {
    if (!(a.bytes <= budget.maxAllocationBytes)) {
      throw new RecurError(
        argument,
        `at most ${formatBytes(budget.maxAllocationBytes)} for one buffer (${owner}'s maxAllocationBytes)`,
        `${formatBytes(a.bytes)} for ${say(a)}`,
        'a smaller size, or raise it with setMemoryBudget',
      );
    }
    total += a.bytes;
  }
  if (!(liveBytes + total <= budget.maxTotalBytes)) {
    // the largest parts by name, the rest counted
    const top = [...allocations].sort((a, b) => b.bytes - a.bytes).slice(0, 3);
    const more = allocations.length - top.length;
    const what =
      allocations.length === 1
        ? say(allocations[0])
        : `${top.map((a) => `${say(a)} ${formatBytes(a.bytes)}`).join(', ')}${more > 0 ? ` and ${more} smaller part${more > 1 ? 's' : ''}` : ''}`;
    throw new RecurError(
      argument,
      `at most ${formatBytes(budget.maxTotalBytes)} in all (${owner}'s maxTotalBytes; ${formatBytes(liveBytes)} in use)`,
      `${formatBytes(total)} more for ${what}`,
      'free tensors, use a smaller size, or raise it with setMemoryBudget',
    );
  }
}

/** The budget of a backend; a backend that declares none gets the host's. */
/** Budgets set through `setMemoryBudget` for backends that keep none of their own (the members are optional). */
const heldForBackends = new WeakMap<RecurBackend, MemoryBudget>();

export function budgetOf(backend: RecurBackend): MemoryBudget {
  return backend.memoryBudget?.() ?? heldForBackends.get(backend) ?? coreHostBudget();
}

/** Sets a backend's budget: its own `setMemoryBudget`, or, lacking one, core holds the budget for it. */
export function assignBudget(backend: RecurBackend, budget: MemoryBudget): void {
  if (backend.setMemoryBudget) backend.setMemoryBudget(budget);
  else heldForBackends.set(backend, { ...budget });
}

/** Checks planned allocations on a backend against its budget and what it holds now. */
export function reserve(backend: RecurBackend, allocations: readonly Allocation[], argument: string): void {
  checkAllocations(budgetOf(backend), backend.memory().numBytes, allocations, argument, `backend ${JSON.stringify(backend.name)}`);
}

/** Checks host arrays core is about to make (weights before upload, the dense head). */
export function reserveHost(allocations: readonly Allocation[], argument: string): void {
  checkAllocations(coreHostBudget(), 0, allocations, argument, 'the host');
}

export const bytesOf = (dtype: string): number => (dtype === 'float64' ? 8 : 4);
