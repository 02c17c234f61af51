import { Tensor } from '../tensor.js';

/**
 * An LSTM layer's state: cell `c` and hidden `h`, each [batch, units]. Like TF1's `LSTMStateTuple` (a namedtuple)
 * it is also the pair `[c, h]`: `state[0]`, `state[1]`, `const [c, h] = state`, `for (const [c, h] of states)`.
 *
 * @example
 * const state = new LSTMStateTuple(c, h);
 * const [c0, h0] = state;            // state.c, state.h
 * state.dispose();                   // both tensors
 */
export class LSTMStateTuple implements Iterable<Tensor> {
  /** Always 2, as the namedtuple's `len()`. */
  readonly length = 2;

  constructor(
    readonly c: Tensor,
    readonly h: Tensor,
  ) {}

  /** `c`, as `state[0]` in TF1. */
  get 0(): Tensor {
    return this.c;
  }

  /** `h`, as `state[1]` in TF1. */
  get 1(): Tensor {
    return this.h;
  }

  /** Yields `c`, then `h` (TF1's order). */
  *[Symbol.iterator](): Iterator<Tensor> {
    yield this.c;
    yield this.h;
  }

  /** Disposes both tensors. */
  dispose(): void {
    this.c.dispose();
    this.h.dispose();
  }

  /** `using state = …`: both tensors disposed at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** The state of one layer: an LSTMStateTuple for LSTM, a [batch, units] tensor for GRU and simple RNN. */
export type LayerStateValue = LSTMStateTuple | Tensor;

/** A cell's state: one layer's value, or for a MultiRNNCell an array with one value per layer. */
export type CellState = LayerStateValue | readonly LayerStateValue[];

/** Internal, normalised per-layer state. */
export interface LayerState {
  readonly h: Tensor;
  readonly c: Tensor | null;
}

/** Host copy of one layer's state, as `readState()` returns and `setState()` accepts. */
export interface HostLayerState {
  readonly h: Float32Array | Float64Array;
  readonly c?: Float32Array | Float64Array | null;
}

/**
 * Disposes every tensor of a state.
 * @see [the per-step loop in docs/stateful.md](../../../../docs/stateful.md)
 */
export function disposeState(state: CellState): void {
  const values = Array.isArray(state) ? state : [state as LayerStateValue];
  for (const v of values) v.dispose();
}
