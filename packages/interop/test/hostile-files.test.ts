// Files made to break the readers: each is refused with a RecurError naming what is wrong, before any allocation
// it describes is attempted, and nothing runs.
import { LSTMCell, MultiRNNCell, setBackend } from '@recur/core';
import '@recur/backend-cpu';
import { describe, expect, it } from 'vitest';
import { exportOnnx, importOnnx, readStateDict } from '../src/index.js';
import { onnx } from '../src/onnx/tensors.js';
import { writeTorchFile } from '../src/pytorch/torch-file.js';
import { writeZip } from '../src/pytorch/zip.js';
import { fields } from './helpers.js';

setBackend('cpu');
const enc = new TextEncoder();
/** A torch.save-shaped zip around a hand-written pickle. */
const torchZip = (pickle: number[], extra: [string, Uint8Array][] = []) =>
  writeZip([['archive/data.pkl', Uint8Array.from(pickle)], ['archive/version', enc.encode('3\n')], ...extra]);
const unicode = (s: string | number[]) => {
  const b = typeof s === 'string' ? [...enc.encode(s)] : s;
  return [0x58, b.length, 0, 0, 0, ...b];
};

describe('hostile PyTorch files', () => {
  it('a pickle string that is not UTF-8', () => {
    const f = fields(() => readStateDict(torchZip([0x80, 2, ...unicode([0xff, 0xfe]), 0x2e])));
    expect(f.actual).toMatch(/^a damaged pickle/);
  });

  it('a REDUCE of a global from the allow-list of no one (builtins.eval), by name', () => {
    const pickle = [0x80, 2, 0x63, ...enc.encode('builtins\neval\n'), ...unicode('1+1'), 0x85, 0x52, 0x2e];
    expect(fields(() => readStateDict(torchZip(pickle))).actual).toBe('a call of builtins.eval, which is not on the allow-list');
  });

  it('a tensor claiming more values than its storage holds', () => {
    const file = writeTorchFile([{ name: 'weight_ih_l0', shape: [4000, 1000], data: new Float32Array(4) }]);
    expect(fields(() => readStateDict(file)).actual).toBe('a tensor of 4000000 values over storage 0, which holds 4');
  });

  it('a storage the pickle names but the archive lacks, and a pickle that ends early', () => {
    const whole = writeTorchFile([{ name: 'a', shape: [2], data: Float32Array.of(1, 2) }]);
    const pickle = [...(readZipEntry(whole, 'archive/data.pkl') as Uint8Array)];
    expect(fields(() => readStateDict(torchZip(pickle))).actual).toContain('storage 0 named by the pickle but missing');
    expect(fields(() => readStateDict(torchZip(pickle.slice(0, 40)))).actual).toMatch(/truncated/);
  });

  it('a deflated entry claiming a size deflate cannot reach', () => {
    const zip = writeZip([['archive/data.pkl', Uint8Array.of(1, 2, 3)]]);
    const view = new DataView(zip.buffer);
    const dir = view.getUint32(zip.length - 6, true);
    view.setUint16(dir + 10, 8, true); // method: deflate
    view.setUint32(dir + 24, 0x7fffffff, true); // uncompressed size: 2 GiB
    expect(fields(() => readStateDict(zip)).actual).toBe('entry archive/data.pkl claiming 2147483647 bytes from 3 deflated');
  });
});

/** One entry of a zip written by writeZip (stored, in order). */
function readZipEntry(zip: Uint8Array, name: string): Uint8Array | undefined {
  const view = new DataView(zip.buffer, zip.byteOffset);
  let at = 0;
  while (view.getUint32(at, true) === 0x04034b50) {
    const size = view.getUint32(at + 18, true),
      nameLength = view.getUint16(at + 26, true),
      extra = view.getUint16(at + 28, true);
    const entry = new TextDecoder().decode(zip.subarray(at + 30, at + 30 + nameLength));
    const start = at + 30 + nameLength + extra;
    if (entry === name) return zip.subarray(start, start + size);
    at = start + size;
  }
  return undefined;
}

describe('hostile ONNX files', () => {
  const stack = new LSTMCell(3, { inputSize: 2, seed: 1 });
  const edit = (change: (m: ReturnType<typeof onnx.ModelProto.decode>) => void, options = {}) => {
    const m = onnx.ModelProto.decode(exportOnnx(stack, options));
    change(m);
    return onnx.ModelProto.encode(m).finish();
  };

  it('a Transpose whose perm is not a permutation', () => {
    const bytes = edit((m) => (m.graph!.node![0].attribute![0].ints = [0, 0, 2]));
    expect(fields(() => importOnnx(bytes))).toMatchObject({ expected: 'a permutation of 0..2', actual: 'perm [0,0,2]' });
  });

  it('sequence_lens on some layers only (ONNX would run the later ones over the padding)', () => {
    const two = new MultiRNNCell([new LSTMCell(3, { inputSize: 2, seed: 1 }), new LSTMCell(3, { seed: 2 })]);
    const m = onnx.ModelProto.decode(exportOnnx(two, { sequenceLengths: true }));
    expect(importOnnx(onnx.ModelProto.encode(m).finish()).sequenceLengths).toBe('sequence_lens');
    m.graph!.node!.filter((n) => n.opType === 'LSTM')[1].input![4] = '';
    expect(fields(() => importOnnx(onnx.ModelProto.encode(m).finish()))).toMatchObject({
      expected: 'sequence_lens on every recurrent node or on none',
      actual: 'on layers [0] of 2',
    });
    two.dispose();
  });

  it('a model with no graph, and bytes that are not protobuf', () => {
    expect(fields(() => importOnnx(onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 7 })).finish())).actual).toContain(
      'without one',
    );
    expect(fields(() => importOnnx(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]))).argument).toBe('file');
  });
});
