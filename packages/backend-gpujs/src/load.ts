import { createRequire } from 'node:module';

// Node's way to the two CommonJS packages (a browser build swaps this file for load.browser.ts through the
// package's "browser" field): gpu.js, and headless-gl, which is gpu.js's optional dependency, resolvable from
// gpu.js only.

export type GlFactory = (width: number, height: number, options?: object) => WebGLRenderingContext | null;

export function loadGpujs(): typeof import('gpu.js') {
  return createRequire(import.meta.url)('gpu.js') as typeof import('gpu.js');
}

export function loadGl(): GlFactory {
  const fromGpujs = createRequire(createRequire(import.meta.url).resolve('gpu.js'));
  return fromGpujs('gl') as GlFactory;
}
