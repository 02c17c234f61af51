import { LSTMCell, LSTMStateTuple, dynamicRnn, tensor, type LayerWeights } from '@recur/core';

/** One LSTM chunk on a backend (time-major x [T, B, I]): its outputs and final c, read back, everything disposed. */
export async function runLstm(
  backend: string,
  o: { H: number; I: number; T: number; B: number; x: Float32Array; seed?: number; weights?: LayerWeights },
): Promise<{ y: Float32Array; c: Float32Array }> {
  const cell = new LSTMCell(o.H, { backend, inputSize: o.I, seed: o.seed });
  if (o.weights) cell.setWeights(o.weights);
  const x = tensor(o.x, [o.T, o.B, o.I], { backend });
  const out = dynamicRnn(cell, x, { timeMajor: true });
  const state = out.state as LSTMStateTuple;
  const result = { y: Float32Array.from(await out.outputs.data()), c: Float32Array.from(await state.c.data()) };
  out.outputs.dispose();
  state.h.dispose();
  state.c.dispose();
  x.dispose();
  cell.dispose();
  return result;
}
