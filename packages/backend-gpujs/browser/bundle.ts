import type { Plugin } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const src = join(dirname(fileURLToPath(import.meta.url)), '../src');

/** Bundles the package's sources for a browser: load.ts (Node's require of gpu.js and headless-gl) becomes load.browser.ts. */
export const browserLoad: Plugin = {
  name: 'recur-gpujs-browser-load',
  setup(build) {
    build.onResolve({ filter: /^\.\/load\.js$/ }, (args) => (args.resolveDir === src ? { path: join(src, 'load.browser.ts') } : undefined));
  },
};
