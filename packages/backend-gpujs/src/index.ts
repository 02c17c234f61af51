// backend-gpujs: Recur on gpu.js kernels, WebGL2 in browsers and headless-gl in Node (see README.md).
//   registerBackend('gpujs', () => new GpujsBackend(), 0.1)
export { GpujsBackend, GpuStorage } from './backend.js';
export { detectPlatform, type GpujsMode, type GpujsPlatform } from './platform.js';
