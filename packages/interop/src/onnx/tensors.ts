import { RecurError, decodeFloatData } from '@recur/core';
import onnxProto from 'onnx-proto';

// onnx-proto is CommonJS (protobufjs static code): its namespace is the default export's `onnx`
export const { onnx } = onnxProto;
export type TensorProto = InstanceType<typeof onnx.TensorProto>;

/** A constant of the graph (an initializer, a Constant node, or glue evaluated on those), row-major. */
export interface Constant {
  readonly dims: readonly number[];
  /** floats as float32/float64; integers as numbers */
  readonly values: Float32Array | Float64Array | readonly number[];
}

const DT = onnx.TensorProto.DataType;

/** An int64 field of protobufjs: a number or a Long. */
export const toNumber = (v: number | { toNumber(): number } | null | undefined): number =>
  v === null || v === undefined ? 0 : typeof v === 'number' ? v : v.toNumber();

export const count = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

/** The values of an initializer or a Constant's tensor: float, double, float16 and the integer types (raw or typed fields). */
export function constantOf(t: TensorProto, where: string): Constant {
  const dims = (t.dims ?? []).map(toNumber);
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new RecurError(where, 'dims of sizes >= 0', `[${dims}]`);
  const n = count(dims);
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    throw new RecurError(where, 'a tensor stored in the model file', 'a tensor in an external data file (load it into the model first)');
  }
  const raw = t.rawData && t.rawData.length ? t.rawData : null;
  const check = (got: number) => {
    if (got !== n) throw new RecurError(where, `${n} values (dims [${dims}])`, `${got} values`);
  };
  let values: Float32Array | Float64Array | number[];
  switch (t.dataType) {
    case DT.FLOAT:
    case DT.DOUBLE:
    case DT.FLOAT16:
    case DT.BFLOAT16: {
      const name = t.dataType === DT.FLOAT ? 'F32' : t.dataType === DT.DOUBLE ? 'F64' : t.dataType === DT.FLOAT16 ? 'F16' : 'BF16';
      const size = name === 'F32' ? 4 : name === 'F64' ? 8 : 2;
      if (raw && raw.length % size) throw new RecurError(where, `${name} data of a multiple of ${size} bytes`, `${raw.length} bytes`);
      if (raw) values = decodeFloatData(name, raw).slice();
      else if (t.dataType === DT.FLOAT) values = Float32Array.from(t.floatData ?? []);
      else if (t.dataType === DT.DOUBLE) values = Float64Array.from(t.doubleData ?? []);
      else {
        // float16/bfloat16 in int32Data: one value's bits each
        const bits = Uint16Array.from(t.int32Data ?? []);
        values = decodeFloatData(name, new Uint8Array(bits.buffer)).slice();
      }
      break;
    }
    case DT.INT64:
      if (raw && raw.length % 8) throw new RecurError(where, 'int64 data of a multiple of 8 bytes', `${raw.length} bytes`);
      values = raw ? Array.from(new BigInt64Array(new Uint8Array(raw).buffer), Number) : (t.int64Data ?? []).map(toNumber);
      break;
    case DT.INT32:
      if (raw && raw.length % 4) throw new RecurError(where, 'int32 data of a multiple of 4 bytes', `${raw.length} bytes`);
      values = raw ? Array.from(new Int32Array(new Uint8Array(raw).buffer)) : [...(t.int32Data ?? [])];
      break;
    default:
      throw new RecurError(where, 'a float, double, float16, bfloat16, int32 or int64 tensor', `data type ${t.dataType}`);
  }
  check(values.length);
  return { dims, values };
}

/** A float32 initializer. */
export function floatTensor(name: string, dims: readonly number[], data: Float32Array): TensorProto {
  return onnx.TensorProto.create({
    name,
    dims: [...dims],
    dataType: DT.FLOAT,
    rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)),
  });
}

/** An int64 initializer (axes, shapes). */
export function intTensor(name: string, values: readonly number[]): TensorProto {
  return onnx.TensorProto.create({ name, dims: [values.length], dataType: DT.INT64, int64Data: [...values] });
}

const stridesOf = (dims: readonly number[]) => dims.map((_, i) => count(dims.slice(i + 1)));

/** out[index] for every index of `dims`, from the source element `at(index)`. */
function build(c: Constant, dims: number[], at: (index: number[]) => number): Constant {
  const n = count(dims),
    src = c.values,
    out = Array.isArray(src) ? new Array<number>(n) : new (src.constructor as Float32ArrayConstructor)(n);
  const index = new Array<number>(dims.length).fill(0);
  for (let i = 0; i < n; i++) {
    out[i] = src[at(index)];
    for (let k = dims.length - 1; k >= 0; k--) {
      if (++index[k] < dims[k]) break;
      index[k] = 0;
    }
  }
  return { dims, values: out };
}

const normAxis = (axis: number, rank: number, where: string) => {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new RecurError(where, `an axis of a rank-${rank} tensor`, String(axis));
  return a;
};

/** Refuses a `perm` that is not a permutation of 0..rank-1. */
export function checkPermutation(perm: readonly number[], rank: number, where: string): void {
  if (perm.length !== rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
    throw new RecurError(where, `a permutation of 0..${rank - 1}`, `perm [${perm}]`);
  }
}

export function transpose(c: Constant, perm: readonly number[], where: string): Constant {
  checkPermutation(perm, c.dims.length, where);
  const s = stridesOf(c.dims);
  return build(
    c,
    perm.map((p) => c.dims[p]),
    (index) => index.reduce((a, v, k) => a + v * s[perm[k]], 0),
  );
}

