// The browser benchmark page (one page for every browser backend): Recur on backend-gpujs, backend-simd,
// backend-wasm and backend-cpu against tfjs-layers on tfjs-backend-webgl and tfjs-backend-wasm and against
// onnxruntime-web's wasm provider (src/webgl/run.ts). Served cross-origin isolated, so that backend-simd and
// onnxruntime-web use a Worker per core. Query: ?quick, ?reps=N, ?case=TEXT (repeatable), ?webgl-only (gpu.js
// against tfjs-layers-webgl alone, the WebGL goals' contenders).
import '@recur/backend-cpu';
import { registerGpujsBackend } from '@recur/backend-gpujs';
import '@recur/backend-simd';
import { setWasmPaths } from '@recur/backend-wasm';
import { finish, print } from '@recur/browser-harness/page';
import { listBackends, ready } from '@recur/core';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgl';
import * as ortWeb from 'onnxruntime-web/wasm';
import { ortContenderOf } from '../src/contenders/ort-common.js';
import { recurContender } from '../src/contenders/recur.js';
import { tfjsContender } from '../src/contenders/tfjs.js';
import type { Contender } from '../src/contenders/types.js';
import { QUICK_WEBGL_CASES, WEBGL_CASES, WEBGL_CONTENDERS, runWebglBench } from '../src/webgl/run.js';
import { webglRenderer } from '../src/webgl/renderer.js';

/** Recur's browser backends, in the order the results list them. */
const RECUR_BACKENDS = ['gpujs', 'simd', 'wasm', 'cpu'];

void finish(async () => {
  registerGpujsBackend();
  setWasmPaths('/wasm/'); // tfjs-backend-wasm's binaries (backend-wasm and tfjs-layers-wasm share them)
  ortWeb.env.wasm.wasmPaths = '/ort/';
  ortWeb.env.wasm.numThreads = crossOriginIsolated ? navigator.hardwareConcurrency : 1;
  const query = new URLSearchParams(location.search);
  const reps = Number(query.get('reps') ?? 5),
    filters = query.getAll('case');
  await Promise.all(RECUR_BACKENDS.map((b) => ready(b).catch(() => undefined)));
  const backends = await listBackends();
  const on = (name: string) => backends.find((b) => b.name === name);
  const gpujs = on('gpujs');
  if (!gpujs?.available) throw new Error(`backend-gpujs is unavailable in this browser: ${gpujs?.reason}`);
  await tf.setBackend('webgl');
  const tfjsOn = webglRenderer((tf.backend() as unknown as { gpgpu: { gl: WebGLRenderingContext } }).gpgpu.gl);
  const runsOn: Record<string, string> = {
    'tfjs-layers-webgl': tfjsOn,
    'ort-web-wasm': `onnxruntime-web ${ortWeb.env.versions.web}, wasm, ${ortWeb.env.wasm.numThreads} threads`,
  };
  let contenders: Contender[] = WEBGL_CONTENDERS();
  if (!query.has('webgl-only')) {
    contenders = [
      ...RECUR_BACKENDS.filter((b) => on(b)?.available).map((b) => recurContender(b)),
      tfjsContender('webgl'),
      tfjsContender('wasm'),
      ortContenderOf(ortWeb, 'ort-web-wasm', { executionProviders: ['wasm'], graphOptimizationLevel: 'all' }),
    ];
  }
  for (const b of RECUR_BACKENDS)
    runsOn[`recur-${b}`] = on(b)?.available ? (on(b)!.runsOn ?? 'available') : `unavailable: ${on(b)?.reason}`;
  for (const k of contenders) print(`${k.name} on ${runsOn[k.name] ?? 'tfjs-backend-wasm (XNNPACK, SIMD)'}`);
  const cases = query.has('quick')
    ? QUICK_WEBGL_CASES.map((c) => ({ case: c, goal: null }))
    : WEBGL_CASES.filter((c) => !filters.length || filters.some((f) => c.case.id.includes(f)));
  const results = await runWebglBench(cases, reps, print, contenders);
  return { recurOn: gpujs.runsOn!, tfjsOn, runsOn, contenders: contenders.map((k) => k.name), results };
});
