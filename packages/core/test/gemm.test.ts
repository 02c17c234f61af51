import { describe, expect, it } from 'vitest';
import { gemmABt, gemmAtB } from '../src/index.js';

function naive(
  M: number,
  N: number,
  K: number,
  A: Float64Array,
  lda: number,
  W: Float64Array,
  ldw: number,
  C: Float64Array,
  ldc: number,
  acc: boolean,
) {
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += A[m * lda + k] * W[n * ldw + k];
      C[m * ldc + n] = (acc ? C[m * ldc + n] : 0) + s;
    }
  }
}

const fill = (n: number, seed: number) => Float64Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed) * 2);

describe('gemmABt (C = A · Wᵀ)', () => {
  it('matches a naive triple loop on every blocking remainder, with strides and accumulation', () => {
    for (const M of [1, 2, 3, 4, 5, 8, 9]) {
      for (const N of [1, 3, 4, 5, 7, 8, 13]) {
        for (const K of [1, 2, 7, 16]) {
          for (const acc of [false, true]) {
            const lda = K + 1,
              ldw = K + 2,
              ldc = N + 3;
            const A = fill(M * lda, 1),
              W = fill(N * ldw, 2);
            const C = fill(M * ldc, 3),
              ref = C.slice();
            gemmABt(M, N, K, A, 0, lda, W, 0, ldw, C, 0, ldc, acc);
            naive(M, N, K, A, lda, W, ldw, ref, ldc, acc);
            for (let i = 0; i < C.length; i++) expect(Math.abs(C[i] - ref[i])).toBeLessThan(1e-12);
          }
        }
      }
    }
  });

  it('covers several cache panels (K large enough that W splits)', () => {
    const M = 6,
      N = 70,
      K = 2048;
    const A = fill(M * K, 4),
      W = fill(N * K, 5),
      C = new Float64Array(M * N),
      ref = new Float64Array(M * N);
    gemmABt(M, N, K, A, 0, K, W, 0, K, C, 0, N, false);
    naive(M, N, K, A, K, W, K, ref, N, false);
    for (let i = 0; i < C.length; i++) expect(Math.abs(C[i] - ref[i])).toBeLessThan(1e-9);
  });

  it('writes only inside C[cOff ..] with its stride', () => {
    const A = Float64Array.of(1, 2),
      W = Float64Array.of(3, 4, 5, 6),
      C = new Float64Array(8).fill(-1);
    gemmABt(1, 2, 2, A, 0, 2, W, 0, 2, C, 3, 2, false);
    expect(Array.from(C)).toEqual([-1, -1, -1, 11, 17, -1, -1, -1]);
  });
});

describe('gemmAtB (C = Aᵀ · B)', () => {
  it('matches a naive triple loop with offsets, strides and accumulation', () => {
    for (const [M, N, R] of [
      [1, 1, 1],
      [3, 5, 7],
      [8, 4, 0],
      [13, 9, 33],
    ]) {
      for (const acc of [false, true]) {
        const lda = M + 2,
          ldb = N + 1,
          ldc = N + 3,
          aOff = 1,
          bOff = 2,
          cOff = 3;
        const A = fill(aOff + R * lda, 4),
          B = fill(bOff + R * ldb, 5),
          C = fill(cOff + M * ldc, 6),
          ref = C.slice();
        gemmAtB(M, N, R, A, aOff, lda, B, bOff, ldb, C, cOff, ldc, acc);
        for (let m = 0; m < M; m++)
          for (let n = 0; n < N; n++) {
            let s = 0;
            for (let r = 0; r < R; r++) s += A[aOff + r * lda + m] * B[bOff + r * ldb + n];
            ref[cOff + m * ldc + n] = (acc ? ref[cOff + m * ldc + n] : 0) + s;
          }
        for (let i = 0; i < C.length; i++) expect(Math.abs(C[i] - ref[i])).toBeLessThan(1e-12);
      }
    }
  });
});
