import { BackendError, RecurError, describe } from './errors.js';
import { SPEC_VERSION, type BackendFactory, type MemoryInfo, type RecurBackend } from './spec.js';

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

export interface BackendInfo {
  readonly name: string;
  readonly priority: number;
  readonly available: boolean;
  /** Why it is unavailable. */
  readonly reason?: string;
  /** The machine lacks hardware it needs (a GPU). */
  readonly missingHardware: boolean;
  /** Whether it is the current default. */
  readonly isDefault: boolean;
}

/** Registers a backend under a name. Higher priority wins when no default was set. */
export function registerBackend(name: string, factory: BackendFactory, priority = 0): void {
  if (typeof name !== 'string' || !/^[a-z][a-z0-9-]*$/.test(name)) {
    throw new RecurError('name', 'a lower-case backend name such as "cpu"', describe(name));
  }
  if (typeof factory !== 'function') throw new RecurError('factory', 'a function returning a backend', describe(factory));
  if (!Number.isFinite(priority)) throw new RecurError('priority', 'a finite number', describe(priority));
  if (entries.has(name)) throw new RecurError('name', 'a backend name not registered yet', JSON.stringify(name));
  entries.set(name, { name, factory, priority });
}

/** Removes a backend (its memory is the caller's business). Mostly for tests and hot reload. */
export function removeBackend(name: string): void {
  entries.delete(name);
  if (explicitDefault === name) explicitDefault = null;
}

function entryFor(name: string, argument: string): Entry {
  const entry = entries.get(name);
  if (!entry) {
    const known = [...entries.keys()];
    throw new BackendError(argument, `a registered backend (${known.length ? known.map((k) => JSON.stringify(k)).join(', ') : 'none registered; import @recur/backend-cpu'})`,
      describe(name));
  }
  return entry;
}

function adopt(entry: Entry, backend: RecurBackend): RecurBackend {
  if (!backend || backend.specVersion !== SPEC_VERSION) {
    entry.failure = `implements spec version ${describe(backend?.specVersion)}, core needs ${SPEC_VERSION}`;
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

/** Initialises a backend (async factories allowed) and returns it; throws if unknown or unavailable. */
export async function ready(name?: string): Promise<RecurBackend> {
  const entry = entryFor(name ?? defaultName(), 'name');
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

/** Makes a backend the default, initialising it first. */
export async function setBackend(name: string): Promise<void> {
  await ready(name);
  explicitDefault = name;
}

function initSync(entry: Entry, argument: string): RecurBackend {
  if (entry.instance) return entry.instance;
  if (entry.failure) throw unavailable(entry);
  if (entry.pending) {
    throw new BackendError(argument, `an initialised backend`, `${JSON.stringify(entry.name)}, still initialising`, `await ready(${JSON.stringify(entry.name)}) first`);
  }
  let made: RecurBackend | Promise<RecurBackend>;
  try {
    made = entry.factory();
  } catch (error) {
    entry.failure = error instanceof Error ? error.message : String(error);
    throw unavailable(entry);
  }
  if (made instanceof Promise) {
    entry.pending = made.then((b) => adopt(entry, b), (error) => {
      entry.failure ??= error instanceof Error ? error.message : String(error);
      throw unavailable(entry);
    });
    entry.pending.catch(() => {});
    throw new BackendError(argument, `an initialised backend`, `${JSON.stringify(entry.name)}, which initialises asynchronously`, `await ready(${JSON.stringify(entry.name)}) first`);
  }
  return adopt(entry, made);
}

function defaultName(): string {
  if (explicitDefault) return explicitDefault;
  const ranked = [...entries.values()].sort((a, b) => b.priority - a.priority);
  const usable = ranked.find((e) => e.instance) ?? ranked.find((e) => !e.failure);
  if (!usable) {
    throw new BackendError('backend', 'a registered, available backend', ranked.length ? 'none available' : 'none registered',
      'import "@recur/backend-cpu" to register the default backend');
  }
  return usable.name;
}

/** The named backend, or the default; synchronous, so an async backend must have been `ready()`-ed. */
export function getBackend(name?: string, argument = 'backend'): RecurBackend {
  if (name !== undefined && typeof name !== 'string') throw new BackendError(argument, 'a backend name', describe(name));
  return initSync(entryFor(name ?? defaultName(), argument), argument);
}

/** Every registered backend with its availability (initialising each one to find out). */
export async function listBackends(): Promise<BackendInfo[]> {
  const current = (() => {
    try {
      return defaultName();
    } catch {
      return null;
    }
  })();
  const infos: BackendInfo[] = [];
  for (const entry of [...entries.values()].sort((a, b) => b.priority - a.priority)) {
    try {
      await ready(entry.name);
    } catch {
      // recorded in entry.failure
    }
    infos.push({
      name: entry.name, priority: entry.priority, available: !!entry.instance, reason: entry.failure, missingHardware: entry.missingHardware === true,
      isDefault: entry.name === current,
    });
  }
  return infos;
}

/** Live tensors and bytes held by a backend (the default if no name). */
export function memory(name?: string): MemoryInfo {
  return getBackend(name).memory();
}
