import { BasicRNNCell, GRUCell, LSTMCell, RecurError, checkOptions, toONNX, type LayerCell, type MultiRNNCell } from '@recur/core';
import { weightsToWrite } from '../cells.js';
import { floatTensor, intTensor, onnx } from './tensors.js';

/** Options of `exportOnnx`. */
export interface OnnxExportOptions {
  /** The sequence input `x`: 'batch-major' [batch, time, I] (default, as `StatefulRNN.run` takes it) or 'time-major'. */
  readonly inputLayout?: 'batch-major' | 'time-major';
  /** Add an int32 input `sequence_lens` [batch] (ONNX's per-row lengths) to every layer. Default false. */
  readonly sequenceLengths?: boolean;
  /** The graph's name (default 'recur'). */
  readonly name?: string;
}

const OPSET = 14;
const AttributeType = onnx.AttributeProto.AttributeType;
const FLOAT = onnx.TensorProto.DataType.FLOAT;

function valueInfo(name: string, dims: (number | string)[], elemType = FLOAT) {
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  });
}

const intAttribute = (name: string, i: number) => onnx.AttributeProto.create({ name, type: AttributeType.INT, i });
const stringsAttribute = (name: string, values: string[]) =>
  onnx.AttributeProto.create({ name, type: AttributeType.STRINGS, strings: values.map((v) => new TextEncoder().encode(v)) });

/** One layer's ONNX W [1, G*H, I], R [1, G*H, H], B [1, 2*G*H] (a TF1 forget bias folded into Wb's f rows). */
function onnxWeights(layer: LayerCell): { W: Float32Array; R: Float32Array; B: Float32Array } {
  const H = layer.units,
    w = weightsToWrite(layer),
    I = w.wIh.length / (layer.gates * H);
  if (layer.kind === 'rnn') {
    return { W: Float32Array.from(w.wIh), R: Float32Array.from(w.wHh), B: Float32Array.of(...w.bIh, ...w.bHh) };
  }
  const out = toONNX(layer.kind, w, I, H);
  return { W: Float32Array.from(out.W), R: Float32Array.from(out.R), B: Float32Array.from(out.B) };
}

/**
 * An ONNX model (opset 14) computing a Recur cell or stack, its state explicit: inputs `x`, `h_in.k` (and `c_in.k`
 * for LSTM layers) [1, batch, H_k] per layer k; outputs `y` and `h_out.k` (`c_out.k`). Feed each call's state
 * outputs back as the next call's inputs and ONNX Runtime continues a stream as `StatefulRNN` does. Weights are
 * written as float32.
 * @see [docs/interop.md](../../../../docs/interop.md)
 * @example
 * writeFileSync('stack.onnx', exportOnnx(stack)); // then in ONNX Runtime: feed h_out.k back as h_in.k
 */
