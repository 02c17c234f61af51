// docs/backend-authoring.md, followed as an author would: its whole backend (examples/my-backend.ts) compiled to
// ./dist/my-backend.js and the guide's own commands run on it, which must go green.
import { execSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { transformSync } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { ROOT } from './markdown.js';

const here = fileURLToPath(new URL('..', import.meta.url));
const author = join(here, '.snippets', 'author'); // inside this package: npx finds recur-conformance here
mkdirSync(join(author, 'dist'), { recursive: true });
const source = readFileSync(join(here, 'examples', 'my-backend.ts'), 'utf8');
writeFileSync(join(author, 'dist', 'my-backend.js'), transformSync(source, { loader: 'ts', format: 'esm', target: 'node20' }).code);
// "your own golden vectors": one of the shipped cases under the author's model name
const golden = JSON.parse(gunzipSync(readFileSync(join(ROOT, 'packages/conformance/fixtures/pytorch-golden.json.gz'))).toString('utf8'));
writeFileSync(
  join(author, 'my-model.json.gz'),
  gzipSync(
    JSON.stringify({ cases: [{ ...golden.cases.find((c: { name: string }) => c.name === 'gru_reset_before_2layer'), name: 'my_model' }] }),
  ),
);

const run = (command: string) => {
  try {
    return { code: 0, out: execSync(command, { cwd: author, encoding: 'utf8', stdio: 'pipe', env: { ...process.env, CI: 'true' } }) };
  } catch (error) {
    const e = error as { status: number; stdout: string; stderr: string };
    return { code: e.status, out: `${e.stdout}${e.stderr}` };
  }
};

describe("the backend-authoring guide's backend, with the guide's commands", () => {
  it('npx recur-conformance --import ./dist/my-backend.js --backend mine: every check that applies passes', () => {
    const r = run('npx recur-conformance --import ./dist/my-backend.js --backend mine');
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/^check\s+mine\s*$/m);
    expect(r.out).toMatch(/^\d+ passed, 0 failed, 0 skipped$/m);
    expect(r.out).toMatch(/n\/a mine: \d+ checks do not apply \(the backend has no float64; the backend has no backward kernels\)/);
  }, 120_000);

  it("npx recur-conformance --import ./dist/my-backend.js --backend mine --fixtures my-model.json.gz: the author's own vectors", () => {
    const r = run('npx recur-conformance --import ./dist/my-backend.js --backend mine --fixtures my-model.json.gz');
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/golden\/my_model\/one-shot\s+pass/);
  }, 120_000);
});
