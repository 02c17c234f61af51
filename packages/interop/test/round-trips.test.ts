// Round trips as proof: every golden forward case (PyTorch float64, PyTorch's layout) goes through every layout
// converter (PyTorch's own, Keras, TF1, ONNX arrays) and every file path (.pt, safetensors, .onnx), and is run again
// where the file lands — Recur on the reloaded cells, ONNX Runtime on the .onnx, real PyTorch on the .pt — with the
// state carried across the case's chunks (and its row resets). Each must reproduce the golden outputs and final state.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BasicRNNCell,
  GRUCell,
  LSTMCell,
  MultiRNNCell,
  RecurError,
  StatefulRNN,
  fromKerasGRU,
  fromKerasLSTM,
  fromONNX,
  fromTF1GRU,
  fromTF1LSTM,
  setBackend,
  toKerasGRU,
  toKerasLSTM,
  toONNX,
  toTF1GRU,
  toTF1LSTM,
  type HostLayerState,
  type LayerCell,
  type LayerWeights,
} from '@recur/core';
import '@recur/backend-cpu';
import type { GoldenCase } from '@recur/conformance';
import { defaultFixtures } from '@recur/conformance/node';
import { describe, expect, it } from 'vitest';
import { exportOnnx, importOnnx, loadPyTorchRNN, savePyTorchRNN } from '../src/index.js';
import { expectClose, python, torchHere } from './helpers.js';
import { feedsOf, resultsOf, session, swap01 } from './onnx-helpers.js';

setBackend('cpu');
const TOLERANCE = 2e-5; // the golden README's float32 forward tolerance

type Converter = 'pytorch' | 'keras' | 'tf1' | 'onnx-arrays';
const cases = defaultFixtures().cases.filter((c) => c.y);

/** The converters a case's cell can go through (TF1 has no reset-after GRU; Keras and ONNX converters no simple RNN). */
function convertersOf(c: GoldenCase): Converter[] {
  if (c.cell === 'rnn') return ['pytorch'];
  if (c.cell === 'gru')
    return c.gru_variant === 'reset_before' ? ['pytorch', 'keras', 'tf1', 'onnx-arrays'] : ['pytorch', 'keras', 'onnx-arrays'];
  return ['pytorch', 'keras', 'tf1', 'onnx-arrays'];
}

/** The golden layer's arrays through a converter and back: what a user porting weights from that layout gets. */
function converted(c: GoldenCase, l: number, via: Converter): LayerWeights<Float32Array> {
  const g = c.layers[l],
    I = c.sizes[l],
    H = c.sizes[l + 1],
    resetAfter = c.gru_variant !== 'reset_before';
  const ours = {
    wIh: Float32Array.from(g.w_ih),
    wHh: Float32Array.from(g.w_hh),
    bIh: Float32Array.from(g.b_ih),
    bHh: Float32Array.from(g.b_hh),
  };
  if (via === 'pytorch') return ours;
  if (c.cell === 'lstm') {
    if (via === 'keras') return fromKerasLSTM(toKerasLSTM(ours, I, H), I, H);
    if (via === 'tf1') return fromTF1LSTM(toTF1LSTM(ours, I, H), I, H);
    return fromONNX('lstm', toONNX('lstm', ours, I, H), I, H);
  }
  if (via === 'keras') return fromKerasGRU(toKerasGRU(ours, I, H, resetAfter), I, H, resetAfter);
  if (via === 'tf1') return fromTF1GRU(toTF1GRU(ours, I, H), I, H);
  return fromONNX('gru', toONNX('gru', ours, I, H), I, H, { linearBeforeReset: resetAfter ? 1 : 0 });
}

function stackOf(c: GoldenCase, via: Converter): MultiRNNCell {
  const layers: LayerCell[] = c.layers.map((_, l) => {
    const options = { inputSize: c.sizes[l] },
      H = c.sizes[l + 1];
    const cell =
      c.cell === 'lstm'
        ? new LSTMCell(H, options)
        : c.cell === 'gru'
          ? new GRUCell(H, { ...options, resetAfter: c.gru_variant !== 'reset_before' })
          : new BasicRNNCell(H, { ...options, activation: c.activation ?? 'tanh' });
    cell.setWeights(converted(c, l, via));
    return cell;
  });
  return new MultiRNNCell(layers);
}

