import type { FloatArray } from './spec.js';

/**
 * A small seeded generator (mulberry32) so that initial weights are reproducible from a seed.
 * @example
 * const random = seededRandom(7); // the same numbers on every machine
 * const x = Float32Array.from({ length: 8 }, () => random());
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(random: () => number): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** Glorot (Xavier) uniform for a [rows, cols] kernel: U(-l, l), l = sqrt(6 / (rows + cols)). */
export function glorotUniform(out: FloatArray, rows: number, cols: number, random: () => number): void {
  const limit = Math.sqrt(6 / (rows + cols));
  for (let i = 0; i < rows * cols; i++) out[i] = (random() * 2 - 1) * limit;
}

/**
 * Orthogonal init of a [rows, cols] matrix (rows >= cols gives orthonormal columns, otherwise orthonormal rows),
 * as Keras's `Orthogonal` does for the recurrent kernel; modified Gram-Schmidt on a Gaussian matrix.
 */
export function orthogonal(out: FloatArray, rows: number, cols: number, random: () => number): void {
  const tall = rows >= cols;
  const n = tall ? rows : cols; // vector length
  const k = tall ? cols : rows; // vector count
  const vectors = new Float64Array(n * k);
  for (let i = 0; i < n * k; i++) vectors[i] = normal(random);
  for (let v = 0; v < k; v++) {
    const base = v * n;
    for (let u = 0; u < v; u++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += vectors[base + i] * vectors[u * n + i];
      for (let i = 0; i < n; i++) vectors[base + i] -= dot * vectors[u * n + i];
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += vectors[base + i] ** 2;
    norm = Math.sqrt(norm);
    for (let i = 0; i < n; i++) vectors[base + i] /= norm;
  }
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[r * cols + c] = tall ? vectors[c * n + r] : vectors[r * n + c];
  }
}
