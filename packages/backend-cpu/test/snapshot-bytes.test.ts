// Snapshots as bytes: a stream continues bit for bit in another object and in another process; corrupt,
// truncated and mismatched snapshots are refused by name and change nothing.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GRUCell, LSTMCell, MultiRNNCell, RecurError, ShapeError, StatefulRNN } from '@recur/core';
import { describe, expect, it } from 'vitest';
import '../src/index.js';

const I = 3;
const stack = () =>
  new MultiRNNCell([new LSTMCell(5, { backend: 'cpu', inputSize: I, seed: 11 }), new GRUCell(4, { backend: 'cpu', seed: 12 })]);
const chunk = (rows: number, seed: number) => Float32Array.from({ length: rows * 4 * I }, (_, i) => Math.sin(seed * 7 + i));
/** Runs values through `rnn`, returning the outputs' values. */
const run = (rnn: StatefulRNN, values: Float32Array) => rnn.predictSync(values, [rnn.batch, 4, I]);
const rowOf = (out: Float32Array, row: number, H = 4) => Array.from(out.subarray(row * 4 * H, (row + 1) * 4 * H));

describe('snapshot() as bytes', () => {
  it('restores into another object, which continues bit for bit', async () => {
    const cell = stack();
    const a = new StatefulRNN(cell, { streams: ['x', 'y'] });
    run(a, chunk(2, 1));
    const bytes = (await a.snapshot()).slice();
    expect(new TextDecoder().decode(bytes.subarray(0, 4))).toBe('RCRS');
    const b = new StatefulRNN(cell, { batch: 5 });
    b.restore(bytes);
    expect(b.streams).toEqual(['x', 'y']);
    expect(Array.from(run(b, chunk(2, 2)))).toEqual(Array.from(run(a, chunk(2, 2))));
    a.dispose();
    b.dispose();
    cell.dispose();
  });

  it('migrates one stream into an object with streams of its own, which keep their state exactly', async () => {
    const cell = stack();
    const a = new StatefulRNN(cell, { streams: ['a', 'b', 'c'] }),
      b = new StatefulRNN(cell, { streams: ['x'] });
    run(a, chunk(3, 3));
    run(b, chunk(1, 4));
    const alone = new StatefulRNN(cell, { streams: ['x'] }); // b's twin, for x's own continuation
    alone.restore(await b.snapshot());
    expect(b.restoreStreams(await a.snapshot({ streams: ['b'] }))).toEqual(['b']);
    expect(b.streams).toEqual(['x', 'b']);
    const next = chunk(3, 5),
      outA = run(a, next);
    const outB = run(b, Float32Array.of(...chunk(1, 6), ...next.subarray(4 * I, 8 * I)));
    expect(rowOf(outB, 1)).toEqual(rowOf(outA, 1)); // b's row continues as it did in a
    expect(rowOf(outB, 0)).toEqual(Array.from(run(alone, chunk(1, 6)))); // x untouched by the migration
    // taken streams must be free, and chosen from the snapshot
    expect(() => b.restoreStreams(new Uint8Array(0))).toThrow(RecurError);
    await expect(async () => b.restoreStreams(await a.snapshot({ streams: ['b'] }))).rejects.toThrow(
      /options.streams\[0\]: expected a stream id not in use, got "b", already in use/,
    );
    for (const r of [a, b, alone]) r.dispose();
    cell.dispose();
  });

  it('continues bit for bit in another process', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'recur-snapshot-'));
    const here = fileURLToPath(new URL('..', import.meta.url));
    // process 1: two chunks, then the bytes to a file
    const script = `
      import { writeFileSync } from 'node:fs';
      import { GRUCell, LSTMCell, MultiRNNCell, StatefulRNN } from '@recur/core';
      import './dist/index.js';
      const cell = new MultiRNNCell([new LSTMCell(5, { backend: 'cpu', inputSize: ${I}, seed: 11 }), new GRUCell(4, { backend: 'cpu', seed: 12 })]);
      const rnn = new StatefulRNN(cell, { streams: ['p', 'q'] });
      for (const seed of [1, 2]) rnn.predictSync(Float32Array.from({ length: 2 * 4 * ${I} }, (_, i) => Math.sin(seed * 7 + i)), [2, 4, ${I}]);
      writeFileSync(${JSON.stringify(join(dir, 'state.rcrs'))}, await rnn.snapshot());`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: here, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    // process 2 (this one): restore and continue; against the same three chunks run here without a break
    const cell = stack();
    const restored = new StatefulRNN(cell, { batch: 1 }),
      straight = new StatefulRNN(cell, { streams: ['p', 'q'] });
    restored.restore(new Uint8Array(readFileSync(join(dir, 'state.rcrs'))));
    for (const seed of [1, 2]) run(straight, chunk(2, seed));
    expect(Array.from(run(restored, chunk(2, 3)))).toEqual(Array.from(run(straight, chunk(2, 3))));
    restored.dispose();
    straight.dispose();
    cell.dispose();
  });

  it('refuses corrupt, truncated and mismatched bytes by name, and changes nothing', async () => {
    const cell = stack();
    const rnn = new StatefulRNN(cell, { streams: ['x', 'y'] });
    run(rnn, chunk(2, 1));
    const good = await rnn.snapshot();
    const before = await rnn.readState();
    const refusal = (bytes: Uint8Array, target = rnn) => {
      try {
        target.restore(bytes);
      } catch (error) {
        expect(error).toBeInstanceOf(RecurError);
        return (error as Error).message;
      }
      return 'accepted';
    };
    const flipped = good.slice();
    flipped[good.length - 20] ^= 1;
    expect(refusal(flipped)).toMatch(
      /^snapshot: expected bytes whose CRC-32 is the stored 0x[0-9a-f]{8}, got 0x[0-9a-f]{8}: the bytes were changed or cut$/,
    );
    expect(refusal(good.subarray(0, good.length - 9))).toMatch(/CRC-32|bytes/);
    expect(refusal(good.subarray(0, 10))).toMatch(/at least 16 bytes, got 10 bytes/);
    expect(refusal(new TextEncoder().encode('PK\u0003\u0004 not a snapshot at all'))).toMatch(/a Recur snapshot \(starting "RCRS"\)/);
    const v3 = good.slice();
    new DataView(v3.buffer).setUint16(4, 3, true);
    expect(refusal(v3)).toMatch(/^snapshot format version: expected 2 \(the one this Recur reads\), got 3/);
    // a cell of another shape: named layer by layer
    const other = new MultiRNNCell([
      new LSTMCell(5, { backend: 'cpu', inputSize: I, seed: 11 }),
      new GRUCell(4, { backend: 'cpu', seed: 12, resetAfter: false }),
    ]);
    const elsewhere = new StatefulRNN(other, { batch: 2 });
    const mismatch = (() => {
      try {
        elsewhere.restore(good);
      } catch (error) {
        return error as Error;
      }
    })();
    expect(mismatch).toBeInstanceOf(ShapeError);
    expect(mismatch!.message).toBe(
      "snapshot layers[1]: expected gru reset_before of 4 units (this cell's), got gru reset_after of 4 units",
    );
    // nothing changed: the same streams and state, bit for bit
    expect(rnn.streams).toEqual(['x', 'y']);
    const after = await rnn.readState();
    after.forEach((s, l) => expect(Array.from(s.h)).toEqual(Array.from(before[l].h)));
    for (const r of [rnn, elsewhere]) r.dispose();
    cell.dispose();
    other.dispose();
  });
});
