import type { Gemm, GemmAtB, LayerSpec } from '@recur/core';
import type { BackwardKernelArgs, BackwardKernelResult } from './kernels/backward-common.js';
import type { HostResult, HostRun } from './kernels/slices.js';
import type { CpuTape, CpuWeights, KernelResult } from './kernels/workspace.js';

/**
 * What a faster kernel tier lends backend-cpu (backend-simd's WebAssembly kernels): each member replaces one part
 * of its work, and a member that is absent, or returns null for a case, leaves that part to backend-cpu's own
 * TypeScript kernels. backend-cpu keeps the tensors, the row operations, the slicing of long chunks and the
 * training bookkeeping; the tier holds whatever it prepared for an upload or a tape until told they are gone.
 */
export interface KernelTier {
  /** The matrix product C (+)= A · Wᵀ of every kernel (and of core's dense head, through `hostGemm`). */
  readonly gemm?: Gemm;
  /** The weight gradients' C (+)= Aᵀ · B. */
  readonly gemmAtB?: GemmAtB;
  /** The width a step's rows take in the tier's scratch (its padded units), which sizes time slices. */
  stepUnits?(spec: LayerSpec): number;
  /** One time slice of a forward without tape, on host arrays. */
  forwardHost?(w: CpuWeights, run: HostRun): HostResult | null;
  /** A forward that keeps a tape (the whole chunk). */
  forwardTape?(w: CpuWeights, run: HostRun): KernelResult | null;
  /** One layer's backward. */
  backward?(args: BackwardKernelArgs): BackwardKernelResult | null;
  /** An upload was made (throw to refuse it: backend-cpu then drops it and rethrows). */
  weightsUploaded?(w: CpuWeights): void;
  /** An upload's parameters were changed in place (the optimizer kernel): refresh what the tier made from them. */
  weightsUpdated?(w: CpuWeights): void;
  /** An upload is being dropped. */
  weightsDisposed?(w: CpuWeights): void;
  /** A tape is being dropped. */
  tapeDisposed?(tape: CpuTape): void;
  /** Bytes the tier holds for live uploads and tapes besides backend-cpu's (counted in `memory()`). */
  extraBytes?(): number;
}
