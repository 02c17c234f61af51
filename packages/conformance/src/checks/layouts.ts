import { GRUCell, LSTMCell, LSTMStateTuple, dynamicRnn, fromTF1GRU, fromTF1LSTM, tensor, type Tensor } from '@recur/core';
import { expectClose } from '../compare.js';
import { randomValues, scoped } from './helpers.js';
import type { Check, CheckContext } from './types.js';

const I = 3,
  H = 4,
  B = 2,
  T = 5;
const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** TF1's LSTMCell, straight from its definition, in float64: concat([x, h]) · kernel + bias, gates i, j, f, o. */
function tf1Lstm(kernel: Float32Array, bias: Float32Array, x: Float32Array, forgetBias: number): Float64Array {
  const h = new Float64Array(B * H),
    c = new Float64Array(B * H),
    y = new Float64Array(T * B * H);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      const input = [...x.subarray((t * B + b) * I, (t * B + b + 1) * I), ...h.subarray(b * H, (b + 1) * H)];
      const z = Array.from({ length: 4 * H }, (_, col) => input.reduce((s, v, row) => s + v * kernel[row * 4 * H + col], bias[col]));
      for (let j = 0; j < H; j++) {
        const cNew = c[b * H + j] * sigmoid(z[2 * H + j] + forgetBias) + sigmoid(z[j]) * Math.tanh(z[H + j]);
        c[b * H + j] = cNew;
      }
      for (let j = 0; j < H; j++) y[(t * B + b) * H + j] = h[b * H + j] = Math.tanh(c[b * H + j]) * sigmoid(z[3 * H + j]);
    }
  }
  return y;
}

/** TF1's GRUCell in float64: r, u = σ(concat([x, h]) · W_g + b_g); c = tanh(concat([x, r·h]) · W_c + b_c); h = u·h + (1 - u)·c. */
function tf1Gru(gk: Float32Array, gb: Float32Array, ck: Float32Array, cb: Float32Array, x: Float32Array): Float64Array {
  const h = new Float64Array(B * H),
    y = new Float64Array(T * B * H);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      const xs = Array.from(x.subarray((t * B + b) * I, (t * B + b + 1) * I)),
        hs = Array.from(h.subarray(b * H, (b + 1) * H));
      const gates = Array.from({ length: 2 * H }, (_, col) =>
        sigmoid([...xs, ...hs].reduce((s, v, row) => s + v * gk[row * 2 * H + col], gb[col])),
      );
      const rh = hs.map((v, j) => v * gates[j]);
      for (let j = 0; j < H; j++) {
        const cand = Math.tanh([...xs, ...rh].reduce((s, v, row) => s + v * ck[row * H + j], cb[j]));
        const u = gates[H + j];
        y[(t * B + b) * H + j] = u * hs[j] + (1 - u) * cand;
      }
      for (let j = 0; j < H; j++) h[b * H + j] = y[(t * B + b) * H + j];
    }
  }
  return y;
}

async function run(ctx: CheckContext, cell: LSTMCell | GRUCell, x: Float32Array): Promise<Float32Array> {
  return scoped(async (scope) => {
    const input = scope.add(tensor(x, [T, B, I], { backend: ctx.backend }));
    const { outputs, state } = dynamicRnn(cell, input, { timeMajor: true });
    scope.add(outputs);
    scope.add(state as LSTMStateTuple | Tensor);
    return (await outputs.data()) as Float32Array;
  });
}

export function layoutChecks(): Check[] {
  return [
    {
      id: 'layouts/tf1-lstm',
      title: 'TF1 LSTMCell weights through fromTF1LSTM with forgetBias 1 compute what TF1 computes (float64 reference from its definition)',
      run: async (ctx) => {
        const kernel = randomValues((I + H) * 4 * H, 401, 0.5),
          bias = randomValues(4 * H, 402, 0.5),
          x = randomValues(T * B * I, 403);
        const cell = new LSTMCell(H, { backend: ctx.backend, forgetBias: 1 });
        try {
          cell.setWeights(fromTF1LSTM({ kernel, bias }, I, H));
          expectClose('outputs', await run(ctx, cell, x), tf1Lstm(kernel, bias, x, 1), ctx.tolerance.forward);
        } finally {
          cell.dispose();
        }
      },
    },
    {
      id: 'layouts/tf1-gru',
      title: 'TF1 GRUCell weights through fromTF1GRU (resetAfter false) compute what TF1 computes (float64 reference from its definition)',
      run: async (ctx) => {
        const gk = randomValues((I + H) * 2 * H, 411, 0.5),
          gb = randomValues(2 * H, 412),
          ck = randomValues((I + H) * H, 413, 0.5),
          cb = randomValues(H, 414),
          x = randomValues(T * B * I, 415);
        const cell = new GRUCell(H, { backend: ctx.backend, resetAfter: false });
        try {
          cell.setWeights(fromTF1GRU({ gatesKernel: gk, gatesBias: gb, candidateKernel: ck, candidateBias: cb }, I, H));
          expectClose('outputs', await run(ctx, cell, x), tf1Gru(gk, gb, ck, cb, x), ctx.tolerance.forward);
        } finally {
          cell.dispose();
        }
      },
    },
  ];
}
