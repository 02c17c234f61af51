import { describe, expect, it } from 'vitest';
import { BackendError, LSTMCell, StatefulRNN, getBackend, listBackends, memory, registerBackend, tensor } from '@recur/core';
import { GpujsBackend } from '../src/index.js';

registerBackend('gpujs-lost', () => new GpujsBackend('gpujs-lost'), -1000);

// A lost context (a browser's, a driver reset; here headless-gl's context destroyed) must not read back zeros as
// results: every later call refuses with the GL message, and the backend reports itself unavailable.
describe('backend-gpujs with its WebGL context lost', () => {
  it('refuses every kernel and read with a BackendError, says why it is unavailable, and frees without throwing', async () => {
    const backend = getBackend('gpujs-lost') as GpujsBackend;
    const cell = new LSTMCell(4, { backend: 'gpujs-lost', inputSize: 3 });
    const rnn = new StatefulRNN(cell, { batch: 2 });
    const x = tensor(
      Float32Array.from({ length: 6 }, (_, i) => i / 6),
      [2, 1, 3],
      { backend: 'gpujs-lost' },
    );
    const y = rnn.run(x);
    expect(Array.from(await y.data()).some((v) => v !== 0)).toBe(true);
    backend.simulateContextLoss();
    expect(() => rnn.run(x)).toThrow(BackendError);
    expect(() => y.dataSync()).toThrow(expect.objectContaining({ argument: 'backend', expected: 'a live WebGL context' }));
    expect(() => tensor([1, 2], [2], { backend: 'gpujs-lost' })).toThrow(BackendError);
    expect(backend.available()).toMatchObject({ available: false, reason: expect.stringContaining('context was lost') });
    expect((await listBackends()).find((b) => b.name === 'gpujs-lost')).toMatchObject({ available: false });
    y.dispose();
    x.dispose();
    rnn.dispose();
    cell.dispose();
    expect(memory('gpujs-lost')).toMatchObject({ numTensors: 0, numBytes: 0 });
    expect(backend.texturesCreated - backend.texturesDeleted).toBe(0); // the refused calls left no texture behind
  });
});

describe('backend-gpujs with a kernel that does not compile', () => {
  it("turns gpu.js's and the GL compiler's errors into BackendErrors with their messages, leaves no texture behind, and keeps working", async () => {
    const { GpuContext } = await import('../src/context.js');
    const ctx = new GpuContext('headlessgl');
    // gpu.js refuses the JavaScript; the GL compiler refuses the GLSL (a native function naming an undeclared variable)
    const unparsable = () =>
      ctx.run('unparsable', (gpu) =>
        gpu.createKernel(
          function () {
            return undefinedFunction();
          },
          { output: [1], pipeline: true },
        ),
      );
    const glsl = () =>
      ctx.run('glsl', (gpu) =>
        gpu.createKernel(
          function () {
            return broken(1);
          },
          {
            output: [1],
            pipeline: true,
            nativeFunctions: [{ name: 'broken', source: 'float broken(float x) { return x + notDeclared; }' }],
          },
        ),
      );
    expect(unparsable).toThrow(
      expect.objectContaining({
        name: 'BackendError',
        expected: 'gpu.js kernels that compile and run',
        actual: expect.stringMatching(/^gpu\.js: unhandled return type/),
      }),
    );
    expect(glsl).toThrow(
      expect.objectContaining({
        name: 'BackendError',
        actual: expect.stringMatching(/^gpu\.js: Error compiling fragment shader: .*notDeclared/),
      }),
    );
    expect(ctx.texturesCreated - ctx.texturesDeleted).toBe(0);
    expect(ctx.lost).toBeNull();
    const t = ctx.upload([1, 2, 3, 4], 2, 2);
    expect(Array.from(ctx.read(ctx.wrap(t, 2, 2)))).toEqual([1, 2, 3, 4]);
  });
});
declare function undefinedFunction(): number;
declare function broken(x: number): number;
