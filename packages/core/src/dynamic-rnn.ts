import type { Cell } from './cells/multi.js';
import type { CellState } from './cells/state.js';
import { checkCell, prepareChunk, runChunk, type PreparedCall } from './chunk.js';
import { checkOptions } from './options.js';
import type { Tensor } from './tensor.js';
import type { TokenIds } from './tokens.js';

/** Options of `dynamicRnn` (TF1's `dynamic_rnn` arguments). */
export interface DynamicRnnOptions {
  /** Incoming state; zeros if omitted. Not consumed: the caller still owns it. */
  initialState?: CellState;
  /** Per-row lengths (integers in [0, T]): rows past their length keep their state and emit zeros. */
  sequenceLength?: ArrayLike<number>;
  /** false (default): inputs are [B, T, I] as in TF1; true: [T, B, I]. */
  timeMajor?: boolean;
  /** Check inputs for NaN/Infinity first (default: the global `configure({checkFinite})`). */
  checkFinite?: boolean;
}

/** What `dynamicRnn` returns: the outputs of every step and the final state (both yours to dispose). */
export interface DynamicRnnResult {
  /** Top-layer outputs, in the layout of the inputs: [B, T, H] or [T, B, H]. */
  readonly outputs: Tensor;
  /** The final state, shaped like the cell's state. */
  readonly state: CellState;
}

export const DYNAMIC_RNN_OPTION_NAMES = ['initialState', 'sequenceLength', 'timeMajor', 'checkFinite'] as const;

/**
 * Runs a cell or stack over a chunk in one kernel call per layer (TF1's dynamic_rnn): inputs [B, T, I] (or
 * [T, B, I] with `timeMajor`), or token ids [B, T] (`tokenIds`). Returns new tensors that the caller owns.
 * @example
 * const { outputs, state } = dynamicRnn(cell, x, { sequenceLength: [5, 3] });
 * outputs.dispose();
 * disposeState(state);
 * @see [docs/stateful.md (TF1 side by side)](../../../docs/stateful.md)
 */
export function dynamicRnn(cell: Cell, inputs: Tensor | TokenIds, options?: DynamicRnnOptions): DynamicRnnResult {
  const call = prepareDynamicRnn(cell, inputs, options);
  const { outputs, state } = runChunk(cell, call.chunk, inputs, call.initial);
  return { outputs, state };
}

/** dynamicRnn's options as a chunk call, validated (also dynamicRnnWithTape's). */
export function prepareDynamicRnn(cell: Cell, inputs: Tensor | TokenIds, options?: DynamicRnnOptions): PreparedCall {
  checkCell(cell);
  const opts = checkOptions(options, DYNAMIC_RNN_OPTION_NAMES, 'options');
  return prepareChunk(cell, inputs, {
    argument: 'inputs',
    timeMajor: opts.timeMajor,
    sequenceLength: opts.sequenceLength,
    checkFinite: opts.checkFinite,
    initialState: opts.initialState === undefined ? undefined : { value: opts.initialState, argument: 'options.initialState' },
  });
}
