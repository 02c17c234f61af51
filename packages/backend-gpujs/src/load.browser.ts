import * as gpujs from 'gpu.js';
import type { GlFactory } from './load.js';

// The browser's way to gpu.js (its "browser" build, bundled); headless-gl does not exist here.

export function loadGpujs(): typeof import('gpu.js') {
  return gpujs;
}

export function loadGl(): GlFactory {
  throw new Error('headless-gl is for Node; a browser uses its own WebGL2');
}
