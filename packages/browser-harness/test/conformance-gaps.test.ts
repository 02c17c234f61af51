// conformanceGaps is what the backends' browser tests assert on: it must name every way a browser run can differ.
import { selectChecks, type CheckResult } from '@recur/conformance';
import { defaultFixtures } from '@recur/conformance/node';
import { expect, it } from 'vitest';
import { conformanceGaps } from '../src/node.js';

it('names missing, extra and duplicate ids, failed and skipped checks, and unexpected n/a', () => {
  const ids = selectChecks(defaultFixtures()).map((c) => c.id);
  const all: CheckResult[] = ids.map((id) => ({ id, status: 'pass' }) as CheckResult);
  expect(conformanceGaps(all)).toEqual({ missing: [], extra: [], failed: [], notApplicable: [], passed: ids.length });
  const run: CheckResult[] = [
    ...all.slice(3),
    { ...all[3] },
    { id: 'made/up', status: 'pass' } as CheckResult,
    { id: ids[0], status: 'fail', message: 'off by 1e-3' } as CheckResult,
    { id: ids[1], status: 'n/a', message: 'no float64' } as CheckResult,
  ];
  expect(conformanceGaps(run)).toEqual({
    missing: [ids[2]],
    extra: [ids[3], 'made/up'],
    failed: [`${ids[0]}: off by 1e-3`],
    notApplicable: [`${ids[1]}: no float64`],
    passed: ids.length - 3 + 2,
  });
  expect(conformanceGaps(run, (r) => /float64/.test(r.message ?? '')).notApplicable).toEqual([]);
});
