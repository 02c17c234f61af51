import { registerBackend } from '@recur/core';
import { CpuBackend } from './backend.js';

export { CpuBackend, CpuStorage } from './backend.js';
export type { KernelTier } from './tier.js';
/** For kernel tiers that lend CpuBackend their own kernels (backend-simd). */
export type { CpuTape, CpuWeights, KernelResult } from './kernels/workspace.js';
export type { HostRun, HostResult } from './kernels/slices.js';
export { alloc, poisonDisposedArrays } from './kernels/workspace.js';
export { transposedWeights, weightGradients, type BackwardKernelArgs, type BackwardKernelResult } from './kernels/backward-common.js';

/** Priority of the embedded default: backends with native or GPU kernels register above it. */
export const CPU_PRIORITY = 1;

let registered = false;

/**
 * Registers the backend as "cpu" (importing this package does it once).
 * @see [docs/backend-authoring.md (backend-cpu as a base)](../../../docs/backend-authoring.md#examples-in-this-repository)
 */
export function registerCpuBackend(): void {
  if (registered) return;
  registered = true;
  registerBackend('cpu', () => new CpuBackend('cpu'), CPU_PRIORITY);
}

registerCpuBackend();
