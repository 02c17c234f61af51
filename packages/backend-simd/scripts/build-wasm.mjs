// Compiles csrc/*.c into wasm/recur-simd.wasm and wasm/recur-simd-relaxed.wasm with clang + wasm-ld (LLVM 16: apt clang-16 lld-16), then binaryen's
// wasm-opt (npm, pinned): it folds constant address offsets into the loads' offset fields, which clang 16 leaves
// as separate adds and V8 then computes one by one (measured ~20% faster at B=4-16).
//   node scripts/build-wasm.mjs           rebuild the committed binaries
//   node scripts/build-wasm.mjs --check   rebuild into temporary files and fail unless they equal the committed ones
// The binary is committed so that installing and building the package needs no C toolchain; CI runs --check.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
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
const sources = readdirSync(join(root, 'csrc'))
  .filter((f) => f.endsWith('.c'))
  .sort()
  .map((f) => join('csrc', f));
// Two binaries from the same sources: SIMD128, and relaxed SIMD whose multiply-adds are fused (f32x4.relaxed_madd:
// one instruction instead of two), which the loader picks where the engine validates it.
const variants = [
  { file: 'recur-simd.wasm', clang: [], opt: [] },
  { file: 'recur-simd-relaxed.wasm', clang: ['-mrelaxed-simd', '-DRECUR_RELAXED'], opt: ['--enable-relaxed-simd'] },
];
const flags = [
  '--target=wasm32',
  '-O3',
  '-msimd128',
  '-matomics',
  '-mbulk-memory',
  '-nostdlib',
  '-ffreestanding',
  '-Wall',
  '-Wextra',
  '-Werror',
  // no absolute paths in the binary: the same sources give the same bytes on every machine
  '-fdebug-prefix-map=' + root + '=.',
  '-Wl,--strip-all',
  '-Wl,--no-entry',
  '-Wl,--import-memory',
  '-Wl,--shared-memory',
  '-Wl,--max-memory=4294967296',
  '-Wl,--export=__stack_pointer',
  '-Wl,--export=__heap_base',
  '-Wl,-z,stack-size=65536',
];
// clang's wasm driver runs any wasm-opt it finds on PATH after linking, with no feature flags (it then fails:
// "SIMD operations require SIMD"); pnpm puts binaryen's on PATH for package scripts. Ours runs below, with flags.
const clangEnv = {
  ...process.env,
  PATH: (process.env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => !existsSync(join(dir, 'wasm-opt')))
    .join(delimiter),
};
let stale = false;
for (const variant of variants) {
  const committed = join(root, 'wasm', variant.file);
  const scratch = mkdtempSync(join(tmpdir(), 'recur-simd-'));
  const out = check ? join(scratch, variant.file) : committed;
  const linked = join(scratch, 'linked.wasm');
  execFileSync(clang, [...variant.clang, ...flags, '-o', linked, ...sources], { cwd: root, stdio: 'inherit', env: clangEnv });
  // --low-memory-unused: nothing lives below address 1024 (wasm-ld starts the stack there), so folding is safe
  const wasmOpt = join(root, 'node_modules', '.bin', 'wasm-opt');
  execFileSync(
    wasmOpt,
    [
      linked,
      '-O3',
      ...variant.opt,
      '--enable-simd',
      '--enable-threads',
      '--enable-bulk-memory',
      '--enable-mutable-globals',
      '--low-memory-unused',
      '--optimize-added-constants-propagate',
      '-o',
      out,
    ],
    { cwd: root, stdio: 'inherit' },
  );
  const bytes = readFileSync(out);
  if (!check) {
    console.log(`wrote wasm/${variant.file} (${bytes.length} bytes, ${clang})`);
  } else if (!existsSync(committed) || !bytes.equals(readFileSync(committed))) {
    console.error(
      `wasm/${variant.file} is stale: csrc/ compiles to different bytes (${bytes.length} vs committed). Run: node scripts/build-wasm.mjs`,
    );
    stale = true;
  } else {
    console.log(`wasm/${variant.file} matches csrc/ (${bytes.length} bytes, ${clang})`);
  }
}
if (stale) process.exit(1);
