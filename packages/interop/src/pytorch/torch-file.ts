import { RecurError, decodeFloatData, type FloatArray, type FloatDtypeName } from '@recur/core';
import { isPickleTuple, unpickle, type AllowedGlobal, type PickleTuple } from './unpickle.js';
import { readZip, writeZip } from './zip.js';

/** One tensor of a state_dict: float tensors with their values; others (int64 counters, masks) by dtype and shape only. */
export interface StateDictTensor {
  readonly name: string;
  /** safetensors' dtype name: F32, F64, F16, BF16 (read), or I64, I32, U8, BOOL, … (not read) */
  readonly dtype: string;
  readonly shape: readonly number[];
  /** The values, row-major (F16/BF16 widened to float32); null for dtypes that are not floats. */
  readonly data: FloatArray | null;
}

// torch's storage classes -> safetensors dtype names and element sizes
const STORAGES: Record<string, [string, number]> = {
  FloatStorage: ['F32', 4],
  DoubleStorage: ['F64', 8],
  HalfStorage: ['F16', 2],
  BFloat16Storage: ['BF16', 2],
  LongStorage: ['I64', 8],
  IntStorage: ['I32', 4],
  ShortStorage: ['I16', 2],
  CharStorage: ['I8', 1],
  ByteStorage: ['U8', 1],
  BoolStorage: ['BOOL', 1],
};
const FLOATS = new Set(['F32', 'F64', 'F16', 'BF16']);

const bad = (what: string) => new RecurError('file', 'a torch.save file of a state_dict', what);

class StorageType {
  constructor(
    readonly dtype: string,
    readonly bytes: number,
  ) {}
}
interface Storage {
  readonly dtype: string;
  readonly bytes: number;
  /** bytes, from the zip directory */
  readonly size: number;
  readonly read: () => Uint8Array;
  readonly key: string;
  /** the values, read and decoded once for every tensor that views this storage (integer storages are never read) */
  values?: FloatArray;
}
/** A tensor as _rebuild_tensor_v2 makes it, before it is named. */
class RebuiltTensor {
  constructor(
    readonly dtype: string,
    readonly shape: number[],
    readonly data: FloatArray | null,
  ) {}
}

const ints = (v: unknown, what: string): number[] => {
  if (!isPickleTuple(v) || !v.every((d) => Number.isInteger(d) && (d as number) >= 0)) throw bad(`${what} that is not a tuple of sizes`);
  return [...(v as readonly unknown[] as readonly number[])];
};

/** Gathers a strided view of a storage into a row-major float array. */
function gather(storage: Storage, offset: number, shape: number[], stride: number[]): FloatArray | null {
  const count = shape.reduce((a, b) => a * b, 1);
  let last = offset; // the highest element index the view reaches
  shape.forEach((d, i) => (last += d > 0 ? (d - 1) * stride[i] : 0));
  const elements = storage.size / storage.bytes;
  // a state_dict's tensors are dense: more values than the storage holds would be a broadcast view, or a lie
  if (count > elements) throw bad(`a tensor of ${count} values over storage ${storage.key}, which holds ${elements}`);
  if (count > 0 && (offset < 0 || last >= elements)) {
    throw bad(`a tensor reaching element ${last} of storage ${storage.key}, which holds ${elements}`);
  }
  if (!FLOATS.has(storage.dtype)) return null;
  const all = (storage.values ??= decodeFloatData(storage.dtype as FloatDtypeName, storage.read()));
  const contiguous = shape.every((_, i) => shape[i] === 1 || stride[i] === shape.slice(i + 1).reduce((a, b) => a * b, 1));
  if (contiguous) return all.slice(offset, offset + count); // what torch.save writes: one copy, no index arithmetic
  const out = all instanceof Float64Array ? new Float64Array(count) : new Float32Array(count);
  const index = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < count; i++) {
    let at = offset;
    for (let k = 0; k < shape.length; k++) at += index[k] * stride[k];
    out[i] = all[at];
    for (let k = shape.length - 1; k >= 0; k--) {
      if (++index[k] < shape[k]) break;
      index[k] = 0;
    }
  }
  return out;
}

