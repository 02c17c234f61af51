import type { FloatArray, LayerSpec } from '@recur/core';

/** Units per block: one SIMD vector of 4 lanes. */
export const BLOCK = 4;
/**
 * Blocks per quad. Threads own whole quads (16 units), so that a panel of 1, 2 or 4 blocks never straddles two
 * threads; layers are padded to whole quads.
 */
export const QUAD = 4;

/** Unit blocks of a layer, padded to whole quads. */
export const unitBlocks = (units: number): number => Math.ceil(units / (BLOCK * QUAD)) * QUAD;

/**
 * A panel group: `blocks` consecutive unit blocks times `gates`. Each k step of a panel's dot product loads
 * blocks * gates vectors, four of them where possible: that many independent accumulators keep the adds busy and
 * each broadcast input value serves them all. LSTM: 1 block x i,f,g,o; GRU reset-after: 1 x r,z,n; GRU
 * reset-before: 2 x r,z, then 4 x n; RNN: 4 x h.
 */
export interface PanelGroup {
  readonly blocks: number;
  readonly gates: readonly number[];
}

/** The input projection's panels: every gate of the layer. */
export function inputPanels(spec: LayerSpec): PanelGroup {
  if (spec.kind === 'lstm') return { blocks: 1, gates: [0, 1, 2, 3] };
  if (spec.kind === 'gru') return { blocks: 1, gates: [0, 1, 2] };
  return { blocks: 4, gates: [0] };
}

/** The recurrent panels: GRU reset-before splits n off (it multiplies r * h, known only a phase later). */
export function recurrentPanels(spec: LayerSpec): readonly PanelGroup[] {
  if (spec.kind === 'lstm') return [{ blocks: 1, gates: [0, 1, 2, 3] }];
  if (spec.kind === 'rnn') return [{ blocks: 4, gates: [0] }];
  return spec.resetAfter
    ? [{ blocks: 1, gates: [0, 1, 2] }]
    : [
        { blocks: 2, gates: [0, 1] },
        { blocks: 4, gates: [2] },
      ];
}

/** Floats of a matrix packed as panels of `group` over K columns. */
export const panelFloats = (H: number, K: number, group: PanelGroup): number => unitBlocks(H) * K * group.gates.length * BLOCK;

/**
 * Packs rows of a public-layout matrix [G*H, K] into panels [nub / blocks][K][blocks][gates][4]: panel p, column k
 * holds, for each of its blocks and gates, the 4 units of that block. Units past H (the padding) get zeros.
 */
export function packPanels(matrix: FloatArray, H: number, K: number, group: PanelGroup, out: Float32Array, at: number): void {
  const nub = unitBlocks(H),
    ng = group.gates.length,
    width = group.blocks * ng * BLOCK;
  for (let u = 0; u < nub; u++) {
    const panel = Math.floor(u / group.blocks),
      inPanel = u % group.blocks;
    for (let gi = 0; gi < ng; gi++) {
      for (let lane = 0; lane < BLOCK; lane++) {
        const unit = u * BLOCK + lane;
        const dst = at + panel * K * width + (inPanel * ng + gi) * BLOCK + lane;
        if (unit >= H) {
          for (let k = 0; k < K; k++) out[dst + k * width] = 0;
          continue;
        }
        const src = (group.gates[gi] * H + unit) * K;
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
