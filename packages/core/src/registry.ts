import { assignBudget, budgetOf, mergeBudget, type MemoryBudget } from './budget.js';
import { BackendError, RecurError, describe } from './errors.js';
import { reclaimedUploads } from './uploads.js';
import { SPEC_VERSION, type Availability, type BackendFactory, type MemoryInfo, type RecurBackend } from './spec.js';

interface Entry {
  readonly name: string;
  readonly factory: BackendFactory;
  readonly priority: number;
  instance?: RecurBackend;
  pending?: Promise<RecurBackend>;
  /** Set when the factory threw or the backend said it is unavailable. */
  failure?: string;
  missingHardware?: boolean;
}

const entries = new Map<string, Entry>();
let explicitDefault: string | null = null;

/** A registered backend as `listBackends()` reports it. */
export interface BackendInfo {
  readonly name: string;
  readonly priority: number;
  readonly available: boolean;
  /** Why it is unavailable. */
  readonly reason?: string;
  /** The machine lacks hardware it needs (a GPU). */
  readonly missingHardware: boolean;
  /** Where its kernels run, when the backend says (`Availability.runsOn`). */
  readonly runsOn?: string;
  /** Whether it is the current default. */
  readonly isDefault: boolean;
}

/**
 * Registers a backend under a name. Higher priority wins when no default was set.
 * @see [docs/backend-authoring.md](../../../docs/backend-authoring.md)
 */
export function registerBackend(name: string, factory: BackendFactory, priority = 0): void {
  if (typeof name !== 'string' || !/^[a-z][a-z0-9-]*$/.test(name)) {
    throw new RecurError('name', 'a lower-case backend name such as "cpu"', describe(name));
  }
  if (typeof factory !== 'function') throw new RecurError('factory', 'a function returning a backend', describe(factory));
  if (!Number.isFinite(priority)) throw new RecurError('priority', 'a finite number', describe(priority));
  if (entries.has(name)) throw new RecurError('name', 'a backend name not registered yet', JSON.stringify(name));
  entries.set(name, { name, factory, priority });
}

/**
 * Removes a backend (its memory is the caller's business). Mostly for tests and hot reload.
 * @see [docs/backend-authoring.md](../../../docs/backend-authoring.md)
 */
export function removeBackend(name: string): void {
  entries.delete(name);
  if (explicitDefault === name) explicitDefault = null;
}

/** @internal The name a backend instance is registered under (its `name` need not be that name). */
export function registeredName(backend: RecurBackend): string | undefined {
  for (const [name, entry] of entries) if (entry.instance === backend) return name;
  return undefined;
}

function entryFor(name: string, argument: string): Entry {
  const entry = entries.get(name);
  if (!entry) {
    const known = [...entries.keys()];
    throw new BackendError(
      argument,
      `a registered backend (${known.length ? known.map((k) => JSON.stringify(k)).join(', ') : 'none registered; import @recur/backend-cpu'})`,
      describe(name),
    );
  }
  return entry;
}

/** What every backend must have; training and sync reads add theirs when its capabilities claim them. */
const REQUIRED = [
  'available',
  'upload',
  'zeros',
  'read',
  'dispose',
  'memory',
  'uploadWeights',
  'disposeWeights',
  'forward',
  'transpose01',
  'zeroRows',
  'gatherRows',
  'concatRows',
  'allFinite',
] as const;

/** The names of required members a backend object lacks (empty if none). */
export function missingMembers(backend: RecurBackend): string[] {
  const b = backend as unknown as Record<string, unknown>;
  const missing: string[] = REQUIRED.filter((m) => typeof b[m] !== 'function');
  const caps = backend.capabilities as Partial<RecurBackend['capabilities']> | undefined;
  if (!caps || typeof caps !== 'object' || !Array.isArray(caps.cells) || !Array.isArray(caps.dtypes))
    missing.push('capabilities {cells, dtypes, training, syncRead}');
  else {
    if (caps.training)
      missing.push(
        ...['backward', 'disposeTape'].filter((m) => typeof b[m] !== 'function').map((m) => `${m} (capabilities.training is true)`),
      );
    if (caps.syncRead && typeof b.readSync !== 'function') missing.push('readSync (capabilities.syncRead is true)');
  }
  return missing;
}

