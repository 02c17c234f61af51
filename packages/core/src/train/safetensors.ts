import { RecurError } from '../errors.js';
import type { FloatArray } from '../spec.js';

/** One tensor of a safetensors file (F32 and F64 only: what Recur stores). */
export interface NamedTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: FloatArray;
}

const DTYPES = {
  F32: { bytes: 4, make: (b: ArrayBuffer, o: number, n: number) => new Float32Array(b, o, n) },
  F64: { bytes: 8, make: (b: ArrayBuffer, o: number, n: number) => new Float64Array(b, o, n) },
} as const;

/**
 * Encodes tensors and string metadata as safetensors: u64 header length, JSON header, then the data (little-endian).
 * @see [docs/training.md (saving a model)](../../../../docs/training.md)
 */
export function encodeSafetensors(tensors: readonly NamedTensor[], metadata: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    const bytes = t.data.byteLength;
    header[t.name] = { dtype: t.data instanceof Float64Array ? 'F64' : 'F32', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8); // keep the data 8-byte aligned
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const t of tensors) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

const corrupt = (actual: string) => new RecurError('file', 'a safetensors file written by Recur', actual);

/**
 * Decodes a safetensors file, checking every length and offset; a corrupt file is rejected, never half-read.
 * @see [docs/training.md (saving a model)](../../../../docs/training.md)
 */
export function decodeSafetensors(bytes: Uint8Array): { tensors: Map<string, NamedTensor>; metadata: Record<string, string> } {
  if (!(bytes instanceof Uint8Array)) throw corrupt(`a ${typeof bytes}, not bytes`);
  if (bytes.length < 8) throw corrupt(`${bytes.length} bytes, too short for a header`);
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (headerLength > bytes.length - 8) throw corrupt(`a header of ${headerLength} bytes in a file of ${bytes.length}`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch {
    throw corrupt('a header that is not JSON');
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw corrupt('a header that is not a JSON object');
  const dataStart = 8 + headerLength,
    dataLength = bytes.length - dataStart;
  // A copy of the data, so that typed arrays are aligned whatever the view's offset. Not `bytes.slice(...)`: on a
  // Node Buffer (readFileSync, Buffer.from) slice is a view into a shared pool and its .buffer is the whole pool.
  const dataBytes = new Uint8Array(dataLength);
  dataBytes.set(bytes.subarray(dataStart));
  const data = dataBytes.buffer;
  const rawMetadata = header.__metadata__ ?? {};
  if (
    !rawMetadata ||
    typeof rawMetadata !== 'object' ||
    Array.isArray(rawMetadata) ||
    !Object.values(rawMetadata).every((v) => typeof v === 'string')
  ) {
    throw corrupt('a __metadata__ that is not an object of strings');
  }
  const metadata = rawMetadata as Record<string, string>;
  const tensors = new Map<string, NamedTensor>();
  const ranges: [number, number, string][] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const e = entry as { dtype?: string; shape?: unknown; data_offsets?: unknown };
    const kind = DTYPES[e?.dtype as keyof typeof DTYPES];
    if (!kind) throw corrupt(`tensor ${JSON.stringify(name)} of dtype ${JSON.stringify(e?.dtype)} (F32 or F64 expected)`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0))
      throw corrupt(`tensor ${JSON.stringify(name)} with shape ${JSON.stringify(e.shape)}`);
    const [start, end] = Array.isArray(e.data_offsets) ? (e.data_offsets as number[]) : [];
    const count = (e.shape as number[]).reduce((a, b) => a * b, 1);
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > dataLength || end - start !== count * kind.bytes) {
      throw corrupt(
        `tensor ${JSON.stringify(name)}: offsets ${JSON.stringify(e.data_offsets)} for ${count} values in ${dataLength} data bytes`,
      );
    }
    if (start % kind.bytes !== 0) throw corrupt(`tensor ${JSON.stringify(name)} at unaligned offset ${start}`);
    ranges.push([start, end, name]);
    tensors.set(name, { name, shape: e.shape as number[], data: kind.make(data, start, count) });
  }
  ranges.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i][0] < ranges[i - 1][1]) throw corrupt(`tensors ${ranges[i - 1][2]} and ${ranges[i][2]} overlapping`);
  }
  return { tensors, metadata };
}
