import type { Texture } from 'gpu.js';
import type { GpuContext } from './context.js';
import { columnSumsKernel, packColumnsKernel, packedProductKernel } from './kernels/products.js';

// The matrix products over all T·B rows (the backward's, the input projection it recomputes, the dense head's): the
// operands packed four to a texel along the summed dimension first, then one product kernel.

/** Packs a matrix four to a texel along its rows (the first `rows` of them) or its columns, for packedProduct. */
export const byRows = (ctx: GpuContext, t: Texture, rows: number, cols: number) => ctx.packRows(t, 1, rows, cols);
export const byColumns = (ctx: GpuContext, t: Texture, rows: number, cols: number) =>
  ctx.run(`pack-cols ${rows}x${cols}`, (gpu) => packColumnsKernel(gpu, rows, cols), t);

/** Runs a packed product on operands it packs (and deletes) itself. */
function packedProduct(
  ctx: GpuContext,
  form: 'abT' | 'ab' | 'atb',
  outRows: number,
  outCols: number,
  depth: number,
  pack: () => Texture[],
  bias: Texture | null = null,
  split = outRows,
  add: Texture | null = null,
): Texture {
  const made: Texture[] = [];
  try {
    for (const t of pack()) made.push(t);
    const [a, b, b2 = b] = made;
    return ctx.run(
      `product ${form} ${outRows}x${outCols}x${depth} ${bias !== null} ${split} ${add !== null}`,
      (gpu) => packedProductKernel(gpu, form, outRows, outCols, Math.ceil(depth / 4), bias !== null, split, add !== null),
      a,
      b,
      b2,
      ...[bias, add].filter((t) => t !== null),
    );
  } finally {
    for (const t of made) ctx.delete(t);
  }
}

/** dW [G, K] = Σ over the first `aRows` rows of A[r][g] · S[r][k] (S2 for g >= split): the weight gradients. */
export const atb = (ctx: GpuContext, a: Texture, aRows: number, g: number, s1: Texture, k: number, s2 = s1, split = g): Texture =>
  packedProduct(
    ctx,
    'atb',
    g,
    k,
    aRows,
    () => [byRows(ctx, a, aRows, g), byRows(ctx, s1, aRows, k), ...(s2 !== s1 ? [byRows(ctx, s2, aRows, k)] : [])],
    null,
    split,
  );
/** A [rows, inner] · W [inner, cols]: dx = dG · W_ih, the head's dx = dOut · W. */
export const matmul = (ctx: GpuContext, a: Texture, rows: number, inner: number, w: Texture, cols: number): Texture =>
  packedProduct(ctx, 'ab', rows, cols, inner, () => [byColumns(ctx, a, rows, inner), byRows(ctx, w, inner, cols)]);
/**
 * x's first `rows` rows [rows, inner] · Wᵀ (W [cols, inner]) + bias [1, cols] (+ add [rows, cols]): the input
 * projection, the head's forward, the recurrent side of the recomputed gates.
 */
export const linear = (
  ctx: GpuContext,
  x: Texture,
  rows: number,
  inner: number,
  w: Texture,
  cols: number,
  bias: Texture | null,
  add: Texture | null = null,
): Texture =>
  packedProduct(ctx, 'abT', rows, cols, inner, () => [byColumns(ctx, x, rows, inner), byColumns(ctx, w, cols, inner)], bias, rows, add);
export const columnSums = (ctx: GpuContext, a: Texture, rows: number, cols: number): Texture =>
  ctx.run(`colsum ${rows}x${cols}`, (gpu) => columnSumsKernel(gpu, rows, cols), a);
