import { registerBackend } from '@recur/core';
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { WasmBackend } from './backend.js';

export { WasmBackend } from './backend.js';
/** In a browser, where tfjs-backend-wasm's .wasm files are served from (a URL prefix ending in /). */
/**
 * tfjs-backend-wasm's own: where its .wasm files are served from, for bundlers that move them.
 * @see [README: packages](../../../README.md#packages)
 */
export { setWasmPaths };

/** Below backend-cpu: the embedded default stays the default; choose this one with `await setBackend('wasm')`. */
export const WASM_PRIORITY = 0.5;

let registered = false;

/**
 * Registers the backend as "wasm" (importing this package does it once); it initialises asynchronously.
 * @see [README: packages](../../../README.md#packages)
 */
export function registerWasmBackend(): void {
  if (registered) return;
  registered = true;
  registerBackend(
    'wasm',
    async () => {
      if (!(await tf.setBackend('wasm')))
        throw new Error('tfjs-backend-wasm failed to initialise (are its .wasm files reachable? see setWasmPaths)');
      await tf.ready();
      return new WasmBackend('wasm');
    },
    WASM_PRIORITY,
  );
}

registerWasmBackend();