export function reshape(c: Constant, dims: number[]): Constant {
  return { dims, values: c.values };
}

export function squeeze(c: Constant, axes: readonly number[] | null, where: string): Constant {
  const drop = axes ? axes.map((a) => normAxis(a, c.dims.length, where)) : c.dims.flatMap((d, i) => (d === 1 ? [i] : []));
  drop.forEach((a) => {
    if (c.dims[a] !== 1) throw new RecurError(where, `axis ${a} of size 1 to squeeze`, `size ${c.dims[a]}`);
  });
  return reshape(
    c,
    c.dims.filter((_, i) => !drop.includes(i)),
  );
}

export function unsqueeze(c: Constant, axes: readonly number[], where: string): Constant {
  const rank = c.dims.length + axes.length;
  const at = axes.map((a) => normAxis(a, rank, where));
  if (new Set(at).size !== at.length) throw new RecurError(where, 'distinct axes', `[${axes}]`);
  const dims: number[] = [];
  for (let i = 0, j = 0; i < rank; i++) dims.push(at.includes(i) ? 1 : c.dims[j++]);
  return reshape(c, dims);
}

export function concat(items: readonly Constant[], axis: number, where: string): Constant {
  if (items.length === 0) throw new RecurError(where, 'at least one input', 'none');
  const rank = items[0].dims.length,
    a = normAxis(axis, rank, where);
  for (const c of items) {
    if (c.dims.length !== rank || c.dims.some((d, i) => i !== a && d !== items[0].dims[i])) {
      throw new RecurError(where, `inputs of dims [${items[0].dims}] but along axis ${a}`, `dims [${c.dims}]`);
    }
  }
  const dims = [...items[0].dims];
  dims[a] = items.reduce((n, c) => n + c.dims[a], 0);
  const outer = count(dims.slice(0, a)),
    parts: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const c of items) {
      const block = count(c.dims.slice(a));
      for (let i = 0; i < block; i++) parts.push(c.values[o * block + i]);
    }
  }
  const float = items.find((c) => !Array.isArray(c.values));
  return { dims, values: float ? new (float.values.constructor as Float32ArrayConstructor)(parts) : parts };
}

/** Slice's starts, ends, axes and steps: one each per sliced axis, steps non-zero. */
export function checkSliceArguments(
  starts: readonly number[],
  ends: readonly number[],
  axes: readonly number[] | null,
  steps: readonly number[] | null,
  where: string,
): void {
  const n = starts.length;
  if (ends.length !== n || (axes && axes.length !== n) || (steps && steps.length !== n)) {
    throw new RecurError(
      where,
      'starts, ends, axes and steps of one length',
      `${n}, ${ends.length}, ${axes?.length ?? '-'}, ${steps?.length ?? '-'}`,
    );
  }
  if (axes && new Set(axes).size !== n) throw new RecurError(where, 'distinct axes', `[${axes}]`);
  if (steps?.includes(0)) throw new RecurError(where, 'non-zero steps', `[${steps}]`);
}

/** ONNX Slice (starts, ends, axes, steps; negative and clamped indices). */
export function slice(
  c: Constant,
  starts: readonly number[],
  ends: readonly number[],
  axes: readonly number[] | null,
  steps: readonly number[] | null,
  where: string,
): Constant {
  const rank = c.dims.length,
    first = c.dims.map(() => 0),
    step = c.dims.map(() => 1),
    dims = [...c.dims];
  checkSliceArguments(starts, ends, axes, steps, where);
  (axes ?? starts.map((_, i) => i)).forEach((axis, i) => {
    const a = normAxis(axis, rank, where),
      d = c.dims[a],
      s = steps?.[i] ?? 1;
    const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + d : v, lo), hi);
    // ONNX: with a negative step, starts clamp to [0, d-1] and ends to [-1, d-1]
    const b = s > 0 ? clamp(starts[i], 0, d) : clamp(starts[i], 0, d - 1);
    const e = s > 0 ? clamp(ends[i], 0, d) : clamp(ends[i], -1, d - 1);
    first[a] = b;
    step[a] = s;
    dims[a] = Math.max(0, Math.ceil((e - b) / s));
  });
  const st = stridesOf(c.dims);
  return build(c, dims, (index) => index.reduce((acc, v, k) => acc + (first[k] + v * step[k]) * st[k], 0));
}

export function gather(c: Constant, indices: Constant, axis: number, where: string): Constant {
  const a = normAxis(axis, c.dims.length, where),
    d = c.dims[a];
  const idx = Array.from(indices.values, (v) => (v < 0 ? v + d : v));
  idx.forEach((v) => {
    if (!Number.isInteger(v) || v < 0 || v >= d) throw new RecurError(where, `indices within axis ${a} of size ${d}`, String(v));
  });
  const dims = [...c.dims.slice(0, a), ...indices.dims, ...c.dims.slice(a + 1)];
  const st = stridesOf(c.dims),
    ir = indices.dims.length,
    ist = stridesOf(indices.dims);
  return build(c, dims, (index) => {
    let at = 0;
    for (let k = 0; k < a; k++) at += index[k] * st[k];
    let flat = 0;
    for (let k = 0; k < ir; k++) flat += index[a + k] * ist[k];
    at += idx[flat] * st[a];
    for (let k = a + 1; k < c.dims.length; k++) at += index[k + ir - 1] * st[k];
    return at;
  });
}
