// The built page (dist/, `pnpm --filter web build`) in headless Chromium, driven as a visitor would: every backend
// picked in turn writes text, resets work, every backend gives the same next-character probabilities for the same
// forced text (within its tolerance), a backend that cannot start shows its reason, and the page works from a plain
// static host too. Screenshots go to test-results/screenshots/ (look at them).
import { CHROMIUM_PATH } from '@recur/browser-harness/node';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, '../dist');
const shots = join(here, '../test-results/screenshots');
const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.wasm': 'application/wasm',
  '.safetensors': 'application/octet-stream',
};

/** A static host for dist/, with or without the cross-origin isolation headers. */
async function serve(isolated: boolean): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent((req.url ?? '/').split('?')[0])).replace(/^(\.\.[/\\])+/, '');
    const file = join(dist, path === '/' ? 'index.html' : path);
    if (!file.startsWith(dist) || !existsSync(file)) return void res.writeHead(404).end();
    const headers: Record<string, string> = { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' };
    if (isolated) Object.assign(headers, { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' });
    res.writeHead(200, headers).end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`, server };
}

interface Info {
  name: string;
  available: boolean;
  reason?: string;
  runsOn?: string;
}
type Api = {
  ready: Promise<Info[]>;
  select(name: string): Promise<string | null>;
  probabilities(text: string): Promise<number[]>;
  texts(): string[];
  calls(): number;
  heatColumns(): number;
  stateNorm(): Promise<number>;
  sentenceResets(): number;
  lastResetNorm(): number;
  status(): { text: string; error: boolean };
};
const api = (page: Page) => ({
  ready: () => page.evaluate(() => (window as unknown as { recurWeb: Api }).recurWeb.ready),
  select: (name: string) => page.evaluate((n) => (window as unknown as { recurWeb: Api }).recurWeb.select(n), name),
  probabilities: (text: string) => page.evaluate((t) => (window as unknown as { recurWeb: Api }).recurWeb.probabilities(t), text),
  texts: () => page.evaluate(() => (window as unknown as { recurWeb: Api }).recurWeb.texts()),
  calls: () => page.evaluate(() => (window as unknown as { recurWeb: Api }).recurWeb.calls()),
  heatColumns: () => page.evaluate(() => (window as unknown as { recurWeb: Api }).recurWeb.heatColumns()),
  stateNorm: () => page.evaluate(() => (window as unknown as { recurWeb: Api }).recurWeb.stateNorm()),
  sentenceResets: () => page.evaluate(() => (window as unknown as { recurWeb: Api }).recurWeb.sentenceResets()),
  lastResetNorm: () => page.evaluate(() => (window as unknown as { recurWeb: Api }).recurWeb.lastResetNorm()),
  status: () => page.evaluate(() => (window as unknown as { recurWeb: Api }).recurWeb.status()),
});

/** The page shows no error and threw none. */
async function expectNoError(page: Page): Promise<void> {
  const { text, error } = await api(page).status();
  expect(error, text).toBe(false);
  expect(logs.filter((l) => l.startsWith('pageerror'))).toEqual([]);
}

let browser: Browser;
const logs: string[] = [];
async function open(url: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 1000 } });
  page.on('console', (m) => logs.push(m.text()));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  await page.goto(url);
  await page.waitForFunction(() => (window as unknown as { recurWeb?: unknown }).recurWeb !== undefined);
  return page;
}
async function runFor(page: Page, calls: number): Promise<void> {
  const start = await api(page).calls();
  await page.click('#run');
  await page.waitForFunction((n) => (window as unknown as { recurWeb: Api }).recurWeb.calls() >= n, start + calls, { timeout: 120_000 });
  await page.click('#run');
}

beforeAll(async () => {
  expect(existsSync(join(dist, 'index.html')), 'dist/ is missing: pnpm --filter web build').toBe(true);
  expect(existsSync(CHROMIUM_PATH), `${CHROMIUM_PATH} is missing: scripts/install-system-deps.sh installs Debian's chromium`).toBe(true);
  mkdirSync(shots, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--no-sandbox', '--enable-unsafe-swiftshader', '--disable-background-networking', '--disable-component-update'],
  });
});
afterAll(async () => {
  await browser?.close();
});

const FORCED = 'Call me Ishmael. Some years ago';
const TOLERANCE: Record<string, number> = { wasm: 1e-4, simd: 1e-4, gpujs: 1e-3 };

