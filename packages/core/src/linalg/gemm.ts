import type { FloatArray } from '../spec.js';
import { transpose2d } from './transpose.js';

/** A matrix product C (+)= A · Wᵀ with gemmABt's arguments: backends pass faster ones into shared kernels. */
export type Gemm = typeof gemmABt;

/**
 * C[m, n] (+)= sum_r A[r, m] * B[r, n] for m < M, n < N, r < R (C = Aᵀ · B: weight gradients over all rows), A and B
 * read from their offsets with row strides lda and ldb. Backends pass faster ones into shared kernels.
 */
export type GemmAtB = (
  M: number,
  N: number,
  R: number,
  A: FloatArray,
  aOff: number,
  lda: number,
  B: FloatArray,
  bOff: number,
  ldb: number,
  C: FloatArray,
  cOff: number,
  ldc: number,
  accumulate: boolean,
) => void;

/** Core's Aᵀ · B: both operands transposed once, then `gemmABt` (its dot products run along contiguous rows). */
export const gemmAtB: GemmAtB = (M, N, R, A, aOff, lda, B, bOff, ldb, C, cOff, ldc, accumulate) => {
  gemmABt(M, N, R, transpose2d(A, R, M, aOff, lda), 0, R, transpose2d(B, R, N, bOff, ldb), 0, R, C, cOff, ldc, accumulate);
};

/** Elements of W kept hot per panel: 64 Ki elements (256 KiB in float32) sits in L2 on current cores. */
const PANEL_ELEMENTS = 1 << 16;

/**
 * C[m, n] (+)= sum_k A[m, k] * W[n, k] for m < M, n < N (C = A · Wᵀ), all row-major with the given row strides.
 * W is split in panels of rows that stay in cache while every row of A passes; inside a panel a 4x4 register
 * block does 16 multiply-adds per 8 loads. Dot products along contiguous rows of both A and W.
 * @see [docs/backend-authoring.md (training kernels)](../../../../docs/backend-authoring.md#training-kernels-keep-a-training-step-on-the-backend-optional)
 */
export function gemmABt(
  M: number,
  N: number,
  K: number,
  A: FloatArray,
  aOff: number,
  lda: number,
  W: FloatArray,
  wOff: number,
  ldw: number,
  C: FloatArray,
  cOff: number,
  ldc: number,
  accumulate: boolean,
): void {
  const panel = Math.max(4, Math.floor(PANEL_ELEMENTS / Math.max(K, 1)) & ~3);
  for (let n0 = 0; n0 < N; n0 += panel) {
    const n1 = Math.min(N, n0 + panel);
    let m = 0;
    for (; m + 4 <= M; m += 4) rows4(n0, n1, K, A, aOff + m * lda, lda, W, wOff, ldw, C, cOff + m * ldc, ldc, accumulate);
    for (; m < M; m++) row1(n0, n1, K, A, aOff + m * lda, W, wOff, ldw, C, cOff + m * ldc, accumulate);
  }
}

function rows4(
  n0: number,
  n1: number,
  K: number,
  A: FloatArray,
  a0: number,
  lda: number,
  W: FloatArray,
  wOff: number,
  ldw: number,
  C: FloatArray,
  c0: number,
  ldc: number,
  accumulate: boolean,
): void {
  const a1 = a0 + lda,
    a2 = a1 + lda,
    a3 = a2 + lda;
  const c1 = c0 + ldc,
    c2 = c1 + ldc,
    c3 = c2 + ldc;
  let n = n0;
  for (; n + 4 <= n1; n += 4) {
    const w0 = wOff + n * ldw,
      w1 = w0 + ldw,
      w2 = w1 + ldw,
      w3 = w2 + ldw;
    let s00 = 0,
      s01 = 0,
      s02 = 0,
      s03 = 0,
      s10 = 0,
      s11 = 0,
      s12 = 0,
      s13 = 0;
    let s20 = 0,
      s21 = 0,
      s22 = 0,
      s23 = 0,
      s30 = 0,
      s31 = 0,
      s32 = 0,
      s33 = 0;
    for (let k = 0; k < K; k++) {
      const v0 = W[w0 + k],
        v1 = W[w1 + k],
        v2 = W[w2 + k],
        v3 = W[w3 + k];
      let x = A[a0 + k];
      s00 += x * v0;
      s01 += x * v1;
      s02 += x * v2;
      s03 += x * v3;
      x = A[a1 + k];
      s10 += x * v0;
      s11 += x * v1;
      s12 += x * v2;
      s13 += x * v3;
      x = A[a2 + k];
      s20 += x * v0;
      s21 += x * v1;
      s22 += x * v2;
      s23 += x * v3;
      x = A[a3 + k];
      s30 += x * v0;
      s31 += x * v1;
      s32 += x * v2;
      s33 += x * v3;
    }
    if (accumulate) {
      C[c0 + n] += s00;
      C[c0 + n + 1] += s01;
      C[c0 + n + 2] += s02;
      C[c0 + n + 3] += s03;
      C[c1 + n] += s10;
      C[c1 + n + 1] += s11;
      C[c1 + n + 2] += s12;
      C[c1 + n + 3] += s13;
      C[c2 + n] += s20;
      C[c2 + n + 1] += s21;
      C[c2 + n + 2] += s22;
      C[c2 + n + 3] += s23;
      C[c3 + n] += s30;
      C[c3 + n + 1] += s31;
      C[c3 + n + 2] += s32;
      C[c3 + n + 3] += s33;
    } else {
      C[c0 + n] = s00;
      C[c0 + n + 1] = s01;
      C[c0 + n + 2] = s02;
      C[c0 + n + 3] = s03;
      C[c1 + n] = s10;
      C[c1 + n + 1] = s11;
      C[c1 + n + 2] = s12;
      C[c1 + n + 3] = s13;
      C[c2 + n] = s20;
      C[c2 + n + 1] = s21;
      C[c2 + n + 2] = s22;
      C[c2 + n + 3] = s23;
      C[c3 + n] = s30;
      C[c3 + n + 1] = s31;
      C[c3 + n + 2] = s32;
      C[c3 + n + 3] = s33;
    }
  }
  for (; n < n1; n++) {
    const w = wOff + n * ldw;
    let s0 = 0,
      s1 = 0,
      s2 = 0,
      s3 = 0;
    for (let k = 0; k < K; k++) {
      const v = W[w + k];
      s0 += A[a0 + k] * v;
      s1 += A[a1 + k] * v;
      s2 += A[a2 + k] * v;
      s3 += A[a3 + k] * v;
    }
    if (accumulate) {
      C[c0 + n] += s0;
      C[c1 + n] += s1;
      C[c2 + n] += s2;
      C[c3 + n] += s3;
    } else {
      C[c0 + n] = s0;
      C[c1 + n] = s1;
      C[c2 + n] = s2;
      C[c3 + n] = s3;
    }
  }
}

