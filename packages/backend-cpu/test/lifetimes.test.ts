// What makes tensor lifetimes cheap to get right: tidy(), `using`, the host-array predict(), and an error that says
// who freed a tensor (the TF1 habit of keeping new_states after getStateUpdateOp).
import {
  DisposedTensorError,
  LSTMCell,
  LSTMStateTuple,
  RecurError,
  StatefulRNN,
  dynamicRnn,
  getStateUpdateOp,
  getStateVariables,
  memory,
  tensor,
  tidy,
} from '@recur/core';
import { describe, expect, it } from 'vitest';
import '../src/index.js';

const B = 2,
  T = 3,
  I = 4,
  H = 5;
const frame = (seed: number) => Float32Array.from({ length: B * T * I }, (_, i) => Math.sin(seed + i));
const live = () => memory('cpu').numTensors;
/** One call first: the cell's weight upload counts in memory() from then on. */
const warm = (rnn: StatefulRNN) => {
  const x = tensor(frame(0), [B, T, I], { backend: 'cpu' });
  rnn.run(x).dispose();
  x.dispose();
};

describe('tensor lifetimes', () => {
  it('tidy() frees what the function made and did not return; state variables keep theirs; nested tidies hand over', () => {
    const cell = new LSTMCell(H, { backend: 'cpu', inputSize: I, seed: 1 });
    const rnn = new StatefulRNN(cell, { batch: B });
    warm(rnn);
    const before = live();
    const y = tidy(() => {
      const x = tensor(frame(1), [B, T, I], { backend: 'cpu' });
      const inner = tidy(() => {
        const scratch = tensor(frame(2), [B, T, I], { backend: 'cpu' });
        expect(scratch.isDisposed).toBe(false);
        return { out: rnn.run(x), scratch };
      });
      expect(inner.scratch.isDisposed).toBe(false); // returned by the inner tidy: kept, handed to this one
      return inner.out;
    });
    expect(y.isDisposed).toBe(false);
    expect(live()).toBe(before + 1); // only y: x and scratch freed; the carried state replaced, not leaked
    expect((rnn.state as LSTMStateTuple).h.isDisposed).toBe(false);
    y.dispose();
    // a throw frees what was made; a Promise is refused
    expect(() =>
      tidy(() => {
        tensor(frame(3), [B, T, I], { backend: 'cpu' });
        throw new Error('inside');
      }),
    ).toThrow('inside');
    expect(() => tidy(async () => tensor(frame(4), [B, T, I], { backend: 'cpu' }))).toThrow(RecurError);
    expect(live()).toBe(before);
    rnn.dispose();
    cell.dispose();
  });

  it('`using` disposes tensors, state tuples and StatefulRNNs at the end of the block', () => {
    const cell = new LSTMCell(H, { backend: 'cpu', inputSize: I, seed: 1 });
    const before = live();
    {
      using x = tensor(frame(1), [B, T, I], { backend: 'cpu' });
      using rnn = new StatefulRNN(cell, { batch: B });
      using y = rnn.run(x);
      expect(y.shape).toEqual([B, T, H]);
    }
    expect(live()).toBe(before);
    cell.dispose();
  });

  it('predict(): host values in, host values out, state carried, nothing left live', async () => {
    const cell = new LSTMCell(H, { backend: 'cpu', inputSize: I, seed: 2 });
    const a = new StatefulRNN(cell, { batch: B }),
      b = new StatefulRNN(cell, { batch: B });
    warm(a);
    warm(b);
    const before = live();
    const first = await a.predict(frame(1), [B, T, I]),
      second = a.predictSync(frame(2), [B, T, I]);
    expect(live()).toBe(before);
    // the same through run() on a twin: equal bits, the state carried between the two calls
    for (const [values, out] of [
      [frame(1), first],
      [frame(2), second],
    ] as const) {
      const x = tensor(values, [B, T, I], { backend: 'cpu' });
      const y = b.run(x);
      expect(Array.from(out)).toEqual(Array.from(y.dataSync()));
      x.dispose();
      y.dispose();
    }
    a.dispose();
    b.dispose();
    cell.dispose();
  });

  it('a tensor kept after getStateUpdateOp fails later with an error that says the state variables freed it', () => {
    const cell = new LSTMCell(H, { backend: 'cpu', inputSize: I, seed: 3 });
    const vars = getStateVariables(B, cell);
    const x = tensor(frame(1), [B, T, I], { backend: 'cpu' });
    const first = dynamicRnn(cell, x, { initialState: vars.state });
    getStateUpdateOp(vars, first.state); // TF1: the variables take new_states over
    const kept = (first.state as LSTMStateTuple).h;
    const second = dynamicRnn(cell, x, { initialState: vars.state });
    getStateUpdateOp(vars, second.state); // ...and free them when the state changes again
    let error: unknown;
    try {
      kept.dataSync();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DisposedTensorError);
    expect((error as Error).message).toMatch(/freed by .*took it over as its state and freed it when the state changed/);
    for (const t of [first.outputs, second.outputs, x]) t.dispose();
    vars.dispose();
    cell.dispose();
  });
});
