// The conformance page: backend-cpu (pure TypeScript) in the browser, every check with the same ids as in Node;
// reports the results to the runner (and on the page for a person).
import { finish, print, shippedFixtures } from '@recur/browser-harness/page';
import { runSuite } from '@recur/conformance';
import { ready } from '@recur/core';
import { registerCpuBackend } from '../src/index.js';

void finish(async () => {
  registerCpuBackend(); // the bare import would be tree-shaken: the package lists only dist/ as having side effects
  await ready('cpu');
  return runSuite('cpu', {
    fixtures: await shippedFixtures(),
    onResult: (r) => print(`${r.status.padEnd(5)} ${r.id}${r.message && r.status !== 'pass' ? `  ${r.message.split('\n')[0]}` : ''}`),
  });
});
