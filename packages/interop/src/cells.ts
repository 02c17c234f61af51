import {
  BasicRNNCell,
  GRUCell,
  LSTMCell,
  type CellKind,
  type DType,
  type FloatArray,
  type LayerCell,
  type LayerWeights,
  type RnnActivation,
} from '@recur/core';

/** A layer of a given kind with its weights set: what both file readers make. */
export function layerWithWeights(
  kind: CellKind,
  units: number,
  weights: { wIh: ArrayLike<number>; wHh: ArrayLike<number>; bIh: ArrayLike<number>; bHh: ArrayLike<number> },
  options: { inputSize: number; name: string; backend?: string; dtype?: DType; resetAfter?: boolean; activation?: RnnActivation },
): LayerCell {
  const { resetAfter, activation, ...common } = options;
  const cell =
    kind === 'lstm'
      ? new LSTMCell(units, common)
      : kind === 'gru'
        ? new GRUCell(units, { ...common, resetAfter: resetAfter ?? true })
        : new BasicRNNCell(units, { ...common, activation: activation ?? 'tanh' });
  cell.setWeights(weights);
  return cell;
}

/**
 * A layer's weights in the public layout (a copy, GRUs tagged with their variant), with a TF1 `forgetBias` folded into
 * b_ih's f rows: what the file formats without a run-time forget bias (PyTorch, ONNX) must store.
 */
export function weightsToWrite(layer: LayerCell): LayerWeights<FloatArray> {
  const w = layer.getWeights() as LayerWeights<FloatArray>;
  if (layer instanceof LSTMCell && layer.forgetBias !== 0) {
    for (let i = layer.units; i < 2 * layer.units; i++) w.bIh[i] += layer.forgetBias; // gates i, f, g, o
  }
  return w;
}
