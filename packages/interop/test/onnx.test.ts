// ONNX: files exported by torch.onnx.export import into Recur and reproduce PyTorch and ONNX Runtime; Recur stacks
// exported with explicit state run in onnxruntime-node with the state fed back and agree with StatefulRNN (1e-5);
// other ops, other directions and damaged files are refused by name.
import {
  BasicRNNCell,
  GRUCell,
  LSTMCell,
  MultiRNNCell,
  StatefulRNN,
  UnsupportedOptionError,
  setBackend,
  toONNX,
  type HostLayerState,
  type LayerCell,
} from '@recur/core';
import '@recur/backend-cpu';
import { describe, expect, it } from 'vitest';
import { exportOnnx, importOnnx } from '../src/index.js';
import { floatTensor, intTensor, onnx } from '../src/onnx/tensors.js';
import { chunkOf, expectClose, expectPyTorchOutputs, expected, fields, fixture, layerOf } from './helpers.js';
import { feedsOf, resultsOf, session } from './onnx-helpers.js';

setBackend('cpu');

const TORCH_EXPORTS = ['lstm-2layer', 'gru', 'rnn-relu-nobias', 'rnn-tanh'];

describe('ONNX files exported by torch.onnx.export (PyTorch ' + expected.torch + ')', () => {
  for (const name of TORCH_EXPORTS) {
    const m = expected.models[name];
    it(`${name}.onnx imports (input ${m.batch_first ? 'batch' : 'time'}-major, state from its inputs) and reproduces PyTorch and ONNX Runtime over two carried chunks (1e-5)`, async () => {
      const bytes = fixture(`${name}.onnx`);
      const imp = importOnnx(bytes);
      expect(imp.input).toEqual({ name: 'x', layout: m.batch_first ? 'batch-major' : 'time-major' });
      expect(imp.cell.layers.map((l) => l.kind)).toEqual(Array(m.num_layers).fill(m.kind));
      expect(imp.initialState).toHaveLength(m.num_layers * (m.kind === 'lstm' ? 2 : 1));
      await expectPyTorchOutputs(imp.cell, m);

      // ONNX Runtime on the same file, its state outputs fed back; Recur must agree with it too
      const B = m.batch,
        H = m.hidden_size,
        s = await session(bytes);
      let state: HostLayerState[] = Array.from({ length: m.num_layers }, (_, l) => ({
        h: layerOf(m.h0, l, B, H),
        c: m.c0 ? layerOf(m.c0, l, B, H) : null,
      }));
      const rnn = new StatefulRNN(imp.cell, { batch: B });
      rnn.setState(state);
      for (let k = 0; k < 2; k++) {
        const x = chunkOf(m, k),
          T = x.length / (B * m.input_size);
        const ortOut = resultsOf(imp, await s.run(feedsOf(imp, x, B, T, state)), B, T, m.num_layers);
        const ours = await rnn.predict(x, [B, T, m.input_size]);
        expectClose(ours, ortOut.y!, 1e-5, `chunk ${k} outputs vs ONNX Runtime`);
        expectClose(ortOut.y!, m.chunks[k].y, 1e-5, `chunk ${k}: ONNX Runtime vs PyTorch`);
        state = ortOut.states.map((st) => ({ h: st.h!, c: st.c }));
        const recurState = await rnn.readState();
        recurState.forEach((st, l) => expectClose(st.h, state[l].h, 1e-5, `chunk ${k} layer ${l} h`));
      }
      rnn.dispose();
      imp.cell.dispose();
    });
  }

  it('a graph that builds its zero initial state (Shape, Gather, Unsqueeze, Concat, ConstantOfShape) starts from zeros like ONNX Runtime', async () => {
    const bytes = fixture('gru-zero-state.onnx');
    const imp = importOnnx(bytes);
    expect(imp.initialState).toEqual([]);
    expect(imp.input.layout).toBe('time-major');
    const B = 3,
      T = 4,
      x = Float32Array.from({ length: B * T * 3 }, (_, i) => Math.sin(i * 0.7));
    const ortOut = resultsOf(imp, await (await session(bytes)).run(feedsOf(imp, x, B, T, [])), B, T, 2);
    const rnn = new StatefulRNN(imp.cell, { batch: B });
    expectClose(await rnn.predict(x, [B, T, 3]), ortOut.y!, 1e-5, 'outputs vs ONNX Runtime');
    const st = await rnn.readState();
    st.forEach((s, l) => expectClose(s.h, ortOut.states[l].h!, 1e-5, `layer ${l} final h`));
    rnn.dispose();
  });
});

