import { describe, expect, it } from 'vitest';
import { GpuContext } from '../src/context.js';
import { packRowsKernel } from '../src/kernels/packed.js';

// gpu.js bakes each argument's sizes into the shader it compiles on the first call: a kernel run again on a
// texture of another size reads it through the first one's sizes (rows land in the wrong places, silently).
describe('GpuContext kernels', () => {
  it('one kernel key over textures of different sizes reads each as it is (the cache keys argument sizes too)', () => {
    const ctx = new GpuContext('headlessgl');
    const first = ctx.upload(
      Float32Array.from({ length: 6 * 3 }, (_, i) => 100 + i),
      6,
      3,
    );
    const taller = ctx.upload(
      Float32Array.from({ length: 8 * 3 }, (_, i) => i),
      8,
      3,
    );
    // the first 6 rows of each, packed four rows a texel
    const pack = (t: typeof first) => ctx.run('pack-rows 1x6x3', (gpu) => packRowsKernel(gpu, 1, 6, 3), t);
    const lanes = (t: ReturnType<typeof pack>) =>
      (t.toArray() as unknown as Record<number, number>[][]).map((row) => row.map((v) => [v[0], v[1], v[2], v[3]]));
    expect(lanes(pack(first))[0][0]).toEqual([100, 103, 106, 109]);
    expect(lanes(pack(taller))).toEqual([
      [
        [0, 3, 6, 9],
        [1, 4, 7, 10],
        [2, 5, 8, 11],
      ],
      [
        [12, 15, 0, 0],
        [13, 16, 0, 0],
        [14, 17, 0, 0],
      ],
    ]);
  });
});
