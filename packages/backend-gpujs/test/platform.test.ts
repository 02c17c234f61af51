import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { GpujsBackend, detectPlatform } from '../src/index.js';

// Runs under `xvfb-run -a` (the package's test script): headless-gl on a virtual X display.
describe('the gpu.js platform', () => {
  it('finds headless-gl on the display, says which renderer, and refuses with an actionable reason otherwise', () => {
    const platform = detectPlatform();
    console.log(`gpu.js platform: ${JSON.stringify(platform)}`);
    expect(platform).toMatchObject({ available: true, mode: 'headlessgl' });
    expect(platform.renderer).toMatch(/\S/);
    expect([true, false, null]).toContain(platform.software); // null: the driver does not say (headless-gl: "ANGLE")
    const notBuilt = detectPlatform({
      loadGl: () => {
        throw new Error("Cannot find module 'gl'");
      },
    });
    expect(notBuilt).toMatchObject({ available: false, mode: null, reason: expect.stringContaining('scripts/build-gl.sh') });
    const noDisplay = detectPlatform({ display: undefined });
    expect(noDisplay).toMatchObject({ available: false, mode: null, reason: expect.stringContaining('xvfb-run -a') });
  });

  it('says where it runs, and that it lacks hardware unless the driver names a GPU (so that the demo passes a CPU renderer over)', () => {
    const platform = detectPlatform();
    const as = (software: boolean | null) => new GpujsBackend('gpujs-platform', { ...platform, software }).available();
    expect(as(true)).toMatchObject({ available: true, missingHardware: true, runsOn: expect.stringContaining('a CPU renderer') });
    expect(as(null)).toMatchObject({
      available: true,
      missingHardware: true,
      runsOn: expect.stringMatching(/^headlessgl: .*does not name/),
    });
    expect(as(false)).toMatchObject({ available: true, missingHardware: false, runsOn: expect.stringContaining('(a GPU)') });
    const none = new GpujsBackend('gpujs-none', detectPlatform({ display: undefined })).available();
    expect(none).toMatchObject({ available: false, missingHardware: true, reason: expect.stringContaining('xvfb-run -a') });
  });

  it('finds it from the built package in a plain Node process too (gl resolved through gpu.js, as gpu.js loads it)', () => {
    const script = `import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)}).then((m) => console.log(JSON.stringify(m.detectPlatform())))`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout.trim().split('\n').pop()!)).toMatchObject({ available: true, mode: 'headlessgl' });
  });

  it('runs a gpu.js kernel in headlessgl mode on it (never the CPU fallback): A·Bᵀ within float32 rounding of a float64 product', () => {
    const { GPU } = createRequire(import.meta.url)('gpu.js') as typeof import('gpu.js');
    const gpu = new GPU({ mode: 'headlessgl' });
    expect(gpu.mode).toBe('headlessgl'); // never gpu.js's CPU fallback
    const M = 37,
      N = 41,
      K = 53;
    let seed = 1;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
    const a = Array.from({ length: M }, () => Float32Array.from({ length: K }, random));
    const b = Array.from({ length: N }, () => Float32Array.from({ length: K }, random));
    const product = gpu.createKernel(
      function (x: number[][], y: number[][]) {
        let sum = 0;
        for (let k = 0; k < this.constants.K; k++) sum += x[this.thread.y][k] * y[this.thread.x][k];
        return sum;
      },
      { output: [N, M], constants: { K }, precision: 'single' },
    );
    const c = product(a, b) as Float32Array[];
    let worst = 0;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let ref = 0;
        for (let k = 0; k < K; k++) ref += a[i][k] * b[j][k];
        worst = Math.max(worst, Math.abs(c[i][j] - ref) / Math.max(1, Math.abs(ref)));
      }
    }
    expect(worst).toBeLessThan(2e-5);
    product.destroy();
    gpu.destroy();
  });
});
