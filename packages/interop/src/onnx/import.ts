import {
  MultiRNNCell,
  RecurError,
  UnsupportedOptionError,
  checkOptions,
  fromONNX,
  type CellKind,
  type DType,
  type LayerCell,
} from '@recur/core';
import type * as OnnxTypes from 'onnx-proto';
import { layerWithWeights } from '../cells.js';
import {
  checkPermutation,
  checkSliceArguments,
  concat,
  constantOf,
  count,
  gather,
  onnx,
  slice,
  squeeze,
  toNumber,
  transpose,
  unsqueeze,
  type Constant,
} from './tensors.js';

/**
 * ONNX import by abstract interpretation: the graph is walked in order and every value is classified (a constant,
 * the sequence and its axes, a state input and its rows, a layer's final state, a symbolic shape, zeros) instead of
 * computed. The glue exporters write around recurrent nodes (Transpose, Slice, Squeeze, Unsqueeze, Concat, Constant,
 * Identity, Shape/Gather/ConstantOfShape for a zero state) is folded into where the input, the state and the
 * outputs go; what cannot be expressed as a Recur stack is refused by the node's name and op.
 */

/** An axis of the sequence or a state: named by what it is, once the first recurrent node has said it. */
export type OnnxAxis = 'time' | 'batch' | 'features' | 'directions';

/** What a graph output of an imported model holds. */
export type OnnxOutput =
  | { readonly name: string; readonly kind: 'sequence'; readonly axes: readonly OnnxAxis[] }
  | {
      readonly name: string;
      readonly kind: 'state';
      readonly which: 'h' | 'c';
      /** the layers, in the order they are concatenated along the first axis */
      readonly layers: readonly number[];
      readonly axes: readonly (OnnxAxis | 'layers')[];
    };

/** Where a layer's initial state comes from: rows of a graph input (others start at zero). */
export interface OnnxStateInput {
  readonly layer: number;
  readonly which: 'h' | 'c';
  /** the graph input, [rows, batch, hidden] */
  readonly input: string;
  readonly row: number;
}

/** What `importOnnx` made, and how the file's inputs and outputs map onto it. */
export interface OnnxImport {
  readonly cell: MultiRNNCell;
  /** The sequence input: batch-major [B, T, I] or time-major [T, B, I] (run a StatefulRNN with `timeMajor` accordingly). */
  readonly input: { readonly name: string; readonly layout: 'batch-major' | 'time-major' };
  /** The graph input holding per-row lengths (ONNX `sequence_lens`), if any. */
  readonly sequenceLengths: string | null;
  readonly initialState: readonly OnnxStateInput[];
  readonly outputs: readonly OnnxOutput[];
}

/** Options of `importOnnx`. */
export interface OnnxImportOptions {
  readonly backend?: string;
  readonly dtype?: DType;
}

type Label = 'T' | 'B' | 'F' | 'D' | 'x0' | 'x1' | 'x2';
type Dim = number | Label;
type Which = 'h' | 'c';
type Value =
  | { kind: 'const'; c: Constant }
  | { kind: 'seq'; layer: number; axes: Label[] }
  | { kind: 'state-in'; input: string; rows: number[] | null; size: number | null; squeezed: boolean }
  | { kind: 'state-out'; items: { layer: number; which: Which }[]; layout: number; squeezed: boolean }
  | { kind: 'shape'; dims: Dim[]; scalar: boolean }
  | { kind: 'zeros'; dims: Dim[] }
  | { kind: 'lengths'; input: string };

type Attribute = OnnxTypes.onnx.IAttributeProto;
/** A node with its optional lists filled in. */
interface Node {
  readonly domain: string;
  readonly name: string;
  readonly opType: string;
  readonly input: readonly string[];
  readonly output: readonly string[];
  readonly attribute: readonly Attribute[];
}

const GLUE = ['Identity', 'Constant', 'Transpose', 'Squeeze', 'Unsqueeze', 'Slice', 'Concat', 'Shape', 'Gather', 'ConstantOfShape'];
const CELLS: Record<string, { kind: CellKind; gates: number; activations: string[] }> = {
  LSTM: { kind: 'lstm', gates: 4, activations: ['Sigmoid', 'Tanh', 'Tanh'] },
  GRU: { kind: 'gru', gates: 3, activations: ['Sigmoid', 'Tanh'] },
  RNN: { kind: 'rnn', gates: 1, activations: ['Tanh'] },
};

