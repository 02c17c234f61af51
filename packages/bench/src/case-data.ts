import { LSTMStateTuple, RnnModel, dynamicRnnWithTape, disposeState, seededRandom, tensor, type Tensor } from '@recur/core';
import type { BenchCase } from './cases.js';
import { makeCell } from './contenders/recur.js';
import type { CaseData, Gradients } from './contenders/types.js';

// What every contender of a case gets (weights, inputs) and must match (backend-cpu's outputs or gradients): shared
// by the Node bench and the WebGL page.

/**
 * The case's weights and inputs, and the reference every contender must match, from backend-cpu: the outputs, or
 * for a training case the gradients of dL/dy = 1/(B*T) everywhere from zero initial state.
 */
export function caseData(c: BenchCase): { data: CaseData; reference: Float32Array; gradients: Gradients | null } {
  if (c.model) return { data: modelData(c), reference: new Float32Array(0), gradients: null };
  const cell = makeCell(c, 'cpu', 3);
  const weights = cell.getWeights() as CaseData['weights'];
  const random = seededRandom(7);
  const x = Float32Array.from({ length: c.B * c.T * c.H }, () => random() * 2 - 1);
  const input = tensor(x, [c.B, c.T, c.H], { backend: 'cpu' });
  const { outputs, state, tape } = dynamicRnnWithTape(cell, input);
  const reference = outputs.dataSync() as Float32Array;
  let gradients: Gradients | null = null;
  if (c.mode === 'training') {
    const dy = tensor(new Float32Array(c.B * c.T * c.H).fill(1 / (c.B * c.T)), [c.B, c.T, c.H], { backend: 'cpu' });
    const g = tape.backward({ dOutputs: dy });
    const s = g.dInitialState,
      w = g.dWeights[0];
    const read = (t: Tensor) => t.dataSync() as Float32Array;
    gradients = {
      dx: read(g.dInputs!),
      dh0: read(s instanceof LSTMStateTuple ? s.h : (s as Tensor)),
      wIh: read(w.wIh),
      wHh: read(w.wHh),
      bIh: read(w.bIh),
      bHh: read(w.bHh),
    };
    g.dispose();
    dy.dispose();
  }
  tape.dispose();
  outputs.dispose();
  disposeState(state);
  input.dispose();
  cell.dispose();
  return { data: { weights, x }, reference, gradients };
}

/** A model case's weights (backend-cpu's initialisation), one-hot characters and next-character targets. */
function modelData(c: BenchCase): CaseData {
  const { layers, vocabulary: V } = c.model!;
  const model = new RnnModel(
    { inputSize: V, layers: Array.from({ length: layers }, () => ({ kind: 'lstm' as const, units: c.H })), outputSize: V },
    { backend: 'cpu', seed: 3 },
  );
  const random = seededRandom(7);
  const ids = Int32Array.from({ length: c.B * (c.T + 1) }, () => Math.floor(random() * V));
  const x = new Float32Array(c.B * c.T * V),
    targets = new Int32Array(c.B * c.T),
    inputIds = new Int32Array(c.B * c.T);
  for (let b = 0; b < c.B; b++) {
    for (let t = 0; t < c.T; t++) {
      inputIds[b * c.T + t] = ids[b * (c.T + 1) + t];
      x[(b * c.T + t) * V + inputIds[b * c.T + t]] = 1;
      targets[b * c.T + t] = ids[b * (c.T + 1) + t + 1];
    }
  }
  const data = {
    weights: model.cell.layers[0].getWeights() as CaseData['weights'],
    x,
    model: {
      layers: model.cell.layers.map((l) => l.getWeights() as CaseData['weights']),
      headWeight: model.head.weight.slice() as Float32Array,
      headBias: model.head.bias.slice() as Float32Array,
      targets,
      inputIds,
    },
  };
  model.dispose();
  return data;
}

export const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

/** The largest difference relative to the reference's largest value (NaN or another length: infinite). */
export function relativeDiff(a: Float32Array, ref: Float32Array): number {
  if (a.length !== ref.length) return Infinity;
  const scale = Math.max(
    1e-12,
    ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0),
  );
  const d = maxDiff(a, ref) / scale;
  return Number.isNaN(d) ? Infinity : d;
}

/** The worst of the gradients' differences, each relative to its largest reference value. */
export function gradientDiff(a: Gradients, ref: Gradients): number {
  return Math.max(...(['dx', 'dh0', 'wIh', 'wHh', 'bIh', 'bHh'] as const).map((key) => relativeDiff(a[key], ref[key])));
}
