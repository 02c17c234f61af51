import type { GPU, IKernelFunctionThis, IKernelRunShortcut } from 'gpu.js';
import { vec4Settings } from './packed.js';
import { settings } from './settings.js';

// The products over all T·B rows (src/products.ts runs them), the bias gradients' column sums and the token-id scatter.

/** The sum of each column of A [rows, cols], as [1, cols] (bias gradients). */
export function columnSumsKernel(gpu: GPU, rows: number, cols: number): IKernelRunShortcut {
  return gpu.createKernel(
    function (this: IKernelFunctionThis<{ R: number }>, a: number[][]) {
      let s = 0;
      for (let r = 0; r < this.constants.R; r++) s += a[r][this.thread.x];
      return s;
    },
    settings(1, cols, { R: rows }),
  );
}

/** dW_ih [G, V] of a token-id input: column id gathers the gradients of the rows with that id ([1, rows] ids). */
export function tokenWeightGradKernel(gpu: GPU, rows: number, gates: number, vocabulary: number): IKernelRunShortcut {
  return gpu.createKernel(
    function (this: IKernelFunctionThis<{ R: number }>, a: number[][], ids: number[][]) {
      const g = this.thread.y as number,
        i = this.thread.x;
      let s = 0;
      for (let r = 0; r < this.constants.R; r++) {
        if (Math.abs(ids[0][r] - i) < 0.5) s += a[r][g];
      }
      return s;
    },
    settings(gates, vocabulary, { R: rows }),
  );
}

/** A [R, C] -> [R, ceil(C/4)], four consecutive columns a texel (zeros past C). */
export function packColumnsKernel(gpu: GPU, rows: number, cols: number): IKernelRunShortcut {
  const lane = (l: number) => `let v${l} = 0;\n    if (4 * q + ${l} < this.constants.C) v${l} = a[r][4 * q + ${l}];`;
  return gpu.createKernel(
    `function (a) {
    const r = this.thread.y, q = this.thread.x;
    ${[0, 1, 2, 3].map(lane).join('\n    ')}
    return [v0, v1, v2, v3];
  }` as never,
    vec4Settings(rows, Math.ceil(cols / 4), { C: cols }),
  );
}

/**
 * A product over operands packed four to a texel along the summed dimension (Q texels deep), so that every two
 * reads make four multiply-adds: `abT` out[y][x] = Σ a[y][q]·b[x][q] (both packed by columns), `ab` out[y][x] =
 * Σ a[y][q]·b[q][x] (a by columns, b by rows), `atb` out[y][x] = Σ a[q][y]·b[q][x] (both by rows; b2 instead of b
 * for y >= split). Out starts at bias[0][x] with `withBias`, plus add[y][x] with `withAdd`.
 */
export function packedProductKernel(
  gpu: GPU,
  form: 'abT' | 'ab' | 'atb',
  outRows: number,
  outCols: number,
  depth: number,
  withBias: boolean,
  split = outRows,
  withAdd = false,
): IKernelRunShortcut {
  const a = form === 'atb' ? 'a[q][y]' : 'a[y][q]',
    b = (name: string) => (form === 'abT' ? `${name}[x][q]` : `${name}[q][x]`);
  const loop = (name: string) => `for (let q = 0; q < this.constants.Q; q++) {
        const u = ${a}, v = ${b(name)};
        s += u[0] * v[0] + u[1] * v[1] + u[2] * v[2] + u[3] * v[3];
      }`;
  return gpu.createKernel(
    `function (a, b, b2${withBias ? ', bias' : ''}${withAdd ? ', add' : ''}) {
    const y = this.thread.y, x = this.thread.x;
    let s = 0;
    ${withBias ? 's = bias[0][x];' : ''}
    ${withAdd ? 's += add[y][x];' : ''}
    if (y < this.constants.S) {
      ${loop('b')}
    } else {
      ${loop('b2')}
    }
    return s;
  }` as never,
    settings(outRows, outCols, { Q: depth, S: split }),
  );
}
