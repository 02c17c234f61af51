import type { DType, FloatArray, RecurBackend, TensorStorage } from '../spec.js';
import { denseBackwardHost, denseForwardHost } from './dense.js';
import { meanSquaredError, softmaxCrossEntropy } from './losses.js';
import { globalNorm } from './optimizers.js';

/** Which parts of a training step run on the backend (true) and which on the host (false), kernel by kernel. */
export interface TrainingKernelPlacement {
  readonly denseForward: boolean;
  readonly denseBackward: boolean;
  readonly softmaxCrossEntropy: boolean;
  readonly meanSquaredError: boolean;
  readonly globalNorm: boolean;
  /** The optimizer update in place on the backend's parameters (needs an optimizer with a `rule`). */
  readonly optimizer: boolean;
}

/**
 * Where each training kernel runs on `backend` (the optimizer's placement assumes an optimizer with a `rule`).
 * @see [docs/backend-authoring.md (training kernels)](../../../../docs/backend-authoring.md#training-kernels-keep-a-training-step-on-the-backend-optional)
 */
export function trainingKernelPlacement(backend: RecurBackend): TrainingKernelPlacement {
  return {
    denseForward: typeof backend.denseForward === 'function',
    denseBackward: typeof backend.denseBackward === 'function',
    softmaxCrossEntropy: typeof backend.softmaxCrossEntropy === 'function',
    meanSquaredError: typeof backend.meanSquaredError === 'function',
    globalNorm: typeof backend.globalNorm === 'function',
    optimizer:
      typeof backend.applyOptimizer === 'function' &&
      typeof backend.weightParameters === 'function' &&
      typeof backend.weightsUpdated === 'function',
  };
}

/**
 * A value of a training step where it is: on the host, on the backend, or both. A value moves only when a kernel
 * on the other side needs it, so a step whose kernels all run on the backend moves nothing but what must.
 */
export class StepValue {
  constructor(
    public host: FloatArray | null,
    public storage: TensorStorage | null,
    readonly shape: readonly number[],
  ) {}
}

/**
 * The training step's kernels, each on the backend when it has it, else core's host code on values read back
 * (the fallback, kernel by kernel). Storages made here are freed by `dispose()`.
 */
export class StepKernels {
  readonly placement: TrainingKernelPlacement;
  readonly #backend: RecurBackend;
  readonly #dtype: DType;
  #made: TensorStorage[] = [];

  constructor(backend: RecurBackend, dtype: DType, placement: TrainingKernelPlacement) {
    this.#backend = backend;
    this.#dtype = dtype;
    this.placement = placement;
  }

  /** A storage this step made (freed with it). */
  made(storage: TensorStorage, shape: readonly number[]): StepValue {
    this.#made.push(storage);
    return new StepValue(null, storage, shape);
  }

  async host(v: StepValue): Promise<FloatArray> {
    return (v.host ??= await this.#backend.read(v.storage));
  }

  storage(v: StepValue): TensorStorage {
    if (v.storage === null) {
      v.storage = this.#backend.upload(v.host!, v.shape, this.#dtype);
      this.#made.push(v.storage);
    }
    return v.storage;
  }

  async denseForward(x: StepValue, weight: StepValue, bias: StepValue, rows: number, inputs: number, outputs: number): Promise<StepValue> {
    const b = this.#backend;
    if (this.placement.denseForward) {
      return this.made(
        b.denseForward!({
          x: this.storage(x),
          weight: this.storage(weight),
          bias: this.storage(bias),
          rows,
          inputs,
          outputs,
          dtype: this.#dtype,
        }),
        [rows, outputs],
      );
    }
    return new StepValue(
      denseForwardHost(await this.host(x), await this.host(weight), await this.host(bias), rows, inputs, outputs, b.hostGemm),
      null,
      [rows, outputs],
    );
  }

  async denseBackward(
    x: StepValue,
    weight: StepValue,
    bias: StepValue,
    dOut: StepValue,
    rows: number,
    inputs: number,
    outputs: number,
  ): Promise<{ dx: StepValue; dWeight: StepValue; dBias: StepValue }> {
    const b = this.#backend;
    if (this.placement.denseBackward) {
      const g = b.denseBackward!({
        x: this.storage(x),
        weight: this.storage(weight),
        bias: this.storage(bias),
        dOut: this.storage(dOut),
        rows,
        inputs,
        outputs,
        dtype: this.#dtype,
      });
      return {
        dx: this.made(g.dx, [rows, inputs]),
        dWeight: this.made(g.dWeight, [outputs, inputs]),
        dBias: this.made(g.dBias, [outputs]),
      };
    }
    const g = denseBackwardHost(await this.host(x), await this.host(weight), await this.host(dOut), rows, inputs, outputs, b.hostGemm);
    return {
      dx: new StepValue(g.dx, null, [rows, inputs]),
      dWeight: new StepValue(g.dWeight, null, [outputs, inputs]),
      dBias: new StepValue(g.dBias, null, [outputs]),
    };
  }

  /** The mean loss (read back: the step's one scalar out besides the norm) and its gradient. */
  async loss(
    predictions: StepValue,
    targets: Int32Array | StepValue,
    rows: number,
    classes: number,
  ): Promise<{ loss: number; dPredictions: StepValue }> {
    const b = this.#backend,
      dtype = this.#dtype,
      shape = predictions.shape;
    const classIds = targets instanceof Int32Array ? targets : null;
    if (classIds ? this.placement.softmaxCrossEntropy : this.placement.meanSquaredError) {
      const r = classIds
        ? b.softmaxCrossEntropy!({ logits: this.storage(predictions), targets: classIds, rows, classes, dtype })
        : b.meanSquaredError!({
            predictions: this.storage(predictions),
            targets: this.storage(targets as StepValue),
            count: rows * classes,
            dtype,
          });
      return { loss: (await this.host(this.made(r.loss, [1])))[0], dPredictions: this.made(r.dPredictions, shape) };
    }
    const p = await this.host(predictions);
    const r = classIds ? softmaxCrossEntropy(p, classIds, rows, classes) : meanSquaredError(p, await this.host(targets as StepValue));
    return { loss: this.#inDtype(r.loss), dPredictions: new StepValue(r.dPredictions, null, shape) };
  }

  /** The global L2 norm of the gradients (read back). */
  async globalNorm(grads: readonly StepValue[]): Promise<number> {
    if (this.placement.globalNorm) {
      return (
        await this.host(
          this.made(
            this.#backend.globalNorm!(
              grads.map((g) => this.storage(g)),
              this.#dtype,
            ),
            [1],
          ),
        )
      )[0];
    }
    return this.#inDtype(globalNorm(await Promise.all(grads.map((g) => this.host(g)))));
  }

  /**
   * A scalar computed on the host, rounded to the dtype as a kernel's [1] tensor holds it: both paths then report
   * the same numbers and refuse the same steps (a float32 loss beyond 3.4e38 is Infinity either way).
   */
  #inDtype(value: number): number {
    return this.#dtype === 'float32' ? Math.fround(value) : value;
  }

  dispose(): void {
    for (const s of this.#made) this.#backend.dispose(s);
    this.#made = [];
  }
}