function adopt(entry: Entry, backend: RecurBackend): RecurBackend {
  const missing = backend && typeof backend === 'object' ? missingMembers(backend) : [];
  if (!backend || typeof backend !== 'object' || backend.specVersion !== SPEC_VERSION) {
    const version = describe((backend as RecurBackend | undefined)?.specVersion);
    entry.failure = `implements spec version ${version}, core needs ${SPEC_VERSION}${version === '1' ? ' (v2 tags LayerSpec by kind: see docs/backend-authoring.md)' : ''}`;
  } else if (missing.length) {
    entry.failure = `its backend object lacks ${missing.join(', ')}`;
  } else if (backend.name !== entry.name) {
    // errors name backends by backend.name: two names for one backend would make them unreadable
    entry.failure = `its factory made a backend named ${JSON.stringify(backend.name)}, not ${JSON.stringify(entry.name)} as registered`;
  } else {
    const availability = backend.available();
    if (availability.available) entry.instance = backend;
    else {
      entry.failure = availability.reason ?? 'unavailable (no reason given)';
      entry.missingHardware = availability.missingHardware === true;
    }
  }
  if (entry.failure) throw unavailable(entry);
  return backend;
}

function unavailable(entry: Entry): BackendError {
  return new BackendError('backend', 'an available backend', `${JSON.stringify(entry.name)}, which is unavailable: ${entry.failure}`);
}

/**
 * Initialises a backend (async factories allowed) and returns it; throws if unknown or unavailable. Without a
 * name: the default, or else the highest-priority backend that initialises. `ready(name)` never changes the
 * default: objects still bind to the default unless given `{ backend: name }`; `setBackend(name)` changes it.
 *
 * @example
 * await ready('simd');                              // compile and start it now, not at first use
 * const cell = new LSTMCell(64, { backend: 'simd' }); // use it by name...
 * await setBackend('simd');                          // ...or make it the default for new objects
 */
export async function ready(name?: string): Promise<RecurBackend> {
  if (name === undefined && !explicitDefault) {
    for (const entry of ranked()) {
      try {
        return await initAsync(entry);
      } catch {
        // unavailable: try the next one
      }
    }
    throw noBackend();
  }
  return initAsync(entryFor(name ?? explicitDefault!, 'name'));
}

async function initAsync(entry: Entry): Promise<RecurBackend> {
  if (entry.instance) return entry.instance;
  if (entry.failure) throw unavailable(entry);
  entry.pending ??= (async () => {
    try {
      return adopt(entry, await entry.factory());
    } catch (error) {
      entry.failure ??= error instanceof Error ? error.message : String(error);
      throw unavailable(entry);
    }
  })();
  return entry.pending;
}

/**
 * Makes a backend the default, initialising it first.
 * @example
 * await setBackend('simd'); // new objects bind to it; existing ones keep theirs
 */
export async function setBackend(name: string): Promise<void> {
  await ready(name);
  explicitDefault = name;
}

function initSync(entry: Entry, argument: string): RecurBackend {
  if (entry.instance) return entry.instance;
  if (entry.failure) throw unavailable(entry);
  if (entry.pending) {
    throw new BackendError(
      argument,
      `an initialised backend`,
      `${JSON.stringify(entry.name)}, still initialising`,
      `await ready(${JSON.stringify(entry.name)}) first`,
    );
  }
  let made: RecurBackend | Promise<RecurBackend>;
  try {
    made = entry.factory();
  } catch (error) {
    entry.failure = error instanceof Error ? error.message : String(error);
    throw unavailable(entry);
  }
  if (made instanceof Promise) {
    entry.pending = made.then(
      (b) => adopt(entry, b),
      (error) => {
        entry.failure ??= error instanceof Error ? error.message : String(error);
        throw unavailable(entry);
      },
    );
    entry.pending.catch(() => {});
    throw new BackendError(
      argument,
      `an initialised backend`,
      `${JSON.stringify(entry.name)}, which initialises asynchronously`,
      `await ready(${JSON.stringify(entry.name)}) first`,
    );
  }
  return adopt(entry, made);
}

