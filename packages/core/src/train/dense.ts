import { RecurError, ShapeError, describe } from '../errors.js';
import { glorotUniform, seededRandom } from '../init.js';
import { gemmABt, gemmAtB, type Gemm, type GemmAtB } from '../linalg/gemm.js';
import { transpose2d } from '../linalg/transpose.js';
import { checkOptions, checkPositiveInt } from '../options.js';
import type { DType, FloatArray, RecurBackend, TensorStorage } from '../spec.js';
import { bytesOf, reserveHost } from '../budget.js';
import { checkNumbers } from '../tensor.js';
import { trackUpload, untrackUpload } from '../uploads.js';

const alloc = (dtype: DType, n: number): FloatArray => (dtype === 'float64' ? new Float64Array(n) : new Float32Array(n));

/** Options of `Dense`. */
export interface DenseOptions {
  dtype?: DType;
  /** Seed of the Glorot-uniform kernel initialiser. */
  seed?: number;
}

/**
 * logits [rows, O] = x [rows, I] · Wᵀ + b on host arrays: the head's host kernel (backend-cpu's too).
 * @see [docs/backend-authoring.md (training kernels)](../../../../docs/backend-authoring.md#training-kernels-keep-a-training-step-on-the-backend-optional)
 */
export function denseForwardHost(
  x: FloatArray,
  weight: FloatArray,
  bias: FloatArray,
  rows: number,
  inputs: number,
  outputs: number,
  gemm: Gemm = gemmABt,
): FloatArray {
  const out = x instanceof Float64Array ? new Float64Array(rows * outputs) : new Float32Array(rows * outputs);
  for (let r = 0; r < rows; r++) out.set(bias, r * outputs);
  gemm(rows, outputs, inputs, x, 0, inputs, weight, 0, inputs, out, 0, outputs, true);
  return out;
}

/**
 * The head's gradients on host arrays given dOut [rows, O]: dx = dOut · W, dW = dOutᵀ · x, db = column sums.
 * @see [docs/backend-authoring.md (training kernels)](../../../../docs/backend-authoring.md#training-kernels-keep-a-training-step-on-the-backend-optional)
 */
export function denseBackwardHost(
  x: FloatArray,
  weight: FloatArray,
  dOut: FloatArray,
  rows: number,
  inputs: number,
  outputs: number,
  gemm: Gemm = gemmABt,
  gemmAtBProduct: GemmAtB = gemmAtB,
): { dx: FloatArray; dWeight: FloatArray; dBias: FloatArray } {
  const I = inputs,
    O = outputs,
    make = (n: number) => (x instanceof Float64Array ? new Float64Array(n) : new Float32Array(n));
  const dx = make(rows * I);
  gemm(rows, I, O, dOut, 0, O, transpose2d(weight, O, I), 0, O, dx, 0, I, false);
  const dWeight = make(O * I);
  gemmAtBProduct(O, I, rows, dOut, 0, O, x, 0, I, dWeight, 0, I, false);
  const dBias = make(O);
  for (let o = 0; o < O; o++) {
    let s = 0;
    for (let r = 0; r < rows; r++) s += dOut[r * O + o];
    dBias[o] = s;
  }
  return { dx, dWeight, dBias };
}

/** The head's parameters uploaded for a backend's training kernels, and whether they are newer than the host's. */
interface DeviceCopy {
  readonly backend: RecurBackend;
  readonly weight: TensorStorage;
  readonly bias: TensorStorage;
  newer: boolean;
  /** Counts the optimizer kernel's updates: a read back that an update overtook is not taken. */
  updates: number;
}

/**
 * A dense output head, y = x · Wᵀ + b with W [outputs, inputs] (PyTorch's Linear layout). Its parameters live on
 * the host, or, while a trainer updates them with a backend's optimizer kernel, on that backend: `weight` and
 * `bias` then read them back (synchronously where the backend can; `await sync()` first where it cannot).
 * @see [docs/training.md](../../../../docs/training.md)
 */
export class Dense {
  readonly inputSize: number;
  readonly outputSize: number;
  readonly dtype: DType;
  #weight: FloatArray;
  #bias: FloatArray;
  #device: DeviceCopy | null = null;
  #version = 0;

