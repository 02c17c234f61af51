import { defineConfig, mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared.js';

// Every test twice: on the SIMD128 build (Node 20's default), and on the relaxed-SIMD build (fused multiply-adds),
// which the backend picks where the engine has relaxed SIMD: on Node 20 behind a flag (on in Node 22+ and browsers).
export default mergeConfig(
  shared,
  defineConfig({
    test: {
      projects: [
        { extends: true, test: { name: 'simd128', exclude: ['test/relaxed/**'] } },
        // the browser test picks its builds in Chromium: once is enough
        {
          extends: true,
          test: { name: 'relaxed-simd', execArgv: ['--experimental-wasm-relaxed-simd'], exclude: ['test/browser.test.ts'] },
        },
      ],
    },
  }),
);
