import type { GPU, IKernelMapRunShortcut, ISubKernelObject } from 'gpu.js';
import { LANES, stepConstants, vec4Settings } from './packed.js';
import { mapOutput } from './settings.js';
import { init, inputTerms, pastLength, recurrent } from './step-terms.js';

/**
 * One LSTM step as one fused kernel over packed layouts (kernels/packed.ts): the thread of (row group q, unit j)
 * computes the four gates (i, f, g, o; PyTorch's layout) of four batch rows, from the step's inputs (x4, or token
 * ids gathering W_ih's columns) and h4, with biases folded, then the new c and h of each row; c4 comes out as a
 * kernel-map output. A row at t >= its length keeps its state (TF's dynamic_rnn with sequence_length).
 */
export function lstmStepKernel(
  gpu: GPU,
  batch: number,
  inputs: number,
  units: number,
  tokens: boolean,
  withLengths: boolean,
): IKernelMapRunShortcut<ISubKernelObject> {
  const gates = ['i', 'f', 'g', 'o'];
  const lane = (l: number) => `
    let c${l} = sigmoidStable(f${l}) * cOld[${l}] + sigmoidStable(i${l}) * tanhStable(g${l});
    let h${l} = sigmoidStable(o${l}) * tanhStable(c${l});
    if (${pastLength(l)}) { c${l} = cOld[${l}]; h${l} = hOld[${l}]; }`;
  const source = `function (x4, ids, t, h4, c4, wih4, whh4, bias4, lengths) {
    const q = this.thread.y, j = this.thread.x;
    const bias = bias4[0][j];
    ${init(gates, (g) => `bias[${gates.indexOf(g)}]`)}
    ${inputTerms(gates)}
    ${recurrent((l) => gates.map((g, gi) => `${g}${l} += w[${gi}] * v[${l}];`).join(' '))}
    const hOld = h4[q][j], cOld = c4[q][j];
    ${LANES.map(lane).join('')}
    keepC([c0, c1, c2, c3]);
    return [h0, h1, h2, h3];
  }`;
  return gpu.createKernelMap(
    { c: mapOutput('keepC') },
    source as never,
    vec4Settings(Math.ceil(batch / 4), units, stepConstants(batch, inputs, units, tokens, withLengths)),
  );
}
