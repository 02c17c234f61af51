/**
 * What one benchmark case runs. I = H, one layer, as in DeepBench's inference-server set. GRU cases come in both
 * variants: reset before the recurrent product (TF1 / Keras; tfjs-layers has no other, PyTorch does not have it)
 * and reset after it (`gru-after-*`: PyTorch, cuDNN, ONNX linear_before_reset=1).
 */
export interface BenchCase {
  readonly id: string;
  /** rnn: the Elman cell, tanh (training only: what PyTorch's nn.RNN and our kernels are compared on). */
  readonly cell: 'lstm' | 'gru' | 'rnn';
  /** gru only: the reset gate after the recurrent product (PyTorch's) rather than before it (TF1's). */
  readonly resetAfter: boolean;
  readonly H: number;
  readonly B: number;
  readonly T: number;
  /**
   * sequence: one forward over T steps; streaming: T calls of one step each, state carried; training: forward +
   * backward; model: one whole TBPTT training step of a character model (see `model`).
   */
  readonly mode: 'sequence' | 'streaming' | 'training' | 'model';
  /** mode 'model': `layers` x LSTM(H) over one-hot characters + dense(vocabulary), softmax cross-entropy, Adam, global-norm clipping. */
  readonly model?: { readonly layers: number; readonly vocabulary: number; readonly learningRate: number; readonly clipNorm: number };
}

/** The demo's model (examples/demo defaults): 2 x LSTM(128) + dense(89), 16 streams x 32 characters, Adam 0.006, clip 5. */
export const DEMO_MODEL_CASE: BenchCase = {
  id: 'demo-model-train-2xLSTM128-V89-B16-T32',
  cell: 'lstm',
  resetAfter: false,
  H: 128,
  B: 16,
  T: 32,
  mode: 'model',
  model: { layers: 2, vocabulary: 89, learningRate: 0.006, clipNorm: 5 },
};

const make = (cell: BenchCase['cell'], mode: BenchCase['mode'], H: number, B: number, T: number, resetAfter = false): BenchCase => ({
  id: `${cell}${resetAfter ? '-after' : ''}-${mode === 'sequence' ? 'seq' : mode === 'streaming' ? 'stream' : 'train'}-H${H}-B${B}${mode === 'streaming' ? '' : `-T${T}`}`,
  cell,
  resetAfter,
  H,
  B,
  T,
  mode,
});

export function allCases(): BenchCase[] {
  const cases: BenchCase[] = [];
  for (const cell of ['lstm', 'gru'] as const) {
    for (const [H, B, T] of [
      [256, 1, 150],
      [512, 1, 25],
      [512, 4, 25],
      [1024, 1, 25],
      [1024, 4, 25],
      [256, 16, 100],
    ])
      cases.push(make(cell, 'sequence', H, B, T));
    for (const [H, B] of [
      [256, 1],
      [256, 16],
      [512, 1],
      [512, 16],
    ])
      cases.push(make(cell, 'streaming', H, B, 100));
    cases.push(make(cell, 'training', 256, 16, 50));
  }
  // PyTorch's GRU (reset after): what torch-cpu can run
  for (const [H, B, T] of [
    [256, 1, 150],
    [512, 4, 25],
    [256, 16, 100],
  ])
    cases.push(make('gru', 'sequence', H, B, T, true));
  cases.push(make('gru', 'streaming', 256, 1, 100, true), make('gru', 'training', 256, 16, 50, true));
  cases.push(make('rnn', 'training', 256, 16, 50));
  cases.push(DEMO_MODEL_CASE);
  return cases;
}

/** A few cases that touch every mode and peer, for a smoke run in CI. */
export const QUICK_CASES = [
  'lstm-seq-H256-B1-T150',
  'gru-seq-H512-B1-T25',
  'lstm-stream-H256-B1',
  'lstm-train-H256-B16-T50',
  DEMO_MODEL_CASE.id,
];

/**
 * Floating-point operations of a case's matrix products in one run (a multiply-add counts 2): the input and
 * recurrent projections, 2·T·B·G·H·(I + H) with I = H here; a training run adds the backward's two products of
 * each (input and state gradients, weight gradients).
 */
export function caseFlops(c: BenchCase): number {
  const G = c.cell === 'lstm' ? 4 : c.cell === 'gru' ? 3 : 1;
  if (c.model) {
    // the first layer's projection of one-hot rows counts as the product it is (a gather would do it for free)
    const { layers, vocabulary: V } = c.model;
    let forward = 2 * c.T * c.B * c.H * V;
    for (let l = 0; l < layers; l++) forward += 2 * c.T * c.B * G * c.H * ((l === 0 ? V : c.H) + c.H);
    return 3 * forward;
  }
  const forward = 2 * c.T * c.B * G * c.H * (c.H + c.H);
  return c.mode === 'training' ? 3 * forward : forward;
}
