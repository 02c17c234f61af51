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
  const B = c.batch,
    T = c.time;
  let x = Float32Array.from(c.x);
  const hT: Float32Array[] = [],
    cT: Float32Array[] = [];
  c.layers.forEach((layer, l) => {
    const I = c.sizes[l],
      H = c.sizes[l + 1];
    const common = {
      kind: kindOf(c),
      inputSize: I,
      units: H,
      batch: B,
      forgetBias: 0,
      wIh: Float32Array.from(layer.w_ih),
      wHh: Float32Array.from(layer.w_hh),
      bIh: Float32Array.from(layer.b_ih),
      bHh: Float32Array.from(layer.b_hh),
      seqLens: c.seq_lens ? Int32Array.from(c.seq_lens) : null,
    };
    const split = c.reset_rows ? c.reset_rows.before_step : T;
    const first = addon.hostForward({
      ...common,
      time: split,
      x: x.subarray(0, split * B * I),
      h0: Float32Array.from(c.h0[l]),
      c0: c.c0 ? Float32Array.from(c.c0[l]) : null,
    });
    let y = first.y,
      h = first.h,
      cs = first.c;
    if (c.reset_rows) {
      for (const r of c.reset_rows.rows) {
        h.fill(0, r * H, (r + 1) * H);
        cs.fill(0, r * H, (r + 1) * H);
      }
      // seq_lens count within one call of the whole case: the second call's lengths are what remains
      const rest = common.seqLens ? Int32Array.from(common.seqLens, (n) => Math.max(0, n - split)) : null;
      const second = addon.hostForward({
        ...common,
        seqLens: rest,
        time: T - split,
        x: x.subarray(split * B * I),
        h0: h,
        c0: c.c0 ? cs : null,
      });
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

interface GoldenGradients {
  readonly dy: number[];
  readonly x: number[];
  readonly h0: number[][];
  readonly c0: number[][] | null;
  readonly layers: { w_ih: number[]; w_hh: number[]; b_ih: number[]; b_hh: number[] }[];
}

/** Max of |a − ref| / max(1, |ref|): the golden README's gradient measure. */
const maxRelative = (a: ArrayLike<number>, ref: ArrayLike<number>): number => {
  let m = a.length === ref.length ? 0 : Infinity;
  for (let i = 0; i < ref.length; i++) m = Math.max(m, Math.abs(a[i] - ref[i]) / Math.max(1, Math.abs(ref[i])));
  return m;
};

/**
 * The case's gradients through the host reference of the backward: the golden loss is Σ y·dy + ½ Σ_layers Σ h_T,
 * so every layer's dh_T is ½ and each layer's dy is the dx of the layer above.
 */
function caseGradients(c: GoldenCase) {
  const addon = load.addon!;
  const B = c.batch,
    T = c.time,
    g = c.grad as GoldenGradients;
  const common = (l: number, x: Float32Array) => {
    const layer = c.layers[l],
      I = c.sizes[l],
      H = c.sizes[l + 1];
    return {
      kind: kindOf(c),
      inputSize: I,
      units: H,
      batch: B,
      time: T,
      forgetBias: 0,
      x,
      wIh: Float32Array.from(layer.w_ih),
      wHh: Float32Array.from(layer.w_hh),
      bIh: Float32Array.from(layer.b_ih),
      bHh: Float32Array.from(layer.b_hh),
      h0: Float32Array.from(c.h0[l]),
      c0: c.c0 ? Float32Array.from(c.c0[l]) : null,
      seqLens: c.seq_lens ? Int32Array.from(c.seq_lens) : null,
    };
  };
  const inputs = [Float32Array.from(c.x)];
  for (let l = 0; l < c.layers.length - 1; l++) inputs.push(addon.hostForward(common(l, inputs[l])).y);
  let dy = Float32Array.from(g.dy);
  const layers: ReturnType<typeof addon.hostBackward>[] = [];
  for (let l = c.layers.length - 1; l >= 0; l--) {
    const r = addon.hostBackward({ ...common(l, inputs[l]), dy, dhT: new Float32Array(B * c.sizes[l + 1]).fill(0.5), dcT: null });
    layers[l] = r;
    dy = r.dx;
  }
  return { layers, dx: dy };
}

describe("host reference of the CUDA kernels' cell math, forward and backward (native/cells.h), against the golden vectors", () => {
  if (!load.addon) {
    it.skip(`the host reference (n/a: the addon was not built: ${load.reason})`, () => {});
    return;
  }
  const cases = defaultFixtures().cases;
  it('covers every cell kind and variant', () => {
    expect(new Set(cases.map(kindOf))).toEqual(new Set([0, 1, 2, 3, 4]));
  });
  for (const c of cases.filter((k) => k.grad)) {
    it(`${c.name}: gradients`, () => {
      const g = c.grad as GoldenGradients,
        r = caseGradients(c);
      expect(maxRelative(r.dx, g.x)).toBeLessThanOrEqual(1e-4);
      c.layers.forEach((_, l) => {
        const mine = r.layers[l],
          ref = g.layers[l];
        expect(maxRelative(mine.dWih, ref.w_ih), `layer ${l} w_ih`).toBeLessThanOrEqual(1e-4);
        expect(maxRelative(mine.dWhh, ref.w_hh), `layer ${l} w_hh`).toBeLessThanOrEqual(1e-4);
        expect(maxRelative(mine.dbIh, ref.b_ih), `layer ${l} b_ih`).toBeLessThanOrEqual(1e-4);
        expect(maxRelative(mine.dbHh, ref.b_hh), `layer ${l} b_hh`).toBeLessThanOrEqual(1e-4);
        expect(maxRelative(mine.dh0, g.h0[l]), `layer ${l} h0`).toBeLessThanOrEqual(1e-4);
        if (g.c0) expect(maxRelative(mine.dc0, g.c0[l]), `layer ${l} c0`).toBeLessThanOrEqual(1e-4);
      });
    });
  }
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
