import { describe, expect, it } from 'vitest';
import {
  GRUCell,
  LSTMCell,
  RecurError,
  fromKerasGRU,
  fromKerasLSTM,
  fromONNX,
  fromTF1GRU,
  fromTF1LSTM,
  gruVariantOf,
  toKerasGRU,
  toKerasLSTM,
  toONNX,
  toTF1GRU,
  toTF1LSTM,
  ShapeError,
  type LayerWeights,
} from '../src/index.js';

const I = 3,
  H = 2;
const ramp = (n: number, from: number) => Float32Array.from({ length: n }, (_, i) => from + i);
const weights = (G: number, hBias = true): LayerWeights<Float32Array> => ({
  wIh: ramp(G * H * I, 0),
  wHh: ramp(G * H * H, 1000),
  bIh: ramp(G * H, 2000),
  bHh: hBias ? ramp(G * H, 3000) : new Float32Array(G * H),
});
const same = (a: LayerWeights, b: LayerWeights) =>
  (['wIh', 'wHh', 'bIh', 'bHh'] as const).forEach((k) => expect(Array.from(a[k]), k).toEqual(Array.from(b[k])));

describe('weight layout converters', () => {
  it('ONNX round-trips LSTM and GRU, and puts gates in ONNX order (LSTM i, o, f, c)', () => {
    const lstm = weights(4),
      gru = weights(3);
    same(fromONNX('lstm', toONNX('lstm', lstm, I, H), I, H), lstm);
    same(fromONNX('gru', toONNX('gru', gru, I, H), I, H), gru);
    // row 0 of ONNX W's second block (o) is row 0 of our fourth block (o)
    expect(toONNX('lstm', lstm, I, H).W[H * I]).toBe(lstm.wIh[3 * H * I]);
    // ONNX GRU: z first; our z is the second block
    expect(toONNX('gru', gru, I, H).W[0]).toBe(gru.wIh[H * I]);
  });

  it('Keras round-trips (kernels transposed; biases summed where Keras has one)', () => {
    const lstm = weights(4, false),
      gru = weights(3);
    same(fromKerasLSTM(toKerasLSTM(lstm, I, H), I, H), lstm);
    same(fromKerasGRU(toKerasGRU(gru, I, H, true), I, H, true), gru);
    const k = toKerasLSTM(lstm, I, H);
    // kernel [I, 4H]: element (i=1, column 0) is w_ih[0, 1]
    expect(k.kernel[1 * 4 * H]).toBe(lstm.wIh[1]);
  });

  it('TF1 LSTM round-trips through the concatenated [x, h] kernel with gates i, j, f, o', () => {
    const lstm = weights(4, false);
    same(fromTF1LSTM(toTF1LSTM(lstm, I, H), I, H), lstm);
    const t = toTF1LSTM(lstm, I, H);
    // TF1 column block 1 is j (our g, block 2); row I is the first h row
    expect(t.kernel[0 * 4 * H + H]).toBe(lstm.wIh[2 * H * I]);
    expect(t.kernel[I * 4 * H]).toBe(lstm.wHh[0]);
  });

  it('rejects arrays of the wrong size by name', () => {
    expect(() =>
      fromKerasLSTM({ kernel: new Float32Array(5), recurrentKernel: new Float32Array(H * 4 * H), bias: new Float32Array(4 * H) }, I, H),
    ).toThrow(ShapeError);
    try {
      fromONNX('gru', { W: new Float32Array(3 * H * I), R: new Float32Array(3 * H * H), B: new Float32Array(3) }, I, H);
    } catch (e) {
      expect(e).toMatchObject({ argument: 'B', expected: `${6 * H} values ([${6 * H}])`, actual: '3 values' });
    }
  });

  it('GRU weights carry their variant: a cell of the other variant refuses them by name, a cell of the same takes them', () => {
    const tf1 = toTF1GRU(weights(3), I, H);
    const fromTf1 = fromTF1GRU(tf1, I, H);
    expect(gruVariantOf(fromTf1)).toBe(false);
    expect(Object.keys(fromTf1)).toEqual(['wIh', 'wHh', 'bIh', 'bHh']); // the tag is not enumerable
    const refused = (cell: GRUCell, w: LayerWeights) => {
      try {
        cell.setWeights(w);
      } catch (error) {
        expect(error).toBeInstanceOf(RecurError);
        return (error as Error).message;
      }
      return null;
    };
    // the trap of the issue: TF1's weights into the default (reset-after) cell
    expect(refused(new GRUCell(H), fromTf1)).toMatch(
      /weights: expected weights for this GRUCell \(resetAfter: true\), got weights of a reset-before GRU \(TF1's GRUCell.*make the cell with \{ resetAfter: false \}/,
    );
    expect(refused(new GRUCell(H, { resetAfter: false }), fromTf1)).toBeNull();
    expect(refused(new GRUCell(H), fromKerasGRU(toKerasGRU(weights(3), I, H, false), I, H, false))).toMatch(/reset-before/);
    expect(refused(new GRUCell(H, { resetAfter: false }), fromKerasGRU(toKerasGRU(weights(3), I, H, true), I, H, true))).toMatch(
      /reset-after/,
    );
    // ONNX: linear_before_reset 1 (PyTorch's export) is reset-after; the attribute's default 0 is reset-before
    expect(refused(new GRUCell(H), fromONNX('gru', toONNX('gru', weights(3), I, H), I, H, { linearBeforeReset: 1 }))).toBeNull();
    expect(refused(new GRUCell(H), fromONNX('gru', toONNX('gru', weights(3), I, H), I, H))).toMatch(/reset-before/);
    // a cell's own weights are tagged too, and a plain object (no tag) is taken by either variant
    const after = new GRUCell(H, { inputSize: I });
    expect(refused(new GRUCell(H, { resetAfter: false }), after.getWeights())).toMatch(/reset-after/);
    expect(refused(new GRUCell(H, { resetAfter: false }), { ...after.getWeights() })).toBeNull();
    expect(() => new LSTMCell(H).setWeights({ ...weights(4), resetAfter: true } as never)).toThrow(
      /weights.resetAfter: expected no resetAfter: it tags GRU weights/,
    );
    // and TF1's layout cannot hold reset-after weights
    expect(() => toTF1GRU(after.getWeights(), I, H)).toThrow(/expected weights of a GRUCell with resetAfter: false/);
  });

  it('toTF1GRU round-trips through fromTF1GRU (the biases summed: TF1 has one per gate)', () => {
    const w = weights(3, false);
    same(fromTF1GRU(toTF1GRU(w, I, H), I, H), w);
    const t = toTF1GRU(weights(3), I, H);
    // gates kernel [I + H, 2H]: row I is h's first row, column H is z's first unit; candidate bias is b_in + b_hn
    expect(t.gatesKernel[I * 2 * H + H]).toBe(weights(3).wHh[H * H]);
    expect(t.candidateBias[0]).toBe(weights(3).bIh[2 * H] + weights(3).bHh[2 * H]);
  });
});
