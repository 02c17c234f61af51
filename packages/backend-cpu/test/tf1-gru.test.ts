// TF1's GRUCell written out here (float64) as the independent reference for fromTF1GRU and toTF1GRU: TF1 applies
// the reset gate before the recurrent product, so its weights run in `new GRUCell(units, { resetAfter: false })`.
import { GRUCell, disposeState, dynamicRnn, fromTF1GRU, seededRandom, tensor, toTF1GRU } from '@recur/core';
import { describe, expect, it } from 'vitest';
import '../src/index.js';

const I = 3,
  H = 4,
  B = 2,
  T = 5;
const random = seededRandom(21);
const draw = (n: number) => Float32Array.from({ length: n }, () => random() - 0.5);
const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

interface TF1 {
  gatesKernel: ArrayLike<number>;
  gatesBias: ArrayLike<number>;
  candidateKernel: ArrayLike<number>;
  candidateBias: ArrayLike<number>;
}

/** TF1 GRUCell: [r, u] = σ([x, h] · gates/kernel + gates/bias); c = tanh([x, r ⊙ h] · candidate/kernel + b); h' = u h + (1 − u) c. */
function tf1Run(w: TF1, x: Float32Array): Float64Array {
  const y = new Float64Array(B * T * H);
  for (let b = 0; b < B; b++) {
    let h = new Float64Array(H);
    for (let t = 0; t < T; t++) {
      const xt = Array.from(x.subarray((b * T + t) * I, (b * T + t + 1) * I));
      const xh = [...xt, ...h];
      const gates = Array.from({ length: 2 * H }, (_, c) =>
        sigmoid(xh.reduce((s, v, k) => s + v * w.gatesKernel[k * 2 * H + c], w.gatesBias[c])),
      );
      const xrh = [...xt, ...Array.from(h, (v, j) => gates[j] * v)];
      const cand = Array.from({ length: H }, (_, c) =>
        Math.tanh(xrh.reduce((s, v, k) => s + v * w.candidateKernel[k * H + c], w.candidateBias[c])),
      );
      h = Float64Array.from(h, (v, j) => gates[H + j] * v + (1 - gates[H + j]) * cand[j]);
      y.set(h, (b * T + t) * H);
    }
  }
  return y;
}

function recurRun(cell: GRUCell, x: Float32Array): Float32Array {
  const input = tensor(x, [B, T, I], { backend: 'cpu' });
  const { outputs, state } = dynamicRnn(cell, input);
  const y = outputs.dataSync() as Float32Array;
  outputs.dispose();
  disposeState(state);
  input.dispose();
  return y;
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe("TF1's GRUCell weights", () => {
  it("fromTF1GRU: a reset-before cell reproduces TF1's GRUCell (and the default reset-after cell refuses them)", () => {
    const tf1 = { gatesKernel: draw((I + H) * 2 * H), gatesBias: draw(2 * H), candidateKernel: draw((I + H) * H), candidateBias: draw(H) };
    const x = draw(B * T * I);
    const cell = new GRUCell(H, { backend: 'cpu', resetAfter: false });
    cell.setWeights(fromTF1GRU(tf1, I, H));
    expect(maxDiff(recurRun(cell, x), tf1Run(tf1, x))).toBeLessThan(1e-5);
    expect(() => new GRUCell(H, { backend: 'cpu' }).setWeights(fromTF1GRU(tf1, I, H))).toThrow(/resetAfter: false/);
    cell.dispose();
  });

  it("toTF1GRU: TF1's GRUCell on the exported arrays reproduces the Recur cell", () => {
    const cell = new GRUCell(H, { backend: 'cpu', resetAfter: false, inputSize: I, seed: 4 });
    const w = cell.getWeights();
    cell.setWeights({ ...w, bHh: draw(3 * H) }); // both biases non-zero: toTF1GRU must sum them
    const x = draw(B * T * I);
    expect(maxDiff(recurRun(cell, x), tf1Run(toTF1GRU(cell.getWeights(), I, H), x))).toBeLessThan(1e-5);
    cell.dispose();
  });
});