/** PyTorch can hold this stack: one kind, one hidden size, reset-after GRUs. */
const uniform = (c: GoldenCase) => c.sizes.slice(1).every((h) => h === c.sizes[1]);
const pytorchExpresses = (c: GoldenCase) => c.gru_variant !== 'reset_before';

/** The stack as PyTorch files: one module when uniform, else one per layer (prefix l<k>.). */
function pyTorchFiles(stack: MultiRNNCell, c: GoldenCase, format: 'pt' | 'safetensors'): Uint8Array[] {
  return uniform(c) ? [savePyTorchRNN(stack, { format })] : stack.layers.map((l) => savePyTorchRNN(l, { format }));
}
function fromPyTorchFiles(files: Uint8Array[], c: GoldenCase): MultiRNNCell {
  return new MultiRNNCell(
    files.flatMap((f) => loadPyTorchRNN(f, { nonlinearity: c.cell === 'rnn' ? (c.activation ?? 'tanh') : undefined }).cell.layers),
  );
}

/** The case's chunks ([T] if it has none; split at its reset). */
const chunksOf = (c: GoldenCase) => (c.reset_rows ? [c.reset_rows.before_step, c.time - c.reset_rows.before_step] : (c.chunks ?? [c.time]));
const stepsOf = (c: GoldenCase, t0: number, n: number) =>
  Float32Array.from(c.x.slice(t0 * c.batch * c.sizes[0], (t0 + n) * c.batch * c.sizes[0]));
const h0Of = (c: GoldenCase): HostLayerState[] =>
  c.h0.map((h, l) => ({ h: Float32Array.from(h), c: c.c0 ? Float32Array.from(c.c0[l]) : null }));

function expectGolden(c: GoldenCase, y: ArrayLike<number>, state: readonly HostLayerState[], what: string) {
  expectClose(y, c.y, TOLERANCE, `${what}: outputs`);
  state.forEach((s, l) => {
    expectClose(s.h, c.hT[l], TOLERANCE, `${what}: layer ${l} h`);
    if (c.cT) expectClose(s.c!, c.cT[l], TOLERANCE, `${what}: layer ${l} c`);
  });
}

/** Recur on cells reloaded from a file: StatefulRNN, time-major, the golden chunks and resets. */
async function recurRun(c: GoldenCase, stack: MultiRNNCell, what: string) {
  const rnn = new StatefulRNN(stack, { batch: c.batch, timeMajor: true });
  rnn.setState(h0Of(c));
  const y: number[] = [];
  let t0 = 0;
  for (const n of chunksOf(c)) {
    if (c.reset_rows && t0 === c.reset_rows.before_step) rnn.reset(c.reset_rows.rows);
    y.push(...(await rnn.predict(stepsOf(c, t0, n), [n, c.batch, c.sizes[0]], { sequenceLength: c.seq_lens })));
    t0 += n;
  }
  expectGolden(c, y, await rnn.readState(), what);
  rnn.dispose();
}

/** ONNX Runtime on the exported file: one run per chunk, the state outputs fed back (reset rows zeroed). */
async function ortRun(c: GoldenCase, bytes: Uint8Array, what: string) {
  const imp = importOnnx(bytes),
    s = await session(bytes),
    B = c.batch,
    L = c.layers.length;
  let state = h0Of(c);
  const y: number[] = [];
  let t0 = 0;
  for (const n of chunksOf(c)) {
    if (c.reset_rows && t0 === c.reset_rows.before_step) {
      state = state.map((st) => {
        const zero = (v: Float32Array | Float64Array) => {
          const H = v.length / B,
            out = Float32Array.from(v);
          for (const r of c.reset_rows!.rows) out.fill(0, r * H, (r + 1) * H);
          return out;
        };
        return { h: zero(st.h), c: st.c ? zero(st.c) : null };
      });
    }
    // feedsOf takes batch-major x ([T, B, I] swapped; the exported file, time-major, swaps it back)
    const I = c.sizes[0],
      H = c.sizes[L];
    const out = resultsOf(imp, await s.run(feedsOf(imp, swap01(stepsOf(c, t0, n), n, B, I), B, n, state, c.seq_lens)), B, n, L);
    y.push(...swap01(out.y!, B, n, H)); // back to time-major, as the golden y
    state = out.states.map((st) => ({ h: st.h!, c: st.c }));
    t0 += n;
  }
  expectGolden(c, y, state, what);
  imp.cell.dispose();
}

