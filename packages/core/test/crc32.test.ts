// core's CRC-32 (slicing-by-8) against zlib's, an independent implementation, at every length around the 8-byte
// steps, and continued across a split.
import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32 } from '../src/index.js';

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed * 17 + ((i * i) >> 3)) & 0xff);

describe('crc32', () => {
  it("is zlib's CRC-32 at every length from 0 to 70 and at large ones", () => {
    for (let n = 0; n <= 70; n++) expect(crc32(bytes(n, n)), `length ${n}`).toBe(zlibCrc32(bytes(n, n)));
    for (const n of [4096, 65_537, 1_000_003]) expect(crc32(bytes(n, 3))).toBe(zlibCrc32(bytes(n, 3)));
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926); // the standard check value
  });

  it('continues from the CRC of the bytes before, at any split', () => {
    const b = bytes(1000, 9);
    for (const split of [0, 1, 7, 8, 13, 500, 999, 1000]) expect(crc32(b.subarray(split), crc32(b.subarray(0, split)))).toBe(zlibCrc32(b));
  });
});
