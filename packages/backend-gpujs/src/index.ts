import { registerBackend } from '@recur/core';
import { GpujsBackend } from './backend.js';

export { GpujsBackend, GpuStorage } from './backend.js';
export { detectPlatform, type GpujsMode, type GpujsPlatform } from './platform.js';

/**
 * Below backend-cpu's priority (1): on a CPU renderer (llvmpipe, SwiftShader) gpu.js is slower than the CPU
 * backends, and a machine cannot tell a software renderer from a GPU everywhere (headless-gl says only "ANGLE"), so
 * gpujs is chosen by name: `backend: 'gpujs'`, `setBackend('gpujs')`.
 */
export const GPUJS_PRIORITY = 0.1;

let registered = false;

/**
 * Registers the backend as "gpujs" (importing this package does it once).
 * @see [backend-gpujs README (a tested example)](../README.md)
 */
export function registerGpujsBackend(): void {
  if (registered) return;
  registered = true;
  registerBackend('gpujs', () => new GpujsBackend('gpujs'), GPUJS_PRIORITY);
}

registerGpujsBackend();
