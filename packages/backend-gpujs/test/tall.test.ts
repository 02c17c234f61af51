import { describe, expect, it } from 'vitest';
import '@recur/backend-cpu';
import { registerBackend } from '@recur/core';
import { GpujsBackend } from '../src/index.js';
import { runLstm } from './lstm-run.js';

registerBackend('gpujs-tall', () => new GpujsBackend('gpujs-tall'), -1000);

// gpu.js sizes a matrix output's texture [cols, rows] exactly, and a GL context refuses textures past its
// MAX_TEXTURE_SIZE (headless-gl here: 16384; SwiftShader: 8192): tall matrices get square textures instead.
describe('backend-gpujs matrices taller than the GL texture limit', () => {
  it('a 20,000-row batch runs forward and reads back as backend-cpu computes it', async () => {
    const B = 20_000,
      H = 3,
      I = 2;
    const x = Float32Array.from({ length: B * I }, (_, i) => Math.sin(i * 0.01));
    const run = (backend: string) => runLstm(backend, { H, I, T: 1, B, x, seed: 11 });
    const gpu = await run('gpujs-tall'),
      cpu = await run('cpu');
    let worst = 0;
    gpu.y.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - cpu.y[i]))));
    gpu.c.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - cpu.c[i]))));
    expect(worst).toBeLessThan(2e-4);
  });
});
