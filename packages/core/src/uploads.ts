import type { RecurBackend, WeightsStorage } from './spec.js';

/**
 * Who owns what: a cell owns its weight uploads (one per backend that ran it) and frees them on `cell.dispose()`,
 * `setWeights`, or the `dispose()` of a StatefulRNN / RnnModel built on it. A cell that is dropped without any of
 * these would keep its uploads alive in the backend forever (the backend holds them): this registry frees them
 * when the cell is garbage-collected, and counts each such rescue so that `memory()` can show the missed dispose.
 */
interface Held {
  readonly backend: RecurBackend;
  readonly upload: WeightsStorage;
  /** A weight upload (`disposeWeights`) or a tensor storage (`dispose`: the dense head's parameters on a backend). */
  readonly tensor: boolean;
}

const reclaimed = new Map<string, number>();
const registry =
  typeof FinalizationRegistry === 'function'
    ? new FinalizationRegistry<Held>(({ backend, upload, tensor }) => {
        if (tensor) backend.dispose(upload);
        else backend.disposeWeights(upload);
        reclaimed.set(backend.name, (reclaimed.get(backend.name) ?? 0) + 1);
      })
    : null;

/** Frees `upload` if `owner` is collected before it is untracked. */
export function trackUpload(owner: object, backend: RecurBackend, upload: WeightsStorage, tensor = false): void {
  // the token must be an object: weight storages are (a backend's own type)
  if (registry && typeof upload === 'object' && upload !== null) registry.register(owner, { backend, upload, tensor }, upload);
}

export function untrackUpload(upload: WeightsStorage): void {
  if (registry && typeof upload === 'object' && upload !== null) registry.unregister(upload);
}

/** Weight uploads of a backend that were freed by the garbage collector, not by dispose(). */
export function reclaimedUploads(backendName: string): number {
  return reclaimed.get(backendName) ?? 0;
}
