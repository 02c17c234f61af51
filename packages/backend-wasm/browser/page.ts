// The conformance page: loads backend-wasm in the browser, runs every check with the same ids as in Node, and
// reports the results to the runner (and on the page for a person).
import { finish, runSuiteHere } from '@recur/browser-harness/page';
import { ready } from '@recur/core';
import { setWasmPaths } from '../src/index.js';

void finish(async () => {
  setWasmPaths('/wasm/');
  await ready('wasm');
  return runSuiteHere('wasm');
});
