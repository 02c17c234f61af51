import { getBackend, listBackends } from '@recur/core';
import { describe, it } from 'vitest';
import type { GoldenFixtures } from './fixtures.js';
import { defaultFixtures } from './node.js';
import { contextFor, runCheck, selectChecks } from './suite.js';

export interface DescribeConformanceOptions {
  fixtures?: GoldenFixtures;
  /** Only checks whose id contains one of these. */
  filter?: readonly string[];
}

/**
 * Registers the whole conformance suite for a backend as vitest tests, one test per check id (tfjs's
 * describeWithFlags pattern). Use it with top-level await: `await describeConformance('my-backend')`.
 * A backend that is unavailable because the machine lacks hardware (a GPU) gets every check skipped with the
 * reason in the title "(no hardware: ...)"; unavailable for any other reason, it fails. With CI=true a check
 * that skips itself fails, unless it needs hardware the machine lacks.
 */
export async function describeConformance(backend: string, options: DescribeConformanceOptions = {}): Promise<void> {
  const checks = selectChecks(options.fixtures ?? defaultFixtures(), options.filter);
  const info = (await listBackends()).find((b) => b.name === backend);
  if (!info || !info.available) {
    const reason = info ? info.reason : 'not registered (import the backend package first)';
    describe(`conformance: ${backend}`, () => {
      if (info?.missingHardware) for (const check of checks) it.skip(`${check.id} (no hardware: ${reason})`, () => {});
      else
        it(`backend ${backend} is available`, () => {
          throw new Error(`backend ${backend} is unavailable: ${reason}`);
        });
    });
    return;
  }
  const ctx = await contextFor(backend);
  describe(`conformance: ${backend}${info.runsOn ? ` (on ${info.runsOn})` : ''}`, () => {
    for (const check of checks) {
      const na = check.notApplicable?.(ctx.capabilities, getBackend(ctx.backend));
      if (na) {
        it.skip(`${check.id} (n/a: ${na})`, () => {});
        continue;
      }
      it(
        check.id,
        async (test) => {
          const result = await runCheck(check, ctx);
          if (result.status === 'fail') throw new Error(`${check.id}: ${check.title}\n${result.message}`);
          if (result.status === 'skip') {
            if (process.env.CI === 'true' && !result.hardware) throw new Error(`${check.id} skipped in CI: ${result.message}`);
            test.skip(result.message);
          }
        },
        120_000,
      );
    }
  });
}
