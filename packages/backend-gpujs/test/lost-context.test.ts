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
    const x = tensor(Float32Array.from({ length: 6 }, (_, i) => i / 6), [2, 1, 3], { backend: 'gpujs-lost' });
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