describe('examples/web in headless Chromium', () => {
  it('served cross-origin isolated: every backend writes, resets, and agrees with backend-cpu on the next character', async () => {
    const { url, server } = await serve(true);
    const page = await open(url);
    try {
      const infos = await api(page).ready();
      expect(
        infos.map((i) => [i.name, i.available]),
        logs.join('\n'),
      ).toEqual([
        ['cpu', true],
        ['wasm', true],
        ['simd', true],
        ['gpujs', true],
      ]);
      expect(infos.find((i) => i.name === 'simd')!.runsOn).toMatch(/\b[2-9]\d* threads \(Web Workers over shared memory/);
      const probabilities: Record<string, number[]> = {};
      for (const name of ['cpu', 'wasm', 'simd', 'gpujs']) {
        expect(await api(page).select(name)).toBe(name);
        const before = (await api(page).texts()).map((t) => t.length);
        await runFor(page, 40);
        const after = await api(page).texts();
        after.forEach((t, row) => expect(t.length, `${name} stream ${row}`).toBeGreaterThanOrEqual(before[row] + 40));
        expect(await api(page).heatColumns()).toBeGreaterThanOrEqual(40);
        await expect(page.locator('#latency').textContent()).resolves.toMatch(new RegExp(`^${name}: [\\d.]+ ms per call`));
        await page.screenshot({ path: join(shots, `isolated-${name}.png`), fullPage: true });
        probabilities[name] = await api(page).probabilities(FORCED);
      }
      const reference = probabilities.cpu;
      expect(reference.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
      for (const name of ['wasm', 'simd', 'gpujs']) {
        const worst = Math.max(...probabilities[name].map((p, i) => Math.abs(p - reference[i])));
        expect(worst, `${name}: max |p - p_cpu|`).toBeLessThanOrEqual(TOLERANCE[name]);
      }

      // reset: the state is zero afterwards, and the page marks it
      await api(page).select('cpu');
      await runFor(page, 10);
      expect(await api(page).stateNorm()).toBeGreaterThan(0);
      await page.click('#reset');
      expect(await api(page).stateNorm()).toBe(0);
      expect((await api(page).texts()).every((t) => t.endsWith(' ⟲ '))).toBe(true);

      // reset after each sentence: a stream that ends a sentence starts its next one from a zero state (read back
      // right after the reset)
      await page.check('#sentence-reset');
      const start = await api(page).calls();
      await page.click('#run');
      await page.waitForFunction(
        (n) => {
          const w = (window as unknown as { recurWeb: Api }).recurWeb;
          return w.sentenceResets() >= 2 || w.calls() > n + 1500;
        },
        start,
        { timeout: 120_000 },
      );
      await page.click('#run');
      expect(await api(page).sentenceResets()).toBeGreaterThanOrEqual(2);
      expect(await api(page).lastResetNorm()).toBe(0);
      expect((await api(page).texts()).some((t) => /[.!?] ⟲ /.test(t))).toBe(true);
      await page.screenshot({ path: join(shots, 'isolated-sentence-reset.png'), fullPage: true });

      // switching backends while it writes: the loop stops, the new backend starts clean, nothing errs
      await page.click('#run');
      await page.waitForFunction(() => (window as unknown as { recurWeb: Api }).recurWeb.calls() >= 5);
      expect(await api(page).select('wasm')).toBe('wasm');
      await expect(page.locator('#run').textContent()).resolves.toBe('Start');
      expect(await api(page).calls()).toBe(0);
      await runFor(page, 10);
      await expectNoError(page);
    } finally {
      await page.close();
      server.close();
    }
  }, 300_000);

  it('from a plain static host (no isolation headers): simd runs on one thread and says why', async () => {
    const { url, server } = await serve(false);
    const page = await open(url);
    try {
      const infos = await api(page).ready();
      const simd = infos.find((i) => i.name === 'simd')!;
      expect(simd.available).toBe(true);
      expect(simd.runsOn).toContain('1 thread (one thread: the page is not cross-origin isolated');
      await api(page).select('simd');
      await runFor(page, 20);
      await expect(page.locator('label[data-backend="simd"] .reason').textContent()).resolves.toContain('one thread');
      await page.screenshot({ path: join(shots, 'plain-host-simd.png'), fullPage: true });
      await expectNoError(page);
    } finally {
      await page.close();
      server.close();
    }
  }, 120_000);

  it('a backend that cannot start is greyed out with its reason, and the page still works', async () => {
    const { url, server } = await serve(true);
    const page = await open(`${url}?break=wasm`);
    try {
      const infos = await api(page).ready();
      const wasm = infos.find((i) => i.name === 'wasm')!;
      expect(wasm.available).toBe(false);
      expect(wasm.reason).toMatch(/tfjs-backend-wasm failed to initialise/);
      await expect(page.locator('label[data-backend="wasm"] input').isDisabled()).resolves.toBe(true);
      await expect(page.locator('label[data-backend="wasm"] .reason').textContent()).resolves.toMatch(/^unavailable: /);
      expect(infos.filter((i) => i.available).map((i) => i.name)).toEqual(['cpu', 'simd', 'gpujs']);
      await runFor(page, 10); // the first available backend was selected
      await expect(page.locator('#latency').textContent()).resolves.toMatch(/^cpu: /);
      await page.screenshot({ path: join(shots, 'broken-wasm.png'), fullPage: true });
      await expectNoError(page);
    } finally {
      await page.close();
      server.close();
    }
  }, 120_000);
});
