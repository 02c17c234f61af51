import { tagGruVariant } from '../layouts.js';
import { RecurError, describe } from '../errors.js';
import { checkFiniteNumber, checkOptions } from '../options.js';
import type { FloatArray, LayerSpec, LayerWeights, RnnActivation } from '../spec.js';
import { CELL_OPTION_NAMES, LayerCell, type CellOptions } from './layer-cell.js';

/** Options of `LSTMCell`. */
export interface LSTMCellOptions extends CellOptions {
  /**
   * Added to the forget gate at run time (TF1's `forget_bias`). Defaults to 0 because the initialiser already
   * stores 1 in the forget bias; set it when importing TF1 weights, whose stored bias lacks it.
   */
  forgetBias?: number;
}

/**
 * LSTM (gates i, f, g, o in the public layout), as TF1's LSTMCell without peepholes or projection.
 * @example
 * const cell = new LSTMCell(64, { inputSize: 13, forgetBias: 1 }); // TF1's forget_bias, when importing TF1 weights
 */
export class LSTMCell extends LayerCell {
  readonly kind = 'lstm' as const;
  readonly forgetBias: number;

  constructor(units: number, options?: LSTMCellOptions) {
    const opts = checkOptions(options, [...CELL_OPTION_NAMES, 'forgetBias'], 'options');
    super(units, opts, 'lstm');
    this.forgetBias = opts.forgetBias === undefined ? 0 : checkFiniteNumber(opts.forgetBias, 'options.forgetBias');
  }

  protected override initBias(bIh: FloatArray): void {
    bIh.fill(1, this.units, 2 * this.units);
  }

  protected makeSpec(): LayerSpec {
    return { ...this.baseSpec(), kind: 'lstm', forgetBias: this.forgetBias };
  }
}

/** Options of `GRUCell`. */
export interface GRUCellOptions extends CellOptions {
  /**
   * true (default): the reset gate scales the recurrent product, as PyTorch, cuDNN and Keras 2 (`reset_after`).
   * false: it scales h before the product, as TF1's GRUCell and ONNX `linear_before_reset=0`.
   */
  resetAfter?: boolean;
}

/**
 * GRU (gates r, z, n in the public layout); h' = (1 - z) * n + z * h.
 * @example
 * const pytorch = new GRUCell(64);                      // reset after the recurrent product (PyTorch, cuDNN)
 * const tf1 = new GRUCell(64, { resetAfter: false }); // TF1's GRUCell
 */
export class GRUCell extends LayerCell {
  readonly kind = 'gru' as const;
  readonly resetAfter: boolean;

  constructor(units: number, options?: GRUCellOptions) {
    const opts = checkOptions(options, [...CELL_OPTION_NAMES, 'resetAfter'], 'options');
    super(units, opts, 'gru');
    if (opts.resetAfter !== undefined && typeof opts.resetAfter !== 'boolean')
      throw new RecurError('options.resetAfter', 'a boolean', describe(opts.resetAfter));
    this.resetAfter = opts.resetAfter ?? true;
  }

  protected makeSpec(): LayerSpec {
    return { ...this.baseSpec(), kind: 'gru', resetAfter: this.resetAfter };
  }

  /** The weights, tagged with this cell's variant (`resetAfter`, not enumerable): a cell of the other refuses them. */
  override getWeights(): LayerWeights & { readonly resetAfter: boolean } {
    return tagGruVariant(super.getWeights(), this.resetAfter);
  }

  protected override checkWeightsVariant(resetAfter: boolean): void {
    if (resetAfter === this.resetAfter) return;
    const from = resetAfter
      ? 'a reset-after GRU (PyTorch, cuDNN, Keras reset_after=True, ONNX linear_before_reset=1)'
      : "a reset-before GRU (TF1's GRUCell, Keras reset_after=False, ONNX's default)";
    throw new RecurError(
      'weights',
      `weights for this GRUCell (resetAfter: ${this.resetAfter})`,
      `weights of ${from}`,
      `the same arrays compute a different function in the other variant: make the cell with { resetAfter: ${resetAfter} }`,
    );
  }
}

/** Options of `BasicRNNCell`. */
export interface BasicRNNCellOptions extends CellOptions {
  activation?: RnnActivation;
}

/**
 * Simple RNN: h' = act(W_ih x + b_ih + W_hh h + b_hh), act tanh (default) or relu.
 * @example
 * const cell = new BasicRNNCell(32, { activation: 'relu', inputSize: 4 });
 */
export class BasicRNNCell extends LayerCell {
  readonly kind = 'rnn' as const;
  readonly activation: RnnActivation;

  constructor(units: number, options?: BasicRNNCellOptions) {
    const opts = checkOptions(options, [...CELL_OPTION_NAMES, 'activation'], 'options');
    super(units, opts, 'rnn');
    if (opts.activation !== undefined && opts.activation !== 'tanh' && opts.activation !== 'relu') {
      throw new RecurError('options.activation', "'tanh' or 'relu'", describe(opts.activation));
    }
    this.activation = opts.activation ?? 'tanh';
  }

  protected makeSpec(): LayerSpec {
    return { ...this.baseSpec(), kind: 'rnn', activation: this.activation };
  }
}
