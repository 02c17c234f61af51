import type { CheckResult } from '@recur/conformance';
import { CHROMIUM_PATH, conformanceGaps, runInChromium, servePage } from '@recur/browser-harness/node';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));

// The same conformance suite, the same check ids, in headless Chromium: pure TypeScript, float32 and float64.
it('backend-cpu passes the conformance suite in headless Chromium, with every check id of the Node run', async () => {
  expect(existsSync(CHROMIUM_PATH), `${CHROMIUM_PATH} is missing: scripts/install-system-deps.sh installs Debian's chromium`).toBe(true);
  const page = await servePage({ title: 'Recur conformance: backend-cpu', entry: join(here, '../browser/conformance.ts') });
  try {
    const { done, logs } = await runInChromium<CheckResult[]>(page.url, 240_000);
    expect(done.error, logs.join('\n')).toBeUndefined();
    const results = done.value!;
    const count = (status: string) => results.filter((r) => r.status === status).length;
    console.log(
      `backend-cpu conformance in Chromium: ${count('pass')} passed, ${count('fail')} failed, ${count('skip')} skipped, ${count('n/a')} n/a`,
    );
    expect(conformanceGaps(results)).toEqual({ missing: [], extra: [], failed: [], notApplicable: [], passed: results.length });
  } finally {
    await page.close();
  }
}, 300_000);
