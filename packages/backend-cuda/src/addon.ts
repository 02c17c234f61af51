import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A device buffer: an external the addon frees on `free()` or, as a safety net, when it is garbage-collected. */
export type DeviceBuffer = { readonly __deviceBuffer: unique symbol };

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
  info(): DeviceInfo;
  alloc(bytes: number): DeviceBuffer;
  free(buffer: DeviceBuffer): void;
  live(): { bytes: number; buffers: number; workspaceBytes: number; cachedBytes: number; deviceFreeBytes?: number };
  /** Returns cached buffers and the kernel workspace to the driver. */
  releaseCached(): void;
  upload(buffer: DeviceBuffer, values: Float32Array | Int32Array, byteOffset: number): void;
  download(buffer: DeviceBuffer, floats: number, floatOffset: number): Float32Array;
  copy(dst: DeviceBuffer, dstByteOffset: number, src: DeviceBuffer, srcByteOffset: number, bytes: number): void;
  zero(buffer: DeviceBuffer): void;
  synchronize(): void;
  forward(args: Record<string, unknown>): void;
  backward(args: Record<string, unknown>): void;
  gemm(args: Record<string, unknown>): void;
  columnSums(a: DeviceBuffer, rows: number, cols: number, out: DeviceBuffer): void;
  transpose01(src: DeviceBuffer, dst: DeviceBuffer, a: number, b: number, f: number): void;
  zeroRows(src: DeviceBuffer, dst: DeviceBuffer, rows: number, per: number, clear: Int32Array): void;
  gatherRows(src: DeviceBuffer, srcRows: number, dst: DeviceBuffer, per: number, rows: Int32Array): void;
  allFinite(buffer: DeviceBuffer, floats: number): boolean;
  softmaxCrossEntropy(logits: DeviceBuffer, targets: Int32Array, rows: number, classes: number, loss: DeviceBuffer, d: DeviceBuffer): void;
  meanSquaredError(predictions: DeviceBuffer, targets: DeviceBuffer, count: number, loss: DeviceBuffer, d: DeviceBuffer): void;
  globalNorm(buffers: DeviceBuffer[], sizes: number[], out: DeviceBuffer): void;
  optimizer(rule: Record<string, number>, param: DeviceBuffer, grad: DeviceBuffer, slot0: DeviceBuffer, slot1: DeviceBuffer | null, n: number): void;
  deriveBias(kind: number, units: number, forgetBias: number, bIh: DeviceBuffer, bHh: DeviceBuffer, bias: DeviceBuffer, hbn: DeviceBuffer | null): void;
  hostForward(args: Record<string, unknown>): { y: Float32Array; h: Float32Array; c: Float32Array };
  /** The host reference of the backward (cells.h's backward math on the CPU). */
  hostBackward(args: Record<string, unknown>): Record<"dx" | "dh0" | "dc0" | "dWih" | "dWhh" | "dbIh" | "dbHh", Float32Array>;
  /** One launch of an empty kernel and a synchronisation: the floor of any call. */
  emptyLaunch(): void;
}

/** The addon, or why there is none (not built: no nvcc at install; or it failed to load). */
export type AddonLoad = { readonly addon: Addon; readonly reason?: undefined } | { readonly addon: null; readonly reason: string };

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
let loaded: AddonLoad | null = null;

/** Loads build/recur_cuda.node once. Never throws: a missing or broken addon is a reason. */
export function loadAddon(): AddonLoad {
  if (loaded) return loaded;
  const file = join(packageRoot, 'build', 'recur_cuda.node');
  if (!existsSync(file)) {
    let reason = 'the CUDA addon was not built (no nvcc at install: install a CUDA toolkit and run `node scripts/build.mjs` in @recur/backend-cuda)';
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
