import { RecurError, ShapeError, describe } from '../errors.js';
import { glorotUniform, seededRandom } from '../init.js';
import { gemmABt, type Gemm } from '../linalg/gemm.js';
import { transpose2d } from '../linalg/transpose.js';
import { checkOptions, checkPositiveInt } from '../options.js';
import type { DType, FloatArray } from '../spec.js';
import { bytesOf, reserveHost } from '../budget.js';
import { checkNumbers } from '../tensor.js';

const alloc = (dtype: DType, n: number): FloatArray => (dtype === 'float64' ? new Float64Array(n) : new Float32Array(n));

export interface DenseOptions {
  dtype?: DType;
  /** Seed of the Glorot-uniform kernel initialiser. */
  seed?: number;
}

/**
 * A dense output head, y = x · Wᵀ + b with W [outputs, inputs] (PyTorch's Linear layout). It runs on the host:
 * the recurrent layers are the backend's work, a head over T*B rows is small next to them.
 */
export class Dense {
  readonly inputSize: number;
  readonly outputSize: number;
  readonly dtype: DType;
  /** [outputSize, inputSize] */
  readonly weight: FloatArray;
  /** [outputSize] */
  readonly bias: FloatArray;

  constructor(inputSize: number, outputSize: number, options?: DenseOptions) {
    const opts = checkOptions(options, ['dtype', 'seed'], 'options');
    this.inputSize = checkPositiveInt(inputSize, 'inputSize');
    this.outputSize = checkPositiveInt(outputSize, 'outputSize');
    const dtype = opts.dtype ?? 'float32';
    if (dtype !== 'float32' && dtype !== 'float64') throw new RecurError('options.dtype', "'float32' or 'float64'", describe(dtype));
    this.dtype = dtype;
    const b = bytesOf(dtype);
    reserveHost([{ bytes: outputSize * inputSize * b, what: `the dense head's weight [${outputSize}, ${inputSize}]` }, { bytes: outputSize * b, what: 'its bias' }], 'outputSize');
    this.weight = alloc(dtype, outputSize * inputSize);
    this.bias = alloc(dtype, outputSize);
    glorotUniform(this.weight, outputSize, inputSize, seededRandom(opts.seed ?? 17));
  }

  /** Sets W and b from host arrays (copied; sizes checked). */
  setWeights(weight: ArrayLike<number>, bias: ArrayLike<number>): void {
    if (weight?.length !== this.weight.length) throw new ShapeError('weight', `${this.weight.length} values ([${this.outputSize}, ${this.inputSize}])`, `${weight?.length} values`);
    if (bias?.length !== this.bias.length) throw new ShapeError('bias', `${this.bias.length} values`, `${bias?.length} values`);
    checkNumbers(weight, 'weight', true, this.dtype, false);
    checkNumbers(bias, 'bias', true, this.dtype, false);
    this.weight.set(weight);
    this.bias.set(bias);
  }

  /** x [rows, inputSize] -> [rows, outputSize]; `gemm`: the matrix product to use (a backend's `hostGemm`). */
  forward(x: FloatArray, rows: number, gemm: Gemm = gemmABt): FloatArray {
    if (x.length !== rows * this.inputSize) throw new ShapeError('x', `${rows * this.inputSize} values ([${rows}, ${this.inputSize}])`, `${x.length} values`);
    const out = alloc(this.dtype, rows * this.outputSize);
    for (let r = 0; r < rows; r++) out.set(this.bias, r * this.outputSize);
    gemm(rows, this.outputSize, this.inputSize, x, 0, this.inputSize, this.weight, 0, this.inputSize, out, 0, this.outputSize, true);
    return out;
  }

  /** Gradients for x, W and b given dOut [rows, outputSize]. */
  backward(x: FloatArray, dOut: FloatArray, rows: number, gemm: Gemm = gemmABt): { dx: FloatArray; dWeight: FloatArray; dBias: FloatArray } {
    const I = this.inputSize, O = this.outputSize;
    const dx = alloc(this.dtype, rows * I);
    gemm(rows, I, O, dOut, 0, O, transpose2d(this.weight, O, I), 0, O, dx, 0, I, false);
    const dOutT = transpose2d(dOut, rows, O);
    const dWeight = alloc(this.dtype, O * I);
    gemm(O, I, rows, dOutT, 0, rows, transpose2d(x, rows, I), 0, rows, dWeight, 0, I, false);
    const dBias = alloc(this.dtype, O);
    for (let o = 0; o < O; o++) {
      let s = 0;
      for (let r = 0; r < rows; r++) s += dOutT[o * rows + r];
      dBias[o] = s;
    }
    return { dx, dWeight, dBias };
  }
}