/**
 * Reads a `torch.save(model.state_dict())` file: the zip, its pickle through the restricted unpickler (ordered dicts,
 * tensor rebuilds, storages, plain values; anything else refused by name), the storages it names. Nested dicts (a
 * checkpoint's `{'model': state_dict, 'epoch': 3}`) are flattened to dotted names; values that are not tensors are left out.
 */
export function readTorchFile(bytes: Uint8Array): Map<string, StateDictTensor> {
  if (!(bytes instanceof Uint8Array)) throw bad(`a ${typeof bytes}, not bytes`);
  const entries = readZip(bytes);
  const pickles = [...entries.keys()].filter((n) => n.endsWith('/data.pkl') && n.split('/').length === 2);
  if (pickles.length !== 1) {
    throw bad(pickles.length ? `several pickles (${pickles.join(', ')})` : 'no <archive>/data.pkl entry (a legacy pre-1.6 file?)');
  }
  const root = pickles[0].slice(0, -'data.pkl'.length);
  const byteorder = entries.get(`${root}byteorder`);
  if (byteorder && new TextDecoder().decode(byteorder.read()).trim() !== 'little') throw bad('big-endian storages');
  const storages = new Map<string, Storage>();
  const storageClasses = Object.entries(STORAGES).map(([name, [dtype, size]]): [string, AllowedGlobal] => [
    `torch.${name}`,
    // the class itself is the value (persistent ids name it), never called
    Object.assign(
      {
        call: () => {
          throw bad(`a call of torch.${name}`);
        },
      },
      { type: new StorageType(dtype, size) },
    ),
  ]);
  const orderedDict: AllowedGlobal = {
    call: (args) => {
      if (args.length) throw bad('an OrderedDict built from arguments');
      return new Map();
    },
    build: () => undefined, // a state_dict's `_metadata` (module versions): nothing Recur needs
  };
  const rebuild: AllowedGlobal = {
    call: (args) => {
      const [storage, offset, size, stride] = args;
      if (!storage || typeof storage !== 'object' || !('key' in storage)) throw bad('_rebuild_tensor_v2 of something not a storage');
      if (!Number.isInteger(offset)) throw bad('_rebuild_tensor_v2 with a non-integer offset');
      const shape = ints(size, 'a size'),
        strides = ints(stride, 'a stride');
      if (shape.length !== strides.length) throw bad(`a tensor of ${shape.length} sizes and ${strides.length} strides`);
      const s = storage as Storage;
      return new RebuiltTensor(s.dtype, shape, gather(s, offset as number, shape, strides));
    },
  };
  const parameter: AllowedGlobal = {
    call: (args) => {
      if (!(args[0] instanceof RebuiltTensor)) throw bad('_rebuild_parameter of something not a tensor');
      return args[0];
    },
  };
  const globals = new Map<string, AllowedGlobal>([
    ['collections.OrderedDict', orderedDict],
    ['torch._utils._rebuild_tensor_v2', rebuild],
    ['torch._utils._rebuild_parameter', parameter],
    ...storageClasses,
  ]);
  const value = unpickle(entries.get(pickles[0])!.read(), {
    globals,
    persistentLoad(pid) {
      // ('storage', <storage class>, key, location, numel)
      if (!isPickleTuple(pid) || pid[0] !== 'storage' || pid.length !== 5) throw bad('a persistent id that is not a storage');
      const [, cls, key, , numel] = pid as PickleTuple;
      const type = (cls as { allowed?: { type?: unknown } } | null)?.allowed?.type;
      if (!(type instanceof StorageType)) throw bad('a storage of an unknown type');
      if (typeof key !== 'string' || !Number.isInteger(numel)) throw bad('a storage without a key and size');
      const cached = storages.get(key);
      if (cached) return cached;
      const entry = entries.get(`${root}data/${key}`);
      if (!entry) throw bad(`storage ${key} named by the pickle but missing from the archive (truncated?)`);
      if (entry.size !== (numel as number) * type.bytes) {
        throw bad(`storage ${key} of ${entry.size} bytes for ${numel as number} ${type.dtype} values`);
      }
      const storage: Storage = { dtype: type.dtype, bytes: type.bytes, size: entry.size, read: () => entry.read(), key };
      storages.set(key, storage);
      return storage;
    },
  });
  if (!(value instanceof Map)) throw bad('a pickle whose value is not a dict');
  const out = new Map<string, StateDictTensor>();
  // a state_dict is a tree of dicts with string keys: a dict reached twice (shared or cyclic), a name given twice or
  // nesting past any real checkpoint's is refused; entries under other keys (an optimizer's int keys) are left out
  const seen = new Set<Map<unknown, unknown>>();
  const walk = (dict: Map<unknown, unknown>, prefix: string, depth: number) => {
    if (seen.has(dict)) throw bad(`a dict reached twice (at ${prefix || 'the top'}): shared or cyclic, not a state_dict`);
    if (depth > 32) throw bad(`dicts nested ${depth} deep`);
    seen.add(dict);
    for (const [key, v] of dict) {
      if (typeof key !== 'string') continue;
      const name = prefix + key;
      if (v instanceof RebuiltTensor) {
        if (out.has(name)) throw bad(`the name ${name} twice (a key with dots and a nested dict)`);
        out.set(name, { name, dtype: v.dtype, shape: v.shape, data: v.data });
      } else if (v instanceof Map) walk(v, `${name}.`, depth + 1);
    }
  };
  walk(value, '', 0);
  return out;
}

