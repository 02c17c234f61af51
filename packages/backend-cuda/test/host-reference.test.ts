// The kernels' gate math and indexing (native/cells.h), run on the CPU through the addon's host reference, against
// PyTorch's float64 golden vectors: what CI can prove without a GPU.
import { defaultFixtures } from '@recur/conformance/node';
import type { GoldenCase } from '@recur/conformance';
import { describe, expect, it } from 'vitest';
import { loadAddon } from '../src/addon.js';

const load = loadAddon();
const kindOf = (c: GoldenCase): number =>
  c.cell === 'lstm' ? 0 : c.cell === 'gru' ? (c.gru_variant === 'reset_before' ? 2 : 1) : c.activation === 'relu' ? 4 : 3;

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return a.length === b.length ? m : Infinity;
};

/** The whole case through the host reference, layer by layer (a reset before step t runs as two calls). */
function runCase(c: GoldenCase) {
  const addon = load.addon!;
  const B = c.batch, T = c.time;
  let x = Float32Array.from(c.x);
  const hT: Float32Array[] = [], cT: Float32Array[] = [];
  c.layers.forEach((layer, l) => {
    const I = c.sizes[l], H = c.sizes[l + 1];
    const common = {
      kind: kindOf(c), inputSize: I, units: H, batch: B, forgetBias: 0,
      wIh: Float32Array.from(layer.w_ih), wHh: Float32Array.from(layer.w_hh), bIh: Float32Array.from(layer.b_ih), bHh: Float32Array.from(layer.b_hh),
      seqLens: c.seq_lens ? Int32Array.from(c.seq_lens) : null,
    };
    const split = c.reset_rows ? c.reset_rows.before_step : T;
    const first = addon.hostForward({ ...common, time: split, x: x.subarray(0, split * B * I), h0: Float32Array.from(c.h0[l]), c0: c.c0 ? Float32Array.from(c.c0[l]) : null });
    let y = first.y, h = first.h, cs = first.c;
    if (c.reset_rows) {
      for (const r of c.reset_rows.rows) {
        h.fill(0, r * H, (r + 1) * H);
        cs.fill(0, r * H, (r + 1) * H);
      }
      // seq_lens count within one call of the whole case: the second call's lengths are what remains
      const rest = common.seqLens ? Int32Array.from(common.seqLens, (n) => Math.max(0, n - split)) : null;
      const second = addon.hostForward({ ...common, seqLens: rest, time: T - split, x: x.subarray(split * B * I), h0: h, c0: c.c0 ? cs : null });
      y = Float32Array.from([...y, ...second.y]);
      h = second.h;
      cs = second.c;
    }
    hT.push(h);
    cT.push(cs);
    x = y;
  });
  return { y: x, hT, cT };
}

describe('host reference of the CUDA kernels\' cell math (native/cells.h) against the golden vectors', () => {
  if (!load.addon) {
    it.skip(`the host reference (n/a: the addon was not built: ${load.reason})`, () => {});
    return;
  }
  const cases = defaultFixtures().cases;
  it('covers every cell kind and variant', () => {
    expect(new Set(cases.map(kindOf))).toEqual(new Set([0, 1, 2, 3, 4]));
  });
  for (const c of cases) {
    it(c.name, () => {
      const r = runCase(c);
      expect(maxDiff(r.y, c.y)).toBeLessThanOrEqual(2e-5);
      c.layers.forEach((_, l) => {
        expect(maxDiff(r.hT[l], c.hT[l])).toBeLessThanOrEqual(2e-5);
        if (c.cT) expect(maxDiff(r.cT[l], c.cT[l])).toBeLessThanOrEqual(2e-5);
      });
    });
  }
});
