// backend-gpujs, in progress: the platform layer (which GL, whether it can run single-precision kernels, and why
// not). The backend's kernels build on it; until they exist nothing here registers a backend.
export { detectPlatform, type GpujsMode, type GpujsPlatform } from './platform.js';
