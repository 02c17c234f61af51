import { RecurError, ShapeError } from './errors.js';
import type { LayerWeights } from './spec.js';

/**
 * Converters between Recur's public weight layout (PyTorch's: w_ih [G*H, I], w_hh [G*H, H], b_ih, b_hh; LSTM gates
 * i, f, g, o; GRU r, z, n) and the layouts of TF1, Keras and ONNX. Everything is a copy; shapes are checked.
 */

type Arrayish = ArrayLike<number>;

function expectLength(argument: string, v: Arrayish | undefined, n: number, shape: string): void {
  if (!v || v.length !== n) throw new ShapeError(argument, `${n} values (${shape})`, `${v?.length ?? 'no'} values`);
}

/** Gate blocks of a [G*H, cols] array reordered: out block k = in block order[k]. */
function reorder(v: Arrayish, order: readonly number[], H: number, cols: number): Float32Array {
  const out = new Float32Array(order.length * H * cols);
  order.forEach((from, to) => {
    for (let i = 0; i < H * cols; i++) out[to * H * cols + i] = v[from * H * cols + i];
  });
  return out;
}

/** [rows, cols] (a sub-block of a row-major matrix with `stride` columns, from column `col0`) transposed to [cols, rows]. */
function transposeBlock(v: Arrayish, rows: number, cols: number, stride = cols, row0 = 0, col0 = 0): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = v[(row0 + r) * stride + col0 + c];
  return out;
}

const zeros = (n: number) => new Float32Array(n);

/**
 * GRU weights that say which cell they belong to: `resetAfter` true for PyTorch, cuDNN, Keras 2 (`reset_after`) and
 * ONNX with `linear_before_reset=1`; false for TF1's GRUCell, Keras without `reset_after` and ONNX's default. The
 * same arrays give different numbers in the other variant, so `GRUCell.setWeights` refuses a mismatch. The tag is
 * not enumerable: `Object.values` and spreads see the four arrays only.
 */
export type GruWeights = LayerWeights<Float32Array> & { readonly resetAfter: boolean };

/**
 * Tags GRU weights with their variant (see GruWeights).
 * @see [README: porting weights](../../../README.md#porting-weights)
 */
export function tagGruVariant<W extends object>(w: W, resetAfter: boolean): W & { readonly resetAfter: boolean } {
  return Object.defineProperty(w, 'resetAfter', { value: resetAfter, enumerable: false, writable: false }) as W & {
    readonly resetAfter: boolean;
  };
}

/**
 * The variant GRU weights carry, or undefined for plain arrays.
 * @see [README: porting weights](../../../README.md#porting-weights)
 */
export function gruVariantOf(w: unknown): boolean | undefined {
  const v = (w as { resetAfter?: unknown } | null)?.resetAfter;
  return typeof v === 'boolean' ? v : undefined;
}

/** Refuses weights tagged for the other GRU variant than the layout being written. */
function expectVariant(w: LayerWeights, resetAfter: boolean, writing: string): void {
  const tagged = gruVariantOf(w);
  if (tagged !== undefined && tagged !== resetAfter) {
    throw new RecurError(
      'weights',
      `weights of a GRUCell with resetAfter: ${resetAfter} (${writing})`,
      `weights of a GRUCell with resetAfter: ${tagged}`,
      'the variants compute different functions of the same arrays; convert from a cell of the right variant',
    );
  }
}
// permutations between the public gate order and others (public index of each gate in the other's order)
const LSTM_IJFO = [0, 2, 1, 3]; // TF1 i, j, f, o: j is g
const LSTM_IOFC = [0, 3, 1, 2]; // ONNX i, o, f, c
const GRU_ZRH = [1, 0, 2]; // Keras and ONNX z, r, h
/** Inverse of a gate permutation. */
const invert = (p: readonly number[]) => p.map((_, i) => p.indexOf(i));

/** Keras's weights of an LSTM or GRU layer (`layer.get_weights()`). */
export interface KerasWeights {
  /** [I, G*H] */
  readonly kernel: Arrayish;
  /** [H, G*H] */
  readonly recurrentKernel: Arrayish;
  /** [G*H], or for a GRU with reset_after [2, 3H] (input bias, then recurrent bias) */
  readonly bias: Arrayish;
}

/**
 * Keras LSTM (i, f, c, o) -> Recur. The whole bias goes to b_ih.
 * @see [README: porting weights](../../../README.md#porting-weights)
 */
