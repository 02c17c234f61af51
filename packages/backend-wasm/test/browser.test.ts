import { defaultFixtures } from '@recur/conformance/node';
import { selectChecks, type CheckResult } from '@recur/conformance';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { expect, it } from 'vitest';
import { servePage } from '../browser/serve.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

// The same conformance suite, the same check ids, in a real headless Chromium (WebAssembly with SIMD).
it('backend-wasm passes the conformance suite in headless Chromium, with every check id of the Node run', async () => {
  expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: scripts/install-system-deps.sh installs Debian's chromium`).toBe(true);
  const page = await servePage();
  // a fresh profile each run; the flags keep Chromium off the network this machine does not have
  const browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'recur-chromium-')), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const tab = await browser.newPage();
    const logs: string[] = [];
    tab.on('console', (m) => logs.push(m.text()));
    tab.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
    await tab.goto(page.url);
    await tab.waitForFunction(() => window.__recurDone !== undefined, undefined, { timeout: 240_000 });
    const done = (await tab.evaluate(() => window.__recurDone))!;
    expect(done.error, logs.join('\n')).toBeUndefined();
    expect(done.userAgent).toMatch(/HeadlessChrome|Chrome/);
    const results = done.results as CheckResult[];
    const byId = new Map(results.map((r) => [r.id, r]));
    const expected = selectChecks(defaultFixtures()).map((c) => c.id);
    const missing = expected.filter((id) => !byId.has(id));
    expect(missing, 'check ids the browser did not report').toEqual([]);
    expect(results.length).toBe(expected.length);
    const failed = results.filter((r) => r.status === 'fail' || r.status === 'skip').map((r) => `${r.id}: ${r.message}`);
    expect(failed, 'checks that failed or skipped in Chromium').toEqual([]);
    // only capability gaps (no float64; no optimizer kernel, so no bytes-per-chunk bound) may not apply, as in Node
    const gap = (r: CheckResult) => /float64/.test(r.message ?? '') || (r.id === 'training/bytes-per-chunk' && /lacks applyOptimizer, weightParameters, weightsUpdated/.test(r.message ?? ''));
    expect(results.filter((r) => r.status === 'n/a' && !gap(r)).map((r) => `${r.id}: ${r.message}`)).toEqual([]);
    expect(results.filter((r) => r.status === 'pass').length).toBeGreaterThan(80);
  } finally {
    await browser.close();
    await page.close();
  }
}, 300_000);