  constructor(inputSize: number, outputSize: number, options?: DenseOptions) {
    const opts = checkOptions(options, ['dtype', 'seed'], 'options');
    this.inputSize = checkPositiveInt(inputSize, 'inputSize');
    this.outputSize = checkPositiveInt(outputSize, 'outputSize');
    const dtype = opts.dtype ?? 'float32';
    if (dtype !== 'float32' && dtype !== 'float64') throw new RecurError('options.dtype', "'float32' or 'float64'", describe(dtype));
    this.dtype = dtype;
    const b = bytesOf(dtype);
    reserveHost(
      [
        { bytes: outputSize * inputSize * b, what: `the dense head's weight [${outputSize}, ${inputSize}]` },
        { bytes: outputSize * b, what: 'its bias' },
      ],
      'outputSize',
    );
    this.#weight = alloc(dtype, outputSize * inputSize);
    this.#bias = alloc(dtype, outputSize);
    glorotUniform(this.#weight, outputSize, inputSize, seededRandom(opts.seed ?? 17));
  }

  /** A copy of W [outputSize, inputSize] (change it with `setWeights`). */
  get weight(): FloatArray {
    return this.#host().weight.slice();
  }

  /** A copy of b [outputSize]. */
  get bias(): FloatArray {
    return this.#host().bias.slice();
  }

  /** Sets W and b from host arrays (copied; sizes checked). */
  setWeights(weight: ArrayLike<number>, bias: ArrayLike<number>): void {
    if (weight?.length !== this.#weight.length)
      throw new ShapeError('weight', `${this.#weight.length} values ([${this.outputSize}, ${this.inputSize}])`, `${weight?.length} values`);
    if (bias?.length !== this.#bias.length) throw new ShapeError('bias', `${this.#bias.length} values`, `${bias?.length} values`);
    checkNumbers(weight, 'weight', true, this.dtype, false);
    checkNumbers(bias, 'bias', true, this.dtype, false);
    this.#weight.set(weight);
    this.#bias.set(bias);
    this.#version++;
    this.#dropDevice();
  }

  /** @internal Changes with every `setWeights` and `dispose` (a training step checks that nobody did either meanwhile). */
  get version(): number {
    return this.#version;
  }

  /** x [rows, inputSize] -> [rows, outputSize]; `gemm`: the matrix product to use (a backend's `hostGemm`). */
  forward(x: FloatArray, rows: number, gemm: Gemm = gemmABt): FloatArray {
    if (x.length !== rows * this.inputSize)
      throw new ShapeError('x', `${rows * this.inputSize} values ([${rows}, ${this.inputSize}])`, `${x.length} values`);
    const { weight, bias } = this.#host();
    return denseForwardHost(x, weight, bias, rows, this.inputSize, this.outputSize, gemm);
  }

  /** Gradients for x, W and b given dOut [rows, outputSize]. */
  backward(
    x: FloatArray,
    dOut: FloatArray,
    rows: number,
    gemm: Gemm = gemmABt,
    gemmAtBProduct: GemmAtB = gemmAtB,
  ): { dx: FloatArray; dWeight: FloatArray; dBias: FloatArray } {
    return denseBackwardHost(x, this.#host().weight, dOut, rows, this.inputSize, this.outputSize, gemm, gemmAtBProduct);
  }

  /** Reads parameters a backend updated back to the host (a no-op when the host's are current). */
  async sync(): Promise<void> {
    const d = this.#device;
    if (d?.newer) {
      const updates = d.updates;
      const [weight, bias] = await Promise.all([d.backend.read(d.weight), d.backend.read(d.bias)]);
      if (this.#device !== d || d.updates !== updates || !d.newer) return; // overtaken by an update or setWeights
      this.#weight.set(weight);
      this.#bias.set(bias);
      d.newer = false;
    }
  }

  /**
   * @internal The parameters as storages on `backend` for its training kernels (uploaded on first use, kept until
   * `setWeights` or `dispose`); `updated` marks them newer than the host's (the optimizer kernel changed them).
   */
  parametersOn(backend: RecurBackend): { weight: TensorStorage; bias: TensorStorage; updated(): void } {
    if (this.#device && this.#device.backend !== backend) {
      this.#host();
      this.#dropDevice();
    }
    if (!this.#device) {
      const weight = backend.upload(this.#weight, [this.outputSize, this.inputSize], this.dtype);
      let bias: TensorStorage;
      try {
        bias = backend.upload(this.#bias, [this.outputSize], this.dtype);
      } catch (error) {
        backend.dispose(weight);
        throw error;
      }
      this.#device = { backend, weight, bias, newer: false, updates: 0 };
      // freed with the head if it is dropped without dispose(), as a cell's uploads are
      trackUpload(this, backend, weight, true);
      trackUpload(this, backend, bias, true);
    }
    const d = this.#device;
    return {
      weight: d.weight,
      bias: d.bias,
      updated: () => {
        d.newer = true;
        d.updates++;
      },
    };
  }

  /**
   * Frees the parameters uploaded for training, after reading them back if they are newer (on a backend that reads
   * only asynchronously, `await model.sync()` first: dispose refuses rather than lose them).
   */
  dispose(): void {
    this.#host();
    this.#version++;
    this.#dropDevice();
  }

  /** The host parameters, read back first if a backend's are newer. */
  #host(): { weight: FloatArray; bias: FloatArray } {
    const d = this.#device;
    if (d?.newer) {
      if (!d.backend.readSync) {
        throw new RecurError(
          'head',
          'parameters read back from the backend first (await model.sync())',
          `parameters updated on backend ${JSON.stringify(d.backend.name)}, which reads asynchronously`,
        );
      }
      this.#weight.set(d.backend.readSync(d.weight));
      this.#bias.set(d.backend.readSync(d.bias));
      d.newer = false;
    }
    return { weight: this.#weight, bias: this.#bias };
  }

  #dropDevice(): void {
    if (this.#device) {
      for (const s of [this.#device.weight, this.#device.bias]) {
        untrackUpload(s);
        this.#device.backend.dispose(s);
      }
      this.#device = null;
    }
  }
}
