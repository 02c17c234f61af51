// Copies tfjs-backend-wasm's WebAssembly binaries (for backend-wasm, which loads them by name) into public/wasm/ (not
// committed). backend-simd's kernels need no copy: Vite follows their new URL(..., import.meta.url) and emits them.
// The model, public/char-lstm.safetensors, is committed (scripts/make-model.mjs).
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '../public/wasm');
mkdirSync(out, { recursive: true });
const require = createRequire(import.meta.url);
const fromWasmBackend = createRequire(require.resolve('@recur/backend-wasm'));
const tfjsWasm = join(dirname(fromWasmBackend.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
let copied = 0;
for (const dir of [tfjsWasm]) {
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.wasm'))) {
    copyFileSync(join(dir, file), join(out, file));
    copied++;
  }
}
console.log(`web: ${copied} WebAssembly binaries in public/wasm/`);