/** Decodes an ONNX model file. */
export function decodeModel(bytes: Uint8Array): InstanceType<typeof onnx.ModelProto> {
  if (!(bytes instanceof Uint8Array)) throw new RecurError('bytes', 'a Uint8Array (the .onnx file)', typeof bytes);
  let model;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new RecurError('file', 'an ONNX model (a ModelProto)', `bytes protobuf cannot decode (${(e as Error).message})`);
  }
  if (!model.graph) throw new RecurError('file', 'an ONNX model with a graph', 'a model without one (truncated or not ONNX?)');
  const opset = model.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx');
  if (opset && toNumber(opset.version) < 7) throw new RecurError('file', 'an ONNX opset of 7 or later', `opset ${toNumber(opset.version)}`);
  return model;
}

/**
 * Imports an ONNX model whose graph is a stack of forward `LSTM`, `GRU` or `RNN` nodes (default activations, RNN
 * `Relu` too; `linear_before_reset` 0 or 1; `layout` 0 or 1; `sequence_lens`; `initial_h`/`initial_c` from graph
 * inputs, whole or sliced per layer, or zeros) with the glue exporters put around them. The first graph input is
 * the sequence; any other op is refused by name. Weights are read as float32 (double initializers rounded); a row of
 * length 0 keeps its state in Recur where ONNX Runtime zeroes it.
 * @see [docs/interop.md](../../../../docs/interop.md)
 * @example
 * const { cell, input, initialState } = importOnnx(readFileSync('lstm.onnx'));
 * const rnn = new StatefulRNN(cell, { batch: 4, timeMajor: input.layout === 'time-major' });
 */
