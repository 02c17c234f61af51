// The backend of docs/backend-authoring.md, whole: plain TypeScript loops, float32, forward only (no training),
// every cell kind. It passes the conformance suite (packages/docs/test/backend-authoring.test.ts builds it and runs
// `npx recur-conformance --import ./dist/my-backend.js --backend mine`, as the guide says). Copy it and replace
// the loops with your kernels.
import {
  SPEC_VERSION,
  gateCount,
  registerBackend,
  type Availability,
  type Capabilities,
  type DType,
  type FloatArray,
  type ForwardArgs,
  type ForwardResult,
  type LayerSpec,
  type LayerWeights,
  type MemoryInfo,
  type RecurBackend,
} from '@recur/core';

/** A tensor of this backend: flat, row-major values (the shape comes with every call). */
class Storage {
  constructor(readonly data: Float32Array) {}
}

/** An upload: the weights in the public layout (PyTorch's), copied. A real backend repacks them here. */
interface Weights {
  readonly spec: LayerSpec;
  readonly wIh: Float32Array;
  readonly wHh: Float32Array;
  readonly bIh: Float32Array;
  readonly bHh: Float32Array;
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

export class MyBackend implements RecurBackend {
  readonly specVersion = SPEC_VERSION;
  readonly name = 'mine';
  readonly capabilities: Capabilities = { cells: ['lstm', 'gru', 'rnn'], dtypes: ['float32'], training: false, syncRead: true };
  readonly #live = new Set<Storage>();
  readonly #weights = new Set<Weights>();

  available(): Availability {
    return { available: true }; // or { available: false, reason: 'no CUDA driver', missingHardware: true }
  }

  // memory: every tensor this backend holds is in #live, so that memory() proves nothing leaks
  #wrap(data: Float32Array): Storage {
    const s = new Storage(data);
    this.#live.add(s);
    return s;
  }

  #data(storage: unknown): Float32Array {
    if (!(storage instanceof Storage) || !this.#live.has(storage)) throw new Error(`${this.name}: not a live tensor of this backend`);
    return storage.data;
  }

  upload(values: FloatArray, _shape: readonly number[], _dtype: DType): Storage {
    return this.#wrap(Float32Array.from(values));
  }

  zeros(shape: readonly number[]): Storage {
    return this.#wrap(new Float32Array(shape.reduce((a, b) => a * b, 1)));
  }

  async read(storage: unknown): Promise<FloatArray> {
    return this.readSync(storage);
  }

  readSync(storage: unknown): FloatArray {
    return this.#data(storage).slice();
  }

  dispose(storage: unknown): void {
    if (storage instanceof Storage) this.#live.delete(storage);
  }

