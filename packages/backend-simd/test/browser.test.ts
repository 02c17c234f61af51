import type { CheckResult } from '@recur/conformance';
import { CHROMIUM_PATH, conformanceGaps, filesIn, runInChromium, servePage } from '@recur/browser-harness/node';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const wasm = filesIn(join(here, '../wasm'), '/wasm/', (f) => f.endsWith('.wasm'));

// The same conformance suite, the same check ids, in headless Chromium: on a plain page (one thread: no shared memory
// can be posted to a Worker there), with the SIMD128 build, and on a cross-origin isolated one (a Web Worker on every
// core), with the relaxed-SIMD build Chromium picks by itself.
describe('backend-simd in headless Chromium', () => {
  for (const isolated of [false, true]) {
    it(`passes the conformance suite ${isolated ? 'cross-origin isolated, on Web Workers' : 'on a plain page, on one thread'}, with every check id of the Node run`, async () => {
      expect(existsSync(CHROMIUM_PATH), `${CHROMIUM_PATH} is missing: scripts/install-system-deps.sh installs Debian's chromium`).toBe(
        true,
      );
      const page = await servePage({
        title: `Recur conformance: backend-simd${isolated ? ' (cross-origin isolated)' : ''}`,
        entry: join(here, '../browser/conformance.ts'),
        files: wasm,
        crossOriginIsolated: isolated,
      });
      try {
        const { done, logs } = await runInChromium<{
          runsOn: string;
          threads: number;
          instructionSet: string;
          isolated: boolean;
          results: CheckResult[];
          wideJobThreads: number;
          wideMaxDiff: number;
        }>(isolated ? page.url : `${page.url}?relaxed=0`, 540_000);
        expect(done.error, logs.join('\n')).toBeUndefined();
        const { runsOn, threads, results } = done.value!;
        const count = (status: string) => results.filter((r) => r.status === status).length;
        console.log(
          `backend-simd conformance in Chromium (${runsOn}): ${count('pass')} passed, ${count('fail')} failed, ${count('skip')} skipped, ${count('n/a')} n/a`,
        );
        expect(done.value!.isolated).toBe(isolated);
        expect(done.value!.instructionSet).toBe(isolated ? 'relaxed-simd' : 'simd128');
        // a stack wide enough to split: its jobs ran on every thread (Web Workers) or on the one, and agree with backend-cpu
        expect(done.value!.wideJobThreads).toBe(threads);
        expect(done.value!.wideMaxDiff).toBeLessThan(2e-5);
        if (isolated) {
          expect(threads).toBeGreaterThan(1);
          expect(runsOn).toContain('Web Workers over shared memory');
        } else {
          expect(threads).toBe(1);
          expect(runsOn).toContain('one thread: the page is not cross-origin isolated');
        }
        expect(conformanceGaps(results)).toEqual({ missing: [], extra: [], failed: [], notApplicable: [], passed: results.length });
      } finally {
        await page.close();
      }
    }, 600_000);
  }
});
