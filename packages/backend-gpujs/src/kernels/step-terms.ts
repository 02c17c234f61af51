import { LANES } from './packed.js';

// Source text shared by the packed step kernels (kernels/packed.ts): accumulators, the input and recurrent terms of
// a step's gates, and a lane's row length.

/**
 * Whether lane l's batch row is at or past its length at step t (never without LEN: a chunk run without lengths
 * passes a texture it does not read). Lanes past B read the last row's: they compute what no one reads.
 */
export const pastLength = (l: number) => `this.constants.LEN > 0 && t >= lengths[0][Math.min(4 * q + ${l}, this.constants.B - 1)]`;

/**
 * Adds the step's input terms to the accumulators `${gate}${lane}` of the given gates (in the packed weights' lane
 * order): x4's row group through W_ih4, or, with TOKENS, the gathered columns W_ih4[j][id] of each row's id. Both
 * branches compile: the caller passes a texture of the other's type for the argument its branch does not read (x4
 * a packed one, ids a plain one), and ids are read into locals first (gpu.js hoists a nested read under one name).
 */
export function inputTerms(gates: readonly (string | null)[]): string {
  const add = (w: string, v: (l: number) => string) =>
    gates.flatMap((g, gi) => (g === null ? [] : LANES.map((l) => `${g}${l} += ${w}[${gi}] * ${v(l)};`))).join(' ');
  return `if (this.constants.TOKENS > 0) {
      ${LANES.map((l) => `const id${l} = ids[0][t * this.constants.B + Math.min(4 * q + ${l}, this.constants.B - 1)];\n      const w${l} = wih4[j][id${l}];`).join('\n      ')}
      ${gates.flatMap((g, gi) => (g === null ? [] : LANES.map((l) => `${g}${l} += w${l}[${gi}];`))).join(' ')}
    } else {
      for (let k = 0; k < this.constants.I; k++) {
        const x = x4[t * this.constants.B4 + q][k], w = wih4[j][k];
        ${add('w', (l) => `x[${l}]`)}
      }
    }`;
}

/** `let ${name}${lane} = value;` for each accumulator name and lane. */
export const init = (names: readonly string[], value: (name: string, lane: number) => string) =>
  names.map((n) => LANES.map((l) => `let ${n}${l} = ${value(n, l)};`).join(' ')).join('\n    ');

/** The recurrent terms: a loop over h4's units (and, reset-before GRU, r4's) through whh4, `body` per lane. */
export const recurrent = (body: (l: number) => string, withReset = false) => `for (let k = 0; k < this.constants.H; k++) {
      const v = h4[q][k], w = whh4[j][k];${withReset ? ' const rv = r4[q][k];' : ''}
      ${LANES.map(body).join(' ')}
    }`;
