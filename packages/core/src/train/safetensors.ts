import { RecurError } from '../errors.js';
import type { FloatArray } from '../spec.js';

/** One tensor of a safetensors file: F32 or F64 as stored; F16 and BF16 are widened to F32 when read. */
export interface NamedTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: FloatArray;
  /** The dtype stored in the file, set by `decodeSafetensors` (F16/BF16 data is widened to F32 arrays). */
  readonly dtype?: FloatDtypeName;
}

/** IEEE half precision to float: sign, 5-bit exponent, 10-bit mantissa (subnormals, infinities and NaN kept). */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1,
    exponent = (h >> 10) & 0x1f,
    mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** Reads `n` little-endian u16 (any alignment) and widens each with `widen`. */
function widen16(bytes: Uint8Array, n: number, widen: (bits: number) => number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, 2 * n),
    out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = widen(view.getUint16(2 * i, true));
  return out;
}

const bf16Bits = new Uint32Array(1),
  bf16Value = new Float32Array(bf16Bits.buffer);
/** bfloat16 is the top half of a float32. */
function bfloatToFloat(h: number): number {
  bf16Bits[0] = h << 16;
  return bf16Value[0];
}

const DTYPES = {
  F32: { bytes: 4, make: Float32Array },
  F64: { bytes: 8, make: Float64Array },
  F16: { bytes: 2, widen: halfToFloat },
  BF16: { bytes: 2, widen: bfloatToFloat },
} as const;

/** The float dtypes Recur reads, in safetensors' names. */
export type FloatDtypeName = keyof typeof DTYPES;

/**
 * Little-endian floats of a file (`dtype` in safetensors' names) as a typed array: F16 and BF16 widened to a new
 * Float32Array; F32 and F64 a view of `bytes` where aligned, else a copy.
 * @see [docs/interop.md](../../../../docs/interop.md)
 */
export function decodeFloatData(dtype: FloatDtypeName, bytes: Uint8Array): FloatArray {
  if (!Object.hasOwn(DTYPES, dtype)) throw new RecurError('dtype', 'F32, F64, F16 or BF16', String(dtype));
  const kind = DTYPES[dtype],
    n = Math.floor(bytes.length / kind.bytes);
  if ('widen' in kind) return widen16(bytes, n, kind.widen);
  const aligned = bytes.byteOffset % kind.bytes === 0 ? bytes : new Uint8Array(bytes); // a copy (a Node Buffer's slice() is a view)
  return new kind.make(aligned.buffer as ArrayBuffer, aligned.byteOffset, n);
}

/** The element sizes of the safetensors dtypes that are not floats Recur reads (integers, booleans, 8-bit floats). */
const OTHER_DTYPE_BYTES: Record<string, number> = {
  I64: 8,
  U64: 8,
  I32: 4,
  U32: 4,
  I16: 2,
  U16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
};

/** A tensor `decodeSafetensors` left unread (`skipOtherDtypes`): its name, dtype and shape. */
export interface SkippedTensor {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
}

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

const corrupt = (actual: string) => new RecurError('file', 'a well-formed safetensors file', actual);

/**
 * Decodes a safetensors file, checking every length and offset; a corrupt file is rejected, never half-read. F16 and
 * BF16 tensors are widened to Float32Array. Tensors of other dtypes (integers, booleans) are refused, or with
 * `skipOtherDtypes` listed in `skipped` unread (a whole model's file holds such buffers beside the weights).
 * @see [docs/training.md (saving a model)](../../../../docs/training.md)
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  options: { skipOtherDtypes?: boolean } = {},
): { tensors: Map<string, NamedTensor>; metadata: Record<string, string>; skipped: SkippedTensor[] } {
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
  const skipped: SkippedTensor[] = [];
  const ranges: [number, number, string][] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const e = entry as { dtype?: string; shape?: unknown; data_offsets?: unknown };
    const dtype = String(e?.dtype);
    const kind = Object.hasOwn(DTYPES, dtype)
      ? { bytes: DTYPES[dtype as FloatDtypeName].bytes, make: true }
      : options.skipOtherDtypes && Object.hasOwn(OTHER_DTYPE_BYTES, dtype)
        ? { bytes: OTHER_DTYPE_BYTES[dtype], make: false }
        : null;
    if (!kind) throw corrupt(`tensor ${JSON.stringify(name)} of dtype ${JSON.stringify(e?.dtype)} (F32, F64, F16 or BF16 expected)`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0))
      throw corrupt(`tensor ${JSON.stringify(name)} with shape ${JSON.stringify(e.shape)}`);
    const [start, end] = Array.isArray(e.data_offsets) ? (e.data_offsets as number[]) : [];
    const count = (e.shape as number[]).reduce((a, b) => a * b, 1);
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > dataLength || end - start !== count * kind.bytes) {
      throw corrupt(
        `tensor ${JSON.stringify(name)}: offsets ${JSON.stringify(e.data_offsets)} for ${count} values in ${dataLength} data bytes`,
      );
    }
    ranges.push([start, end, name]);
    if (kind.make)
      tensors.set(name, {
        name,
        shape: e.shape as number[],
        data: decodeFloatData(dtype as FloatDtypeName, dataBytes.subarray(start, end)),
        dtype: dtype as FloatDtypeName,
      });
    else skipped.push({ name, dtype, shape: e.shape as number[] });
  }
  ranges.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i][0] < ranges[i - 1][1]) throw corrupt(`tensors ${ranges[i - 1][2]} and ${ranges[i][2]} overlapping`);
  }
  return { tensors, metadata, skipped };
}
