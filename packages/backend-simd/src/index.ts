import { RecurError, checkOptions, registerBackend } from '@recur/core';
import { SimdBackend } from './backend.js';
import { Engine } from './engine.js';

export { SimdBackend } from './backend.js';

/** Above backend-cpu (1) and backend-wasm (0.5): once imported, the fastest CPU-side backend is the default. */
export const SIMD_PRIORITY = 1.5;

/** Options of `createSimdBackend`. */
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
  /**
   * Run the relaxed-SIMD build of the kernels (fused multiply-adds: about 25% faster batched forwards here):
   * default where the engine has relaxed SIMD (Node 22+, current browsers; Node 20 with
   * --experimental-wasm-relaxed-simd), else the SIMD128 build; env RECUR_SIMD_RELAXED=0 or 1. `true` where the
   * engine lacks it is refused. The two builds agree within the conformance tolerances, not bit for bit.
   */
  readonly relaxedSimd?: boolean;
}

/** The instruction set a backend's kernels were built for. */
export type SimdInstructionSet = 'simd128' | 'relaxed-simd';

/** A module with one f32x4.relaxed_madd: whether this engine validates relaxed SIMD. */
const RELAXED_PROBE = new Uint8Array([
  0x00,
  0x61,
  0x73,
  0x6d,
  0x01,
  0x00,
  0x00,
  0x00, // magic, version
  0x01,
  0x05,
  0x01,
  0x60,
  0x00,
  0x01,
  0x7b, // type: () -> v128
  0x03,
  0x02,
  0x01,
  0x00, // one function of that type
  0x0a,
  0x3d,
  0x01,
  0x3b,
  0x00, // code: one body of 59 bytes, no locals
  ...[0, 1, 2].flatMap(() => [0xfd, 0x0c, ...new Array(16).fill(0)]), // three v128.const 0
  0xfd,
  0x85,
  0x02,
  0x0b, // f32x4.relaxed_madd, end
]);

/**
 * Whether this JavaScript engine runs relaxed SIMD.
 * @see [backend-simd README (a tested example)](../README.md)
 */
export function relaxedSimdSupported(): boolean {
  try {
    return WebAssembly.validate(RELAXED_PROBE);
  } catch {
    return false;
  }
}

function chooseInstructionSet(option: boolean | undefined): SimdInstructionSet {
  const fromEnv = globalThis.process?.env?.RECUR_SIMD_RELAXED;
  let wanted = option;
  if (wanted === undefined && fromEnv !== undefined && fromEnv !== '') {
    if (fromEnv !== '0' && fromEnv !== '1') throw new RecurError('RECUR_SIMD_RELAXED', '0 or 1', JSON.stringify(fromEnv));
    wanted = fromEnv === '1';
  }
  if (wanted !== undefined && typeof wanted !== 'boolean') throw new RecurError('options.relaxedSimd', 'a boolean', String(wanted));
  const supported = relaxedSimdSupported();
  if (wanted === true && !supported) {
    throw new RecurError(
      'options.relaxedSimd',
      'an engine with relaxed SIMD (Node 22+, or --experimental-wasm-relaxed-simd)',
      `Node ${globalThis.process?.versions?.node} without it`,
    );
  }
  return (wanted ?? supported) ? 'relaxed-simd' : 'simd128';
}

async function loadKernels(set: SimdInstructionSet): Promise<ArrayBuffer> {
  const { readFile } = await import('node:fs/promises');
  const bytes = await readFile(
    new URL(set === 'relaxed-simd' ? '../wasm/recur-simd-relaxed.wasm' : '../wasm/recur-simd.wasm', import.meta.url),
  );
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

/**
 * Makes a backend instance (Node.js: helper threads are worker_threads over a shared WebAssembly.Memory).
 * @see [backend-simd README (a tested example)](../README.md)
 */
export async function createSimdBackend(opts?: SimdBackendOptions): Promise<SimdBackend> {
  const options = checkOptions(opts, ['threads', 'spinMs', 'name', 'maxMemoryBytes', 'relaxedSimd'], 'options');
  if (typeof WebAssembly !== 'object' || typeof SharedArrayBuffer !== 'function') {
    throw new Error('backend simd needs WebAssembly threads (SharedArrayBuffer): not available here');
  }
  if (typeof globalThis.process?.versions?.node !== 'string') {
    throw new Error(
      'backend simd runs on Node.js only for now (its helper threads are worker_threads); in browsers use @recur/backend-wasm',
    );
  }
  const threads = options.threads === undefined ? await defaultThreads() : checkThreads(options.threads, 'options.threads');
  const spinMs = options.spinMs ?? 2;
  if (!(typeof spinMs === 'number' && spinMs >= 0 && spinMs <= 1000))
    throw new RecurError('options.spinMs', 'a number of milliseconds from 0 to 1000', String(spinMs));
  const maxMemoryBytes = options.maxMemoryBytes ?? 4 * 2 ** 30;
  if (!(Number.isInteger(maxMemoryBytes) && maxMemoryBytes >= 2 * 2 ** 20 && maxMemoryBytes <= 4 * 2 ** 30)) {
    throw new RecurError('options.maxMemoryBytes', 'an integer number of bytes from 2 MiB to 4 GiB', String(maxMemoryBytes));
  }
  const instructionSet = chooseInstructionSet(options.relaxedSimd);
  const engine = await Engine.create(await loadKernels(instructionSet), { threads, spinMs, maxMemoryBytes });
  return new SimdBackend(engine, options.name ?? 'simd', instructionSet);
}

let registered = false;

/**
 * Registers the backend as "simd" (importing this package does it once); it initialises asynchronously.
 * @see [backend-simd README (a tested example)](../README.md)
 */
export function registerSimdBackend(): void {
  if (registered) return;
  registered = true;
  registerBackend('simd', () => createSimdBackend(), SIMD_PRIORITY);
}

registerSimdBackend();
