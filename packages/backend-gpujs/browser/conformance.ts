// The conformance page: backend-gpujs on the browser's WebGL2, every check with the same ids as in Node; reports
// the results and where the kernels ran to the runner (and on the page for a person).
import { finish, print, runSuiteHere } from '@recur/browser-harness/page';
import { getBackend, listBackends } from '@recur/core';
import { registerGpujsBackend, type GpujsBackend } from '../src/index.js';

void finish(async () => {
  registerGpujsBackend();
  const info = (await listBackends()).find((b) => b.name === 'gpujs')!;
  if (!info.available) throw new Error(`gpujs is unavailable here: ${info.reason}`);
  const platform = (getBackend('gpujs') as GpujsBackend).platform;
  print(`gpujs on ${info.runsOn}`);
  const results = await runSuiteHere('gpujs');
  return { platform, runsOn: info.runsOn, results };
});
