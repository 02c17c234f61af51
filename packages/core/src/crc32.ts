/**
 * CRC-32 (IEEE 802.3, the one zlib and PNG use): synchronous and browser-safe. Slicing-by-8: eight tables, eight
 * bytes a step (about 4x the byte-at-a-time loop; model files run to hundreds of megabytes).
 */
let tables: Uint32Array[] | null = null;

function makeTables(): Uint32Array[] {
  const t = Array.from({ length: 8 }, () => new Uint32Array(256));
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[0][n] = c >>> 0;
  }
  // t[k][n]: the CRC of byte n followed by k zero bytes
  for (let n = 0; n < 256; n++) for (let k = 1; k < 8; k++) t[k][n] = (t[k - 1][n] >>> 8) ^ t[0][t[k - 1][n] & 0xff];
  return t;
}

/**
 * The CRC-32 of `bytes`, continuing from `previous` (the CRC of the bytes before them; 0 to start). Snapshots,
 * model files and `@recur/interop`'s zip reader check their bytes with it.
 * @see [docs/snapshots.md](../../../docs/snapshots.md)
 */
export function crc32(bytes: Uint8Array, previous = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = (tables ??= makeTables());
  let c = ~previous >>> 0,
    i = 0;
  const end8 = bytes.length - (bytes.length % 8);
  for (; i < end8; i += 8) {
    const lo = c ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
    c =
      t7[lo & 0xff] ^
      t6[(lo >>> 8) & 0xff] ^
      t5[(lo >>> 16) & 0xff] ^
      t4[lo >>> 24] ^
      t3[bytes[i + 4]] ^
      t2[bytes[i + 5]] ^
      t1[bytes[i + 6]] ^
      t0[bytes[i + 7]];
  }
  for (; i < bytes.length; i++) c = t0[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
