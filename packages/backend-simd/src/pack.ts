import type { FloatArray, LayerSpec } from '@recur/core';

/** Units per block: one SIMD vector of 4 lanes. */
export const BLOCK = 4;

export const unitBlocks = (units: number): number => Math.ceil(units / BLOCK);

/**
 * Packs rows of a public-layout matrix [G*H, K] into per-block panels [nub][K][gates][4]: panel u, column k holds
 * gate `gates[i]` of units 4u..4u+3, so one k step of the dot product is one vector load per gate. Units past H
 * (the last block's padding) get zero weights.
 */
export function packPanels(matrix: FloatArray, H: number, K: number, gates: readonly number[], out: Float32Array, at: number): void {
  const nub = unitBlocks(H), width = gates.length * BLOCK;
  for (let u = 0; u < nub; u++) {
    for (let gi = 0; gi < gates.length; gi++) {
      for (let lane = 0; lane < BLOCK; lane++) {
        const unit = u * BLOCK + lane;
        const dst = at + u * K * width + gi * BLOCK + lane;
        if (unit >= H) {
          for (let k = 0; k < K; k++) out[dst + k * width] = 0;
          continue;
        }
        const src = (gates[gi] * H + unit) * K;
        for (let k = 0; k < K; k++) out[dst + k * width] = matrix[src + k];
      }
    }
  }
}

/** A bias [G*H] as [nub][gates][4], zero-padded. */
export function packBias(bias: FloatArray, H: number, gates: readonly number[], out: Float32Array, at: number): void {
  const nub = unitBlocks(H);
  for (let u = 0; u < nub; u++) {
    for (let gi = 0; gi < gates.length; gi++) {
      for (let lane = 0; lane < BLOCK; lane++) {
        const unit = u * BLOCK + lane;
        out[at + (u * gates.length + gi) * BLOCK + lane] = unit < H ? bias[gates[gi] * H + unit] : 0;
      }
    }
  }
}

/** Which gates the recurrent panels hold: GRU reset-before splits n off (it multiplies r * h, known a phase later). */
export function recurrentGateGroups(spec: LayerSpec): readonly (readonly number[])[] {
  if (spec.kind === 'lstm') return [[0, 1, 2, 3]];
  if (spec.kind === 'rnn') return [[0]];
  return spec.resetAfter ? [[0, 1, 2]] : [[0, 1], [2]];
}
