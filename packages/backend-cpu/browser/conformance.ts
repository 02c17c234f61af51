// The conformance page: backend-cpu (pure TypeScript) in the browser, every check with the same ids as in Node;
// reports the results to the runner (and on the page for a person).
import { finish, runSuiteHere } from '@recur/browser-harness/page';
import { ready } from '@recur/core';
import { registerCpuBackend } from '../src/index.js';

void finish(async () => {
  registerCpuBackend(); // the bare import would be tree-shaken: the package lists only dist/ as having side effects
  await ready('cpu');
  return runSuiteHere('cpu');
});
