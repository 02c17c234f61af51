import { getBackend, ready } from '@recur/core';
import { expect, it } from 'vitest';
import { SimdBackend, relaxedSimdSupported } from '../../src/index.js';

// This file runs only in the relaxed-SIMD project, where every other test file of the package runs too: there the
// default backend runs the relaxed build, so the whole suite holds it to the same checks as the SIMD128 build.
it('the relaxed-SIMD project runs the relaxed build (--experimental-wasm-relaxed-simd on Node 20)', async () => {
  expect(relaxedSimdSupported()).toBe(true);
  await ready('simd');
  const backend = getBackend('simd') as SimdBackend;
  expect(backend.instructionSet).toBe('relaxed-simd');
});
