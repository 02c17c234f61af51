// safetensors written by other tools: half precision widened exactly, integer buffers skipped on request, tensors at
// offsets their element size does not divide, and Node Buffers that view a shared pool.
import { describe, expect, it } from 'vitest';
import { RecurError, decodeFloatData, decodeSafetensors } from '../src/index.js';

/** A safetensors file from raw little-endian tensor bytes, laid out in the order given (no alignment). */
function file(tensors: { name: string; dtype: string; shape: number[]; bytes: number[] }[]): Uint8Array {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(
    tensors.flatMap((t) => t.bytes),
    8 + json.length,
  );
  return out;
}
const u16 = (...v: number[]) => v.flatMap((x) => [x & 0xff, x >> 8]);
const f32 = (...v: number[]) => Array.from(new Uint8Array(Float32Array.from(v).buffer));

describe('decodeSafetensors of files other tools write', () => {
  const bytes = file([
    { name: 'half', dtype: 'F16', shape: [5], bytes: u16(0x3c00, 0xc100, 0x7bff, 0x0001, 0xfc00) },
    { name: 'steps', dtype: 'I64', shape: [], bytes: [7, 0, 0, 0, 0, 0, 0, 0] },
    { name: 'bf', dtype: 'BF16', shape: [2], bytes: u16(0x3f80, 0xbe20) },
    { name: 'single', dtype: 'F32', shape: [2], bytes: f32(0.1, -3) }, // at data offset 22: not a multiple of 4
  ]);

  it('widens F16 and BF16 exactly and copies an unaligned F32 tensor', () => {
    const { tensors, skipped } = decodeSafetensors(bytes, { skipOtherDtypes: true });
    expect(Array.from(tensors.get('half')!.data)).toEqual([1, -2.5, 65504, 2 ** -24, -Infinity]);
    expect(Array.from(tensors.get('bf')!.data)).toEqual([1, -0.15625]);
    expect(Array.from(tensors.get('single')!.data)).toEqual([Math.fround(0.1), -3]);
    expect(skipped).toEqual([{ name: 'steps', dtype: 'I64', shape: [] }]);
  });

  it('refuses other dtypes by name unless asked to skip them', () => {
    try {
      decodeSafetensors(bytes);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(RecurError);
      expect((e as RecurError).actual).toBe('tensor "steps" of dtype "I64" (F32, F64, F16 or BF16 expected)');
    }
  });

  it('decodeFloatData of a Node Buffer at an odd offset in its pool copies rather than fails', () => {
    const pool = Buffer.alloc(64);
    pool.set(f32(1.5, -2), 5);
    expect(Array.from(decodeFloatData('F32', pool.subarray(5, 13)))).toEqual([1.5, -2]);
    expect(() => decodeFloatData('I64' as never, pool)).toThrow(RecurError);
  });
});
