import { describe, expect, it } from 'vitest';
import '@recur/backend-cpu';
import { registerBackend } from '@recur/core';
import { GpujsBackend } from '../src/index.js';
import { runLstm } from './lstm-run.js';

registerBackend('gpujs-tanh', () => new GpujsBackend('gpujs-tanh'), -1000);

// gpu.js's WebGL1 tanh is (e^2x - 1)/(e^2x + 1): ∞/∞ = NaN once 2x overflows (x past about 44). An LSTM whose
// gates saturate grows its cell state by about 1 a step, so after 60 steps tanh(c) had to be right past 44.
describe('backend-gpujs tanh for large arguments', () => {
  it("an LSTM whose cell state reaches 60 gives backend-cpu's outputs, not NaN", async () => {
    const T = 60,
      H = 2,
      I = 1,
      G = 4 * H;
    const weights = {
      wIh: new Float32Array(G * I),
      wHh: new Float32Array(G * H),
      bIh: new Float32Array(G).fill(12),
      bHh: new Float32Array(G),
    };
    const run = (backend: string) => runLstm(backend, { H, I, T, B: 1, x: new Float32Array(T * I), weights });
    const gpu = await run('gpujs-tanh'),
      cpu = await run('cpu');
    expect(cpu.c[0]).toBeGreaterThan(59); // the case reaches the range where gpu.js's own tanh is NaN
    gpu.y.forEach((v, i) => expect(Math.abs(v - cpu.y[i])).toBeLessThan(2e-4));
    gpu.c.forEach((v, i) => expect(Math.abs(v - cpu.c[i]) / cpu.c[i]).toBeLessThan(1e-5));
  });
});
