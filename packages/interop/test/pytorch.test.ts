// PyTorch files made by real PyTorch (scripts/make_fixtures.py) load into Recur and reproduce PyTorch's outputs;
// what Recur writes, torch.load reads back; damaged and malicious files are refused by name.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GRUCell, LSTMCell, MultiRNNCell, setBackend } from '@recur/core';
import '@recur/backend-cpu';
import { describe, expect, it } from 'vitest';
import { loadPyTorchRNN, readStateDict, savePyTorchRNN } from '../src/index.js';
import { readZip } from '../src/pytorch/zip.js';
import { expectPyTorchOutputs, expected, fields, fixture, python, torchHere } from './helpers.js';

setBackend('cpu');

const FILES: Record<string, string[]> = {
  'lstm-2layer': ['lstm-2layer.pt', 'lstm-2layer.f32.safetensors', 'lstm-2layer-views.pt'], // views: strided weights, biases sharing one storage
  gru: ['gru.pt', 'gru.f32.safetensors', 'gru.f16.safetensors'],
  'rnn-relu-nobias': ['rnn-relu-nobias.pt', 'rnn-relu-nobias.f32.safetensors', 'rnn-relu-nobias.bf16.safetensors'],
  'rnn-tanh': ['rnn-tanh.pt', 'rnn-tanh.f32.safetensors'],
};

describe('PyTorch files made by PyTorch ' + expected.torch, () => {
  for (const [model, files] of Object.entries(FILES)) {
    const m = expected.models[model];
    for (const file of files) {
      it(`${file} loads as ${m.num_layers} ${m.kind} layer(s) and reproduces PyTorch's outputs over two chunks (1e-5)`, async () => {
        const loaded = loadPyTorchRNN(fixture(file), { nonlinearity: m.kind === 'rnn' ? m.nonlinearity : undefined });
        expect(loaded).toMatchObject({
          kind: m.kind,
          inputSize: m.input_size,
          hiddenSize: m.hidden_size,
          numLayers: m.num_layers,
          bias: m.bias,
        });
        await expectPyTorchOutputs(loaded.cell, m);
        loaded.cell.dispose();
      });
    }
  }

  it("a whole model's file: the RNN found by its prefix among other modules and int64 buffers", () => {
    const tensors = readStateDict(fixture('tagger-model.pt'));
    expect(tensors.get('norm.num_batches_tracked')).toMatchObject({ dtype: 'I64', shape: [], data: null });
    const { cell, prefix, kind } = loadPyTorchRNN(fixture('tagger-model.pt'));
    expect({ prefix, kind, units: cell.units }).toEqual({ prefix: 'encoder.', kind: 'lstm', units: 4 });
    expect(Array.from(cell.layers[0].getWeights().wHh)).toEqual(Array.from(tensors.get('encoder.weight_hh_l0')!.data!));
    cell.dispose();
  });

  it('refuses proj_size, bidirectional and an RNN nonlinearity given to an LSTM by name', () => {
    expect(fields(() => loadPyTorchRNN(fixture('lstm-proj.pt')))).toMatchObject({
      name: 'UnsupportedOptionError',
      actual: expect.stringContaining('proj_size'),
    });
    expect(fields(() => loadPyTorchRNN(fixture('gru-bidirectional.f32.safetensors')))).toMatchObject({
      name: 'UnsupportedOptionError',
      actual: expect.stringContaining('bidirectional=True'),
    });
    expect(fields(() => loadPyTorchRNN(fixture('gru.pt'), { nonlinearity: 'relu' }))).toMatchObject({ argument: 'options.nonlinearity' });
    expect(fields(() => loadPyTorchRNN(fixture('tagger-model.pt'), { prefix: 'head.' }))).toMatchObject({
      argument: 'options.prefix',
      expected: 'one of "encoder."',
    });
  });

  it("refuses a pickle that would run os.system in Python's pickle, by name, without running anything", () => {
    expect(fields(() => readStateDict(fixture('exploit.pt')))).toMatchObject({
      argument: 'file',
      actual: expect.stringMatching(/posix\.system|os\.system/),
    });
  });

  it('refuses truncated and damaged files, naming what is wrong', () => {
    const good = new Uint8Array(fixture('lstm-2layer.pt'));
    expect(fields(() => readStateDict(good.subarray(0, good.length - 30))).actual).toContain('without a zip directory');
    for (const entry of ['lstm-2layer/data.pkl', 'lstm-2layer/data/3']) {
      const at = readZip(good).get(entry)!.read().byteOffset + 5,
        flipped = good.slice();
      flipped[at] ^= 0x40; // one bit of the pickle, then of a weight storage
      expect(fields(() => readStateDict(flipped)).actual).toBe(`entry ${entry}: CRC-32 mismatch (the file is damaged)`);
    }
    const st = new Uint8Array(fixture('gru.f16.safetensors'));
    expect(fields(() => readStateDict(st.subarray(0, st.length - 2))).actual).toContain('data bytes');
    expect(fields(() => readStateDict(new Uint8Array(3))).actual).toContain('too short');
  });
});

