import { RecurError } from '@recur/core';
import { expect, it } from 'vitest';
import { createSimdBackend, relaxedSimdSupported } from '../src/index.js';

// Runs in both projects (see vitest.config.ts): without relaxed SIMD the SIMD128 build runs and asking for the
// relaxed one is refused by name; with it, the relaxed build is the default and the SIMD128 build can be chosen.
it('picks the relaxed-SIMD build exactly where the engine validates it, and says which', async () => {
  const supported = relaxedSimdSupported();
  const byDefault = await createSimdBackend({ threads: 1, name: 'simd-default' });
  expect(byDefault.instructionSet).toBe(supported ? 'relaxed-simd' : 'simd128');
  await byDefault.close();
  if (supported) {
    const plain = await createSimdBackend({ threads: 1, name: 'simd-plain', relaxedSimd: false });
    expect(plain.instructionSet).toBe('simd128');
    await plain.close();
  } else {
    await expect(createSimdBackend({ relaxedSimd: true })).rejects.toThrow(RecurError);
    await expect(createSimdBackend({ relaxedSimd: true })).rejects.toMatchObject({
      argument: 'options.relaxedSimd',
      expected: expect.stringContaining('relaxed SIMD'),
    });
  }
  await expect(createSimdBackend({ relaxedSimd: 'yes' as unknown as boolean })).rejects.toMatchObject({
    argument: 'options.relaxedSimd',
    expected: 'a boolean',
  });
});
