import type { HostLayerState } from '@recur/core';
import * as ort from 'onnxruntime-node';
import type { OnnxImport } from '../src/index.js';

/** [B, T, F] -> [T, B, F] (and back: the same with B and T swapped). */
export function swap01(x: ArrayLike<number>, B: number, T: number, F: number): Float32Array {
  const out = new Float32Array(B * T * F);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let f = 0; f < F; f++) out[(t * B + b) * F + f] = x[(b * T + t) * F + f];
  return out;
}

/** The feeds of an imported model for one chunk: the sequence in its layout, every state input from Recur's layer states. */
export function feedsOf(imp: OnnxImport, x: Float32Array, B: number, T: number, state: readonly HostLayerState[], lengths?: number[]) {
  const I = x.length / (B * T);
  const feeds: Record<string, ort.Tensor> = {
    [imp.input.name]:
      imp.input.layout === 'batch-major'
        ? new ort.Tensor('float32', x, [B, T, I])
        : new ort.Tensor('float32', swap01(x, B, T, I), [T, B, I]),
  };
  const byInput = new Map<string, { row: number; data: ArrayLike<number> }[]>();
  for (const s of imp.initialState) {
    const data = s.which === 'h' ? state[s.layer].h : state[s.layer].c!;
    byInput.set(s.input, [...(byInput.get(s.input) ?? []), { row: s.row, data }]);
  }
  for (const [name, rows] of byInput) {
    const H = rows[0].data.length / B,
      n = Math.max(...rows.map((r) => r.row)) + 1;
    const data = new Float32Array(n * B * H);
    for (const r of rows) data.set(r.data, r.row * B * H);
    feeds[name] = new ort.Tensor('float32', data, [n, B, H]);
  }
  if (imp.sequenceLengths && lengths) feeds[imp.sequenceLengths] = new ort.Tensor('int32', Int32Array.from(lengths), [B]);
  return feeds;
}

/** The last layer's sequence as [B, T, H] and every layer's final state, from an imported model's ORT outputs. */
export function resultsOf(imp: OnnxImport, out: ort.InferenceSession.OnnxValueMapType, B: number, T: number, layers: number) {
  const states: { h: Float32Array | null; c: Float32Array | null }[] = Array.from({ length: layers }, () => ({ h: null, c: null }));
  let y: Float32Array | null = null;
  for (const o of imp.outputs) {
    const data = out[o.name].data as Float32Array;
    if (o.kind === 'sequence') {
      const axes = o.axes.filter((a) => a !== 'directions');
      y = axes[0] === 'batch' ? data : swap01(data, T, B, data.length / (B * T));
    } else {
      const per = data.length / o.layers.length;
      if (o.axes[0] === 'batch' && o.layers.length > 1) throw new Error('a batch-first stacked state: not used by these tests');
      o.layers.forEach((l, i) => (states[l][o.which] = data.slice(i * per, (i + 1) * per)));
    }
  }
  return { y, states };
}

export const session = (bytes: Uint8Array) => ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
