import type { GPU, IKernelRunShortcut } from 'gpu.js';
import { LANES, stepConstants, vec4Settings } from './packed.js';
import { init, inputTerms, pastLength, recurrent } from './step-terms.js';

/**
 * One Elman RNN step over packed layouts (kernels/packed.ts), four batch rows of one unit a thread:
 * h' = act(x W_ihᵀ + h W_hhᵀ + b), act tanh or relu. A row at t >= its length keeps its state.
 */
export function rnnStepKernel(
  gpu: GPU,
  batch: number,
  inputs: number,
  units: number,
  tokens: boolean,
  withLengths: boolean,
  relu: boolean,
): IKernelRunShortcut {
  const act = relu ? 'reluStable' : 'tanhStable';
  const source = `function (x4, ids, t, h4, wih4, whh4, bias4, lengths) {
    const q = this.thread.y, j = this.thread.x;
    const bias = bias4[0][j];
    ${init(['a'], () => 'bias[0]')}
    ${inputTerms(['a'])}
    ${recurrent((l) => `a${l} += w[0] * v[${l}];`)}
    const hOld = h4[q][j];
    ${LANES.map((l) => `let h${l} = ${act}(a${l});\n    if (${pastLength(l)}) h${l} = hOld[${l}];`).join('\n    ')}
    return [h0, h1, h2, h3];
  }`;
  return gpu.createKernel(
    source as never,
    vec4Settings(Math.ceil(batch / 4), units, stepConstants(batch, inputs, units, tokens, withLengths)),
  );
}