export function importOnnx(bytes: Uint8Array, options?: OnnxImportOptions): OnnxImport {
  const opts = checkOptions(options, ['backend', 'dtype'], 'options');
  const graph = decodeModel(bytes).graph!;
  const nodes: Node[] = (graph.node ?? []).map((n) => ({
    domain: n.domain ?? '',
    name: n.name ?? '',
    opType: n.opType ?? '',
    input: n.input ?? [],
    output: n.output ?? [],
    attribute: n.attribute ?? [],
  }));
  const values = new Map<string, Value>();
  const initializers = new Set<string>();
  for (const t of graph.initializer ?? []) {
    values.set(t.name!, { kind: 'const', c: constantOf(t as never, `initializer ${t.name}`) });
    initializers.add(t.name!);
  }
  let sequenceInput: string | null = null,
    lengthsInput: string | null = null;
  for (const input of graph.input ?? []) {
    const name = input.name!;
    if (initializers.has(name)) continue;
    const tensorType = input.type?.tensorType;
    const elem = tensorType?.elemType;
    const rank = tensorType?.shape?.dim?.length;
    const isInt = elem === onnx.TensorProto.DataType.INT32 || elem === onnx.TensorProto.DataType.INT64;
    if (sequenceInput === null) {
      if (rank !== undefined && rank !== 3) throw new RecurError(`input ${name}`, 'the sequence, of rank 3', `rank ${rank}`);
      sequenceInput = name;
      values.set(name, { kind: 'seq', layer: -1, axes: ['x0', 'x1', 'x2'] });
    } else if (isInt) {
      values.set(name, { kind: 'lengths', input: name });
    } else {
      const first = tensorType?.shape?.dim?.[0];
      const size = first?.dimValue !== undefined && first?.dimValue !== null && !first.dimParam ? toNumber(first.dimValue) : null;
      values.set(name, { kind: 'state-in', input: name, rows: null, size: size && size > 0 ? size : null, squeezed: false });
    }
  }
  if (sequenceInput === null) throw new RecurError('file', 'a graph with a sequence input', 'no graph input');

  const binding = new Map<Label, Label>();
  const norm = (l: Dim) => (typeof l === 'string' ? (binding.get(l) ?? l) : l);
  let inputLayout: 'batch-major' | 'time-major' = 'batch-major';
  const layers: { cell: LayerCell }[] = [];
  const initialState: OnnxStateInput[] = [];
  const lengthsPerLayer: boolean[] = [];
  const cellOptions = { backend: opts.backend, dtype: opts.dtype };

  nodes.forEach((node, index) => {
    const where = `node ${node.name || `#${index}`} (${node.opType})`;
    const refuse = (expected: string, actual: string) => new RecurError(where, expected, actual);
    const attr = (name: string): Attribute | undefined => node.attribute.find((a) => a.name === name);
    const intAttr = (name: string, fallback: number) => {
      const a = attr(name);
      return a ? toNumber(a.i) : fallback;
    };
    const intsAttr = (name: string) => attr(name)?.ints?.map(toNumber) ?? null;
    const input = (i: number): Value | undefined => {
      const name = node.input[i];
      if (!name) return undefined;
      const v = values.get(name);
      if (!v) throw refuse(`input ${name} defined before it is used`, 'an unknown value');
      return v;
    };
    const constInput = (i: number, what: string): Constant | null => {
      const v = input(i);
      if (v === undefined) return null;
      if (v.kind !== 'const') throw refuse(`${what} as a constant`, `a ${v.kind} value`);
      return v.c;
    };
    const ints = (c: Constant | null) => (c ? Array.from(c.values, Number) : null);
    const set = (v: Value, i = 0) => values.set(node.output[i], v);
    const op = node.opType!;
    const describeValue = (v: Value | undefined) =>
      v ? `the ${v.kind === 'seq' ? 'sequence' : v.kind} value ${node.input[0]}` : 'nothing';

    if (node.domain !== '' && node.domain !== 'ai.onnx') {
      throw new RecurError(
        where,
        "an op of ONNX's default domain",
        `an op of domain ${node.domain}`,
        'ops of other domains are not ONNX operators',
      );
    }
    if (op in CELLS) {
      layers.push({ cell: recurrentLayer(node, where, layers.length) });
      return;
    }
    if (!GLUE.includes(op)) {
      throw new RecurError(
        where,
        `one of LSTM, GRU, RNN and the glue around them (${GLUE.join(', ')})`,
        `op ${op}`,
        'Recur imports recurrent stacks; run what surrounds them (embeddings, heads) outside, or cut the graph',
      );
    }
    const x = input(0);
    switch (op) {
      case 'Identity':
        return set(x!);
      case 'Constant': {
        const t = attr('value')?.t;
        const ints1 = attr('value_ints')?.ints,
          int1 = attr('value_int'),
          floats1 = attr('value_floats')?.floats,
          float1 = attr('value_float');
        if (t) return set({ kind: 'const', c: constantOf(t as never, where) });
        if (ints1) return set({ kind: 'const', c: { dims: [ints1.length], values: ints1.map(toNumber) } });
        if (int1) return set({ kind: 'const', c: { dims: [], values: [toNumber(int1.i)] } });
        if (floats1) return set({ kind: 'const', c: { dims: [floats1.length], values: Float32Array.from(floats1) } });
        if (float1) return set({ kind: 'const', c: { dims: [], values: Float32Array.of(float1.f ?? 0) } });
        throw refuse('a value, value_int(s) or value_float(s) attribute', `attributes ${node.attribute.map((a) => a.name).join(', ')}`);
      }
      case 'Transpose': {
        const perm = intsAttr('perm');
        if (x?.kind === 'const')
          return set({ kind: 'const', c: transpose(x.c, perm ?? x.c.dims.map((_, i) => x.c.dims.length - 1 - i), where) });
        if (x?.kind === 'seq') {
          const p = perm ?? x.axes.map((_, i) => x.axes.length - 1 - i);
          checkPermutation(p, x.axes.length, where);
          return set({ kind: 'seq', layer: x.layer, axes: p.map((i) => x.axes[i]) });
        }
        throw refuse('a Transpose of the sequence or of a constant', describeValue(x));
      }
      case 'Squeeze':
      case 'Unsqueeze': {
        const axes = intsAttr('axes') ?? ints(constInput(1, 'axes'));
        const squeezing = op === 'Squeeze';
        if (x?.kind === 'const')
          return set({ kind: 'const', c: squeezing ? squeeze(x.c, axes, where) : unsqueeze(x.c, axes ?? [], where) });
        if (!axes) throw refuse('explicit axes', 'none');
        if (x?.kind === 'seq') {
          if (squeezing) {
            const at = axes.map((a) => (a < 0 ? a + x.axes.length : a));
            if (at.some((a) => x.axes[a] !== 'D'))
              throw refuse('a Squeeze of the directions axis of a recurrent output', `axes [${axes}] of [${x.axes}]`);
            return set({ kind: 'seq', layer: x.layer, axes: x.axes.filter((_, i) => !at.includes(i)) });
          }
          const rank = x.axes.length + axes.length,
            at = axes.map((a) => (a < 0 ? a + rank : a)),
            out: Label[] = [];
          for (let i = 0, j = 0; i < rank; i++) out.push(at.includes(i) ? 'D' : x.axes[j++]);
          return set({ kind: 'seq', layer: x.layer, axes: out });
        }
        if (axes.length === 1 && axes[0] === 0) {
          if ((x?.kind === 'state-in' || x?.kind === 'state-out') && x.squeezed !== squeezing) {
            if (squeezing && x.kind === 'state-in' && x.rows?.length !== 1)
              throw refuse('a Squeeze of one row of the state', 'several rows');
            if (squeezing && x.kind === 'state-out' && x.items.length !== 1)
              throw refuse('a Squeeze of one layer of the state', 'several layers');
            return set({ ...x, squeezed: squeezing });
          }
          if (x?.kind === 'shape' && x.scalar && !squeezing) return set({ kind: 'shape', dims: x.dims, scalar: false });
        }
        throw refuse(`an ${op} of the sequence, a state or a constant`, `${describeValue(x)} (axes [${axes}])`);
      }
      case 'Slice': {
        const starts = ints(constInput(1, 'starts')) ?? intsAttr('starts');
        const ends = ints(constInput(2, 'ends')) ?? intsAttr('ends');
        const axes = ints(constInput(3, 'axes')) ?? intsAttr('axes');
        const steps = ints(constInput(4, 'steps'));
        if (!starts || !ends) throw refuse('starts and ends', 'none');
        checkSliceArguments(starts, ends, axes, steps, where);
        if (x?.kind === 'const') return set({ kind: 'const', c: slice(x.c, starts, ends, axes, steps, where) });
        const alongRows = (axes ?? [0]).length === 1 && (axes ?? [0])[0] === 0 && (steps?.[0] ?? 1) === 1;
        if (x?.kind === 'state-in' && !x.squeezed && alongRows && starts.length === 1) {
          const all = rowsOf(x);
          if (all) return set({ ...x, rows: all.slice(starts[0], ends[0]) });
          // the input's layer count is not declared: a slice must name its rows
          if (starts[0] < 0 || ends[0] <= starts[0] || ends[0] - starts[0] > MAX_LAYERS) {
            throw refuse(
              'a Slice [start, end) of layers with 0 <= start < end, or a state input of declared size',
              `[${starts[0]}, ${ends[0]})`,
            );
          }
          return set({ ...x, rows: range(starts[0], ends[0]) });
        }
        if (x?.kind === 'zeros' && alongRows && starts.length === 1 && typeof x.dims[0] === 'number') {
          const n = x.dims[0],
            clamp = (v: number) => Math.min(Math.max(v < 0 ? v + n : v, 0), n);
          return set({ kind: 'zeros', dims: [Math.max(0, clamp(ends[0]) - clamp(starts[0])), ...x.dims.slice(1)] });
        }
        throw refuse('a Slice of layers from a state input (axis 0, step 1), of a zero state or of a constant', describeValue(x));
      }
      case 'Concat': {
        const axis = intAttr('axis', 0);
        if (node.input.length === 0 || node.input.some((name) => !name))
          throw refuse('named inputs', `[${node.input.map((n) => JSON.stringify(n))}]`);
        const items = node.input.map((_, i) => input(i)!);
        if (items.every((v) => v.kind === 'const'))
          return set({
            kind: 'const',
            c: concat(
              items.map((v) => (v as { c: Constant }).c),
              axis,
              where,
            ),
          });
        if (items.every((v) => v.kind === 'const' || v.kind === 'shape')) {
          const dims = items.flatMap((v) => (v.kind === 'const' ? Array.from(v.c.values, Number) : v.dims));
          return set({ kind: 'shape', dims, scalar: false });
        }
        const states = items.filter((v) => v.kind === 'state-out');
        if (
          states.length === items.length &&
          states.every((v) => !v.squeezed && v.layout === states[0].layout) &&
          axis === states[0].layout
        ) {
          return set({ kind: 'state-out', items: states.flatMap((v) => v.items), layout: states[0].layout, squeezed: false });
        }
        throw refuse(
          'a Concat of constants, of shape values, or of layers\u2019 final states along the layers axis',
          items.map((v) => v.kind).join(', '),
        );
      }
      case 'Shape': {
        if (x?.kind !== 'seq') throw refuse('the Shape of the sequence', describeValue(x));
        const start = intAttr('start', 0),
          end = attr('end') ? intAttr('end', 0) : x.axes.length;
        return set({ kind: 'shape', dims: x.axes.slice(start, end).map((a): Dim => (a === 'D' ? 1 : a)), scalar: false });
      }
      case 'Gather': {
        const indices = constInput(1, 'indices');
        if (!indices) throw refuse('indices', 'none');
        const axis = intAttr('axis', 0);
        if (x?.kind === 'const') return set({ kind: 'const', c: gather(x.c, indices, axis, where) });
        const at = Array.from(indices.values, Number);
        if (x?.kind === 'shape' && axis === 0) {
          const picked = at.map((i) => x.dims[i < 0 ? i + x.dims.length : i]);
          if (picked.some((d) => d === undefined)) throw refuse(`indices within ${x.dims.length}`, `[${at}]`);
          return set({ kind: 'shape', dims: picked, scalar: indices.dims.length === 0 });
        }
        if (x?.kind === 'state-in' && !x.squeezed && axis === 0 && indices.dims.length === 0) {
          const all = rowsOf(x);
          const row = all ? all.at(at[0]) : at[0];
          if (row === undefined || row < 0) throw refuse('a row index of the state input', String(at[0]));
          return set({ ...x, rows: [row], squeezed: true });
        }
        throw refuse('a Gather of a shape, of one layer of a state input, or of a constant', describeValue(x));
      }
      case 'ConstantOfShape': {
        const value = attr('value')?.t;
        if (value && Array.from(constantOf(value as never, where).values).some((v) => v !== 0))
          throw refuse('a zero value', 'a non-zero value');
        if (x?.kind === 'shape') return set({ kind: 'zeros', dims: x.dims });
        if (x?.kind === 'const') return set({ kind: 'zeros', dims: Array.from(x.c.values, Number) });
        throw refuse('a ConstantOfShape of a shape', describeValue(x));
      }
    }
  });

  /** One recurrent node as a layer: its weights, sizes, state sources and outputs. */
  function recurrentLayer(node: Node, where: string, k: number): LayerCell {
    const spec = CELLS[node.opType!];
    const refuse = (expected: string, actual: string) => new RecurError(where, expected, actual);
    const attr = (name: string) => node.attribute.find((a) => a.name === name);
    const direction = attr('direction')?.s ? new TextDecoder().decode(attr('direction')!.s!) : 'forward';
    if (direction !== 'forward') {
      throw new UnsupportedOptionError(
        `${where}.direction`,
        "'forward'",
        JSON.stringify(direction),
        'reverse and bidirectional nodes are not supported',
      );
    }
    for (const name of ['clip', 'activation_alpha', 'activation_beta']) {
      if (attr(name)) throw new UnsupportedOptionError(`${where}.${name}`, 'absent', 'set', `${name} is not supported`);
    }
    if (toNumber(attr('input_forget')?.i) !== 0)
      throw new UnsupportedOptionError(`${where}.input_forget`, '0', '1', 'coupled input-forget gates are not supported');
    const activations = attr('activations')?.strings?.map((s) => new TextDecoder().decode(s)) ?? spec.activations;
    let activation: 'tanh' | 'relu' = 'tanh';
    if (spec.kind === 'rnn' && activations.length === 1 && activations[0] === 'Relu') activation = 'relu';
    else if (activations.join() !== spec.activations.join()) {
      throw new UnsupportedOptionError(
        `${where}.activations`,
        `[${spec.activations}]${spec.kind === 'rnn' ? ' or [Relu]' : ''}`,
        `[${activations}]`,
      );
    }
    const layout = toNumber(attr('layout')?.i);
    if (layout !== 0 && layout !== 1) throw refuse('layout 0 or 1', String(layout));
    const lbr = toNumber(attr('linear_before_reset')?.i);
    if (lbr !== 0 && lbr !== 1) throw refuse('linear_before_reset 0 or 1', String(lbr));
    const v = (i: number) => (node.input[i] ? values.get(node.input[i]) : undefined);
    const weight = (i: number, what: string) => {
      const w = v(i);
      if (!w || w.kind !== 'const') throw refuse(`${what} as a constant (an initializer)`, w ? `a ${w.kind} value` : 'none');
      return w.c;
    };
    const W = weight(1, 'W'),
      R = weight(2, 'R');
    if (R.dims.length !== 3 || R.dims[0] !== 1) throw refuse('R of shape [1, G*H, H] (one direction)', `[${R.dims}]`);
    const H = R.dims[2],
      G = spec.gates * H;
    const hidden = attr('hidden_size');
    if (hidden && toNumber(hidden.i) !== H) throw refuse(`hidden_size ${H} (R's shape)`, String(toNumber(hidden.i)));
    if (R.dims[1] !== G) throw refuse(`R of shape [1, ${G}, ${H}]`, `[${R.dims}]`);
    if (W.dims.length !== 3 || W.dims[0] !== 1 || W.dims[1] !== G) throw refuse(`W of shape [1, ${G}, I]`, `[${W.dims}]`);
    const I = W.dims[2];
    const B = node.input[3] ? weight(3, 'B') : { dims: [1, 2 * G], values: new Float32Array(2 * G) };
    if (count(B.dims) !== 2 * G) throw refuse(`B of shape [1, ${2 * G}]`, `[${B.dims}]`);
    if (node.input[7]) throw new UnsupportedOptionError(`${where}.P`, 'no peephole weights', node.input[7], 'peepholes are not supported');

    // the input: the graph's sequence (first layer), or the previous layer's output
    const X = v(0);
    const expected: Label[] = layout === 0 ? ['T', 'B', 'F'] : ['B', 'T', 'F'];
    if (!X || X.kind !== 'seq' || X.layer !== k - 1 || X.axes.length !== 3) {
      throw refuse(
        k === 0
          ? "the graph's sequence input as X"
          : `layer ${k - 1}'s output (its directions axis squeezed) as X, to be layer ${k} of a stack`,
        X?.kind === 'seq'
          ? `${X.layer < 0 ? 'the input' : `layer ${X.layer}'s output`} with axes [${X.axes}]`
          : X
            ? `a ${X.kind} value`
            : 'none',
      );
    }
    if (k === 0) {
      if (X.axes[2] !== 'x2') throw refuse('the features as the last axis of the sequence input', `axes [${X.axes}]`);
      binding.set(X.axes[expected.indexOf('T')], 'T');
      binding.set(X.axes[expected.indexOf('B')], 'B');
      inputLayout = binding.get('x0') === 'T' ? 'time-major' : 'batch-major';
    } else if (X.axes.join() !== expected.join()) throw refuse(`X with axes [${expected}] for layout ${layout}`, `[${X.axes}]`);

    const lengths = v(4);
    lengthsPerLayer.push(Boolean(lengths));
    if (lengths) {
      if (lengths.kind !== 'lengths') throw refuse('sequence_lens from a graph input', `a ${lengths.kind} value`);
      if (lengthsInput !== null && lengthsInput !== lengths.input)
        throw refuse(`the same sequence_lens as other layers (${lengthsInput})`, lengths.input);
      lengthsInput = lengths.input;
    }
    (['h', 'c'] as const).forEach((which, i) => {
      const s = v(5 + i);
      if (!s || (which === 'c' && spec.kind !== 'lstm')) return;
      const shapeExpected = layout === 0 ? [1, 'B', H] : ['B', 1, H];
      if (s.kind === 'zeros') {
        const dims = s.dims.map(norm);
        if (dims.join() !== shapeExpected.join()) throw refuse(`a zero initial_${which} of shape [${shapeExpected}]`, `[${dims}]`);
        return;
      }
      if (s.kind !== 'state-in' || s.squeezed || (s.rows !== null && s.rows.length !== 1) || layout !== 0) {
        throw refuse(
          `initial_${which} from one layer of a graph input, [1, batch, ${H}] (layout 0)`,
          s.kind === 'state-in' ? `rows [${s.rows ?? 'all'}] of ${s.input}` : `a ${s.kind} value`,
        );
      }
      initialState.push({ layer: k, which, input: s.input, row: s.rows?.[0] ?? 0 });
    });
    const seqAxes: Label[] = layout === 0 ? ['T', 'D', 'B', 'F'] : ['B', 'T', 'D', 'F'];
    values.set(node.output[0], { kind: 'seq', layer: k, axes: seqAxes });
    if (node.output[1]) values.set(node.output[1], { kind: 'state-out', items: [{ layer: k, which: 'h' }], layout, squeezed: false });
    if (node.output[2]) values.set(node.output[2], { kind: 'state-out', items: [{ layer: k, which: 'c' }], layout, squeezed: false });

    const weights =
      spec.kind === 'rnn'
        ? {
            wIh: Float32Array.from(W.values),
            wHh: Float32Array.from(R.values),
            bIh: Float32Array.from(B.values).subarray(0, G),
            bHh: Float32Array.from(B.values).subarray(G),
          }
        : fromONNX(spec.kind, { W: W.values, R: R.values, B: B.values }, I, H, { linearBeforeReset: lbr === 1 ? 1 : 0 });
    return layerWithWeights(spec.kind, H, weights, {
      ...cellOptions,
      inputSize: I,
      name: node.name || `${node.opType}_${k}`,
      resetAfter: lbr === 1,
      activation,
    });
  }

  if (layers.length === 0)
    throw new RecurError(
      'file',
      'a graph with an LSTM, GRU or RNN node',
      `ops ${[...new Set(nodes.map((n) => n.opType))].join(', ') || 'none'}`,
    );
  if (lengthsPerLayer.some((has) => has !== lengthsPerLayer[0])) {
    // ONNX would run the later layers over the padding; Recur stops every layer at a row's length
    throw new RecurError(
      'file',
      'sequence_lens on every recurrent node or on none',
      `on layers [${lengthsPerLayer.flatMap((has, k) => (has ? [k] : []))}] of ${lengthsPerLayer.length}`,
    );
  }
  const last = layers.length - 1;
  const axisName: Record<string, OnnxAxis> = { T: 'time', B: 'batch', F: 'features', D: 'directions' };
  const outputs: OnnxOutput[] = (graph.output ?? []).map((o) => {
    const name = o.name!,
      v = values.get(name);
    if (v?.kind === 'seq' && v.layer === last) return { name, kind: 'sequence', axes: v.axes.map((a) => axisName[norm(a)]) };
    if (v?.kind === 'state-out' && v.items.every((i) => i.which === v.items[0].which)) {
      const axes: (OnnxAxis | 'layers')[] = v.squeezed
        ? ['batch', 'features']
        : v.layout === 0
          ? ['layers', 'batch', 'features']
          : ['batch', 'layers', 'features'];
      return { name, kind: 'state', which: v.items[0].which, layers: v.items.map((i) => i.layer), axes };
    }
    throw new RecurError(
      `output ${name}`,
      "the last layer's sequence or layers' final states",
      v?.kind === 'seq'
        ? `layer ${v.layer}'s sequence (Recur returns the last layer's)`
        : v
          ? `a ${v.kind} value`
          : 'a value no node makes',
    );
  });
  const cells = layers.map((l) => l.cell);
  return {
    cell: new MultiRNNCell(cells),
    input: { name: sequenceInput, layout: inputLayout },
    sequenceLengths: lengthsInput,
    initialState,
    outputs,
  };
}

/** More layers than any stack has: row lists of state inputs stop here (a declared size is never materialised). */
const MAX_LAYERS = 4096;

/** The rows a state input's value holds: its own list, else those its declared size gives (capped), else unknown. */
const rowsOf = (x: { rows: number[] | null; size: number | null }) =>
  x.rows ?? (x.size !== null ? range(0, Math.min(x.size, MAX_LAYERS + 1)) : null);
const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