// pickle opcodes the writer uses
const enum Op {
  PROTO = 0x80,
  GLOBAL = 0x63,
  EMPTY_TUPLE = 0x29,
  REDUCE = 0x52,
  MARK = 0x28,
  TUPLE = 0x74,
  BINUNICODE = 0x58,
  BININT = 0x4a,
  BINPERSID = 0x51,
  NEWFALSE = 0x89,
  SETITEMS = 0x75,
  STOP = 0x2e,
}

/** Writes float tensors as `torch.save(state_dict)` does (protocol 2 pickle, one storage per tensor); `torch.load` reads it. */
export function writeTorchFile(
  tensors: readonly { name: string; shape: readonly number[]; data: FloatArray }[],
  archive = 'archive',
): Uint8Array {
  const out: number[] = [];
  const encoder = new TextEncoder();
  const u32 = (v: number) => out.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  const str = (s: string) => {
    const b = encoder.encode(s);
    out.push(Op.BINUNICODE);
    u32(b.length);
    out.push(...b);
  };
  const int = (v: number) => {
    out.push(Op.BININT);
    u32(v);
  };
  const global = (module: string, name: string) => out.push(Op.GLOBAL, ...encoder.encode(`${module}\n${name}\n`));
  const tuple = (items: readonly number[]) => {
    out.push(Op.MARK);
    items.forEach(int);
    out.push(Op.TUPLE);
  };
  const emptyOrderedDict = () => {
    global('collections', 'OrderedDict');
    out.push(Op.EMPTY_TUPLE, Op.REDUCE);
  };
  out.push(Op.PROTO, 2);
  emptyOrderedDict();
  out.push(Op.MARK);
  tensors.forEach((t, key) => {
    const strides = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1));
    str(t.name);
    global('torch._utils', '_rebuild_tensor_v2');
    out.push(Op.MARK, Op.MARK);
    str('storage');
    global('torch', t.data instanceof Float64Array ? 'DoubleStorage' : 'FloatStorage');
    str(String(key));
    str('cpu');
    int(t.data.length);
    out.push(Op.TUPLE, Op.BINPERSID);
    int(0);
    tuple(t.shape);
    tuple(strides);
    out.push(Op.NEWFALSE);
    emptyOrderedDict();
    out.push(Op.TUPLE, Op.REDUCE);
  });
  out.push(Op.SETITEMS, Op.STOP);
  const entries: [string, Uint8Array][] = [
    [`${archive}/data.pkl`, Uint8Array.from(out)],
    [`${archive}/byteorder`, encoder.encode('little')],
    ...tensors.map((t, key): [string, Uint8Array] => [
      `${archive}/data/${key}`,
      new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
    ]),
    [`${archive}/version`, encoder.encode('3\n')],
  ];
  return writeZip(entries);
}
