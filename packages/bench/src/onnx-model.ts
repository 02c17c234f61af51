import { toONNX, type LayerWeights } from '@recur/core';
import onnxProto from 'onnx-proto';

// onnx-proto is CommonJS (protobufjs static code): its namespace is the default export's (Node and browser bundles)
const { onnx } = onnxProto;

const FLOAT = 1;

function initializer(name: string, dims: number[], data: Float32Array) {
  return onnx.TensorProto.create({ name, dims, dataType: FLOAT, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
}

function valueInfo(name: string, dims: number[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
  });
}

/**
 * An ONNX model with one LSTM or GRU node (GRU: linear_before_reset 1 with `resetAfter`, PyTorch's variant; 0 is
 * TF1's, the reset gate before the product) and the given weights: inputs X [T, B, I], initial_h (and initial_c)
 * [1, B, H]; outputs Y [T, 1, B, H], Y_h (and Y_c). ONNX's W, R and B are the same for both variants.
 */
export function rnnModel(
  cell: 'lstm' | 'gru',
  w: LayerWeights<Float32Array>,
  H: number,
  I: number,
  T: number,
  B: number,
  resetAfter = false,
): Uint8Array {
  const G = cell === 'lstm' ? 4 : 3;
  const lstm = cell === 'lstm';
  const { W, R, B: bias } = toONNX(cell, w, I, H);
  const attributes = [onnx.AttributeProto.create({ name: 'hidden_size', type: onnx.AttributeProto.AttributeType.INT, i: H })];
  if (!lstm)
    attributes.push(
      onnx.AttributeProto.create({ name: 'linear_before_reset', type: onnx.AttributeProto.AttributeType.INT, i: resetAfter ? 1 : 0 }),
    );
  const graph = onnx.GraphProto.create({
    name: `${cell}-H${H}`,
    node: [
      onnx.NodeProto.create({
        opType: lstm ? 'LSTM' : 'GRU',
        input: ['X', 'W', 'R', 'B', '', 'initial_h', ...(lstm ? ['initial_c'] : [])],
        output: ['Y', 'Y_h', ...(lstm ? ['Y_c'] : [])],
        attribute: attributes,
      }),
    ],
    initializer: [initializer('W', [1, G * H, I], W), initializer('R', [1, G * H, H], R), initializer('B', [1, 2 * G * H], bias)],
    input: [valueInfo('X', [T, B, I]), valueInfo('initial_h', [1, B, H]), ...(lstm ? [valueInfo('initial_c', [1, B, H])] : [])],
    output: [valueInfo('Y', [T, 1, B, H]), valueInfo('Y_h', [1, B, H]), ...(lstm ? [valueInfo('Y_c', [1, B, H])] : [])],
  });
  const model = onnx.ModelProto.create({ irVersion: 8, producerName: 'recur-bench', opsetImport: [{ domain: '', version: 17 }], graph });
  return onnx.ModelProto.encode(model).finish();
}
