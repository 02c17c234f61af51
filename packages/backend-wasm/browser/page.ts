// The conformance page: loads backend-wasm in the browser, runs every check with the same ids as in Node, and
// leaves the results on window for the test runner (and on the page for a person).
import { mergeFixtures, parseFixtures, runSuite, type CheckResult } from '@recur/conformance';
import { setWasmPaths } from '../src/index.js';
import { ready } from '@recur/core';

declare global {
  interface Window {
    __recurDone?: { results?: CheckResult[]; error?: string; userAgent: string };
  }
}

/** The shipped forward and training vectors, as Node's defaultFixtures() gives them. */
async function fixtures() {
  const load = async (file: string) => {
    const response = await fetch(`/fixtures/${file}`);
    if (!response.ok) throw new Error(`fixtures ${file}: HTTP ${response.status}`);
    return parseFixtures(await new Response(response.body!.pipeThrough(new DecompressionStream('gzip'))).json(), file);
  };
  return mergeFixtures(await load('pytorch-golden.json.gz'), await load('pytorch-training-golden.json.gz'));
}

async function main() {
  const out = document.getElementById('out')!;
  try {
    setWasmPaths('/wasm/');
    await ready('wasm');
    const results = await runSuite('wasm', {
      fixtures: await fixtures(),
      onResult: (r) => {
        out.textContent += `${r.status.padEnd(5)} ${r.id}${r.message && r.status !== 'pass' ? `  ${r.message.split('\n')[0]}` : ''}\n`;
      },
    });
    window.__recurDone = { results, userAgent: navigator.userAgent };
  } catch (error) {
    window.__recurDone = { error: error instanceof Error ? `${error.message}\n${error.stack}` : String(error), userAgent: navigator.userAgent };
    out.textContent += `error: ${String(error)}\n`;
  }
}

void main();
