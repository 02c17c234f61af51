import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A device buffer: an external the addon frees on `free()` or, as a safety net, when it is garbage-collected. */
export type DeviceBuffer = { readonly __deviceBuffer: unique symbol };

/** The CUDA driver, runtime and device 0, as the addon reads them. */
export interface DeviceInfo {
  readonly driverVersion: number;
  readonly runtimeVersion: number;
  readonly devices: number;
  readonly error?: string;
  readonly name?: string;
  readonly major?: number;
  readonly minor?: number;
  readonly multiprocessors?: number;
  readonly totalBytes?: number;
}

export interface LayerBuffers {
  readonly kind: number;
  readonly inputSize: number;
  readonly units: number;
  readonly wIh: DeviceBuffer;
  readonly wHh: DeviceBuffer;
  readonly bias: DeviceBuffer;
  readonly hbn: DeviceBuffer | null;
}

/** The addon's functions (native/addon.cc). Sizes are in floats unless named bytes. */
export interface Addon {
  /** The driver, runtime and device 0 (or the CUDA error that stops them). */
  info(): DeviceInfo;
  /** A device buffer (from the caching allocator). */
  alloc(bytes: number): DeviceBuffer;
  /** Returns a buffer to the allocator's cache. */
  free(buffer: DeviceBuffer): void;
  /** What the addon holds on the device. */
  live(): { bytes: number; buffers: number; workspaceBytes: number; cachedBytes: number; deviceFreeBytes?: number };
  /** Returns cached buffers and the kernel workspace to the driver. */
  releaseCached(): void;
  /** Copies host values into a buffer (through pinned staging when small). */
  upload(buffer: DeviceBuffer, values: Float32Array | Int32Array, byteOffset: number): void;
  /** Reads floats of a buffer back (synchronises). */
  download(buffer: DeviceBuffer, floats: number, floatOffset: number): Float32Array;
  /** Copies between device buffers. */
  copy(dst: DeviceBuffer, dstByteOffset: number, src: DeviceBuffer, srcByteOffset: number, bytes: number): void;
  /** Fills a buffer with zeros. */
  zero(buffer: DeviceBuffer): void;
  /** Waits for every kernel queued so far. */
  synchronize(): void;
  /** A chunk forward (native/forward.cu). */
  forward(args: Record<string, unknown>): void;
  /** A chunk backward (native/backward.cu). */
  backward(args: Record<string, unknown>): void;
  /** C (+)= A·B with strided operands (native/gemm.cu). */
  gemm(args: Record<string, unknown>): void;
  /** Column sums of a [rows, cols] matrix. */
  columnSums(a: DeviceBuffer, rows: number, cols: number, out: DeviceBuffer): void;
  /** [a, b, f] to [b, a, f]. */
  transpose01(src: DeviceBuffer, dst: DeviceBuffer, a: number, b: number, f: number): void;
  /** A copy with the flagged rows zeroed. */
  zeroRows(src: DeviceBuffer, dst: DeviceBuffer, rows: number, per: number, clear: Int32Array): void;
  /** The given rows, in order. */
  gatherRows(src: DeviceBuffer, srcRows: number, dst: DeviceBuffer, per: number, rows: Int32Array): void;
  /** Whether every value is finite (synchronises). */
  allFinite(buffer: DeviceBuffer, floats: number): boolean;
  /** Mean softmax cross-entropy and its gradient. */
  softmaxCrossEntropy(logits: DeviceBuffer, targets: Int32Array, rows: number, classes: number, loss: DeviceBuffer, d: DeviceBuffer): void;
  /** Mean squared error and its gradient. */
  meanSquaredError(predictions: DeviceBuffer, targets: DeviceBuffer, count: number, loss: DeviceBuffer, d: DeviceBuffer): void;
  /** √(Σ v²) over several buffers, summed in double. */
  globalNorm(buffers: DeviceBuffer[], sizes: number[], out: DeviceBuffer): void;
  /** One SGD or Adam update in place. */
  optimizer(
    rule: Record<string, number>,
    param: DeviceBuffer,
    grad: DeviceBuffer,
    slot0: DeviceBuffer,
    slot1: DeviceBuffer | null,
    n: number,
  ): void;
  /** The folded biases of a layer from the public ones. */
  deriveBias(
    kind: number,
    units: number,
    forgetBias: number,
    bIh: DeviceBuffer,
    bHh: DeviceBuffer,
    bias: DeviceBuffer,
    hbn: DeviceBuffer | null,
  ): void;
  /** The host reference of the forward (cells.h's math on the CPU). */
  hostForward(args: Record<string, unknown>): { y: Float32Array; h: Float32Array; c: Float32Array };
  /** The host reference of the backward (cells.h's backward math on the CPU). */
  hostBackward(args: Record<string, unknown>): Record<'dx' | 'dh0' | 'dc0' | 'dWih' | 'dWhh' | 'dbIh' | 'dbHh', Float32Array>;
  /** One launch of an empty kernel and a synchronisation: the floor of any call. */
  emptyLaunch(): void;
}

/** The addon, or why there is none (not built: no nvcc at install; or it failed to load). */
export type AddonLoad = { readonly addon: Addon; readonly reason?: undefined } | { readonly addon: null; readonly reason: string };

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
let loaded: AddonLoad | null = null;

/**
 * Loads build/recur_cuda.node once. Never throws: a missing or broken addon is a reason.
 * @see [backend-cuda README (a tested example)](../README.md)
 */
export function loadAddon(): AddonLoad {
  if (loaded) return loaded;
  const file = join(packageRoot, 'build', 'recur_cuda.node');
  if (!existsSync(file)) {
    let reason =
      'the CUDA addon was not built (no nvcc at install: install a CUDA toolkit and run `node scripts/build.mjs` in @recur/backend-cuda)';
    try {
      const status = JSON.parse(readFileSync(join(packageRoot, 'build', 'status.json'), 'utf8')) as { reason?: string };
      if (status.reason) reason = status.reason;
    } catch {
      // no status: the default reason
    }
    return (loaded = { addon: null, reason });
  }
  try {
    return (loaded = { addon: createRequire(import.meta.url)(file) as Addon });
  } catch (error) {
    return (loaded = { addon: null, reason: `the CUDA addon failed to load (${(error as Error).message})` });
  }
}
