import { mergeFixtures, parseFixtures, runSuite, type CheckResult, type GoldenFixtures } from '@recur/conformance';

// The browser side of a page: the shipped golden vectors (as Node's defaultFixtures() gives them), a line of
// output for a person watching, and the result left on window for the runner (node.ts's runInChromium).

declare global {
  interface Window {
    __recurDone?: { value?: unknown; error?: string; userAgent: string };
  }
}

export async function shippedFixtures(): Promise<GoldenFixtures> {
  const load = async (file: string) => {
    const response = await fetch(`/fixtures/${file}`);
    if (!response.ok) throw new Error(`fixtures ${file}: HTTP ${response.status}`);
    return parseFixtures(await new Response(response.body!.pipeThrough(new DecompressionStream('gzip'))).json(), file);
  };
  return mergeFixtures(await load('pytorch-golden.json.gz'), await load('pytorch-training-golden.json.gz'));
}

/** A line on the page, and on the console for the runner (`runInChromium`'s `onPrint`). */
export function print(line: string): void {
  document.getElementById('out')!.textContent += `${line}\n`;
  console.log(`[recur] ${line}`);
}

/** Runs the page's work and reports its value, or its error, to the runner. */
export async function finish<T>(work: () => Promise<T>): Promise<void> {
  try {
    window.__recurDone = { value: await work(), userAgent: navigator.userAgent };
  } catch (error) {
    print(`error: ${String(error)}`);
    window.__recurDone = {
      error: error instanceof Error ? `${error.message}\n${error.stack}` : String(error),
      userAgent: navigator.userAgent,
    };
  }
}

/** Runs the conformance suite on a backend here with the shipped golden vectors, a line per check on the page. */
export async function runSuiteHere(backend: string): Promise<CheckResult[]> {
  return runSuite(backend, {
    fixtures: await shippedFixtures(),
    onResult: (r) => print(`${r.status.padEnd(5)} ${r.id}${r.message && r.status !== 'pass' ? `  ${r.message.split('\n')[0]}` : ''}`),
  });
}
