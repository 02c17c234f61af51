import { selectChecks, type CheckResult } from '@recur/conformance';
import { DEFAULT_FIXTURES_PATH, DEFAULT_TRAINING_FIXTURES_PATH, defaultFixtures } from '@recur/conformance/node';
import { build, type Plugin } from 'esbuild';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

// The Node side: bundle a page, serve it on 127.0.0.1 with the shipped golden vectors, open it in headless
// Chromium and wait for what it reports on window.__recurDone (page.ts's `finish`).

export interface ServedFile {
  readonly type: string;
  readonly body: Uint8Array | string;
}

export interface PageOptions {
  readonly title: string;
  /** The page's script (TypeScript or JavaScript), bundled for the browser. */
  readonly entry: string;
  /** More files by path ("/wasm/x.wasm"). The golden vectors are always at /fixtures/. */
  readonly files?: ReadonlyMap<string, ServedFile>;
  readonly plugins?: readonly Plugin[];
  /** Serve every file with COOP/COEP, so that the page is cross-origin isolated (shared memory, Workers over it). */
  readonly crossOriginIsolated?: boolean;
}

export interface ServedPage {
  readonly url: string;
  close(): Promise<void>;
}

const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

export async function servePage(options: PageOptions): Promise<ServedPage> {
  const bundle = await build({
    entryPoints: [options.entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    write: false,
    logLevel: 'silent',
    plugins: [...(options.plugins ?? [])],
  });
  const html = `<!doctype html>\n<html lang="en">\n<head><meta charset="utf-8"><title>${escapeHtml(options.title)}</title></head>\n<body>\n<h1>${escapeHtml(options.title)}</h1>\n<pre id="out"></pre>\n<script type="module" src="/bundle.js"></script>\n</body>\n</html>\n`;
  const files = new Map<string, ServedFile>([
    ['/', { type: 'text/html', body: html }],
    ['/bundle.js', { type: 'text/javascript', body: bundle.outputFiles[0].contents }],
    ['/fixtures/pytorch-golden.json.gz', { type: 'application/octet-stream', body: readFileSync(DEFAULT_FIXTURES_PATH) }],
    ['/fixtures/pytorch-training-golden.json.gz', { type: 'application/octet-stream', body: readFileSync(DEFAULT_TRAINING_FIXTURES_PATH) }],
    ...(options.files ?? []),
  ]);
  const server: Server = createServer((req, res) => {
    const file = files.get((req.url ?? '/').split('?')[0]);
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    const isolation = options.crossOriginIsolated
      ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' }
      : {};
    res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store', ...isolation }).end(file.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** The files of `dir` that `pick` accepts, to serve under `prefix` (WebAssembly binaries and the scripts beside them). */
export function filesIn(dir: string, prefix: string, pick: (file: string) => boolean): Map<string, ServedFile> {
  const type = (f: string) =>
    f.endsWith('.wasm') ? 'application/wasm' : f.endsWith('.js') || f.endsWith('.mjs') ? 'text/javascript' : 'application/octet-stream';
  return new Map(
    readdirSync(dir)
      .filter(pick)
      .map((f): [string, ServedFile] => [`${prefix}${f}`, { type: type(f), body: readFileSync(join(dir, f)) }]),
  );
}

/** How page.ts's `print` marks its lines on the console (the runner passes them on as they come). */
export const PRINTED = '[recur] ';

/** Debian's chromium (scripts/install-system-deps.sh), or CHROMIUM_PATH. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface PageRun<T> {
  /** What the page passed to `finish` (or its error). */
  readonly done: { readonly value?: T; readonly error?: string; readonly userAgent: string };
  /** The page's console and uncaught errors. */
  readonly logs: readonly string[];
}

/**
 * Opens a URL in headless Chromium (a fresh profile; the flags keep it off the network this machine does not have;
 * WebGL2 comes from SwiftShader, a CPU renderer) and waits for the page to finish.
 */
export async function runInChromium<T>(url: string, timeoutMs: number, onPrint?: (line: string) => void): Promise<PageRun<T>> {
  const browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'recur-chromium-')), {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--enable-unsafe-swiftshader',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    const tab = await browser.newPage();
    const logs: string[] = [];
    tab.on('console', (m) => {
      const text = m.text();
      if (onPrint && text.startsWith(PRINTED)) onPrint(text.slice(PRINTED.length));
      else logs.push(text);
    });
    tab.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
    await tab.goto(url, { waitUntil: 'commit' }); // the page may work for minutes before its load event
    await tab.waitForFunction(() => (window as { __recurDone?: unknown }).__recurDone !== undefined, undefined, { timeout: timeoutMs });
    const done = await tab.evaluate(() => (window as unknown as { __recurDone: PageRun<T>['done'] }).__recurDone);
    return { done, logs };
  } finally {
    await browser.close();
  }
}

/** How a browser conformance run differs from the Node run's check list (each list empty when it passed alike). */
export interface ConformanceGaps {
  /** Ids of the Node run the browser did not report. */
  readonly missing: readonly string[];
  /** Ids the browser reported that the Node run does not have, or reported twice. */
  readonly extra: readonly string[];
  /** "id: message" of every check that failed or skipped. */
  readonly failed: readonly string[];
  /** "id: message" of every check that did not apply, other than those `allowedNotApplicable` accepts. */
  readonly notApplicable: readonly string[];
  readonly passed: number;
}

/**
 * Compares a browser run's results with the checks Node runs on the shipped golden vectors: the same ids, each once;
 * none failed or skipped; none inapplicable beyond the backend's known capability gaps (`allowedNotApplicable`).
 */
export function conformanceGaps(
  results: readonly CheckResult[],
  allowedNotApplicable: (r: CheckResult) => boolean = () => false,
): ConformanceGaps {
  const expected = selectChecks(defaultFixtures()).map((c) => c.id);
  const reported = new Set<string>();
  const extra: string[] = [];
  for (const r of results) {
    if (reported.has(r.id) || !expected.includes(r.id)) extra.push(r.id);
    reported.add(r.id);
  }
  const describe = (r: CheckResult) => `${r.id}: ${r.message ?? ''}`;
  return {
    missing: expected.filter((id) => !reported.has(id)),
    extra,
    failed: results.filter((r) => r.status === 'fail' || r.status === 'skip').map(describe),
    notApplicable: results.filter((r) => r.status === 'n/a' && !allowedNotApplicable(r)).map(describe),
    passed: results.filter((r) => r.status === 'pass').length,
  };
}
