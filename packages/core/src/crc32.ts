/** CRC-32 (IEEE 802.3, the one zlib and PNG use), table-driven: synchronous and browser-safe. */
let table: Uint32Array | null = null;

function makeTable(): Uint32Array {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
}

/**
 * The CRC-32 of `bytes`, continuing from `previous` (the CRC of the bytes before them; 0 to start). Snapshots,
 * model files and `@recur/interop`'s zip reader check their bytes with it.
 * @see [docs/snapshots.md](../../../docs/snapshots.md)
 */
export function crc32(bytes: Uint8Array, previous = 0): number {
  const t = (table ??= makeTable());
  let c = ~previous >>> 0;
  for (let i = 0; i < bytes.length; i++) c = t[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
