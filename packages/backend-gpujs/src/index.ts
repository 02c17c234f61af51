// backend-gpujs, in progress: the platform layer (which GL, whether it can run single-precision kernels, and why
// not) and the forward kernels (src/kernels/). Until the backend built from them passes the conformance suite,
// nothing here registers a backend.
export { detectPlatform, type GpujsMode, type GpujsPlatform } from './platform.js';
