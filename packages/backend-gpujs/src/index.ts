// backend-gpujs, in progress: the platform layer (which GL, whether it can run single-precision kernels, and why
// not) and the backend's forward (inference: capabilities.training is false until its backward lands). It passes
// every conformance check that applies to it; it registers nothing yet:
//   registerBackend('gpujs', () => new GpujsBackend(), 0.1)
export { GpujsBackend, GpuStorage } from './backend.js';
export { detectPlatform, type GpujsMode, type GpujsPlatform } from './platform.js';