describe('what Recur writes, PyTorch reads', () => {
  // CI installs PyTorch (scripts/install-system-deps.sh); without it, a local run says so
  it.skipIf(!torchHere)('torch.load + load_state_dict of savePyTorchRNN(.pt and safetensors) computes what Recur computes', async () => {
    const stack = new MultiRNNCell([new LSTMCell(4, { inputSize: 3, seed: 5, forgetBias: 1 }), new LSTMCell(4, { seed: 6 })]);
    const gru = new GRUCell(3, { inputSize: 2, seed: 7 });
    const dir = mkdtempSync(join(tmpdir(), 'recur-interop-'));
    writeFileSync(join(dir, 'lstm.pt'), savePyTorchRNN(stack, { prefix: 'rnn.' }));
    writeFileSync(join(dir, 'gru.safetensors'), savePyTorchRNN(gru, { format: 'safetensors' }));
    const x = Float32Array.from({ length: 2 * 5 * 3 }, (_, i) => Math.sin(i)),
      xg = Float32Array.from({ length: 2 * 5 * 2 }, (_, i) => Math.cos(i));
    const script = `
import json, struct, sys, torch
d = sys.argv[1]
sd = torch.load(d + '/lstm.pt')
lstm = torch.nn.LSTM(3, 4, num_layers=2, batch_first=True)
lstm.load_state_dict({k[4:]: v for k, v in sd.items()})
gru = torch.nn.GRU(2, 3, batch_first=True)
raw = open(d + '/gru.safetensors', 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]; header = json.loads(raw[8:8 + n])
gru.load_state_dict({k: torch.frombuffer(bytearray(raw[8 + n + v['data_offsets'][0]:8 + n + v['data_offsets'][1]]), dtype=torch.float32).reshape(v['shape'])
                     for k, v in header.items() if k != '__metadata__'})
x = torch.tensor(${JSON.stringify(Array.from(x))}).reshape(2, 5, 3)
xg = torch.tensor(${JSON.stringify(Array.from(xg))}).reshape(2, 5, 2)
with torch.no_grad():
    print(json.dumps({'lstm': lstm(x)[0].reshape(-1).tolist(), 'gru': gru(xg)[0].reshape(-1).tolist()}))
`;
    const run = spawnSync(python, ['-c', script, dir], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
    expect(run.status, run.stderr).toBe(0);
    const torchOut = JSON.parse(run.stdout) as { lstm: number[]; gru: number[] };
    const { StatefulRNN } = await import('@recur/core');
    const a = new StatefulRNN(stack, { batch: 2 }),
      b = new StatefulRNN(gru, { batch: 2 });
    const ours = { lstm: Array.from(await a.predict(x, [2, 5, 3])), gru: Array.from(await b.predict(xg, [2, 5, 2])) };
    for (const k of ['lstm', 'gru'] as const) {
      ours[k].forEach((v, i) => expect(Math.abs(v - torchOut[k][i])).toBeLessThan(1e-6));
    }
    a.dispose();
    b.dispose();
    stack.dispose();
    gru.dispose();
  });
});

describe('scripts/bench-files.mjs (the docs/benchmarks.md command)', () => {
  it.skipIf(!torchHere)('runs against PyTorch and prints a ratio per call', () => {
    const script = new URL('../scripts/bench-files.mjs', import.meta.url).pathname;
    const run = spawnSync(process.execPath, [script, '--hidden', '16', '--reps', '1'], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/loadPyTorchRNN\s+[\d.]+ ms\s+[\d.]+x PyTorch's load/);
    expect(run.stdout.split('\n').filter((l) => l.includes("x PyTorch's load"))).toHaveLength(5);
  });
});
