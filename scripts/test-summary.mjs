// Sums the vitest JSON reports of every package into one closing line: "N passed, N failed, N skipped".
// With CI=true a skipped test fails the run, unless its title says it does not apply ("(n/a: ...)") or
// that the machine lacks the hardware ("(no hardware: ...)").
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

let passed = 0,
  failed = 0,
  skipped = 0,
  exempt = 0;
const badSkips = [];
for (const group of ['packages', 'examples']) {
  for (const pkg of readdirSync(group)) {
    const file = join(group, pkg, 'test-results', 'vitest.json');
    if (!existsSync(file)) continue;
    const report = JSON.parse(readFileSync(file, 'utf8'));
    for (const suite of report.testResults ?? []) {
      for (const t of suite.assertionResults ?? []) {
        if (t.status === 'passed') passed++;
        else if (t.status === 'failed') failed++;
        else if (/\((n\/a|no hardware): /.test(t.title)) exempt++;
        else {
          skipped++;
          badSkips.push(`${pkg}: ${t.fullName ?? t.title}`);
        }
      }
    }
  }
}
if (exempt) console.log(`${exempt} tests do not apply here (n/a or missing hardware), each with its reason in its title`);
const ciSkipFail = process.env.CI === 'true' && skipped > 0;
if (ciSkipFail) console.log(`CI=true: skipped tests fail the run:\n  ${badSkips.join('\n  ')}`);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || ciSkipFail || passed === 0 ? 1 : 0);
