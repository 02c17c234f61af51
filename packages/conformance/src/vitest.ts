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
 * With CI=true a skipped check fails, unless it needs hardware the machine lacks.
 */
export async function describeConformance(backend: string, options: DescribeConformanceOptions = {}): Promise<void> {
  const ctx = await contextFor(backend);
  const checks = selectChecks(options.fixtures ?? defaultFixtures(), options.filter);
  describe(`conformance: ${backend}`, () => {
    for (const check of checks) {
      const na = check.notApplicable?.(ctx.capabilities);
      if (na) {
        it.skip(`${check.id} (n/a: ${na})`, () => {});
        continue;
      }
      it(check.id, async (test) => {
        const result = await runCheck(check, ctx);
        if (result.status === 'fail') throw new Error(`${check.id}: ${check.title}\n${result.message}`);
        if (result.status === 'skip') {
          if (process.env.CI === 'true' && !result.hardware) throw new Error(`${check.id} skipped in CI: ${result.message}`);
          test.skip(result.message);
        }
      }, 120_000);
    }
  });
}
