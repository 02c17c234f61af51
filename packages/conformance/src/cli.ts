#!/usr/bin/env node
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
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

function parseOptions(argv: string[]) {
  let values: {
    backend?: string[];
    import?: string[];
    filter?: string[];
    fixtures?: string[];
    json?: boolean;
    list?: boolean;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        backend: { type: 'string', multiple: true },
        import: { type: 'string', multiple: true },
        filter: { type: 'string', multiple: true },
        fixtures: { type: 'string', multiple: true },
        json: { type: 'boolean' },
        list: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new Error(`${(error as Error).message}\n\n${HELP}`);
  }
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  return {
    backends: values.backend ?? [],
    imports: values.import ?? [],
    filters: values.filter ?? [],
    fixtures: values.fixtures ?? [],
    json: values.json === true,
    list: values.list === true,
  };
}

/** Where a specifier points, as Node would take it from the current directory: a URL, a path, or a package. */
function resolveImport(specifier: string): string {
  if (/^(file|data|node):/.test(specifier)) return specifier;
  const cwd = process.cwd();
  // a path: absolute, ./ or ../, or anything naming an existing file (`dist/x.js` without ./)
  if (isAbsolute(specifier) || specifier.startsWith('.') || existsSync(resolve(cwd, specifier)))
    return pathToFileURL(resolve(cwd, specifier)).href;
  for (const base of [join(cwd, 'noop.js'), fileURLToPath(import.meta.url)]) {
    try {
      return pathToFileURL(createRequire(base).resolve(specifier)).href;
    } catch {
      // not installed there: the next base
    }
  }
  throw new Error(`not found: no file ${resolve(cwd, specifier)}, and no package "${specifier}" installed in ${cwd} or beside the CLI`);
}

/**
 * Imports a backend module: null when it loaded, else why not, with the real cause (a module that throws while
 * loading, or imports something missing, says so instead of "cannot load"); `missing` when there is no such file
 * or package at all.
 */
async function load(specifier: string): Promise<{ readonly missing: boolean; readonly why: string } | null> {
  let url: string;
  try {
    url = resolveImport(specifier);
  } catch (error) {
    return { missing: true, why: (error as Error).message };
  }
  try {
    await import(url);
    return null;
  } catch (error) {
    return {
      missing: false,
      why: error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error),
    };
  }
}

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  const fixtures = opts.fixtures.length ? loadFixturesFiles(opts.fixtures) : defaultFixtures();
  const ids = selectChecks(fixtures, opts.filters).map((c) => c.id);
  if (opts.list) {
    console.log(ids.join('\n'));
    return 0;
  }
  // a module that fails to load is a failed column of the matrix; the other backends still run
  const failedLoads: BackendReport[] = [];
  for (const pkg of KNOWN_BACKENDS) {
    const failure = await load(pkg); // not installed here: nothing to run; installed but broken: a failure
    if (failure && !failure.missing)
      failedLoads.push({ backend: pkg, available: false, error: `failed to load: ${failure.why}`, results: [] });
  }
  for (const m of opts.imports) {
    const failure = await load(m);
    if (failure) failedLoads.push({ backend: m, available: false, error: `--import ${m} failed to load: ${failure.why}`, results: [] });
  }
  const registered = (await listBackends()).filter((b) => b.name !== STUB_BACKEND && b.name !== UNAVAILABLE_BACKEND);
  for (const name of opts.backends) {
    if (!registered.some((b) => b.name === name))
      throw new Error(`--backend ${name}: not registered (registered: ${registered.map((b) => b.name).join(', ') || 'none'})`);
  }
  const chosen = opts.backends.length ? registered.filter((b) => opts.backends.includes(b.name)) : registered;
  if (chosen.length === 0 && failedLoads.length === 0)
    throw new Error('no backend registered: install @recur/backend-cpu or pass --import MODULE');
  const reports: BackendReport[] = opts.backends.length ? failedLoads.filter((r) => opts.imports.includes(r.backend)) : [...failedLoads];
  for (const info of chosen) {
    if (!info.available) {
      // missing hardware is a skip; any other reason (its factory threw, say) is that backend's failure
      const why = info.reason ?? 'unavailable (no reason given)';
      reports.push({
        backend: info.name,
        available: false,
        reason: why,
        missingHardware: info.missingHardware,
        ...(info.missingHardware ? {} : { error: `unavailable: ${why}` }),
        results: [],
      });
      continue;
    }
    if (!opts.json) process.stderr.write(`${info.name}${info.runsOn ? ` (on ${info.runsOn})` : ''}: `);
    try {
      const results = await runSuite(info.name, {
        fixtures,
        filter: opts.filters,
        onResult: (r) =>
          opts.json || process.stderr.write(r.status === 'pass' ? '.' : r.status === 'fail' ? 'F' : r.status === 'skip' ? 's' : '-'),
      });
      reports.push({ backend: info.name, available: true, ...(info.runsOn ? { runsOn: info.runsOn } : {}), results });
    } catch (error) {
      // setting it up threw (an asynchronous factory, say): its column fails, the others run
      reports.push({
        backend: info.name,
        available: false,
        error: `failed at setup: ${error instanceof Error ? error.message : String(error)}`,
        results: [],
      });
    }
    if (!opts.json) process.stderr.write('\n');
  }
  if (opts.json) console.log(JSON.stringify({ fixtures: fixtures.source, checks: ids, backends: reports }, null, 2));
  else console.log(formatMatrix(reports, ids));
  const ci = process.env.CI === 'true';
  const failed = reports.some((r) => r.error !== undefined || r.results.some((x) => x.status === 'fail'));
  const badSkip =
    ci &&
    reports.some(
      (r) => (!r.available && !r.missingHardware && r.error === undefined) || r.results.some((x) => x.status === 'skip' && !x.hardware),
    );
  if (badSkip && !opts.json) console.log('CI=true: a check was skipped for a reason other than missing hardware');
  return failed || badSkip ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`recur-conformance: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  },
);
