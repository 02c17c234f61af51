import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { maxAbsDiff } from '@recur/conformance';
import { fileURLToPath } from 'node:url';
import { RecurError, StatefulRNN, type MultiRNNCell } from '@recur/core';
import { expect } from 'vitest';

export const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`fixtures/${name}`, import.meta.url)));

/** A model of test/fixtures/expected.json: PyTorch's float64 outputs over two chunks, the state carried. */
export interface ExpectedModel {
  kind: 'lstm' | 'gru' | 'rnn';
  input_size: number;
  hidden_size: number;
  num_layers: number;
  nonlinearity: 'tanh' | 'relu';
  bias: boolean;
  batch_first: boolean;
  batch: number;
  time: number;
  /** [B, T, I] */
  x: number[];
  /** [L, B, H] */
  h0: number[];
  c0: number[] | null;
  chunks: { y: number[]; h: number[]; c: number[] | null }[];
}

export const expected = JSON.parse(fixture('expected.json').toString()) as { torch: string; models: Record<string, ExpectedModel> };

/** Layer l's rows of an [L, B, H] array. */
export const layerOf = (v: ArrayLike<number>, l: number, B: number, H: number) =>
  Float32Array.from(Array.from(v).slice(l * B * H, (l + 1) * B * H));

/** Chunk k's columns of x [B, T, I] (the first T/2 steps, then the rest). */
export function chunkOf(m: ExpectedModel, k: number): Float32Array {
  const half = m.time >> 1,
    [t0, t1] = k === 0 ? [0, half] : [half, m.time],
    I = m.input_size;
  const out: number[] = [];
  for (let b = 0; b < m.batch; b++) out.push(...m.x.slice((b * m.time + t0) * I, (b * m.time + t1) * I));
  return Float32Array.from(out);
}

/** Runs `cell` over the model's two chunks from its initial state in a StatefulRNN; asserts PyTorch's outputs and states. */
export async function expectPyTorchOutputs(cell: MultiRNNCell, m: ExpectedModel, tolerance = 1e-5): Promise<void> {
  const B = m.batch,
    H = m.hidden_size;
  const rnn = new StatefulRNN(cell, { batch: B });
  try {
    rnn.setState(Array.from({ length: m.num_layers }, (_, l) => ({ h: layerOf(m.h0, l, B, H), c: m.c0 ? layerOf(m.c0, l, B, H) : null })));
    for (let k = 0; k < 2; k++) {
      const x = chunkOf(m, k);
      const y = await rnn.predict(x, [B, x.length / (B * m.input_size), m.input_size]);
      expectClose(y, m.chunks[k].y, tolerance, `chunk ${k} outputs`);
      const state = await rnn.readState();
      expectClose(Float32Array.of(...state.flatMap((s) => Array.from(s.h))), m.chunks[k].h, tolerance, `chunk ${k} h`);
      if (m.chunks[k].c) expectClose(Float32Array.of(...state.flatMap((s) => Array.from(s.c!))), m.chunks[k].c!, tolerance, `chunk ${k} c`);
    }
  } finally {
    rnn.dispose();
  }
}

export function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, tolerance: number, what: string): void {
  expect(a.length, `${what}: length`).toBe(b.length);
  const { max, at } = maxAbsDiff(a, b);
  expect(max, `${what}: max |difference| ${max} at ${at}`).toBeLessThanOrEqual(tolerance);
}

/** Debian's PyTorch (CI installs it: scripts/install-system-deps.sh); without it the tests that run it say so. */
export const python = '/usr/bin/python3';
export const torchHere = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;

/** The fields of the RecurError `fn` throws (fails the test if it throws none). */
export function fields(fn: () => unknown): { name: string; argument: string; expected: string; actual: string; message: string } {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RecurError);
    const r = e as RecurError;
    return { name: r.name, argument: r.argument, expected: r.expected, actual: r.actual, message: r.message };
  }
  throw new Error('expected a RecurError, none was thrown');
}
