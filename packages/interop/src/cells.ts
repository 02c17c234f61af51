import { BasicRNNCell, GRUCell, LSTMCell, type CellKind, type DType, type LayerCell, type RnnActivation } from '@recur/core';

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
