import type { GPU, IKernelFunctionThis, IKernelRunShortcut } from 'gpu.js';
import { settings } from './settings.js';

// Texture-to-texture row operations (every tensor is a texture holding a matrix [rows, cols]). Each returns a new
// texture.

/** Host rows in, a texture out: an upload. */
export function copyKernel(gpu: GPU, rows: number, cols: number): IKernelRunShortcut {
  return gpu.createKernel(
    function (this: IKernelFunctionThis, a: number[][]) {
      return a[this.thread.y as number][this.thread.x];
    },
    settings(rows, cols),
  );
}

/** [A, B, F] viewed as rows a·B + b -> [B, A, F] (rows b·A + a). */
export function transpose01Kernel(gpu: GPU, a: number, b: number, f: number): IKernelRunShortcut {
  return gpu.createKernel(
    function (this: IKernelFunctionThis<{ A: number; B: number }>, x: number[][]) {
      const r = this.thread.y as number;
      const bi = Math.floor(r / this.constants.A),
        ai = r - bi * this.constants.A;
      return x[ai * this.constants.B + bi][this.thread.x];
    },
    settings(a * b, f, { A: a, B: b }),
  );
}

/**
 * Rows whose `keep` is 0 written as zeros (a select, not a multiply: NaN · 0 is NaN). A first-axis row spans `per`
 * matrix rows (a [B, T, F] tensor is the matrix [B·T, F]).
 */
export function zeroRowsKernel(gpu: GPU, rows: number, cols: number, per: number): IKernelRunShortcut {
  return gpu.createKernel(
    function (this: IKernelFunctionThis<{ P: number }>, x: number[][], keep: number[]) {
      const r = this.thread.y as number;
      let v = 0;
      if (keep[Math.floor(r / this.constants.P)] > 0) v = x[r][this.thread.x];
      return v;
    },
    settings(rows, cols, { P: per }),
  );
}

/** out's first-axis row i = x's row index[i], each `per` matrix rows. */
export function gatherRowsKernel(gpu: GPU, rows: number, cols: number, per: number): IKernelRunShortcut {
  return gpu.createKernel(
    function (this: IKernelFunctionThis<{ P: number }>, x: number[][], index: number[]) {
      const r = this.thread.y as number,
        P = this.constants.P;
      const i = Math.floor(r / P);
      return x[index[i] * P + (r - i * P)][this.thread.x];
    },
    settings(rows, cols, { P: per }),
  );
}

/** [a; b]: the rows of a, then those of b. */
export function concatKernel(gpu: GPU, rowsA: number, rowsB: number, cols: number): IKernelRunShortcut {
  return gpu.createKernel(
    function (this: IKernelFunctionThis<{ N: number }>, a: number[][], b: number[][]) {
      const r = this.thread.y as number;
      let v = 0;
      if (r < this.constants.N) v = a[r][this.thread.x];
      else v = b[r - this.constants.N][this.thread.x];
      return v;
    },
    settings(rowsA + rowsB, cols, { N: rowsA }),
  );
}

/**
 * Up to 8 matrices stacked by rows: inputs 0..count-2 have `rowsEach` rows, the last `lastRows` (unused arguments
 * repeat the first). A chunk's per-step textures become one matrix in log8(T) such passes, not T. `vec4`: of
 * packed (RGBA) textures.
 */
export function stackKernel(gpu: GPU, count: number, rowsEach: number, lastRows: number, cols: number, vec4 = false): IKernelRunShortcut {
  const pick = Array.from({ length: 7 }, (_, i) => `${i ? 'else ' : ''}if (i < ${i}.5) v = a${i}[rr][c];`).join('\n    ');
  return gpu.createKernel(
    `function (a0, a1, a2, a3, a4, a5, a6, a7) {
    const r = this.thread.y, c = this.thread.x;
    const i = Math.floor(r / this.constants.R), rr = r - i * this.constants.R;
    let v = a7[rr][c];
    ${pick}
    return v;
  }` as never,
    { ...settings((count - 1) * rowsEach + lastRows, cols, { R: rowsEach }), ...(vec4 ? { returnType: 'Array(4)' as const } : {}) },
  );
}

/** A matrix of one value (made on the GPU: nothing moves). */
export function fillKernel(gpu: GPU, rows: number, cols: number, value: number): IKernelRunShortcut {
  return gpu.createKernel(
    function (this: IKernelFunctionThis<{ V: number }>) {
      return this.constants.V;
    },
    settings(rows, cols, { V: value }),
  );
}

/** Rows [offset, offset + rows) of a matrix (W_hn out of W_hh). */
export function rowsKernel(gpu: GPU, rows: number, cols: number, offset: number): IKernelRunShortcut {
  return gpu.createKernel(
    function (this: IKernelFunctionThis<{ O: number }>, a: number[][]) {
      return a[(this.thread.y as number) + this.constants.O][this.thread.x];
    },
    settings(rows, cols, { O: offset }),
  );
}