export function fromKerasLSTM(w: KerasWeights, inputSize: number, units: number): LayerWeights<Float32Array> {
  const G = 4 * units;
  expectLength('kernel', w.kernel, inputSize * G, `[${inputSize}, ${G}]`);
  expectLength('recurrentKernel', w.recurrentKernel, units * G, `[${units}, ${G}]`);
  expectLength('bias', w.bias, G, `[${G}]`);
  return {
    wIh: transposeBlock(w.kernel, inputSize, G),
    wHh: transposeBlock(w.recurrentKernel, units, G),
    bIh: Float32Array.from(w.bias),
    bHh: zeros(G),
  };
}

/**
 * Recur -> Keras LSTM; the two biases are summed.
 * @see [README: porting weights](../../../README.md#porting-weights)
 */
export function toKerasLSTM(
  w: LayerWeights,
  inputSize: number,
  units: number,
): { kernel: Float32Array; recurrentKernel: Float32Array; bias: Float32Array } {
  const G = 4 * units;
  return {
    kernel: transposeBlock(w.wIh, G, inputSize),
    recurrentKernel: transposeBlock(w.wHh, G, units),
    bias: Float32Array.from(w.bIh, (v, i) => v + w.bHh[i]),
  };
}

/**
 * Keras GRU (z, r, h) -> Recur; `resetAfter` as the Keras layer's reset_after (its bias is then [2, 3H]).
 * @see [README: porting weights](../../../README.md#porting-weights)
 */
export function fromKerasGRU(w: KerasWeights, inputSize: number, units: number, resetAfter: boolean): GruWeights {
  const G = 3 * units,
    H = units;
  expectLength('kernel', w.kernel, inputSize * G, `[${inputSize}, ${G}]`);
  expectLength('recurrentKernel', w.recurrentKernel, H * G, `[${H}, ${G}]`);
  expectLength('bias', w.bias, resetAfter ? 2 * G : G, resetAfter ? `[2, ${G}]` : `[${G}]`);
  const p = invert(GRU_ZRH);
  const bias = Float32Array.from(w.bias);
  return tagGruVariant(
    {
      wIh: reorder(transposeBlock(w.kernel, inputSize, G), p, H, inputSize),
      wHh: reorder(transposeBlock(w.recurrentKernel, H, G), p, H, H),
      bIh: reorder(bias.subarray(0, G), p, H, 1),
      bHh: resetAfter ? reorder(bias.subarray(G), p, H, 1) : zeros(G),
    },
    resetAfter,
  );
}

/**
 * Recur -> Keras GRU. Without reset_after the biases must be summable: b_hn would sit outside r, which it does there.
 * @see [README: porting weights](../../../README.md#porting-weights)
 */
export function toKerasGRU(
  w: LayerWeights,
  inputSize: number,
  units: number,
  resetAfter: boolean,
): { kernel: Float32Array; recurrentKernel: Float32Array; bias: Float32Array } {
  const G = 3 * units,
    H = units;
  expectVariant(w, resetAfter, `Keras reset_after=${resetAfter ? 'True' : 'False'}`);
  const kernel = transposeBlock(reorder(w.wIh, GRU_ZRH, H, inputSize), G, inputSize);
  const recurrentKernel = transposeBlock(reorder(w.wHh, GRU_ZRH, H, H), G, H);
  const bIh = reorder(w.bIh, GRU_ZRH, H, 1),
    bHh = reorder(w.bHh, GRU_ZRH, H, 1);
  const bias = resetAfter ? Float32Array.of(...bIh, ...bHh) : Float32Array.from(bIh, (v, i) => v + bHh[i]);
  return { kernel, recurrentKernel, bias };
}

/** TF1 `LSTMCell`'s variables: `kernel` and `bias`. */
export interface TF1LSTMWeights {
  /** Shape [I + H, 4H]: rows for x then h; gate columns i, j, f, o */
  readonly kernel: Arrayish;
  /** [4H] */
  readonly bias: Arrayish;
}

/**
 * TF1 LSTMCell (i, j, f, o over concat([x, h])) -> Recur. TF1 adds `forget_bias` at run time: give the same value
 * as `new LSTMCell(units, { forgetBias })` (it is not folded into the stored bias, so nothing is counted twice).
 * @see [README: porting weights](../../../README.md#porting-weights)
 */
