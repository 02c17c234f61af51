// Files made to break the readers: each is refused with a RecurError naming what is wrong, before any allocation
// it describes is attempted, and nothing runs.
import { BasicRNNCell, GRUCell, LSTMCell, MultiRNNCell, setBackend } from '@recur/core';
import '@recur/backend-cpu';
import { describe, expect, it } from 'vitest';
import { exportOnnx, importOnnx, loadPyTorchRNN, readStateDict, savePyTorchRNN } from '../src/index.js';
import { intTensor, onnx, slice } from '../src/onnx/tensors.js';
import { writeTorchFile } from '../src/pytorch/torch-file.js';
import { writeZip } from '../src/pytorch/zip.js';
import { fields, fixture } from './helpers.js';

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

describe('what the adversarial review found (each failed before its fix)', () => {
  const gru = new GRUCell(2, { inputSize: 2, seed: 4 });
  const model = () => onnx.ModelProto.decode(exportOnnx(gru));
  const encode = (m: ReturnType<typeof model>) => onnx.ModelProto.encode(m).finish();

  it('a state input declaring 2^32 layers imports without materialising them', () => {
    const m = model();
    const h = m.graph!.input!.find((i) => i.name === 'h_in.0')!;
    h.type!.tensorType!.shape!.dim![0] = { dimValue: 2 ** 32 };
    const node = m.graph!.node!.find((n) => n.opType === 'GRU')!;
    node.input![5] = 'h_row0';
    m.graph!.initializer!.push(intTensor('zero', [0]), intTensor('one', [1]));
    m.graph!.node!.unshift(
      onnx.NodeProto.create({ name: 'row0', opType: 'Slice', input: ['h_in.0', 'zero', 'one', 'zero'], output: ['h_row0'] }),
    );
    expect(importOnnx(encode(m)).initialState).toEqual([{ layer: 0, which: 'h', input: 'h_in.0', row: 0 }]);
  });

  it('linear_before_reset other than 0 or 1 (ONNX Runtime reads any non-zero as 1)', () => {
    const m = model();
    m.graph!.node!.find((n) => n.opType === 'GRU')!.attribute!.find((a) => a.name === 'linear_before_reset')!.i = 2;
    expect(fields(() => importOnnx(encode(m)))).toMatchObject({ expected: 'linear_before_reset 0 or 1', actual: '2' });
  });

  it('an op of another domain, negative dims, int64 data of 5 bytes, a Concat of an unnamed input', () => {
    const custom = model();
    custom.graph!.node!.find((n) => n.opType === 'GRU')!.domain = 'com.example';
    expect(fields(() => importOnnx(encode(custom))).actual).toBe('an op of domain com.example');
    const negative = model();
    negative.graph!.initializer!.find((t) => t.name === 'R.0')!.dims = [1, -6, -2];
    expect(fields(() => importOnnx(encode(negative))).expected).toBe('dims of sizes >= 0');
    const short = model();
    short.graph!.initializer!.push(onnx.TensorProto.create({ name: 'odd', dims: [1], dataType: 7, rawData: new Uint8Array(5) }));
    expect(fields(() => importOnnx(encode(short))).actual).toBe('5 bytes');
    const concat = model();
    concat.graph!.node!.push(onnx.NodeProto.create({ name: 'cat', opType: 'Concat', input: ['W.0', ''], output: ['z'] }));
    expect(fields(() => importOnnx(encode(concat))).argument).toBe('node cat (Concat)');
  });

  it('Slice with a negative step clamps its start as ONNX does', () => {
    expect(Array.from(slice({ dims: [3], values: [10, 20, 30] }, [-10], [-20], [0], [-1], 'test').values)).toEqual([10]);
    expect(Array.from(slice({ dims: [3], values: [10, 20, 30] }, [5], [-5], [0], [-1], 'test').values)).toEqual([30, 20, 10]);
  });

  it('exportOnnx checks its name and sequenceLengths options', () => {
    expect(fields(() => exportOnnx(gru, { name: 5 as never })).argument).toBe('options.name');
    expect(fields(() => exportOnnx(gru, { sequenceLengths: 'yes' as never })).argument).toBe('options.sequenceLengths');
  });

  it('pickles that are not trees, a huge integer, a MARK where a value is due', () => {
    expect(fields(() => readStateDict(fixture('cyclic.pt'))).actual).toMatch(/^a dict reached twice/);
    expect(fields(() => readStateDict(fixture('shared-dicts.pt'))).actual).toMatch(/^a dict reached twice/);
    expect(fields(() => readStateDict(fixture('dup-names.pt'))).actual).toBe('the name a.b twice (a key with dots and a nested dict)');
    const long4 = [0x80, 2, 0x8b, 0x40, 0x0d, 0x03, 0x00, ...new Array(200_000).fill(1), 0x2e];
    expect(fields(() => readStateDict(torchZip(long4))).actual).toBe('an integer of 200000 bytes (a state_dict needs 8 at most)');
    const mark = [0x80, 2, 0x7d, 0x5d, 0x28, 0x61, 0x7d, 0x73, 0x2e]; // {} [] MARK APPEND {} SETITEM
    expect(fields(() => readStateDict(torchZip(mark))).actual).toMatch(/^a MARK where a value is due/);
  });

  it('a zip whose directory entries share one local entry', () => {
    const zip = writeZip([
      ['archive/data.pkl', Uint8Array.of(1)],
      ['archive/data/0', Uint8Array.of(2)],
    ]);
    const view = new DataView(zip.buffer);
    const dir = view.getUint32(zip.length - 6, true);
    const second = dir + 46 + 'archive/data.pkl'.length;
    view.setUint32(second + 42, 0, true); // the second entry's data: the first's
    expect(fields(() => readStateDict(zip)).actual).toBe('entry archive/data/0 sharing its data with another entry');
  });

  it('safetensors keep what they record: the dtype (F16), the RNN nonlinearity', () => {
    expect(readStateDict(fixture('gru.f16.safetensors')).get('weight_hh_l0')!.dtype).toBe('F16');
    const relu = new BasicRNNCell(3, { inputSize: 2, seed: 9, activation: 'relu' });
    const back = loadPyTorchRNN(savePyTorchRNN(relu, { format: 'safetensors' }));
    expect((back.cell.layers[0] as BasicRNNCell).activation).toBe('relu');
    expect(fields(() => loadPyTorchRNN(savePyTorchRNN(relu, { format: 'safetensors' }), { nonlinearity: 'tanh' })).expected).toBe(
      'relu, as the file records',
    );
    back.cell.dispose();
    relu.dispose();
  });

  it('a legacy (pre-1.6) torch.save file is named as such', () => {
    expect(fields(() => readStateDict(Uint8Array.of(0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c))).actual).toMatch(
      /^the legacy torch.save format/,
    );
  });
});