function ranked(): Entry[] {
  return [...entries.values()].sort((a, b) => b.priority - a.priority);
}

function noBackend(): BackendError {
  return new BackendError(
    'backend',
    'a registered, available backend',
    entries.size ? 'none available' : 'none registered',
    'import "@recur/backend-cpu" to register the default backend',
  );
}

/** The default: the one set by setBackend, else the highest-priority backend that initialises synchronously. */
function defaultBackend(argument: string): RecurBackend {
  if (explicitDefault) return initSync(entryFor(explicitDefault, argument), argument);
  for (const entry of ranked()) {
    if (entry.instance) return entry.instance;
    if (entry.failure || entry.pending) continue;
    try {
      return initSync(entry, argument);
    } catch {
      // unavailable, or initialises asynchronously (now under way): the next one
    }
  }
  throw noBackend();
}

/**
 * The named backend, or the default; synchronous, so an async backend must have been `ready()`-ed.
 * @see [docs/backend-authoring.md](../../../docs/backend-authoring.md)
 */
export function getBackend(name?: string, argument = 'backend'): RecurBackend {
  if (name === undefined) return defaultBackend(argument);
  if (typeof name !== 'string') throw new BackendError(argument, 'a backend name', describe(name));
  return initSync(entryFor(name, argument), argument);
}

/**
 * Every registered backend with its availability (initialising each one to find out).
 * @example
 * for (const b of await listBackends()) console.log(b.name, b.available ? b.runsOn ?? 'available' : b.reason);
 */
export async function listBackends(): Promise<BackendInfo[]> {
  for (const entry of entries.values()) await initAsync(entry).catch(() => {});
  let current: string | null = null;
  try {
    current = getBackend().name;
  } catch {
    // none available
  }
  return ranked().map((entry) => {
    // asked again of a running instance: one can stop being available (a closed backend, a lost GPU context)
    let now: Availability | null = null;
    if (entry.instance) {
      try {
        now = entry.instance.available();
      } catch (error) {
        now = { available: false, reason: `available() threw: ${(error as Error)?.message ?? String(error)}` };
      }
    }
    return {
      name: entry.name,
      priority: entry.priority,
      available: now?.available === true,
      reason: now ? now.reason : entry.failure,
      missingHardware: now ? now.missingHardware === true : entry.missingHardware === true,
      isDefault: entry.name === current,
      ...(now?.runsOn ? { runsOn: now.runsOn } : {}),
    };
  });
}

/**
 * Live tensors and bytes held by a backend (the default if no name), and how many weight uploads the garbage
 * collector had to free because their cell was dropped undisposed (each one is a missing `dispose()`).
 * @example
 * console.log(memory('cpu').numTensors); // live tensors and weight uploads: 0 after everything is disposed
 */
export function memory(name?: string): MemoryInfo & { readonly reclaimedUploads: number } {
  const backend = getBackend(name);
  return { ...backend.memory(), reclaimedUploads: reclaimedUploads(backend.name) };
}

/**
 * The memory budget of a backend (the default if no name): every size is checked against it before allocating.
 * @see [docs/backend-authoring.md (memory budgets)](../../../docs/backend-authoring.md#memory-refuse-before-allocating)
 */
export function getMemoryBudget(name?: string): MemoryBudget {
  return { ...budgetOf(getBackend(name)) };
}

/**
 * Changes a backend's memory budget (the default backend if no name); fields left out keep their values. Returns
 * the previous budget. A backend that declares no budget of its own cannot change it.
 * @see [docs/backend-authoring.md (memory budgets)](../../../docs/backend-authoring.md#memory-refuse-before-allocating)
 */
export function setMemoryBudget(budget: Partial<MemoryBudget>, name?: string): MemoryBudget {
  const backend = getBackend(name);
  const previous = budgetOf(backend);
  assignBudget(backend, mergeBudget(previous, budget));
  return { ...previous };
}