/** Stacks to export: every kind and variant, a TF1 forget bias, mixed kinds and sizes. */
const STACKS: Record<string, () => LayerCell[]> = {
  'LSTM x2 (forgetBias 1)': () => [new LSTMCell(6, { inputSize: 4, seed: 1, forgetBias: 1 }), new LSTMCell(6, { seed: 2 })],
  'GRU reset-after + GRU reset-before': () => [new GRUCell(5, { inputSize: 4, seed: 3 }), new GRUCell(3, { seed: 4, resetAfter: false })],
  'RNN relu + LSTM + RNN tanh': () => [
    new BasicRNNCell(5, { inputSize: 4, seed: 5, activation: 'relu' }),
    new LSTMCell(4, { seed: 6 }),
    new BasicRNNCell(3, { seed: 7 }),
  ],
};

describe('exportOnnx: state as explicit inputs and outputs, run in onnxruntime-node', () => {
  for (const [label, make] of Object.entries(STACKS)) {
    for (const layout of ['batch-major', 'time-major'] as const) {
      it(`${label}, ${layout}: three chunks with the state fed back agree with StatefulRNN (1e-5)`, async () => {
        const stack = new MultiRNNCell(make());
        const bytes = exportOnnx(stack, { inputLayout: layout });
        const imp = importOnnx(bytes); // our own file through our importer: the mapping the feeds follow
        expect(imp.input.layout).toBe(layout);
        imp.cell.layers.forEach((l, i) => {
          const a = l.getWeights(),
            b = stack.layers[i].getWeights();
          if (!(stack.layers[i] instanceof LSTMCell && (stack.layers[i] as LSTMCell).forgetBias))
            expect(Array.from(a.bIh)).toEqual(Array.from(b.bIh));
          expect(Array.from(a.wHh)).toEqual(Array.from(b.wHh));
        });
        const s = await session(bytes);
        const B = 3,
          I = 4,
          L = stack.layers.length;
        const rnn = new StatefulRNN(stack, { batch: B });
        rnn.setState(
          stack.layers.map((l, i) => ({
            h: Float32Array.from({ length: B * l.units }, (_, j) => Math.cos(j + i) * 0.5),
            c: l.kind === 'lstm' ? Float32Array.from({ length: B * l.units }, (_, j) => Math.sin(j - i)) : null,
          })),
        );
        let state = await rnn.readState();
        for (const [k, T] of [5, 1, 3].entries()) {
          const x = Float32Array.from({ length: B * T * I }, (_, i) => Math.sin(i * 0.37 + k));
          const ortOut = resultsOf(imp, await s.run(feedsOf(imp, x, B, T, state)), B, T, L);
          expectClose(await rnn.predict(x, [B, T, I]), ortOut.y!, 1e-5, `chunk ${k} outputs`);
          state = ortOut.states.map((st) => ({ h: st.h!, c: st.c }));
          (await rnn.readState()).forEach((st, l) => {
            expectClose(st.h, state[l].h, 1e-5, `chunk ${k} layer ${l} h`);
            if (st.c) expectClose(st.c, state[l].c!, 1e-5, `chunk ${k} layer ${l} c`);
          });
        }
        rnn.dispose();
        stack.dispose();
      });
    }
  }

  it('with sequence_lens: rows of different lengths stop where Recur stops them', async () => {
    const stack = new MultiRNNCell([new LSTMCell(4, { inputSize: 3, seed: 8 }), new GRUCell(4, { seed: 9 })]);
    const bytes = exportOnnx(stack, { sequenceLengths: true });
    const imp = importOnnx(bytes);
    expect(imp.sequenceLengths).toBe('sequence_lens');
    const B = 3,
      T = 5,
      lengths = [5, 2, 4];
    const x = Float32Array.from({ length: B * T * 3 }, (_, i) => Math.cos(i * 0.3));
    const rnn = new StatefulRNN(stack, { batch: B });
    const state = await rnn.readState();
    const ortOut = resultsOf(imp, await (await session(bytes)).run(feedsOf(imp, x, B, T, state, lengths)), B, T, 2);
    expectClose(await rnn.predict(x, [B, T, 3], { sequenceLength: lengths }), ortOut.y!, 1e-5, 'outputs');
    (await rnn.readState()).forEach((st, l) => expectClose(st.h, ortOut.states[l].h!, 1e-5, `layer ${l} h`));
    rnn.dispose();
    stack.dispose();
  });

  it('refuses what it cannot write: an unbuilt cell, an unknown option', () => {
    expect(fields(() => exportOnnx(new LSTMCell(4))).actual).toBe('an unbuilt cell');
    expect(fields(() => exportOnnx(new LSTMCell(4, { inputSize: 2 }), { inputLayout: 'ntc' as never })).argument).toBe(
      'options.inputLayout',
    );
  });
});

