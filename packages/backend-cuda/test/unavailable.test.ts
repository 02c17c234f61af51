// Where there is no GPU (CI): the backend loads, reports itself unavailable with an actionable reason, refuses to be
// used with a RecurError, and core passes it over when choosing a default.
import { BackendError, getBackend, listBackends } from '@recur/core';
import { describe, expect, it } from 'vitest';
import { CudaBackend, loadAddon } from '../src/index.js';

const backend = new CudaBackend('cuda-test');
const availability = backend.available();

describe('backend-cuda without a usable GPU', () => {
  if (availability.available) {
    it.skip(`the unavailable path (n/a: this machine has a GPU, ${availability.runsOn})`, () => {});
    return;
  }
  it('was compiled here when nvcc is present (CI has it): the addon loads even without a driver', () => {
    const load = loadAddon();
    expect(load.reason).toBeUndefined();
    expect(load.addon!.info().devices).toBe(0);
  });

  it('says why it is unavailable, as missing hardware, without crashing', () => {
    expect(availability.missingHardware).toBe(true);
    expect(availability.reason).toMatch(/NVIDIA driver|CUDA device|not built|nvcc/);
  });

  it('refuses every use with a BackendError naming the reason, and nothing is allocated', () => {
    const refused = (run: () => unknown) => {
      let error: unknown = null;
      try {
        run();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(BackendError);
      expect((error as BackendError).message).toContain(availability.reason!);
    };
    refused(() => backend.upload(new Float32Array(4), [4], 'float32'));
    refused(() => backend.zeros([2, 2]));
    refused(() =>
      backend.uploadWeights(
        { kind: 'rnn', inputSize: 1, units: 1, dtype: 'float32', activation: 'tanh' },
        { wIh: new Float32Array(1), wHh: new Float32Array(1), bIh: new Float32Array(1), bHh: new Float32Array(1) },
      ),
    );
    expect(backend.memory()).toEqual({ numTensors: 0, numBytes: 0 });
  });

  it('is registered as "cuda" and never chosen as the default while unavailable', async () => {
    const info = (await listBackends()).find((b) => b.name === 'cuda');
    expect(info).toMatchObject({ available: false, missingHardware: true, isDefault: false });
    expect(() => getBackend('cuda')).toThrow(BackendError);
  });
});
