// The install script never fails a user's install: with a CUDA toolkit that cannot build the addon it records the
// reason (which available() reports) and exits 0; the repository's own build treats the same failure as an error.
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const pkg = fileURLToPath(new URL('..', import.meta.url));

describe('scripts/build.mjs with an nvcc that cannot compile', () => {
  it('--install (the install script) records why and exits 0; the plain build exits 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'recur-cuda-install-'));
    cpSync(join(pkg, 'scripts'), join(dir, 'scripts'), { recursive: true });
    cpSync(join(pkg, 'native'), join(dir, 'native'), { recursive: true });
    const nvcc = join(dir, 'nvcc');
    writeFileSync(
      nvcc,
      '#!/bin/sh\nif [ "$1" = "--version" ]; then echo "Build fake-nvcc"; exit 0; fi\necho "fake: cannot compile" >&2; exit 2\n',
    );
    chmodSync(nvcc, 0o755);
    const env = { ...process.env, NVCC: nvcc, NAPI_INCLUDE: join(pkg, 'node_modules', 'node-api-headers', 'include') };
    const install = spawnSync(process.execPath, [join(dir, 'scripts', 'build.mjs'), '--install'], { env, encoding: 'utf8' });
    expect(install.status, install.stderr).toBe(0);
    const status = JSON.parse(readFileSync(join(dir, 'build', 'status.json'), 'utf8'));
    expect(status.built).toBe(false);
    expect(status.reason).toMatch(/^the addon failed to compile with .*nvcc \(Build fake-nvcc\)/);
    const build = spawnSync(process.execPath, [join(dir, 'scripts', 'build.mjs')], { env, encoding: 'utf8' });
    expect(build.status).toBe(1);
  });
});
