import { describe, expect, it } from 'vitest';
import '@recur/backend-cpu';
import { LSTMCell, LSTMStateTuple, dynamicRnnWithTape, registerBackend, tensor, type Tensor } from '@recur/core';
import { GpujsBackend } from '../src/index.js';

registerBackend('gpujs-loops', () => new GpujsBackend('gpujs-loops'), -1000);

// gpu.js runs a loop it cannot bound by constants at most loopMaxIterations times (1000 unless set): the state
// gradient sums over 4H terms and the weight gradients over T·B rows, both past 1000 here.
describe('backend-gpujs sums of more than 1000 terms', () => {
  it("LSTM H=260 (4H = 1040), T·B = 1040 rows: gradients equal backend-cpu's within 1e-3 of their scale", async () => {
    const H = 260,
      I = 3,
      T = 2,
      B = 520;
    const run = async (backend: string) => {
      const cell = new LSTMCell(H, { backend, inputSize: I, seed: 21 });
      const x = tensor(
        Float32Array.from({ length: B * T * I }, (_, i) => Math.sin(i * 0.37)),
        [B, T, I],
        { backend },
      );
      const { outputs, state, tape } = dynamicRnnWithTape(cell, x);
      const dy = tensor(
        Float32Array.from({ length: B * T * H }, (_, i) => Math.cos(i * 0.11) / (B * T)),
        [B, T, H],
        { backend },
      );
      const g = tape.backward({ dOutputs: dy });
      const s = g.dInitialState as LSTMStateTuple,
        w = g.dWeights[0];
      const read = async (t: Tensor) => Float32Array.from(await t.data());
      const out = {
        dx: await read(g.dInputs!),
        dh0: await read(s.h),
        dc0: await read(s.c),
        wIh: await read(w.wIh),
        wHh: await read(w.wHh),
        bIh: await read(w.bIh),
      };
      g.dispose();
      tape.dispose();
      outputs.dispose();
      state instanceof LSTMStateTuple && (state.h.dispose(), state.c.dispose());
      dy.dispose();
      x.dispose();
      cell.dispose();
      return out;
    };
    const gpu = await run('gpujs-loops'),
      cpu = await run('cpu');
    for (const key of Object.keys(cpu) as (keyof typeof cpu)[]) {
      const scale = cpu[key].reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const worst = gpu[key].reduce((m, v, i) => Math.max(m, Math.abs(v - cpu[key][i])), 0);
      expect(worst / scale, key).toBeLessThan(1e-3);
    }
  });
});
