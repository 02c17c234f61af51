import { describe, expect, it } from 'vitest';
import '@recur/backend-cpu';
import { LSTMCell, LSTMStateTuple, dynamicRnn, registerBackend, tensor } from '@recur/core';
import { GpujsBackend } from '../src/index.js';

registerBackend('gpujs-tanh', () => new GpujsBackend('gpujs-tanh'), -1000);

// gpu.js's WebGL1 tanh is (e^2x - 1)/(e^2x + 1): ∞/∞ = NaN once 2x overflows (x past about 44). An LSTM whose
// gates saturate grows its cell state by about 1 a step, so after 60 steps tanh(c) had to be right past 44.
describe('backend-gpujs tanh for large arguments', () => {
  it('an LSTM whose cell state reaches 60 gives backend-cpu\'s outputs, not NaN', async () => {
    const T = 60, H = 2, I = 1;
    const make = (backend: string) => {
      const cell = new LSTMCell(H, { backend, inputSize: I });
      const G = 4 * H;
      cell.setWeights({ wIh: new Float32Array(G * I), wHh: new Float32Array(G * H), bIh: new Float32Array(G).fill(12), bHh: new Float32Array(G) });
      return cell;
    };
    const run = async (backend: string) => {
      const cell = make(backend);
      const x = tensor(new Float32Array(T * I), [T, 1, I], { backend });
      const out = dynamicRnn(cell, x, { timeMajor: true });
      const y = Array.from(await out.outputs.data()), c = Array.from(await (out.state as LSTMStateTuple).c.data());
      out.outputs.dispose();
      (out.state as LSTMStateTuple).h.dispose();
      (out.state as LSTMStateTuple).c.dispose();
      x.dispose();
      cell.dispose();
      return { y, c };
    };
    const gpu = await run('gpujs-tanh'), cpu = await run('cpu');
    expect(cpu.c[0]).toBeGreaterThan(59); // the case reaches the range where gpu.js's own tanh is NaN
    gpu.y.forEach((v, i) => expect(Math.abs(v - cpu.y[i])).toBeLessThan(2e-4));
    gpu.c.forEach((v, i) => expect(Math.abs(v - cpu.c[i]) / cpu.c[i]).toBeLessThan(1e-5));
  });
});
