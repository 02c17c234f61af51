// Compiles csrc/*.c into wasm/recur-simd.wasm with clang + wasm-ld (LLVM 16: apt clang-16 lld-16), then binaryen's
// wasm-opt (npm, pinned): it folds constant address offsets into the loads' offset fields, which clang 16 leaves
// as separate adds and V8 then computes one by one (measured ~20% faster at B=4-16).
//   node scripts/build-wasm.mjs           rebuild the committed binary
//   node scripts/build-wasm.mjs --check   rebuild into a temporary file and fail unless it equals the committed one
// The binary is committed so that installing and building the package needs no C toolchain; CI runs --check.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const committed = join(root, 'wasm', 'recur-simd.wasm');
const check = process.argv.includes('--check');
const clang = ['clang-16', 'clang'].find((c) => {
  try {
    execFileSync(c, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
});
if (!clang) {
  console.error('clang (LLVM 16 with wasm-ld) is missing: apt-get install clang-16 lld-16 (scripts/install-system-deps.sh does it)');
  process.exit(1);
}
const sources = readdirSync(join(root, 'csrc')).filter((f) => f.endsWith('.c')).sort().map((f) => join('csrc', f));
const out = check ? join(mkdtempSync(join(tmpdir(), 'recur-simd-')), 'recur-simd.wasm') : committed;
const flags = [
  '--target=wasm32', '-O3', '-msimd128', '-matomics', '-mbulk-memory', '-nostdlib', '-ffreestanding', '-Wall', '-Wextra', '-Werror',
  // no absolute paths in the binary: the same sources give the same bytes on every machine
  '-fdebug-prefix-map=' + root + '=.', '-Wl,--strip-all',
  '-Wl,--no-entry', '-Wl,--import-memory', '-Wl,--shared-memory', '-Wl,--max-memory=4294967296',
  '-Wl,--export=__stack_pointer', '-Wl,--export=__heap_base', '-Wl,-z,stack-size=65536',
];
const linked = join(mkdtempSync(join(tmpdir(), 'recur-simd-')), 'linked.wasm');
execFileSync(clang, [...flags, '-o', linked, ...sources], { cwd: root, stdio: 'inherit' });
// --low-memory-unused: nothing lives below address 1024 (wasm-ld starts the stack there), so folding is safe
const wasmOpt = join(root, 'node_modules', '.bin', 'wasm-opt');
execFileSync(wasmOpt, [linked, '-O3', '--enable-simd', '--enable-threads', '--enable-bulk-memory', '--enable-mutable-globals',
  '--low-memory-unused', '--optimize-added-constants-propagate', '-o', out], { cwd: root, stdio: 'inherit' });
const bytes = readFileSync(out);
if (check) {
  if (!existsSync(committed) || !bytes.equals(readFileSync(committed))) {
    console.error(`wasm/recur-simd.wasm is stale: csrc/ compiles to different bytes (${bytes.length} vs committed). Run: node scripts/build-wasm.mjs`);
    process.exit(1);
  }
  console.log(`wasm/recur-simd.wasm matches csrc/ (${bytes.length} bytes, ${clang})`);
} else {
  console.log(`wrote wasm/recur-simd.wasm (${bytes.length} bytes, ${clang})`);
}
