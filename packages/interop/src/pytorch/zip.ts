import { RecurError, crc32 } from '@recur/core';
import { inflateSync } from 'fflate';

/**
 * The zip container of torch.save files: read through the central directory, every entry's CRC-32 checked; written
 * uncompressed with each entry's data aligned to 64 bytes, as PyTorch writes it (its reader can map storages).
 */

const bad = (what: string) => new RecurError('file', 'a well-formed zip archive (torch.save writes one)', what);

/** An entry of a zip archive: its size from the directory, and its bytes once asked for (checked then). */
export interface ZipEntry {
  readonly size: number;
  read(): Uint8Array;
}

/**
 * The entries of a zip archive by name (stored or deflated; zip64 archives are refused by name). Nothing is inflated
 * until `read()`: a reader takes only the entries it needs, so an archive of many large entries costs only what is
 * read, and two directory entries may not share their data.
 */
export function readZip(bytes: Uint8Array): Map<string, ZipEntry> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // the end-of-central-directory record: 22 bytes plus a comment of at most 65535
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 0xffff); i--) {
    if (view.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw bad(`${bytes.length} bytes without a zip directory (truncated, or not a zip)`);
  const count = view.getUint16(eocd + 10, true),
    dirSize = view.getUint32(eocd + 12, true),
    dirStart = view.getUint32(eocd + 16, true);
  if (count === 0xffff || dirStart === 0xffffffff) throw bad('a zip64 archive (over 4 GiB or 65535 entries), which is not supported');
  if (dirStart + dirSize > eocd) throw bad(`a directory at ${dirStart}..${dirStart + dirSize} past its end record at ${eocd}`);
  const entries = new Map<string, ZipEntry>();
  const locals = new Set<number>();
  const names = new TextDecoder('utf-8', { fatal: false });
  let at = dirStart;
  for (let n = 0; n < count; n++) {
    if (at + 46 > eocd || view.getUint32(at, true) !== 0x02014b50) throw bad(`directory entry ${n} damaged at byte ${at}`);
    const method = view.getUint16(at + 10, true),
      crc = view.getUint32(at + 16, true),
      compressed = view.getUint32(at + 20, true),
      size = view.getUint32(at + 24, true),
      nameLength = view.getUint16(at + 28, true),
      extraLength = view.getUint16(at + 30, true),
      commentLength = view.getUint16(at + 32, true),
      local = view.getUint32(at + 42, true);
    const name = names.decode(bytes.subarray(at + 46, at + 46 + nameLength));
    at += 46 + nameLength + extraLength + commentLength;
    if (compressed === 0xffffffff || size === 0xffffffff || local === 0xffffffff) throw bad(`zip64 entry ${name} (not supported)`);
    if (local + 30 > bytes.length || view.getUint32(local, true) !== 0x04034b50) throw bad(`entry ${name}: no local header at ${local}`);
    const dataStart = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    if (dataStart + compressed > bytes.length)
      throw bad(`entry ${name} truncated (${compressed} bytes at ${dataStart} of ${bytes.length})`);
    if (locals.has(local)) throw bad(`entry ${name} sharing its data with another entry`);
    locals.add(local);
    if (entries.has(name)) throw bad(`entry ${name} twice`);
    if (method !== 0 && method !== 8) throw bad(`entry ${name} compressed with method ${method} (stored or deflate expected)`);
    // deflate cannot expand more than 1032:1: a larger claimed size is a lie, not worth an allocation
    if (method === 8 && size > 1032 * compressed + 64) throw bad(`entry ${name} claiming ${size} bytes from ${compressed} deflated`);
    if (method === 0 && size !== compressed) throw bad(`stored entry ${name} of ${compressed} bytes claiming ${size}`);
    const stored = bytes.subarray(dataStart, dataStart + compressed);
    entries.set(name, {
      size,
      read() {
        let data = stored;
        if (method === 8) {
          try {
            data = inflateSync(stored, { out: new Uint8Array(size) });
          } catch {
            throw bad(`entry ${name}: deflate data damaged`);
          }
        }
        if (data.length !== size) throw bad(`entry ${name}: ${data.length} bytes where the directory says ${size}`);
        if (crc32(data) !== crc) throw bad(`entry ${name}: CRC-32 mismatch (the file is damaged)`);
        return data;
      },
    });
  }
  return entries;
}

/** An uncompressed zip of `entries`, each entry's data starting on a 64-byte boundary (padding in the extra field). */
export function writeZip(entries: readonly (readonly [string, Uint8Array])[]): Uint8Array {
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [],
    directory: Uint8Array[] = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const nameBytes = encoder.encode(name),
      crc = crc32(data);
    const headerEnd = offset + 30 + nameBytes.length;
    const pad = (64 - ((headerEnd + 4) % 64)) % 64; // a 4-byte extra-field header, then padding
    const local = new Uint8Array(30 + nameBytes.length + 4 + pad);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true); // version needed
    lv.setUint32(14, crc, true);
    lv.setUint32(18, data.length, true);
    lv.setUint32(22, data.length, true);
    lv.setUint16(26, nameBytes.length, true);
    lv.setUint16(28, 4 + pad, true);
    local.set(nameBytes, 30);
    lv.setUint16(30 + nameBytes.length, 0xcafe, true); // a private extra-field id holding the padding
    lv.setUint16(32 + nameBytes.length, pad, true);
    const central = new Uint8Array(46 + nameBytes.length);
    const cv = new DataView(central.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, data.length, true);
    cv.setUint32(24, data.length, true);
    cv.setUint16(28, nameBytes.length, true);
    cv.setUint32(42, offset, true);
    central.set(nameBytes, 46);
    parts.push(local, data);
    directory.push(central);
    offset += local.length + data.length;
  }
  const dirSize = directory.reduce((n, d) => n + d.length, 0);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, dirSize, true);
  ev.setUint32(16, offset, true);
  const out = new Uint8Array(offset + dirSize + 22);
  let at = 0;
  for (const p of [...parts, ...directory, end]) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
