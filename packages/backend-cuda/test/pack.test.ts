// What a user installs: the npm pack output of @recur/core and this package, installed into a scratch project
// with npm (which runs the install script: nvcc builds the addon when a toolkit is there), then loaded. Without a
// GPU it must load and report itself unavailable with its reason; with one, available.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const hasNvcc = spawnSync('sh', ['-c', 'command -v nvcc || test -x /usr/local/cuda/bin/nvcc']).status === 0;
const packages = fileURLToPath(new URL('../..', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'recur-cuda-pack-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('the packed package in a scratch project', () => {
  it('installs with npm, builds its addon at install, loads and reports its availability with the reason', () => {
    for (const pkg of ['core', 'backend-cuda'])
      execFileSync('pnpm', ['pack', '--pack-destination', scratch], { cwd: join(packages, pkg), stdio: 'pipe' });
    const tarballs = readdirSync(scratch).filter((f) => f.endsWith('.tgz'));
    expect(tarballs).toHaveLength(2);
    const listing = execFileSync(
      'tar',
      [
        '-tzf',
        join(
          scratch,
          tarballs.find((t) => t.includes('cuda'))!,
        ),
      ],
      { encoding: 'utf8' },
    );
    expect(listing).toContain('package/native/persistent.cu');
    expect(listing).toContain('package/scripts/build.mjs');
    expect(listing).not.toContain('package/build/'); // built at install, never shipped
    const project = join(scratch, 'project');
    execFileSync('mkdir', ['-p', project]);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs.map((t) => join(scratch, t))], {
      cwd: project,
      stdio: 'pipe',
      env: { ...process.env, RECUR_CUDA_ARCHS: '90' }, // one target: a faster install
    });
    const probe = `import { CudaBackend } from '@recur/backend-cuda'; import { listBackends } from '@recur/core';
      const b = new CudaBackend(); const listed = (await listBackends()).find((x) => x.name === 'cuda');
      console.log(JSON.stringify({ availability: b.available(), listed: listed && { available: listed.available, reason: listed.reason } }));`;
    const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', probe], { cwd: project, encoding: 'utf8' }).trim());
    expect(out.listed).toBeTruthy(); // importing the package registered "cuda"
    if (out.availability.available) {
      expect(out.availability.runsOn).toMatch(/sm_\d+/);
    } else {
      expect(out.availability.missingHardware).toBe(true);
      // built at install where nvcc is (CI has it): the reason is then the missing driver or device; else the build
      expect(out.availability.reason).toMatch(hasNvcc ? /NVIDIA driver|CUDA device/ : /not built|no nvcc/);
      expect(out.listed.reason).toBe(out.availability.reason);
    }
  }, 600_000);
});
