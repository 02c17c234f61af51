import { RecurError, checkOptions, registerBackend } from '@recur/core';
import { SimdBackend } from './backend.js';
import { Engine } from './engine.js';

export { SimdBackend } from './backend.js';

/** Above backend-cpu (1) and backend-wasm (0.5): once imported, the fastest CPU-side backend is the default. */
export const SIMD_PRIORITY = 1.5;

export interface SimdBackendOptions {
  /**
   * Threads in all, the calling one included (default: the machine's cores, at most 4; env RECUR_SIMD_THREADS).
   * Each holds a share of the gate rows and their weights; a job uses fewer when the layer is small.
   */
  readonly threads?: number;
  /** Milliseconds an idle helper spins for the next job before it sleeps (default 2). */
  readonly spinMs?: number;
  /** Registered name (default "simd"). */
  readonly name?: string;
  /**
   * The most its WebAssembly memory (packed weights, a chunk's scratch per time slice, helper stacks) may grow to:
   * 2 MiB to 4 GiB, default 4 GiB. A layer or slice that does not fit is refused with a RecurError.
   */
  readonly maxMemoryBytes?: number;
}

async function loadKernels(): Promise<ArrayBuffer> {
  const { readFile } = await import('node:fs/promises');
  const bytes = await readFile(new URL('../wasm/recur-simd.wasm', import.meta.url));
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

async function defaultThreads(): Promise<number> {
  const fromEnv = globalThis.process?.env?.RECUR_SIMD_THREADS;
  if (fromEnv !== undefined && fromEnv !== '') return checkThreads(Number(fromEnv), 'RECUR_SIMD_THREADS');
  const os = await import('node:os');
  return Math.min(4, os.availableParallelism());
}

function checkThreads(threads: number, argument: string): number {
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) throw new RecurError(argument, 'an integer from 1 to 64', String(threads));
  return threads;
}

/** Makes a backend instance (Node.js: helper threads are worker_threads over a shared WebAssembly.Memory). */
export async function createSimdBackend(opts?: SimdBackendOptions): Promise<SimdBackend> {
  const options = checkOptions(opts, ['threads', 'spinMs', 'name', 'maxMemoryBytes'], 'options');
  if (typeof WebAssembly !== 'object' || typeof SharedArrayBuffer !== 'function') {
    throw new Error('backend simd needs WebAssembly threads (SharedArrayBuffer): not available here');
  }
  if (typeof globalThis.process?.versions?.node !== 'string') {
    throw new Error('backend simd runs on Node.js only for now (its helper threads are worker_threads); in browsers use @recur/backend-wasm');
  }
  const threads = options.threads === undefined ? await defaultThreads() : checkThreads(options.threads, 'options.threads');
  const spinMs = options.spinMs ?? 2;
  if (!(typeof spinMs === 'number' && spinMs >= 0 && spinMs <= 1000)) throw new RecurError('options.spinMs', 'a number of milliseconds from 0 to 1000', String(spinMs));
  const maxMemoryBytes = options.maxMemoryBytes ?? 4 * 2 ** 30;
  if (!(Number.isInteger(maxMemoryBytes) && maxMemoryBytes >= 2 * 2 ** 20 && maxMemoryBytes <= 4 * 2 ** 30)) {
    throw new RecurError('options.maxMemoryBytes', 'an integer number of bytes from 2 MiB to 4 GiB', String(maxMemoryBytes));
  }
  const engine = await Engine.create(await loadKernels(), { threads, spinMs, maxMemoryBytes });
  return new SimdBackend(engine, options.name ?? 'simd');
}

let registered = false;

/** Registers the backend as "simd" (importing this package does it once); it initialises asynchronously. */
export function registerSimdBackend(): void {
  if (registered) return;
  registered = true;
  registerBackend('simd', () => createSimdBackend(), SIMD_PRIORITY);
}

registerSimdBackend();