describe('layout 1 (batch-first recurrent nodes)', () => {
  // ONNX Runtime refuses layout 1 ("Batchwise recurrent operations (layout == 1) are not supported"): the reference
  // is ONNX Runtime on the same weights in a layout-0 graph (exportOnnx: Transposes around the node)
  it('a GRU node with layout 1 reads [B, T, I], and its outputs are described batch-first', async () => {
    const H = 3,
      I = 2,
      B = 2,
      T = 4;
    const cell = new GRUCell(H, { inputSize: I, seed: 3 });
    const { W, R, B: bias } = toONNX('gru', cell.getWeights(), I, H);
    const int = (name: string, i: number) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i });
    const graph = onnx.GraphProto.create({
      name: 'layout1',
      node: [
        onnx.NodeProto.create({
          name: 'gru',
          opType: 'GRU',
          input: ['x', 'W', 'R', 'B'],
          output: ['Y', 'Y_h'],
          attribute: [int('hidden_size', H), int('linear_before_reset', 1), int('layout', 1)],
        }),
        onnx.NodeProto.create({ name: 'squeeze', opType: 'Squeeze', input: ['Y', 'axes'], output: ['y'] }),
      ],
      initializer: [
        floatTensor('W', [1, 3 * H, I], W),
        floatTensor('R', [1, 3 * H, H], R),
        floatTensor('B', [1, 6 * H], bias),
        intTensor('axes', [2]),
      ],
      input: [onnx.ValueInfoProto.create({ name: 'x', type: { tensorType: { elemType: 1 } } })],
      output: [onnx.ValueInfoProto.create({ name: 'y' }), onnx.ValueInfoProto.create({ name: 'Y_h' })],
    });
    const imp = importOnnx(
      onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 7, opsetImport: [{ domain: '', version: 14 }], graph })).finish(),
    );
    expect(imp.input.layout).toBe('batch-major');
    expect(imp.outputs).toEqual([
      { name: 'y', kind: 'sequence', axes: ['batch', 'time', 'features'] },
      { name: 'Y_h', kind: 'state', which: 'h', layers: [0], axes: ['batch', 'layers', 'features'] },
    ]);
    const x = Float32Array.from({ length: B * T * I }, (_, i) => Math.sin(i));
    const reference = exportOnnx(cell),
      refImport = importOnnx(reference);
    const zero = [{ h: new Float32Array(B * H) }];
    const expectedY = resultsOf(refImport, await (await session(reference)).run(feedsOf(refImport, x, B, T, zero)), B, T, 1).y!;
    const rnn = new StatefulRNN(imp.cell, { batch: B });
    expectClose(await rnn.predict(x, [B, T, I]), expectedY, 1e-5, 'layout-1 import vs ONNX Runtime on the layout-0 graph');
    rnn.dispose();
    for (const c of [cell, imp.cell, refImport.cell]) c.dispose();
  });
});

describe('importOnnx refuses what is not a recurrent stack, by name', () => {
  const edit = (name: string, change: (m: ReturnType<typeof onnx.ModelProto.decode>) => void) => {
    const m = onnx.ModelProto.decode(fixture(name));
    change(m);
    return onnx.ModelProto.encode(m).finish();
  };

  it('an op outside the glue list', () => {
    const bytes = edit('lstm-2layer.onnx', (m) =>
      m.graph!.node!.push(onnx.NodeProto.create({ name: 'act', opType: 'Relu', input: ['y'], output: ['z'] })),
    );
    expect(fields(() => importOnnx(bytes))).toMatchObject({ argument: 'node act (Relu)', actual: 'op Relu' });
  });

  it('a bidirectional node, clip, peepholes', () => {
    const direction = edit('gru.onnx', (m) => {
      const node = m.graph!.node!.find((n) => n.opType === 'GRU')!;
      node.attribute!.push(
        onnx.AttributeProto.create({
          name: 'direction',
          type: onnx.AttributeProto.AttributeType.STRING,
          s: new TextEncoder().encode('bidirectional'),
        }),
      );
    });
    expect(() => importOnnx(direction)).toThrow(UnsupportedOptionError);
    expect(fields(() => importOnnx(direction)).actual).toBe('"bidirectional"');
    const clip = edit('gru.onnx', (m) => {
      m.graph!.node!.find((n) => n.opType === 'GRU')!.attribute!.push(
        onnx.AttributeProto.create({ name: 'clip', type: onnx.AttributeProto.AttributeType.FLOAT, f: 3 }),
      );
    });
    expect(fields(() => importOnnx(clip)).argument).toMatch(/\(GRU\)\.clip$/);
  });

  it("an intermediate layer's sequence as a graph output", () => {
    const bytes = edit('lstm-2layer.onnx', (m) => {
      const layer0 = m.graph!.node!.find((n) => n.opType === 'LSTM')!;
      m.graph!.output!.push(onnx.ValueInfoProto.create({ name: layer0.output![0] }));
    });
    expect(fields(() => importOnnx(bytes)).actual).toBe("layer 0's sequence (Recur returns the last layer's)");
  });

  it('truncated and damaged files', () => {
    const good = new Uint8Array(fixture('lstm-2layer.onnx'));
    for (const bad of [
      good.subarray(0, good.length >> 1),
      good.subarray(0, 10),
      Uint8Array.from({ length: 64 }, (_, i) => (i * 97) & 0xff),
    ]) {
      expect(fields(() => importOnnx(bad)).argument).toMatch(/^(file|initializer .*)$/);
    }
  });
});