export function exportOnnx(cell: LayerCell | MultiRNNCell, options?: OnnxExportOptions): Uint8Array {
  const opts = checkOptions(options, ['inputLayout', 'sequenceLengths', 'name'], 'options');
  if (opts.name !== undefined && typeof opts.name !== 'string') throw new RecurError('options.name', 'a string', typeof opts.name);
  if (opts.sequenceLengths !== undefined && typeof opts.sequenceLengths !== 'boolean') {
    throw new RecurError('options.sequenceLengths', 'a boolean', typeof opts.sequenceLengths);
  }
  const layout = opts.inputLayout ?? 'batch-major';
  if (layout !== 'batch-major' && layout !== 'time-major')
    throw new RecurError('options.inputLayout', "'batch-major' or 'time-major'", String(layout));
  const layers = (cell as { layers?: readonly LayerCell[] } | null)?.layers;
  if (!layers?.length) throw new RecurError('cell', 'an LSTMCell, GRUCell, BasicRNNCell or MultiRNNCell', String(cell));
  const inputSize = layers[0].inputSize;
  if (inputSize === undefined)
    throw new RecurError('cell', 'a built cell (its input size known: run it once, pass inputSize, or setWeights)', 'an unbuilt cell');
  const nodes = [],
    initializer = [intTensor('axes_directions', [1])];
  const inputs = [valueInfo('x', layout === 'batch-major' ? ['batch', 'time', inputSize] : ['time', 'batch', inputSize])];
  const outputs = [
    valueInfo(
      'y',
      layout === 'batch-major' ? ['batch', 'time', layers[layers.length - 1].units] : ['time', 'batch', layers[layers.length - 1].units],
    ),
  ];
  const stateOutputs: ReturnType<typeof valueInfo>[] = [];
  if (opts.sequenceLengths) inputs.push(valueInfo('sequence_lens', ['batch'], onnx.TensorProto.DataType.INT32));
  let x = 'x';
  if (layout === 'batch-major') {
    nodes.push(
      onnx.NodeProto.create({
        name: 'to_time_major',
        opType: 'Transpose',
        input: ['x'],
        output: ['x_time_major'],
        attribute: [onnx.AttributeProto.create({ name: 'perm', type: AttributeType.INTS, ints: [1, 0, 2] })],
      }),
    );
    x = 'x_time_major';
  }
  layers.forEach((layer, k) => {
    const H = layer.units,
      G = layer.gates * H,
      lstm = layer instanceof LSTMCell;
    const { W, R, B } = onnxWeights(layer);
    initializer.push(
      floatTensor(`W.${k}`, [1, G, W.length / G], W),
      floatTensor(`R.${k}`, [1, G, H], R),
      floatTensor(`B.${k}`, [1, 2 * G], B),
    );
    inputs.push(valueInfo(`h_in.${k}`, [1, 'batch', H]));
    stateOutputs.push(valueInfo(`h_out.${k}`, [1, 'batch', H]));
    if (lstm) {
      inputs.push(valueInfo(`c_in.${k}`, [1, 'batch', H]));
      stateOutputs.push(valueInfo(`c_out.${k}`, [1, 'batch', H]));
    }
    const attribute = [intAttribute('hidden_size', H)];
    if (layer instanceof GRUCell) attribute.push(intAttribute('linear_before_reset', layer.resetAfter ? 1 : 0));
    if (layer instanceof BasicRNNCell && layer.activation === 'relu') attribute.push(stringsAttribute('activations', ['Relu']));
    nodes.push(
      onnx.NodeProto.create({
        name: `layer.${k}`,
        opType: lstm ? 'LSTM' : layer instanceof GRUCell ? 'GRU' : 'RNN',
        input: [x, `W.${k}`, `R.${k}`, `B.${k}`, opts.sequenceLengths ? 'sequence_lens' : '', `h_in.${k}`, ...(lstm ? [`c_in.${k}`] : [])],
        output: [`y.${k}`, `h_out.${k}`, ...(lstm ? [`c_out.${k}`] : [])],
        attribute,
      }),
    );
    const last = k === layers.length - 1;
    const squeezed = last && layout === 'time-major' ? 'y' : `y.${k}.squeezed`;
    nodes.push(
      onnx.NodeProto.create({ name: `layer.${k}.squeeze`, opType: 'Squeeze', input: [`y.${k}`, 'axes_directions'], output: [squeezed] }),
    );
    x = squeezed;
  });
  if (layout === 'batch-major') {
    nodes.push(
      onnx.NodeProto.create({
        name: 'to_batch_major',
        opType: 'Transpose',
        input: [x],
        output: ['y'],
        attribute: [onnx.AttributeProto.create({ name: 'perm', type: AttributeType.INTS, ints: [1, 0, 2] })],
      }),
    );
  }
  const describe = layers.map((l) => ({
    kind: l.kind,
    units: l.units,
    ...(l instanceof GRUCell ? { resetAfter: l.resetAfter } : {}),
    ...(l instanceof BasicRNNCell ? { activation: l.activation } : {}),
  }));
  const graph = onnx.GraphProto.create({
    name: opts.name ?? 'recur',
    node: nodes,
    initializer,
    input: inputs,
    output: [...outputs, ...stateOutputs],
  });
  const model = onnx.ModelProto.create({
    irVersion: 7,
    producerName: '@recur/interop',
    opsetImport: [{ domain: '', version: OPSET }],
    graph,
    metadataProps: [{ key: 'recur.layers', value: JSON.stringify(describe) }],
  });
  return onnx.ModelProto.encode(model).finish();
}
