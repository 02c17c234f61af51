import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const cli = join(root, 'packages/conformance/dist/cli.js');
const fixtures = join(root, 'packages/conformance/fixtures/pytorch-golden.json.gz');
const trainingFixtures = join(root, 'packages/conformance/fixtures/pytorch-training-golden.json.gz');

function runIn(cwd: string, ...args: string[]) {
  const out = spawnSync(process.execPath, [cli, ...args], { cwd, encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  return { code: out.status, stdout: out.stdout, stderr: out.stderr };
}
const run = (...args: string[]) => runIn(root, ...args);

describe('recur-conformance CLI', () => {
  it('prints the matrix with cpu passing every check and exits 0', () => {
    const { code, stdout } = run('--backend', 'cpu');
    expect(code, stdout).toBe(0);
    expect(stdout).toMatch(/^check\s+cpu/m);
    expect(stdout).toMatch(/golden\/lstm_2layer\/chunks\s+pass/);
    expect(stdout).toMatch(/^(\d+) passed, 0 failed, 0 skipped$/m);
  });

  it('--json reports the same check ids as --list', () => {
    const ids = run('--list').stdout.trim().split('\n');
    const report = JSON.parse(run('--backend', 'cpu', '--json').stdout);
    const cpu = report.backends.find((b: { backend: string }) => b.backend === 'cpu');
    expect(cpu.results.map((r: { id: string }) => r.id)).toEqual(ids);
    expect(cpu.results.every((r: { status: string }) => r.status === 'pass')).toBe(true);
    expect(ids.length).toBeGreaterThan(60);
  });

  it('--fixtures runs a user file (plain JSON) and names its cases in the ids', () => {
    const golden = JSON.parse(gunzipSync(readFileSync(fixtures)).toString('utf8'));
    const one = { cases: [{ ...golden.cases[0], name: 'my_model' }] };
    const dir = mkdtempSync(join(tmpdir(), 'recur-'));
    writeFileSync(join(dir, 'mine.json'), JSON.stringify(one));
    const { code, stdout } = run('--backend', 'cpu', '--fixtures', join(dir, 'mine.json'), '--filter', 'golden/');
    expect(code, stdout).toBe(0);
    expect(stdout).toMatch(/golden\/my_model\/one-shot\s+pass/);
    expect(stdout).not.toMatch(/lstm_2layer/);
  });

  it('fails (exit 1) with the numbers when a fixture disagrees with the backend', () => {
    const golden = JSON.parse(gunzipSync(readFileSync(fixtures)).toString('utf8'));
    const broken = { ...golden.cases[0], name: 'broken' };
    broken.y = broken.y.map((v: number, i: number) => (i === 3 ? v + 1e-3 : v));
    const dir = mkdtempSync(join(tmpdir(), 'recur-'));
    writeFileSync(join(dir, 'broken.json.gz'), gzipSync(JSON.stringify({ cases: [broken] })));
    const { code, stdout } = run('--backend', 'cpu', '--fixtures', join(dir, 'broken.json.gz'), '--filter', 'golden/broken/one-shot');
    expect(code).toBe(1);
    expect(stdout).toMatch(/FAIL cpu golden\/broken\/one-shot:/);
    expect(stdout).toMatch(/y: max \|a - ref\| = 1\.0\d*e-3 > 2\.0e-5 at \[3\]/);
  });

  it('--fixtures takes whole-training vectors too (repeatable): a user case passes, a wrong parameter fails with its chunk and name', () => {
    const training = JSON.parse(gunzipSync(readFileSync(trainingFixtures)).toString('utf8'));
    const mine = { ...training.cases[0], name: 'my_training' };
    const broken = structuredClone({ ...training.cases[2], name: 'broken_training' });
    broken.steps[1].head.b[1] += 2e-3;
    const dir = mkdtempSync(join(tmpdir(), 'recur-'));
    writeFileSync(join(dir, 'mine.json'), JSON.stringify({ cases: [mine] }));
    writeFileSync(join(dir, 'broken.json'), JSON.stringify({ cases: [broken] }));
    const good = run(
      '--backend',
      'cpu',
      '--fixtures',
      join(dir, 'mine.json'),
      '--fixtures',
      fixtures,
      '--filter',
      'golden-training/',
      '--filter',
      'golden/lstm_2layer/one-shot',
    );
    expect(good.code, good.stdout).toBe(0);
    expect(good.stdout).toMatch(/golden-training\/my_training\s+pass/);
    expect(good.stdout).toMatch(/golden\/lstm_2layer\/one-shot\s+pass/);
    expect(good.stdout).not.toMatch(/train_gru/);
    const bad = run('--backend', 'cpu', '--fixtures', join(dir, 'broken.json'), '--filter', 'golden-training/broken_training');
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/FAIL cpu golden-training\/broken_training:/);
    expect(bad.stdout).toMatch(
      /broken_training chunk 1: head bias after the update: max \|a - ref\| \/ max\(1, \|ref\|\) = 2\.0\d*e-3 > 1\.0e-4 at \[1\]/,
    );
  });

  it('rejects a malformed fixture file and an unknown backend with a message (exit 2)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'recur-'));
    writeFileSync(
      join(dir, 'bad.json'),
      JSON.stringify({ cases: [{ name: 'x', cell: 'lstm', sizes: [2, 2], batch: 1, time: 1, x: [1] }] }),
    );
    const bad = run('--fixtures', join(dir, 'bad.json'));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/cases\[0\] \(x\): x must hold 2 numbers, has 1/);
    const training = JSON.parse(gunzipSync(readFileSync(trainingFixtures)).toString('utf8'));
    writeFileSync(join(dir, 'short.json'), JSON.stringify({ cases: [{ ...training.cases[1], steps: training.cases[1].steps.slice(1) }] }));
    const short = run('--fixtures', join(dir, 'short.json'));
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/cases\[0\] \(train_gru_2layer_ce_sgdm\): steps must have one entry per chunk \(3\)/);
    // a null where a number belongs, a missing field, a truncated gzip: the file and the field are named
    const golden = JSON.parse(gunzipSync(readFileSync(fixtures)).toString('utf8'));
    const withGrad = golden.cases.find((k: { grad?: unknown }) => k.grad);
    const nulled = structuredClone(withGrad);
    nulled.grad.dy[2] = null;
    writeFileSync(join(dir, 'null.json'), JSON.stringify({ cases: [nulled] }));
    const nullRun = run('--fixtures', join(dir, 'null.json'));
    expect(nullRun.code).toBe(2);
    expect(nullRun.stderr).toContain(`${join(dir, 'null.json')}: cases[0] (${withGrad.name}): grad.dy must hold`);
    expect(nullRun.stderr).toMatch(/has null at \[2\]/);
    const noY = structuredClone(golden.cases[0]);
    delete noY.y;
    writeFileSync(join(dir, 'no-y.json'), JSON.stringify({ cases: [noY] }));
    const noYRun = run('--fixtures', join(dir, 'no-y.json'));
    expect(noYRun.code).toBe(2);
    expect(noYRun.stderr).toMatch(/no-y\.json: cases\[0\] \(lstm_1layer\): y is missing \(expected \d+ numbers\)/);
    const badLens = structuredClone(golden.cases.find((k: { seq_lens?: unknown }) => k.seq_lens));
    badLens.seq_lens[0] = 99;
    writeFileSync(join(dir, 'lens.json'), JSON.stringify({ cases: [badLens] }));
    expect(run('--fixtures', join(dir, 'lens.json')).stderr).toMatch(/seq_lens\[0\] must be an integer in \[0, \d+\], is 99/);
    const whole = readFileSync(fixtures);
    writeFileSync(join(dir, 'cut.json.gz'), whole.subarray(0, whole.length >> 1));
    const cut = run('--fixtures', join(dir, 'cut.json.gz'));
    expect(cut.code).toBe(2);
    expect(cut.stderr).toContain(`${join(dir, 'cut.json.gz')}: not a readable gzip file (unexpected end of file: truncated or corrupt?)`);
    // arguments are read by Node's util.parseArgs: an unknown option or a missing value is refused with the usage
    const bogus = run('--bogus');
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toMatch(/Unknown option '--bogus'[\s\S]*--backend NAME/);
    expect(run('--fixtures').stderr).toMatch(/Option '--fixtures <value>' argument missing/);
    const unknown = run('--backend', 'nope');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--backend nope: not registered \(registered: [a-z, -]*\bcpu\b[a-z, -]*\)/);
  });

  it('--import resolves paths and URLs as Node does, and a backend that fails to load or set up is a failed column while the others run', () => {
    const dir = mkdtempSync(join(tmpdir(), 'recur-import-'));
    const core = pathToFileURL(join(root, 'packages/core/dist/index.js')).href,
      cpu = pathToFileURL(join(root, 'packages/backend-cpu/dist/index.js')).href;
    mkdirSync(join(dir, 'dist'));
    const mine = join(dir, 'dist', 'mine.js');
    writeFileSync(
      mine,
      `import { registerBackend } from '${core}'; import { CpuBackend } from '${cpu}'; registerBackend('mine', () => new CpuBackend('mine'));`,
    );
    const one = ['--backend', 'mine', '--filter', 'golden/lstm_1layer/one-shot'];
    for (const [cwd, spec] of [
      [root, mine],
      [dir, 'dist/mine.js'],
      [dir, './dist/mine.js'],
      [root, pathToFileURL(mine).href],
    ]) {
      const r = runIn(cwd, '--import', spec, ...one);
      expect(r.code, `--import ${spec}: ${r.stderr}${r.stdout}`).toBe(0);
      expect(r.stdout).toMatch(/golden\/lstm_1layer\/one-shot\s+pass/);
    }
    const missing = run('--import', join(dir, 'nope.js'), '--backend', 'cpu', '--filter', 'golden/lstm_1layer/one-shot');
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain(`--import ${join(dir, 'nope.js')} failed to load: Cannot find module '${join(dir, 'nope.js')}'`);
    // the module's own error, not "cannot load": it throws, it imports something missing, its factory throws
    writeFileSync(join(dir, 'boom.js'), "throw new Error('boom while registering my backend');");
    writeFileSync(join(dir, 'needs.js'), "import 'not-a-real-package-xyz';");
    writeFileSync(
      join(dir, 'factory.js'),
      `import { registerBackend } from '${core}'; registerBackend('badfactory', () => { throw new Error('the factory threw'); });`,
    );
    const r = run(
      '--import',
      join(dir, 'boom.js'),
      '--import',
      join(dir, 'needs.js'),
      '--import',
      join(dir, 'factory.js'),
      '--import',
      mine,
      '--filter',
      'golden/lstm_1layer/one-shot',
    );
    expect(r.code, r.stdout).toBe(1);
    expect(r.stdout).toContain(
      `FAIL ${join(dir, 'boom.js')}: --import ${join(dir, 'boom.js')} failed to load: boom while registering my backend`,
    );
    expect(r.stdout).toMatch(/FAIL \S*needs\.js: --import \S*needs\.js failed to load: .*Cannot find package 'not-a-real-package-xyz'/);
    expect(r.stdout).toContain('FAIL badfactory: unavailable: the factory threw');
    expect(r.stdout).toMatch(/^golden\/lstm_1layer\/one-shot\s.*\bFAIL\b.*\bpass\b/m); // failed columns, and the others ran
    expect(r.stdout).toMatch(/, 3 backends failed to load or set up$/m);
  });
});
