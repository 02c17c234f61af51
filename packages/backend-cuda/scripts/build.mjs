#!/usr/bin/env node
// Builds the addon (build/recur_cuda.node) with nvcc when a CUDA toolkit is present; without one it builds nothing
// and records why in build/status.json, which available() reports. Runs at install (`--install`: a failed compile
// is recorded, not fatal) and in `pnpm build` (a failed compile fails the build).
//   RECUR_CUDA_ARCHS=80,90   the SASS targets (PTX of the last one is embedded too)
//   NVCC=/path/to/nvcc       the compiler (else $CUDA_HOME/bin/nvcc, PATH, /usr/local/cuda/bin/nvcc)
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const native = join(root, 'native'),
  out = join(root, 'build'),
  objects = join(out, 'obj');
const target = join(out, 'recur_cuda.node'),
  status = join(out, 'status.json');
mkdirSync(objects, { recursive: true });

const record = (built, detail) => writeFileSync(status, JSON.stringify({ built, ...detail }, null, 2) + '\n');

function findNvcc() {
  const candidates = [process.env.NVCC, process.env.CUDA_HOME && join(process.env.CUDA_HOME, 'bin', 'nvcc')];
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir) candidates.push(join(dir, 'nvcc'));
  candidates.push('/usr/local/cuda/bin/nvcc');
  return candidates.find((c) => c && existsSync(c)) ?? null;
}

const nvcc = findNvcc();
if (!nvcc) {
  record(false, {
    reason:
      'built without CUDA: no nvcc was found at install (set NVCC or CUDA_HOME, or put nvcc on PATH, then run `node scripts/build.mjs` in @recur/backend-cuda)',
  });
  console.log('backend-cuda: nvcc not found; the addon was not built (the backend reports itself unavailable)');
  process.exit(0);
}
// nvcc may be a wrapper script elsewhere: look for cudart beside it and in the usual homes
const cudaHomes = [join(dirname(realpathSync(nvcc)), '..'), process.env.CUDA_HOME, '/usr/local/cuda'].filter(Boolean);
const version = execFileSync(nvcc, ['--version'], { encoding: 'utf8' }).trim().split('\n').pop();
const napiInclude =
  process.env.NAPI_INCLUDE ?? join(dirname(createRequire(import.meta.url).resolve('node-api-headers/package.json')), 'include');
const archs = (process.env.RECUR_CUDA_ARCHS ?? '80,90')
  .split(',')
  .map((a) => a.trim())
  .filter(Boolean);
const gencode = archs.flatMap((a) => ['-gencode', `arch=compute_${a},code=sm_${a}`]);
gencode.push('-gencode', `arch=compute_${archs.at(-1)},code=compute_${archs.at(-1)}`);

const sources = readdirSync(native).filter((f) => f.endsWith('.cu') || f.endsWith('.cc'));
const headers = readdirSync(native)
  .filter((f) => f.endsWith('.h'))
  .map((f) => join(native, f));
const newest = (files) => Math.max(...files.map((f) => statSync(f).mtimeMs));
const headerTime = newest([...headers, fileURLToPath(import.meta.url)]);

const jobs = sources.map((src) => {
  const input = join(native, src),
    obj = join(objects, `${src}.o`);
  const stale = !existsSync(obj) || statSync(obj).mtimeMs < Math.max(statSync(input).mtimeMs, headerTime);
  const args = ['-c', '-O3', '-std=c++17', '-Xcompiler', '-fPIC,-fvisibility=hidden', `-I${napiInclude}`, '-o', obj, input];
  if (src.endsWith('.cu')) args.unshift(...gencode, '--expt-relaxed-constexpr');
  else args.unshift('-x', 'c++');
  return { src, obj, stale, args };
});

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: 'inherit' });
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}`))));
    p.on('error', reject);
  });
}

const todo = jobs.filter((j) => j.stale);
const parallel = Math.max(1, Math.min(cpus().length, 8));
let next = 0;
async function worker() {
  while (next < todo.length) {
    const job = todo[next++];
    console.log(`backend-cuda: nvcc ${job.src}`);
    await run(nvcc, job.args);
  }
}
try {
  await Promise.all(Array.from({ length: parallel }, worker));
  const libDirs = cudaHomes
    .flatMap((h) => [join(h, 'lib64'), join(h, 'targets', 'x86_64-linux', 'lib')])
    .filter((d) => existsSync(join(d, 'libcudart_static.a')))
    .slice(0, 1);
  if (!libDirs.length) throw new Error(`libcudart_static.a not found under ${cudaHomes.join(', ')}`);
  if (todo.length || !existsSync(target)) {
    // cudart and libstdc++ linked statically: the addon needs the NVIDIA driver and nothing else at run time
    await run(process.env.CXX ?? 'g++', [
      '-shared',
      '-o',
      target,
      ...jobs.map((j) => j.obj),
      ...libDirs.map((d) => `-L${d}`),
      '-lcudart_static',
      '-ldl',
      '-lpthread',
      '-lrt',
      '-static-libstdc++',
      '-static-libgcc',
    ]);
  }
  record(true, { nvcc: version, archs: archs.map((a) => `sm_${a}`).concat(`compute_${archs.at(-1)}`) });
  console.log(`backend-cuda: built ${target} (${version}; sm_${archs.join(', sm_')})`);
} catch (error) {
  record(false, { reason: `the addon failed to compile with ${nvcc} (${version}): ${error.message}` });
  console.error(`backend-cuda: build failed: ${error.message}`);
  // at install, a toolkit that cannot build the addon must not fail the user's install: the backend then reports
  // itself unavailable with this reason; in the repository's own build it is an error
  process.exit(process.argv.includes('--install') ? 0 : 1);
}
