import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const child = fileURLToPath(new URL('./gc-child.mjs', import.meta.url));

describe('weight uploads of cells dropped without dispose() (the safety net)', () => {
  for (const backend of ['cpu', 'wasm', 'simd']) {
    it(`${backend}: the garbage collector frees them, and memory() counts each rescue`, () => {
      const run = spawnSync(process.execPath, ['--expose-gc', child, backend], { encoding: 'utf8', timeout: 120_000 });
      expect(run.status, run.stderr).toBe(0);
      const { baseline, held, after } = JSON.parse(run.stdout.trim().split('\n').pop()!);
      console.log(
        `${backend}: 200 dropped cells held ${held.numTensors - baseline.numTensors} uploads (${held.numBytes - baseline.numBytes} bytes); after gc: ${after.numTensors - baseline.numTensors}, reclaimedUploads ${after.reclaimedUploads}`,
      );
      expect(after.numTensors).toBe(baseline.numTensors);
      expect(after.numBytes).toBe(baseline.numBytes);
      expect(after.reclaimedUploads).toBeGreaterThan(0);
    });
  }
  for (const backend of ['cpu', 'simd']) {
    it(`${backend}: models trained on the backend and dropped: their layers' uploads and their heads' parameters are freed`, () => {
      const run = spawnSync(process.execPath, ['--expose-gc', child, backend, 'trained'], { encoding: 'utf8', timeout: 120_000 });
      expect(run.status, run.stderr).toBe(0);
      const { baseline, held, after } = JSON.parse(run.stdout.trim().split('\n').pop()!);
      expect(held.numTensors).toBeGreaterThan(baseline.numTensors);
      expect(after.numTensors).toBe(baseline.numTensors);
      expect(after.numBytes).toBe(baseline.numBytes);
    });
  }
});
