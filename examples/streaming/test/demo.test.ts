import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

it('the streaming example runs chunk by chunk and every printed proof holds', () => {
  const demo = fileURLToPath(new URL('../dist/demo.js', import.meta.url));
  const out = spawnSync(process.execPath, [demo, '--check'], { encoding: 'utf8' });
  expect(out.status, out.stdout + out.stderr).toBe(0);
  expect(out.stdout).toMatch(/chunk\s+steps/);
  expect(out.stdout.match(/^\s+OK /gm)?.length).toBe(6);
  expect(out.stdout).not.toMatch(/FAIL/);
  expect(out.stdout).toContain('All proofs hold.');
});
