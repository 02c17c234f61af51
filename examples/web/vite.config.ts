import { defineConfig } from 'vite';

// The dev server and `vite preview` serve the page cross-origin isolated, so that backend-simd runs a Web Worker on
// every core; built with relative paths, the page also works from any static host (without the headers, simd runs
// on one thread and says so).
const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  base: './',
  server: { headers: isolation },
  preview: { headers: isolation },
  build: { target: 'es2022', chunkSizeWarningLimit: 4096 },
});
