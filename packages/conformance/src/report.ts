import type { CheckResult } from './suite.js';

/** One backend's column of the matrix. */
export interface BackendReport {
  readonly backend: string;
  readonly available: boolean;
  /** Why it is unavailable. */
  readonly reason?: string;
  readonly missingHardware?: boolean;
  /** Set when the backend failed before any check ran (its module threw while loading, its setup threw). */
  readonly error?: string;
  /** Where its kernels ran, when the backend says. */
  readonly runsOn?: string;
  readonly results: readonly CheckResult[];
}

const MARK: Record<CheckResult['status'], string> = { pass: 'pass', fail: 'FAIL', skip: 'skip', 'n/a': 'n/a' };

/**
 * The backend x check matrix as text, then failures, skips with their reasons, and the totals.
 * @see [docs/backend-authoring.md (proving a backend)](../../../docs/backend-authoring.md#proving-it)
 */
export function formatMatrix(reports: readonly BackendReport[], ids: readonly string[]): string {
  const idWidth = Math.max(8, ...ids.map((id) => id.length));
  const widths = reports.map((r) => Math.max(6, r.backend.length));
  const lines: string[] = [];
  lines.push(`${'check'.padEnd(idWidth)}  ${reports.map((r, i) => r.backend.padEnd(widths[i])).join('  ')}`);
  lines.push(`${'-'.repeat(idWidth)}  ${widths.map((w) => '-'.repeat(w)).join('  ')}`);
  const byId = reports.map((r) => new Map(r.results.map((x) => [x.id, x])));
  for (const id of ids) {
    const cells = reports.map((r, i) =>
      (r.available ? (byId[i].get(id) ? MARK[byId[i].get(id)!.status] : '-') : r.error !== undefined ? 'FAIL' : 'skip').padEnd(widths[i]),
    );
    lines.push(`${id.padEnd(idWidth)}  ${cells.join('  ')}`);
  }
  const notes: string[] = [];
  for (const r of reports) {
    if (r.runsOn) notes.push(`${r.backend} ran on ${r.runsOn}`);
    if (r.error !== undefined) notes.push(`FAIL ${r.backend}: ${r.error}`);
    else if (!r.available)
      notes.push(`${r.backend}: every check skipped: ${r.reason}${r.missingHardware ? ' (hardware this machine lacks)' : ''}`);
    for (const x of r.results) {
      if (x.status === 'fail') notes.push(`FAIL ${r.backend} ${x.id}: ${x.title}\n    ${x.message?.split('\n').join('\n    ')}`);
      else if (x.status === 'skip') notes.push(`skip ${r.backend} ${x.id}: ${x.message}${x.hardware ? ' (hardware)' : ''}`);
    }
    const na = r.results.filter((x) => x.status === 'n/a');
    if (na.length) notes.push(`n/a ${r.backend}: ${na.length} checks do not apply (${[...new Set(na.map((x) => x.message))].join('; ')})`);
  }
  const count = (s: CheckResult['status']) => reports.reduce((a, r) => a + r.results.filter((x) => x.status === s).length, 0);
  const skipped = count('skip') + reports.filter((r) => !r.available && r.error === undefined).length * ids.length;
  const failedBackends = reports.filter((r) => r.error !== undefined).length;
  if (notes.length) lines.push('', ...notes);
  lines.push(
    '',
    `${count('pass')} passed, ${count('fail')} failed, ${skipped} skipped${failedBackends ? `, ${failedBackends} backend${failedBackends > 1 ? 's' : ''} failed to load or set up` : ''}`,
  );
  return lines.join('\n');
}