export function fromTF1LSTM(w: TF1LSTMWeights, inputSize: number, units: number): LayerWeights<Float32Array> {
  const G = 4 * units,
    p = invert(LSTM_IJFO);
  expectLength('kernel', w.kernel, (inputSize + units) * G, `[${inputSize + units}, ${G}]`);
  expectLength('bias', w.bias, G, `[${G}]`);
  return {
    wIh: reorder(transposeBlock(w.kernel, inputSize, G, G, 0), p, units, inputSize),
    wHh: reorder(transposeBlock(w.kernel, units, G, G, inputSize), p, units, units),
    bIh: reorder(w.bias, p, units, 1),
    bHh: zeros(G),
  };
}

/**
 * Recur -> TF1 LSTMCell kernel and bias (biases summed; run with the same forgetBias).
 * @see [README: porting weights](../../../README.md#porting-weights)
 */
export function toTF1LSTM(w: LayerWeights, inputSize: number, units: number): { kernel: Float32Array; bias: Float32Array } {
  const G = 4 * units;
  const ih = transposeBlock(reorder(w.wIh, LSTM_IJFO, units, inputSize), G, inputSize);
  const hh = transposeBlock(reorder(w.wHh, LSTM_IJFO, units, units), G, units);
  const kernel = new Float32Array((inputSize + units) * G);
  kernel.set(ih, 0);
  kernel.set(hh, inputSize * G);
  const bias = reorder(
    Float32Array.from(w.bIh, (v, i) => v + w.bHh[i]),
    LSTM_IJFO,
    units,
    1,
  );
  return { kernel, bias };
}

/** TF1 `GRUCell`'s variables: `gates/kernel`, `gates/bias`, `candidate/kernel`, `candidate/bias`. */
export interface TF1GRUWeights {
  /** Shape [I + H, 2H]: gate columns r, u (u is z) */
  readonly gatesKernel: Arrayish;
  readonly gatesBias: Arrayish;
  /** Shape [I + H, H]: the candidate over concat([x, r * h]) */
  readonly candidateKernel: Arrayish;
  readonly candidateBias: Arrayish;
}

/**
 * TF1 GRUCell -> Recur, for `new GRUCell(units, { resetAfter: false })` (TF1 applies r before the product): the
 * result is tagged `resetAfter: false`, and a reset-after cell refuses it.
 * @see [README: porting weights](../../../README.md#porting-weights)
 * @example
 * const cell = new GRUCell(64, { resetAfter: false }); // TF1 resets before the product
 * cell.setWeights(fromTF1GRU({ gatesKernel, gatesBias, candidateKernel, candidateBias }, 13, 64));
 */
export function fromTF1GRU(w: TF1GRUWeights, inputSize: number, units: number): GruWeights {
  const H = units,
    I = inputSize;
  expectLength('gatesKernel', w.gatesKernel, (I + H) * 2 * H, `[${I + H}, ${2 * H}]`);
  expectLength('gatesBias', w.gatesBias, 2 * H, `[${2 * H}]`);
  expectLength('candidateKernel', w.candidateKernel, (I + H) * H, `[${I + H}, ${H}]`);
  expectLength('candidateBias', w.candidateBias, H, `[${H}]`);
  const wIh = new Float32Array(3 * H * I),
    wHh = new Float32Array(3 * H * H);
  wIh.set(transposeBlock(w.gatesKernel, I, 2 * H, 2 * H, 0), 0);
  wIh.set(transposeBlock(w.candidateKernel, I, H, H, 0), 2 * H * I);
  wHh.set(transposeBlock(w.gatesKernel, H, 2 * H, 2 * H, I), 0);
  wHh.set(transposeBlock(w.candidateKernel, H, H, H, I), 2 * H * H);
  return tagGruVariant(
    { wIh, wHh, bIh: Float32Array.of(...Array.from(w.gatesBias), ...Array.from(w.candidateBias)), bHh: zeros(3 * H) },
    false,
  );
}

/**
 * Recur -> TF1 GRUCell (`gates/kernel`, `gates/bias`, `candidate/kernel`, `candidate/bias`), from a reset-before
 * cell's weights (`new GRUCell(units, { resetAfter: false })`); weights tagged reset-after are refused (TF1 cannot
 * express them). The biases are summed: TF1 has one per gate, outside r.
 * @see [README: porting weights](../../../README.md#porting-weights)
 */