function row1(
  n0: number,
  n1: number,
  K: number,
  A: FloatArray,
  a: number,
  W: FloatArray,
  wOff: number,
  ldw: number,
  C: FloatArray,
  c: number,
  accumulate: boolean,
): void {
  let n = n0;
  // matrix-vector: nothing of W is reused, so the more rows share each load of x, the fewer loads per multiply-add
  // (8 rows: 9 loads per 8; measured 6-10% faster than 4 rows at H=256..1024, B=1)
  for (; n + 8 <= n1; n += 8) {
    const w0 = wOff + n * ldw,
      w1 = w0 + ldw,
      w2 = w1 + ldw,
      w3 = w2 + ldw,
      w4 = w3 + ldw,
      w5 = w4 + ldw,
      w6 = w5 + ldw,
      w7 = w6 + ldw;
    let s0 = 0,
      s1 = 0,
      s2 = 0,
      s3 = 0,
      s4 = 0,
      s5 = 0,
      s6 = 0,
      s7 = 0;
    for (let k = 0; k < K; k++) {
      const x = A[a + k];
      s0 += x * W[w0 + k];
      s1 += x * W[w1 + k];
      s2 += x * W[w2 + k];
      s3 += x * W[w3 + k];
      s4 += x * W[w4 + k];
      s5 += x * W[w5 + k];
      s6 += x * W[w6 + k];
      s7 += x * W[w7 + k];
    }
    if (accumulate) {
      C[c + n] += s0;
      C[c + n + 1] += s1;
      C[c + n + 2] += s2;
      C[c + n + 3] += s3;
      C[c + n + 4] += s4;
      C[c + n + 5] += s5;
      C[c + n + 6] += s6;
      C[c + n + 7] += s7;
    } else {
      C[c + n] = s0;
      C[c + n + 1] = s1;
      C[c + n + 2] = s2;
      C[c + n + 3] = s3;
      C[c + n + 4] = s4;
      C[c + n + 5] = s5;
      C[c + n + 6] = s6;
      C[c + n + 7] = s7;
    }
  }
  for (; n + 4 <= n1; n += 4) {
    const w0 = wOff + n * ldw,
      w1 = w0 + ldw,
      w2 = w1 + ldw,
      w3 = w2 + ldw;
    let s0 = 0,
      s1 = 0,
      s2 = 0,
      s3 = 0;
    for (let k = 0; k < K; k++) {
      const x = A[a + k];
      s0 += x * W[w0 + k];
      s1 += x * W[w1 + k];
      s2 += x * W[w2 + k];
      s3 += x * W[w3 + k];
    }
    if (accumulate) {
      C[c + n] += s0;
      C[c + n + 1] += s1;
      C[c + n + 2] += s2;
      C[c + n + 3] += s3;
    } else {
      C[c + n] = s0;
      C[c + n + 1] = s1;
      C[c + n + 2] = s2;
      C[c + n + 3] = s3;
    }
  }
  for (; n < n1; n++) {
    const w = wOff + n * ldw;
    let s = 0;
    for (let k = 0; k < K; k++) s += A[a + k] * W[w + k];
    if (accumulate) C[c + n] += s;
    else C[c + n] = s;
  }
}
