/**
 * What one benchmark case runs. I = H, one layer, as in DeepBench's inference-server set. GRU cases use the TF1 /
 * Keras variant (reset gate before the recurrent product): the one every peer implements (tfjs-layers has no
 * reset_after).
 */
export interface BenchCase {
  readonly id: string;
  readonly cell: 'lstm' | 'gru';
  readonly H: number;
  readonly B: number;
  readonly T: number;
  /** sequence: one forward over T steps; streaming: T calls of one step each, state carried; training: forward + backward */
  readonly mode: 'sequence' | 'streaming' | 'training';
}

const make = (cell: 'lstm' | 'gru', mode: BenchCase['mode'], H: number, B: number, T: number): BenchCase =>
  ({ id: `${cell}-${mode === 'sequence' ? 'seq' : mode === 'streaming' ? 'stream' : 'train'}-H${H}-B${B}${mode === 'streaming' ? '' : `-T${T}`}`, cell, H, B, T, mode });

export function allCases(): BenchCase[] {
  const cases: BenchCase[] = [];
  for (const cell of ['lstm', 'gru'] as const) {
    for (const [H, B, T] of [[256, 1, 150], [512, 1, 25], [512, 4, 25], [1024, 1, 25], [1024, 4, 25], [256, 16, 100]]) cases.push(make(cell, 'sequence', H, B, T));
    for (const [H, B] of [[256, 1], [256, 16], [512, 1], [512, 16]]) cases.push(make(cell, 'streaming', H, B, 100));
    cases.push(make(cell, 'training', 256, 16, 50));
  }
  return cases;
}

/** A few cases that touch every mode and peer, for a smoke run in CI. */
export const QUICK_CASES = ['lstm-seq-H256-B1-T150', 'gru-seq-H512-B1-T25', 'lstm-stream-H256-B1', 'lstm-train-H256-B16-T50'];
