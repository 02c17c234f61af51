#!/usr/bin/env node
/**
 * pnpm bench:webgl: the browser benchmark. In headless Chromium (cross-origin isolated; WebGL2 on SwiftShader) every
 * browser backend of Recur (gpujs, simd, wasm, cpu) against tfjs-layers on tfjs-backend-webgl and tfjs-backend-wasm
 * and against onnxruntime-web's wasm provider; then in Node on headless-gl (under xvfb-run: this command starts it
 * when no DISPLAY is set) backend-gpujs against tfjs-layers on tfjs-backend-webgl.
 *   node packages/bench/dist/webgl-cli.js [--where browser|node ...] [--quick] [--reps N] [--case TEXT ...] [--out DIR]
 * Agreement with backend-cpu is checked before timing; a contender that disagrees is reported, not timed. Every
 * figure is labelled with its renderer: SwiftShader and Mesa's rasteriser are CPU renderers, not GPU speeds.
 * Exit status 1 when Recur disagrees with backend-cpu (a peer that disagrees is a finding, not a failure).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseOptions } from './options.js';
import { QUICK_WEBGL_CASES, WEBGL_CASES, runWebglBench, type WebglCaseResult } from './webgl/run.js';

const args = process.argv.slice(2);
const { many, one, has, count } = parseOptions(
  args,
  { flags: ['quick'], values: ['where', 'reps', 'case', 'out'] },
  'pnpm bench:webgl [--where browser|node ...] [--quick] [--reps N] [--case TEXT ...] [--out DIR]',
);
const where = many('where').length ? many('where') : ['browser', 'node'];
for (const w of where) if (w !== 'browser' && w !== 'node') throw new Error(`--where: expected browser or node, got ${w}`);
const quick = has('quick');
const reps = count('reps', quick ? 1 : 5);
const filters = many('case');
const outDir = resolve(one('out') ?? 'out/bench-webgl');
const here = dirname(fileURLToPath(import.meta.url));

// headless-gl needs an X display: run this same command under xvfb-run when there is none
if (where.includes('node') && !process.env.DISPLAY) {
  const r = spawnSync('xvfb-run', ['-a', process.execPath, ...process.execArgv, fileURLToPath(import.meta.url), ...args], {
    stdio: 'inherit',
  });
  if (r.error)
    throw new Error(`no DISPLAY, and xvfb-run could not start (${r.error.message}): apt-get install xvfb xauth, or pass --where browser`);
  process.exit(r.status ?? 1);
}

interface Run {
  readonly where: 'browser' | 'node';
  readonly recurOn: string;
  readonly tfjsOn: string;
  /** Where each contender ran (the browser run). */
  readonly runsOn?: Record<string, string>;
  readonly contenders?: string[];
  readonly results: WebglCaseResult[];
}

/** What the page loads besides its bundle: tfjs-backend-wasm's binaries, backend-simd's kernels, onnxruntime-web's. */
async function browserFiles() {
  const { filesIn } = await import('@recur/browser-harness/node');
  const require = createRequire(import.meta.url);
  const wasm = (f: string) => f.endsWith('.wasm');
  return new Map([
    ...filesIn(join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist'), '/wasm/', wasm),
    // beside the bundle, as new URL('../wasm/…', import.meta.url) finds them
    ...filesIn(join(dirname(require.resolve('@recur/backend-simd')), '../wasm'), '/wasm/', wasm),
    // its dist/ (the package exports no package.json)
    ...filesIn(dirname(require.resolve('onnxruntime-web/wasm')), '/ort/', (f) => /^ort-wasm-simd-threaded\.(mjs|wasm)$/.test(f)),
  ]);
}

const cases = quick
  ? QUICK_WEBGL_CASES.map((c) => ({ case: c, goal: null }))
  : WEBGL_CASES.filter((c) => !filters.length || filters.some((f) => c.case.id.includes(f)));
if (!cases.length)
  throw new Error(`--case ${filters.join(', ')}: no case matches (cases: ${WEBGL_CASES.map((c) => c.case.id).join(', ')})`);
console.log(
  `Recur browser benchmark${quick ? ' (quick)' : ''}: ${cases.length} cases, ${reps} interleaved runs after a warm-up run; ${cpus().length} x ${cpus()[0]?.model ?? 'CPU'}`,
);
const runs: Run[] = [];

if (where.includes('browser')) {
  const { runInChromium, servePage } = await import('@recur/browser-harness/node');
  console.log('\nheadless Chromium (cross-origin isolated), WebGL2 and WebAssembly:');
  const page = await servePage({
    title: 'Recur browser benchmark',
    entry: join(here, '../browser/bench-page.ts'),
    files: await browserFiles(),
    crossOriginIsolated: true,
  });
  try {
    const query = new URLSearchParams([['reps', String(reps)], ...(quick ? [['quick', '1']] : []), ...filters.map((f) => ['case', f])]);
    const { done, logs } = await runInChromium<Omit<Run, 'where'>>(`${page.url}?${query}`, 60 * 60_000, console.log);
    if (done.error) throw new Error(`the page failed: ${done.error}\n${logs.join('\n')}`);
    runs.push({ where: 'browser' as const, ...done.value! });
  } finally {
    await page.close();
  }
}

if (where.includes('node')) {
  console.log('\nNode, headless-gl:');
  await import('@recur/backend-cpu');
  const { registerGpujsBackend } = await import('@recur/backend-gpujs');
  registerGpujsBackend();
  const { listBackends } = await import('@recur/core');
  const gpujs = (await listBackends()).find((b) => b.name === 'gpujs');
  if (!gpujs?.available) throw new Error(`backend-gpujs is unavailable in Node: ${gpujs?.reason}`);
  // tfjs-backend-webgl on a headless-gl context of its own (WebGL1: what headless-gl offers)
  const tf = await import('@tensorflow/tfjs-core');
  const webgl = await import('@tensorflow/tfjs-backend-webgl');
  const fromGpujs = createRequire(createRequire(createRequire(import.meta.url).resolve('@recur/backend-gpujs')).resolve('gpu.js'));
  const gl = (fromGpujs('gl') as (w: number, h: number) => WebGLRenderingContext)(1, 1);
  webgl.setWebGLContext(1, gl);
  tf.env().set('WEBGL_VERSION', 1);
  if (tf.findBackendFactory('webgl')) tf.removeBackend('webgl');
  tf.registerBackend('webgl', () => new webgl.MathBackendWebGL(), 2);
  const { webglRenderer } = await import('./webgl/renderer.js');
  const run: Run = { where: 'node', recurOn: gpujs.runsOn!, tfjsOn: webglRenderer(gl), results: [] };
  console.log(`recur-gpujs on ${run.recurOn}\ntfjs-layers-webgl on ${run.tfjsOn}`);
  run.results.push(...(await runWebglBench(cases, reps, console.log)));
  runs.push(run);
}

mkdirSync(outDir, { recursive: true });
const file = join(outDir, 'bench-webgl.json');
writeFileSync(
  file,
  JSON.stringify(
    { date: new Date().toISOString(), cpus: `${cpus().length} x ${cpus()[0]?.model}`, node: process.version, reps, runs },
    null,
    2,
  ),
);
console.log(`\nwrote ${file}`);
const recurDisagrees = runs.flatMap((r) =>
  r.results.filter((x) => /differ from backend-cpu/.test(x.skipped['recur-gpujs'] ?? '')).map((x) => `${r.where} ${x.id}`),
);
if (recurDisagrees.length) {
  console.error(`recur-gpujs disagreed with backend-cpu: ${recurDisagrees.join(', ')}`);
  process.exit(1);
}
process.exit(0);
