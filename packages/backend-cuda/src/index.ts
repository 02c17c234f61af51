import { registerBackend } from '@recur/core';
import { CudaBackend } from './backend.js';

export { CudaBackend, CudaStorage, kernelKind, type CudaBackendOptions } from './backend.js';
export { loadAddon, type Addon, type AddonLoad, type DeviceInfo } from './addon.js';

/** Above every CPU backend: where a CUDA device is present, it is the default. */
export const CUDA_PRIORITY = 2;

let registered = false;

/**
 * Registers the backend as "cuda" (importing this package does it once).
 * @see [backend-cuda README (a tested example)](../README.md)
 */
export function registerCudaBackend(): void {
  if (registered) return;
  registered = true;
  registerBackend('cuda', () => new CudaBackend('cuda'), CUDA_PRIORITY);
}

registerCudaBackend();
