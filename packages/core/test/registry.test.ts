import { describe, expect, it } from 'vitest';
import {
  BackendError,
  RecurError,
  SPEC_VERSION,
  getBackend,
  listBackends,
  ready,
  registerBackend,
  removeBackend,
  setBackend,
  type RecurBackend,
} from '../src/index.js';

/** Just enough of a backend for the registry: it is never asked to run kernels here. */
function fake(name: string, available = true, reason?: string): RecurBackend {
  const no = () => {
    throw new Error('not in this test');
  };
  return {
    specVersion: SPEC_VERSION,
    name,
    capabilities: { cells: [], dtypes: ['float32'], training: false, syncRead: false },
    available: () => (available ? { available: true } : { available: false, reason, missingHardware: true }),
    upload: no,
    zeros: no,
    read: no,
    dispose: no,
    memory: () => ({ numTensors: 0, numBytes: 0 }),
    uploadWeights: no,
    disposeWeights: no,
    forward: no,
    transpose01: no,
    zeroRows: no,
    gatherRows: no,
    concatRows: no,
    allFinite: no,
  };
}

describe('backend registry', () => {
  it('picks the highest-priority available backend as default until setBackend chooses one', async () => {
    registerBackend('low', () => fake('low'), 1);
    registerBackend('high', () => fake('high'), 5);
    registerBackend('gpu', () => fake('gpu', false, 'no CUDA driver'), 10);
    registerBackend('slow', async () => fake('slow'), 0);
    try {
      expect(getBackend().name).toBe('high');
      const infos = await listBackends();
      expect(infos.map((b) => [b.name, b.available, b.reason ?? null, b.isDefault])).toEqual([
        ['gpu', false, 'no CUDA driver', false],
        ['high', true, null, true],
        ['low', true, null, false],
        ['slow', true, null, false],
      ]);
      expect(infos[0].missingHardware).toBe(true);
      await setBackend('low');
      expect(getBackend().name).toBe('low');
      expect((await ready('slow')).name).toBe('slow');
      // ready(name) initialises that backend and leaves the default alone: only setBackend changes it
      expect(getBackend().name).toBe('low');
      expect((await listBackends()).find((b) => b.isDefault)?.name).toBe('low');
      await setBackend('slow');
      expect(getBackend().name).toBe('slow');
    } finally {
      for (const n of ['low', 'high', 'gpu', 'slow']) removeBackend(n);
    }
  });

  it('names every required method an incomplete backend lacks, at adoption (not a TypeError later)', async () => {
    const { upload: _u, forward: _f, ...partial } = fake('partial');
    registerBackend(
      'partial',
      () => ({ ...partial, capabilities: { ...partial.capabilities, training: true } }) as unknown as RecurBackend,
      1,
    );
    registerBackend('old', () => ({ ...fake('old'), specVersion: 1 }) as unknown as RecurBackend, 1);
    try {
      let error: unknown;
      try {
        await ready('partial');
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(BackendError);
      expect((error as BackendError).actual).toBe(
        '"partial", which is unavailable: its backend object lacks upload, forward, backward (capabilities.training is true), disposeTape (capabilities.training is true)',
      );
      await expect(ready('old')).rejects.toMatchObject({
        actual: expect.stringContaining('implements spec version 1, core needs 2 (v2 tags LayerSpec by kind'),
      });
    } finally {
      removeBackend('partial');
      removeBackend('old');
    }
  });

  it('refuses a backend whose name is not the name it was registered under (errors would name the wrong one)', async () => {
    registerBackend('alias', () => fake('other'), 1);
    try {
      const error = await ready('alias').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BackendError);
      expect((error as Error).message).toContain('its factory made a backend named "other", not "alias" as registered');
    } finally {
      removeBackend('alias');
    }
  });

  it('says why a backend is unavailable, and asks for ready() on an async one', async () => {
    registerBackend('broken', () => {
      throw new Error('libfoo.so not found');
    });
    registerBackend('later', async () => fake('later'));
    try {
      const e = (() => {
        try {
          getBackend('broken');
        } catch (err) {
          return err as BackendError;
        }
      })()!;
      expect(e).toBeInstanceOf(BackendError);
      expect([e.argument, e.expected]).toEqual(['backend', 'an available backend']);
      expect(e.actual).toContain('libfoo.so not found');
      await expect(ready('broken')).rejects.toThrow(/libfoo\.so not found/);
      expect(() => getBackend('later')).toThrow(/await ready\("later"\) first/);
      await ready('later');
      expect(getBackend('later').name).toBe('later');
    } finally {
      removeBackend('broken');
      removeBackend('later');
    }
  });

  it('rejects bad registrations and unknown names with the argument, expected and actual', async () => {
    const err = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return e as RecurError;
      }
      throw new Error('did not throw');
    };
    expect(err(() => registerBackend('Bad Name', () => fake('x')))).toMatchObject({ argument: 'name', actual: '"Bad Name"' });
    expect(err(() => registerBackend('ok', 42 as never))).toMatchObject({
      argument: 'factory',
      expected: 'a function returning a backend',
      actual: '42',
    });
    expect(err(() => getBackend('nope'))).toMatchObject({ argument: 'backend', actual: '"nope"' });
    await expect(setBackend('nope')).rejects.toMatchObject({ argument: 'name', actual: '"nope"' });
  });

  it('refuses a backend of another spec version', () => {
    registerBackend('old', () => ({ ...fake('old'), specVersion: 0 as never }));
    try {
      expect(() => getBackend('old')).toThrow(/spec version 0, core needs 2/);
    } finally {
      removeBackend('old');
    }
  });
});
