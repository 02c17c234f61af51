// The conformance page: backend-simd in the browser (one thread on a plain page, Web Workers on every core when the
// page is cross-origin isolated), every check with the same ids as in Node; reports the results, the thread count
// and why, to the runner (and on the page for a person).
import { finish, print, runSuiteHere } from '@recur/browser-harness/page';
import '@recur/backend-cpu';
import { GRUCell, LSTMCell, MultiRNNCell, StatefulRNN, getBackend, listBackends, ready, registerBackend } from '@recur/core';
import { createSimdBackend, setSimdWasmPaths, type SimdBackend } from '../src/index.js';

void finish(async () => {
  setSimdWasmPaths('/wasm/');
  // ?relaxed=0: the SIMD128 build, which engines without relaxed SIMD run (Chromium has it and would pick the other)
  let name = 'simd';
  if (new URLSearchParams(location.search).get('relaxed') === '0') {
    name = 'simd-128';
    registerBackend(name, () => createSimdBackend({ relaxedSimd: false, name }));
  }
  await ready(name);
  const info = (await listBackends()).find((b) => b.name === name)!;
  if (!info.available) throw new Error(`${name} is unavailable here: ${info.reason}`);
  const backend = getBackend(name) as SimdBackend;
  print(`${name} on ${info.runsOn}`);
  const results = await runSuiteHere(name);
  // the suite's layers are small enough for one thread a job: a stack wide enough to split over every thread,
  // against backend-cpu's kernels in this page
  const stack = (b: string) =>
    new MultiRNNCell([new LSTMCell(192, { backend: b, inputSize: 40, seed: 7 }), new GRUCell(128, { backend: b, seed: 8 })]);
  const x = Float32Array.from({ length: 4 * 9 * 40 }, (_, i) => Math.sin(i * 0.37));
  const outputs = [name, 'cpu'].map((b) => {
    const cell = stack(b),
      rnn = new StatefulRNN(cell, { batch: 4 });
    const y = rnn.predictSync(x, [4, 9, 40], { sequenceLength: [9, 3, 0, 7] });
    rnn.dispose();
    cell.dispose();
    return y;
  });
  const wideJobThreads = backend.lastJobThreads;
  const wideMaxDiff = outputs[0].reduce((m, v, i) => Math.max(m, Math.abs(v - outputs[1][i])), 0);
  print(`a 192/128-unit stack: ${wideJobThreads} threads a job, max |simd - cpu| ${wideMaxDiff}`);
  return {
    runsOn: info.runsOn,
    threads: backend.threads,
    instructionSet: backend.instructionSet,
    isolated: crossOriginIsolated,
    results,
    wideJobThreads,
    wideMaxDiff,
  };
});
