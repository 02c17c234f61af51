import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BACKENDS, casesFor, runCase } from './cases.mjs';

interface Outcome {
  readonly outcome: string;
  readonly detail?: string;
  readonly message?: string;
}
interface Case {
  readonly id: string;
  readonly isolate?: boolean;
  readonly works?: unknown;
}

const child = fileURLToPath(new URL('./child.mjs', import.meta.url));
// RECUR_MATRIX_LIMIT_S shortens it (for a run against old code, where cases hang or allocate for minutes)
const LIMIT_MS = Number(process.env.RECUR_MATRIX_LIMIT_S ?? 180) * 1000;

/** A case alone in a child process: an abort or a hang there is an outcome here, not the end of the test run. */
function isolated(backend: string, id: string): Outcome {
  const run = spawnSync(process.execPath, [child, backend, id], { encoding: 'utf8', timeout: LIMIT_MS, maxBuffer: 1 << 20 });
  if (run.error && (run.error as NodeJS.ErrnoException).code === 'ETIMEDOUT')
    return { outcome: 'hang', detail: `no result after ${LIMIT_MS / 1000} s` };
  const line = run.stdout.trim().split('\n').pop() ?? '';
  if (run.status !== 0 || !line.startsWith('{')) {
    return {
      outcome: 'abort',
      detail: `exit ${run.status ?? run.signal}: ${(run.stderr || run.stdout).trim().split('\n').slice(-3).join(' | ')}`,
    };
  }
  return JSON.parse(line) as Outcome;
}

describe('the bad-input matrix: every input the correctness issue named, on every backend', () => {
  const rows: { backend: string; id: string; result: Outcome }[] = [];
  for (const backend of BACKENDS) {
    for (const c of casesFor(backend) as Case[]) {
      it(`${backend}: ${c.id}`, { timeout: LIMIT_MS + 30_000 }, async () => {
        const result: Outcome = c.isolate ? isolated(backend, c.id) : await runCase(backend, c.id);
        rows.push({ backend, id: c.id, result });
        expect(result.outcome, `${result.detail ?? ''} ${result.message ?? ''}`).toBe(c.works ? 'works' : 'clear');
      });
    }
  }

  it('prints its size and tally', () => {
    const tally = new Map<string, number>();
    for (const r of rows) tally.set(r.result.outcome, (tally.get(r.result.outcome) ?? 0) + 1);
    const cases = new Set(rows.map((r) => r.id)).size;
    console.log(
      `bad-input matrix: ${cases} cases, ${rows.length} case x backend runs (${BACKENDS.join(', ')}): ` +
        `${tally.get('clear') ?? 0} clear RecurErrors with state, memory and later work intact, ${tally.get('works') ?? 0} heavy or file cases that must work and did; ` +
        `raw errors ${tally.get('raw') ?? 0}, aborts ${tally.get('abort') ?? 0}, hangs ${tally.get('hang') ?? 0}, silently accepted ${tally.get('accepted') ?? 0}, ` +
        `corrupted ${tally.get('corrupted') ?? 0}, wrong ${tally.get('wrong') ?? 0}`,
    );
    expect([...tally.keys()].every((k) => k === 'clear' || k === 'works')).toBe(true);
  });
});