describe('golden vectors through every converter and file path', () => {
  for (const c of cases) {
    for (const via of convertersOf(c)) {
      it(`${c.name}: ${via} arrays -> Recur -> .onnx (Recur again and ONNX Runtime)${pytorchExpresses(c) ? ', .pt and safetensors (Recur again)' : ''}`, async () => {
        const stack = stackOf(c, via);
        await recurRun(c, stack, `${via} arrays`);
        const onnxBytes = exportOnnx(stack, { inputLayout: 'time-major', sequenceLengths: Boolean(c.seq_lens) });
        await recurRun(c, importOnnx(onnxBytes).cell, `${via} -> .onnx -> Recur`);
        await ortRun(c, onnxBytes, `${via} -> .onnx -> ONNX Runtime`);
        if (pytorchExpresses(c)) {
          for (const format of ['pt', 'safetensors'] as const) {
            await recurRun(c, fromPyTorchFiles(pyTorchFiles(stack, c, format), c), `${via} -> ${format} -> Recur`);
          }
        } else {
          // PyTorch has no reset-before GRU: refused by name, never written as another function
          expect(() => savePyTorchRNN(stack)).toThrow(RecurError);
        }
        stack.dispose();
      });
    }
  }
});

describe('Keras (and every other layout) -> Recur -> .pt -> real PyTorch', () => {
  // CI installs PyTorch (scripts/install-system-deps.sh); without it, a local run says so
  it.skipIf(!torchHere)(
    'torch.load + load_state_dict + forward (packed sequences where the case has lengths) reproduce every golden case',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'recur-round-trip-'));
      const manifest: unknown[] = [];
      const names: string[] = [];
      for (const c of cases.filter(pytorchExpresses)) {
        for (const via of convertersOf(c)) {
          const stack = stackOf(c, via);
          const files = pyTorchFiles(stack, c, 'pt').map((bytes, i) => {
            const path = join(dir, `${c.name}.${via}.${i}.pt`);
            writeFileSync(path, bytes);
            return path;
          });
          const H = c.sizes.slice(1);
          manifest.push({
            files,
            kind: c.cell,
            nonlinearity: c.activation ?? 'tanh',
            sizes: c.sizes,
            layers_per_file: uniform(c) ? H.length : 1,
            batch: c.batch,
            chunks: chunksOf(c),
            reset_rows: c.reset_rows ?? null,
            seq_lens: c.seq_lens ?? null,
            x: c.x,
            h0: c.h0,
            c0: c.c0,
          });
          names.push(`${c.name} via ${via}`);
          stack.dispose();
        }
      }
      writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
      const script = fileURLToPath(new URL('torch-run.py', import.meta.url));
      const run = spawnSync(python, [script, join(dir, 'manifest.json')], {
        encoding: 'utf8',
        env: { ...process.env, OMP_NUM_THREADS: '1' },
      });
      expect(run.status, run.stderr).toBe(0);
      const results = JSON.parse(run.stdout) as { y: number[]; h: number[][]; c: number[][] | null }[];
      expect(results).toHaveLength(names.length);
      results.forEach((r, i) => {
        const c = cases.find((k) => names[i].startsWith(`${k.name} `))!;
        expectGolden(
          c,
          r.y,
          r.h.map((h, l) => ({ h: Float64Array.from(h), c: r.c ? Float64Array.from(r.c[l]) : null })),
          `${names[i]} -> .pt -> PyTorch`,
        );
      });
    },
  );
});
