import { RecurError, describe } from '../errors.js';
import { checkOptions } from '../options.js';
import { stepCell, type StepResult } from '../chunk.js';
import { CELL } from './brand.js';
import type { Tensor } from '../tensor.js';
import type { TokenIds } from '../tokens.js';
import { LayerCell } from './layer-cell.js';
import type { CellState, LayerStateValue } from './state.js';

/**
 * A stack of cells (hidden sizes may differ); layer l's output is layer l+1's input. State: one value per layer.
 * @example
 * const stack = new MultiRNNCell([new LSTMCell(64), new LSTMCell(32)]); // state: one LSTMStateTuple a layer
 */
export class MultiRNNCell {
  readonly [CELL] = true;
  readonly layers: readonly LayerCell[];

  constructor(cells: readonly LayerCell[], options?: { stateIsTuple?: boolean }) {
    const opts = checkOptions(options, ['stateIsTuple'], 'options');
    if (opts.stateIsTuple === false) {
      throw new RecurError('options.stateIsTuple', 'true (concatenated state is deprecated in TF1 and not supported)', 'false');
    }
    if (!Array.isArray(cells) || cells.length === 0) throw new RecurError('cells', 'a non-empty array of cells', describe(cells));
    cells.forEach((cell, i) => {
      if (!(cell instanceof LayerCell)) {
        throw new RecurError(`cells[${i}]`, 'an LSTMCell, GRUCell or BasicRNNCell (nest stacks by listing their cells)', describe(cell));
      }
      const first = cells.indexOf(cell);
      if (first !== i) {
        throw new RecurError(
          `cells[${i}]`,
          'a distinct cell instance per layer (the [cell] * n mistake shares one set of weights)',
          `the same instance as cells[${first}]`,
        );
      }
      if (i > 0 && cell.backendName !== cells[0].backendName) {
        throw new RecurError(
          `cells[${i}].backend`,
          `the backend of cells[0] (${describe(cells[0].backendName)})`,
          describe(cell.backendName),
        );
      }
      if (i > 0 && cell.dtype !== cells[0].dtype) {
        throw new RecurError(`cells[${i}].dtype`, `the dtype of cells[0] (${cells[0].dtype})`, cell.dtype);
      }
      if (i > 0 && cell.inputSize !== undefined && cell.inputSize !== cells[i - 1].units) {
        throw new RecurError(`cells[${i}].inputSize`, `the units of cells[${i - 1}] (${cells[i - 1].units})`, String(cell.inputSize));
      }
    });
    this.layers = Object.freeze([...cells]);
    for (let i = 1; i < cells.length; i++) cells[i].build(cells[i - 1].units);
  }

  /** The top layer's units (the outputs' feature size). */
  get units(): number {
    return this.layers[this.layers.length - 1].units;
  }

  /** One value per layer. */
  zeroState(batch: number): LayerStateValue[] {
    return this.layers.map((cell) => cell.zeroState(batch) as LayerStateValue);
  }

  /** One step through every layer: input [B, I] (or ids [B]) and the stack's state; returns the top output and the new state (nothing consumed). */
  step(input: Tensor | TokenIds, state: CellState): StepResult {
    return stepCell(this, input, state);
  }

  /** Disposes every layer's weight uploads. */
  dispose(): void {
    for (const cell of this.layers) cell.dispose();
  }
}

/** Anything `dynamicRnn` and the state API accept: one cell or a stack. */
export type Cell = LayerCell | MultiRNNCell;
