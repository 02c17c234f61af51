// The WebGL benchmark page: Recur on backend-gpujs against tfjs-layers on tfjs-backend-webgl in this browser's
// WebGL2 (src/webgl/run.ts). Query: ?quick, ?reps=N, ?case=TEXT (repeatable). The web demo extends this page.
import '@recur/backend-cpu';
import { registerGpujsBackend } from '@recur/backend-gpujs';
import { finish, print } from '@recur/browser-harness/page';
import { listBackends } from '@recur/core';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgl';
import { QUICK_WEBGL_CASES, WEBGL_CASES, runWebglBench } from '../src/webgl/run.js';
import { webglRenderer } from '../src/webgl/renderer.js';

void finish(async () => {
  registerGpujsBackend();
  const query = new URLSearchParams(location.search);
  const reps = Number(query.get('reps') ?? 5),
    filters = query.getAll('case');
  const gpujs = (await listBackends()).find((b) => b.name === 'gpujs');
  if (!gpujs?.available) throw new Error(`backend-gpujs is unavailable in this browser: ${gpujs?.reason}`);
  await tf.setBackend('webgl');
  const tfjsOn = webglRenderer((tf.backend() as unknown as { gpgpu: { gl: WebGLRenderingContext } }).gpgpu.gl);
  print(`recur-gpujs on ${gpujs.runsOn}`);
  print(`tfjs-layers-webgl on ${tfjsOn}`);
  const cases = query.has('quick')
    ? QUICK_WEBGL_CASES.map((c) => ({ case: c, goal: null }))
    : WEBGL_CASES.filter((c) => !filters.length || filters.some((f) => c.case.id.includes(f)));
  return { recurOn: gpujs.runsOn!, tfjsOn, results: await runWebglBench(cases, reps, print) };
});
