// The conformance page: loads backend-wasm in the browser, runs every check with the same ids as in Node, and
// reports the results to the runner (and on the page for a person).
import { finish, print, shippedFixtures } from '@recur/browser-harness/page';
import { runSuite } from '@recur/conformance';
import { ready } from '@recur/core';
import { setWasmPaths } from '../src/index.js';

void finish(async () => {
  setWasmPaths('/wasm/');
  await ready('wasm');
  return runSuite('wasm', {
    fixtures: await shippedFixtures(),
    onResult: (r) => print(`${r.status.padEnd(5)} ${r.id}${r.message && r.status !== 'pass' ? `  ${r.message.split('\n')[0]}` : ''}`),
  });
});
