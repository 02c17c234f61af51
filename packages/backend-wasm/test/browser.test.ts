import type { CheckResult } from '@recur/conformance';
import { CHROMIUM_PATH, conformanceGaps, filesIn, runInChromium, servePage } from '@recur/browser-harness/node';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));

/** tfjs's .wasm files, served at /wasm/. */
const wasmFiles = () =>
  filesIn(dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json')) + '/dist', '/wasm/', (f) =>
    f.endsWith('.wasm'),
  );

// The same conformance suite, the same check ids, in a real headless Chromium (WebAssembly with SIMD).
it('backend-wasm passes the conformance suite in headless Chromium, with every check id of the Node run', async () => {
  expect(existsSync(CHROMIUM_PATH), `${CHROMIUM_PATH} is missing: scripts/install-system-deps.sh installs Debian's chromium`).toBe(true);
  const page = await servePage({ title: 'Recur conformance: backend-wasm', entry: join(here, '../browser/page.ts'), files: wasmFiles() });
  try {
    const { done, logs } = await runInChromium<CheckResult[]>(page.url, 240_000);
    expect(done.error, logs.join('\n')).toBeUndefined();
    expect(done.userAgent).toMatch(/HeadlessChrome|Chrome/);
    const results = done.value!;
    // only capability gaps (no float64; no optimizer kernel, so no bytes-per-chunk bound) may not apply, as in Node
    const gap = (r: CheckResult) =>
      /float64/.test(r.message ?? '') ||
      (r.id === 'training/bytes-per-chunk' && /lacks applyOptimizer, weightParameters, weightsUpdated/.test(r.message ?? ''));
    const gaps = conformanceGaps(results, gap);
    expect(gaps).toMatchObject({ missing: [], extra: [], failed: [], notApplicable: [] });
    expect(gaps.passed).toBeGreaterThan(80);
  } finally {
    await page.close();
  }
}, 300_000);