  memory(): MemoryInfo {
    let bytes = 0;
    for (const s of this.#live) bytes += s.data.byteLength;
    for (const w of this.#weights) bytes += (w.wIh.length + w.wHh.length + w.bIh.length + w.bHh.length) * 4;
    return { numTensors: this.#live.size + this.#weights.size, numBytes: bytes };
  }

  // weights
  uploadWeights(spec: LayerSpec, weights: LayerWeights): Weights {
    const w: Weights = {
      spec,
      wIh: Float32Array.from(weights.wIh),
      wHh: Float32Array.from(weights.wHh),
      bIh: Float32Array.from(weights.bIh),
      bHh: Float32Array.from(weights.bHh),
    };
    this.#weights.add(w);
    return w;
  }

  disposeWeights(weights: unknown): void {
    this.#weights.delete(weights as Weights);
  }

  /** The per-layer chunk kernel: x [T, B, I] time-major, h0/c0 [B, H]; a row past its length keeps its state and emits 0. */
  forward(args: ForwardArgs): ForwardResult {
    const w = args.weights as Weights,
      spec = args.layer;
    const T = args.time,
      B = args.batch,
      I = spec.inputSize,
      H = spec.units,
      G = gateCount(spec.kind);
    const x = this.#data(args.x),
      h = this.#data(args.h0).slice(),
      c = args.c0 === null ? null : this.#data(args.c0).slice();
    const y = new Float32Array(T * B * H);
    const xs = new Float64Array(G * H),
      hs = new Float64Array(G * H),
      rh = new Float64Array(H);
    // Σ_k m[row, k] v[k] for one row of a row-major matrix
    const dot = (m: Float32Array, row: number, cols: number, v: ArrayLike<number>, v0: number) => {
      let s = 0;
      for (let k = 0; k < cols; k++) s += m[row * cols + k] * v[v0 + k];
      return s;
    };
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < B; b++) {
        if (args.seqLens && t >= args.seqLens[b]) continue; // y stays 0, the state stays
        const x0 = (t * B + b) * I,
          h0 = b * H;
        for (let q = 0; q < G * H; q++) {
          xs[q] = dot(w.wIh, q, I, x, x0) + w.bIh[q];
          hs[q] = dot(w.wHh, q, H, h, h0) + w.bHh[q];
        }
        const next = new Float64Array(H);
        for (let j = 0; j < H; j++) {
          if (spec.kind === 'lstm') {
            const i = sigmoid(xs[j] + hs[j]),
              f = sigmoid(xs[H + j] + hs[H + j] + spec.forgetBias);
            const g = Math.tanh(xs[2 * H + j] + hs[2 * H + j]),
              o = sigmoid(xs[3 * H + j] + hs[3 * H + j]);
            c![h0 + j] = f * c![h0 + j] + i * g;
            next[j] = o * Math.tanh(c![h0 + j]);
          } else if (spec.kind === 'rnn') {
            const v = xs[j] + hs[j];
            next[j] = spec.activation === 'relu' ? Math.max(0, v) : Math.tanh(v);
          }
        }
        if (spec.kind === 'gru') {
          // r and z first; n uses r: after the recurrent product (resetAfter, PyTorch) or before it (TF1)
          const r = (j: number) => sigmoid(xs[j] + hs[j]),
            z = (j: number) => sigmoid(xs[H + j] + hs[H + j]);
          if (!spec.resetAfter) for (let k = 0; k < H; k++) rh[k] = r(k) * h[h0 + k];
          for (let j = 0; j < H; j++) {
            const recurrent = spec.resetAfter ? r(j) * hs[2 * H + j] : dot(w.wHh, 2 * H + j, H, rh, 0) + w.bHh[2 * H + j];
            const n = Math.tanh(xs[2 * H + j] + recurrent);
            next[j] = (1 - z(j)) * n + z(j) * h[h0 + j];
          }
        }
        for (let j = 0; j < H; j++) y[(t * B + b) * H + j] = h[h0 + j] = next[j];
      }
    }
    return { y: this.#wrap(y), hT: this.#wrap(h), cT: c === null ? null : this.#wrap(c) };
  }

  // the row operations core uses for batch-major inputs, per-row resets and streams joining and leaving
  transpose01(storage: unknown, [A, B, F]: readonly [number, number, number]): Storage {
    const src = this.#data(storage),
      out = new Float32Array(src.length);
    for (let a = 0; a < A; a++) for (let b = 0; b < B; b++) out.set(src.subarray((a * B + b) * F, (a * B + b + 1) * F), (b * A + a) * F);
    return this.#wrap(out);
  }

  zeroRows(storage: unknown, shape: readonly number[], rows: Int32Array): Storage {
    const out = this.#data(storage).slice(),
      per = out.length / shape[0];
    for (const r of rows) out.fill(0, r * per, (r + 1) * per); // zeros, not a 0/1 mask: NaN × 0 is NaN
    return this.#wrap(out);
  }

  gatherRows(storage: unknown, shape: readonly number[], rows: Int32Array): Storage {
    const src = this.#data(storage),
      per = src.length / shape[0],
      out = new Float32Array(rows.length * per);
    rows.forEach((r, i) => out.set(src.subarray(r * per, (r + 1) * per), i * per));
    return this.#wrap(out);
  }

  concatRows(storages: readonly unknown[]): Storage {
    const parts = storages.map((s) => this.#data(s)),
      out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return this.#wrap(out);
  }

  allFinite(storage: unknown): boolean {
    return this.#data(storage).every(Number.isFinite);
  }
}

registerBackend('mine', () => new MyBackend(), 0); // a factory may be async: users then `await ready('mine')`
