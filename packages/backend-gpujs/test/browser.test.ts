import type { CheckResult } from '@recur/conformance';
import { CHROMIUM_PATH, conformanceGaps, runInChromium, servePage } from '@recur/browser-harness/node';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { browserLoad } from '../browser/bundle.js';
import type { GpujsPlatform } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));

// The same conformance suite, the same check ids, in headless Chromium on WebGL2 (SwiftShader, a CPU renderer).
it('backend-gpujs passes the conformance suite in headless Chromium in webgl2 mode, with every check id of the Node run', async () => {
  expect(existsSync(CHROMIUM_PATH), `${CHROMIUM_PATH} is missing: scripts/install-system-deps.sh installs Debian's chromium`).toBe(true);
  const page = await servePage({
    title: 'Recur conformance: backend-gpujs',
    entry: join(here, '../browser/conformance.ts'),
    plugins: [browserLoad],
  });
  try {
    const { done, logs } = await runInChromium<{ platform: GpujsPlatform; runsOn: string; results: CheckResult[] }>(page.url, 540_000);
    expect(done.error, logs.join('\n')).toBeUndefined();
    const { platform, runsOn, results } = done.value!;
    const count = (status: string) => results.filter((r) => r.status === status).length;
    console.log(
      `backend-gpujs conformance in Chromium (${runsOn}): ${count('pass')} passed, ${count('fail')} failed, ${count('skip')} skipped, ${count('n/a')} n/a (float64)`,
    );
    expect(platform).toMatchObject({ available: true, mode: 'webgl2', version: expect.stringMatching(/WebGL 2/) });
    // only the capability gap of the Node run (no float64) may not apply
    const gaps = conformanceGaps(results, (r) => /float64/.test(r.message ?? ''));
    expect(gaps).toEqual({
      missing: [],
      extra: [],
      failed: [],
      notApplicable: [],
      passed: results.filter((r) => r.status !== 'n/a').length,
    });
  } finally {
    await page.close();
  }
}, 600_000);