export function toTF1GRU(
  w: LayerWeights,
  inputSize: number,
  units: number,
): { gatesKernel: Float32Array; gatesBias: Float32Array; candidateKernel: Float32Array; candidateBias: Float32Array } {
  const H = units,
    I = inputSize;
  expectVariant(w, false, "TF1's GRUCell resets before the product");
  expectLength('weights.wIh', w.wIh, 3 * H * I, `[${3 * H}, ${I}]`);
  expectLength('weights.wHh', w.wHh, 3 * H * H, `[${3 * H}, ${H}]`);
  expectLength('weights.bIh', w.bIh, 3 * H, `[${3 * H}]`);
  expectLength('weights.bHh', w.bHh, 3 * H, `[${3 * H}]`);
  // [I + H, cols]: rows for x then h; column c is gate row row0 + c of ours
  const concat = (row0: number, cols: number) => {
    const out = new Float32Array((I + H) * cols);
    for (let c = 0; c < cols; c++) {
      for (let k = 0; k < I; k++) out[k * cols + c] = w.wIh[(row0 + c) * I + k];
      for (let k = 0; k < H; k++) out[(I + k) * cols + c] = w.wHh[(row0 + c) * H + k];
    }
    return out;
  };
  const bias = (from: number, n: number) => Float32Array.from({ length: n }, (_, i) => w.bIh[from + i] + w.bHh[from + i]);
  return { gatesKernel: concat(0, 2 * H), gatesBias: bias(0, 2 * H), candidateKernel: concat(2 * H, H), candidateBias: bias(2 * H, H) };
}

/** An ONNX LSTM or GRU node's W, R and B inputs (one direction). */
export interface ONNXWeights {
  /** [G*H, I] in ONNX gate order (LSTM i, o, f, c; GRU z, r, h), one direction */
  readonly W: Arrayish;
  /** [G*H, H] */
  readonly R: Arrayish;
  /** Shape [2*G*H]: Wb then Rb */
  readonly B: Arrayish;
}

/**
 * ONNX LSTM or GRU (one direction) -> Recur. A GRU's weights are tagged with their variant: `linearBeforeReset` 1
 * (what PyTorch exports) is `resetAfter: true`, ONNX's default 0 is `resetAfter: false` (see GruWeights).
 * @see [README: porting weights](../../../README.md#porting-weights)
 */
export function fromONNX(
  cell: 'lstm' | 'gru',
  w: ONNXWeights,
  inputSize: number,
  units: number,
  options: { linearBeforeReset?: 0 | 1 } = {},
): LayerWeights<Float32Array> {
  const order = cell === 'lstm' ? LSTM_IOFC : GRU_ZRH,
    G = order.length * units,
    p = invert(order);
  expectLength('W', w.W, G * inputSize, `[${G}, ${inputSize}]`);
  expectLength('R', w.R, G * units, `[${G}, ${units}]`);
  expectLength('B', w.B, 2 * G, `[${2 * G}]`);
  const lbr = options.linearBeforeReset ?? 0;
  if (lbr !== 0 && lbr !== 1) throw new RecurError('options.linearBeforeReset', '0 or 1 (the ONNX GRU attribute)', String(lbr));
  const B = Float32Array.from(w.B);
  const out = {
    wIh: reorder(w.W, p, units, inputSize),
    wHh: reorder(w.R, p, units, units),
    bIh: reorder(B.subarray(0, G), p, units, 1),
    bHh: reorder(B.subarray(G), p, units, 1),
  };
  return cell === 'gru' ? tagGruVariant(out, lbr === 1) : out;
}

/**
 * Recur -> ONNX LSTM or GRU weights (W, R, B), one direction; a GRU's node needs `linear_before_reset` 1 for resetAfter: true.
 * @see [README: porting weights](../../../README.md#porting-weights)
 */
export function toONNX(
  cell: 'lstm' | 'gru',
  w: LayerWeights,
  inputSize: number,
  units: number,
): { W: Float32Array; R: Float32Array; B: Float32Array } {
  const order = cell === 'lstm' ? LSTM_IOFC : GRU_ZRH,
    G = order.length * units;
  const B = new Float32Array(2 * G);
  B.set(reorder(w.bIh, order, units, 1), 0);
  B.set(reorder(w.bHh, order, units, 1), G);
  return { W: reorder(w.wIh, order, units, inputSize), R: reorder(w.wHh, order, units, units), B };
}
