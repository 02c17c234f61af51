#!/usr/bin/env node
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { listBackends } from '@recur/core';
import { STUB_BACKEND, UNAVAILABLE_BACKEND } from './checks/stub-backend.js';
import { defaultFixtures, loadFixturesFiles } from './node.js';
import { formatMatrix, type BackendReport } from './report.js';
import { runSuite, selectChecks } from './suite.js';

const HELP = `recur-conformance: runs the Recur conformance suite on every backend it can load and prints the matrix.

  --backend NAME     run only this backend (repeatable); default: every registered backend
  --import MODULE    load a module that registers a backend (repeatable), e.g. ./my-backend.js
  --fixtures FILE    golden vectors to use instead of the shipped ones (repeatable; gzip or plain JSON; forward
                     cases, whole-training cases with "steps", or both: the formats of fixtures/GOLDEN-FORMAT.md)
  --filter TEXT      only checks whose id contains TEXT (repeatable)
  --json             print a machine-readable report instead of the matrix
  --list             list the check ids and exit

Backend packages @recur/backend-* are loaded from the current project when installed there.
Exit status: 1 if any check failed (or, with CI=true, was skipped for a reason other than missing hardware).`;

/** Backend packages the CLI looks for. A user's own backend comes in with --import. */
const KNOWN_BACKENDS = ['@recur/backend-cpu', '@recur/backend-wasm', '@recur/backend-simd', '@recur/backend-cuda', '@recur/backend-gpujs'];

function parseArgs(argv: string[]) {
  const opts = { backends: [] as string[], imports: [] as string[], filters: [] as string[], fixtures: [] as string[], json: false, list: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--backend') opts.backends.push(value());
    else if (arg === '--import') opts.imports.push(value());
    else if (arg === '--filter') opts.filters.push(value());
    else if (arg === '--fixtures') opts.fixtures.push(value());
    else if (arg === '--json') opts.json = true;
    else if (arg === '--list') opts.list = true;
    else if (arg === '--help' || arg === '-h') {
      console.log(HELP);
      process.exit(0);
    } else throw new Error(`unknown argument ${arg}\n\n${HELP}`);
  }
  return opts;
}

/** Imports a package or file from the current project, else from next to this CLI. */
async function load(specifier: string, required: boolean): Promise<boolean> {
  const bases = [join(process.cwd(), 'noop.js'), import.meta.url];
  for (const base of bases) {
    try {
      const resolved = specifier.startsWith('.') || specifier.startsWith('/') ? join(process.cwd(), specifier) : createRequire(base).resolve(specifier);
      await import(pathToFileURL(resolved).href);
      return true;
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code !== 'MODULE_NOT_FOUND' && code !== 'ERR_MODULE_NOT_FOUND' && code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED') throw error;
    }
  }
  if (required) throw new Error(`cannot load ${specifier} from ${process.cwd()}`);
  return false;
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  const fixtures = opts.fixtures.length ? loadFixturesFiles(opts.fixtures) : defaultFixtures();
  const ids = selectChecks(fixtures, opts.filters).map((c) => c.id);
  if (opts.list) {
    console.log(ids.join('\n'));
    return 0;
  }
  for (const pkg of KNOWN_BACKENDS) await load(pkg, false);
  for (const m of opts.imports) await load(m, true);
  const registered = (await listBackends()).filter((b) => b.name !== STUB_BACKEND && b.name !== UNAVAILABLE_BACKEND);
  for (const name of opts.backends) {
    if (!registered.some((b) => b.name === name)) throw new Error(`--backend ${name}: not registered (registered: ${registered.map((b) => b.name).join(', ') || 'none'})`);
  }
  const chosen = opts.backends.length ? registered.filter((b) => opts.backends.includes(b.name)) : registered;
  if (chosen.length === 0) throw new Error('no backend registered: install @recur/backend-cpu or pass --import MODULE');
  const reports: BackendReport[] = [];
  for (const info of chosen) {
    if (!info.available) {
      reports.push({ backend: info.name, available: false, reason: info.reason, missingHardware: info.missingHardware, results: [] });
      continue;
    }
    if (!opts.json) process.stderr.write(`${info.name}${info.runsOn ? ` (on ${info.runsOn})` : ''}: `);
    const results = await runSuite(info.name, {
      fixtures, filter: opts.filters,
      onResult: (r) => opts.json || process.stderr.write(r.status === 'pass' ? '.' : r.status === 'fail' ? 'F' : r.status === 'skip' ? 's' : '-'),
    });
    if (!opts.json) process.stderr.write('\n');
    reports.push({ backend: info.name, available: true, ...(info.runsOn ? { runsOn: info.runsOn } : {}), results });
  }
  if (opts.json) console.log(JSON.stringify({ fixtures: fixtures.source, checks: ids, backends: reports }, null, 2));
  else console.log(formatMatrix(reports, ids));
  const ci = process.env.CI === 'true';
  const failed = reports.some((r) => r.results.some((x) => x.status === 'fail'));
  const badSkip = ci && reports.some((r) => (!r.available && !r.missingHardware) || r.results.some((x) => x.status === 'skip' && !x.hardware));
  if (badSkip && !opts.json) console.log('CI=true: a check was skipped for a reason other than missing hardware');
  return failed || badSkip ? 1 : 0;
}

main().then((code) => process.exit(code), (error: unknown) => {
  console.error(`recur-conformance: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(2);
});
