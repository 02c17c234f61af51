import { RecurError, checkOptions, registerBackend } from '@recur/core';
import { SimdBackend } from './backend.js';
import { Engine } from './engine.js';
import { inNode, nodeBuiltin } from './node-builtin.js';

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
   * 2 MiB to 4 GiB, default 4 GiB in Node and 1 GiB in browsers. A layer or slice that does not fit is refused with a
   * RecurError.
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

/** Where a page serves the kernels (`setSimdWasmPaths`), else next to this module. */
let wasmPrefix: string | null = null;

/**
 * Where a browser fetches the kernel binaries (`recur-simd.wasm`, `recur-simd-relaxed.wasm`, from this package's
 * `wasm/` folder) when a bundler does not place them beside the module: a URL prefix ending in "/".
 * @see [backend-simd README (browsers)](../README.md#browsers)
 */
export function setSimdWasmPaths(prefix: string): void {
  if (typeof prefix !== 'string' || !prefix.endsWith('/')) throw new RecurError('prefix', 'a URL prefix ending in "/"', String(prefix));
  wasmPrefix = prefix;
}

async function loadKernels(set: SimdInstructionSet): Promise<ArrayBuffer> {
  // literal URLs, so that bundlers (Vite, webpack) find and emit the binaries
  const beside =
    set === 'relaxed-simd'
      ? new URL('../wasm/recur-simd-relaxed.wasm', import.meta.url)
      : new URL('../wasm/recur-simd.wasm', import.meta.url);
  if (inNode()) {
    // Node reads the package's own files (setSimdWasmPaths is for pages)
    const { readFile } = await nodeBuiltin<typeof import('node:fs/promises')>('node:fs/promises');
    const bytes = await readFile(beside);
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }
  // by its own name under the prefix (a bundler may have renamed `beside`, e.g. to a hashed asset)
  const name = set === 'relaxed-simd' ? 'recur-simd-relaxed.wasm' : 'recur-simd.wasm';
  const url = wasmPrefix === null ? beside : new URL(name, new URL(wasmPrefix, globalThis.location?.href));
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(
      `backend simd: its kernels ${url} answered HTTP ${response.status} (serve the package's wasm/ folder and call setSimdWasmPaths)`,
    );
  }
  return response.arrayBuffer();
}

/** How many threads, and why: every core where helpers can share the memory, else one thread and the reason. */
async function threading(requested: number | undefined): Promise<{ threads: number; note: string }> {
  if (inNode()) {
    const fromEnv = globalThis.process?.env?.RECUR_SIMD_THREADS;
    const os = await nodeBuiltin<typeof import('node:os')>('node:os');
    const threads =
      requested !== undefined
        ? checkThreads(requested, 'options.threads')
        : fromEnv !== undefined && fromEnv !== ''
          ? checkThreads(Number(fromEnv), 'RECUR_SIMD_THREADS')
          : Math.min(4, os.availableParallelism());
    return { threads, note: threads > 1 ? 'Node.js worker threads' : 'Node.js, no helper threads' };
  }
  const isolated = globalThis.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function' && typeof Worker === 'function';
  if (!isolated) {
    if (requested !== undefined && checkThreads(requested, 'options.threads') > 1) {
      throw new RecurError(
        'options.threads',
        '1 on a page that is not cross-origin isolated (helpers need shared memory)',
        String(requested),
      );
    }
    return { threads: 1, note: NOT_ISOLATED };
  }
  const cores = Math.max(1, Math.min(64, navigator.hardwareConcurrency || 1));
  const threads = requested === undefined ? Math.min(4, cores) : checkThreads(requested, 'options.threads');
  return {
    threads,
    note: threads > 1 ? 'Web Workers over shared memory (cross-origin isolated)' : 'cross-origin isolated, one core: no helper Workers',
  };
}

const NOT_ISOLATED =
  'one thread: the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp for a Worker on every core)';

/** Whether this engine makes a shared WebAssembly memory (browsers other than Chromium's may refuse without isolation). */
function sharedMemorySupported(): boolean {
  try {
    return new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof Object;
  } catch {
    return false;
  }
}

function checkThreads(threads: number, argument: string): number {
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) throw new RecurError(argument, 'an integer from 1 to 64', String(threads));
  return threads;
}

/**
 * Makes a backend instance: helper threads are Node's worker_threads, or in a browser Web Workers when the page is
 * cross-origin isolated (one thread otherwise: `runsOn` says which and why), over one shared WebAssembly.Memory.
 * @see [backend-simd README (a tested example)](../README.md)
 */
export async function createSimdBackend(opts?: SimdBackendOptions): Promise<SimdBackend> {
  const options = checkOptions(opts, ['threads', 'spinMs', 'name', 'maxMemoryBytes', 'relaxedSimd'], 'options');
  if (typeof WebAssembly !== 'object' || !sharedMemorySupported()) {
    throw new Error(
      'backend simd needs a shared WebAssembly memory, which this engine refuses here' +
        (inNode() ? '' : ' (browsers other than Chromium allow one only on cross-origin isolated pages: serve COOP/COEP headers)'),
    );
  }
  const { threads, note } = await threading(options.threads);
  const spinMs = options.spinMs ?? 2;
  if (!(typeof spinMs === 'number' && spinMs >= 0 && spinMs <= 1000))
    throw new RecurError('options.spinMs', 'a number of milliseconds from 0 to 1000', String(spinMs));
  // browsers: a 1 GiB maximum by default (a shared memory reserves its maximum; some 32-bit and mobile engines
  // refuse 4 GiB); Node: wasm32's 4 GiB
  const maxMemoryBytes = options.maxMemoryBytes ?? (inNode() ? 4 * 2 ** 30 : 2 ** 30);
  if (!(Number.isInteger(maxMemoryBytes) && maxMemoryBytes >= 2 * 2 ** 20 && maxMemoryBytes <= 4 * 2 ** 30)) {
    throw new RecurError('options.maxMemoryBytes', 'an integer number of bytes from 2 MiB to 4 GiB', String(maxMemoryBytes));
  }
  const instructionSet = chooseInstructionSet(options.relaxedSimd);
  const engine = await Engine.create(await loadKernels(instructionSet), { threads, spinMs, maxMemoryBytes });
  return new SimdBackend(engine, options.name ?? 'simd', instructionSet, note);
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
