import type { GPU, IKernelMapRunShortcut, IKernelRunShortcut, ISubKernelObject } from 'gpu.js';
import { LANES, stepConstants, vec4Settings } from './packed.js';
import { mapOutput } from './settings.js';
import { init, inputTerms, pastLength, recurrent } from './step-terms.js';

// GRU steps over packed layouts (kernels/packed.ts; gates r, z, n in the weights' lanes 0, 1, 2), each thread four
// batch rows of one unit. A row at t >= its length keeps its state.

/**
 * Reset after the recurrent product (PyTorch, cuDNN, Keras 2), one kernel: n = tanh(x_n + r · (W_hn h + b_hn)),
 * h' = (1 - z) · n + z · h. bias4 holds b_ih + b_hh for r and z and b_ih for n; b_hn [1, H] stays apart.
 */
export function gruAfterStepKernel(
  gpu: GPU,
  batch: number,
  inputs: number,
  units: number,
  tokens: boolean,
  withLengths: boolean,
): IKernelRunShortcut {
  const source = `function (x4, ids, t, h4, wih4, whh4, bias4, bhn, lengths) {
    const q = this.thread.y, j = this.thread.x;
    const bias = bias4[0][j], bn = bhn[0][j];
    ${init(['r', 'z', 'xn', 'hn'], (n) => (n === 'r' ? 'bias[0]' : n === 'z' ? 'bias[1]' : n === 'xn' ? 'bias[2]' : 'bn'))}
    ${inputTerms(['r', 'z', 'xn'])}
    ${recurrent((l) => `r${l} += w[0] * v[${l}]; z${l} += w[1] * v[${l}]; hn${l} += w[2] * v[${l}];`)}
    const hOld = h4[q][j];
    ${LANES.map(
      (l) => `
    const zz${l} = sigmoidStable(z${l});
    let h${l} = (1 - zz${l}) * tanhStable(xn${l} + sigmoidStable(r${l}) * hn${l}) + zz${l} * hOld[${l}];
    if (${pastLength(l)}) h${l} = hOld[${l}];`,
    ).join('')}
    return [h0, h1, h2, h3];
  }`;
  return gpu.createKernel(
    source as never,
    vec4Settings(Math.ceil(batch / 4), units, stepConstants(batch, inputs, units, tokens, withLengths)),
  );
}

/**
 * Reset before the product (TF1's GRUCell), its first kernel: the reset gate of every unit, r4 [B4, H], and (kernel
 * map outputs `z`, `n`) the input terms of z and n with their biases, which the second kernel then need not read.
 */
export function gruResetKernel(
  gpu: GPU,
  batch: number,
  inputs: number,
  units: number,
  tokens: boolean,
  withLengths: boolean,
): IKernelMapRunShortcut<ISubKernelObject> {
  const source = `function (x4, ids, t, h4, wih4, whh4, bias4) {
    const q = this.thread.y, j = this.thread.x;
    const bias = bias4[0][j];
    ${init(['r', 'z', 'n'], (n) => `bias[${'rzn'.indexOf(n)}]`)}
    ${inputTerms(['r', 'z', 'n'])}
    ${recurrent((l) => `r${l} += w[0] * v[${l}];`)}
    keepZ([z0, z1, z2, z3]);
    keepN([n0, n1, n2, n3]);
    return [sigmoidStable(r0), sigmoidStable(r1), sigmoidStable(r2), sigmoidStable(r3)];
  }`;
  return gpu.createKernelMap(
    { z: mapOutput('keepZ'), n: mapOutput('keepN') },
    source as never,
    vec4Settings(Math.ceil(batch / 4), units, stepConstants(batch, inputs, units, tokens, withLengths)),
  );
}

/** Its second: z, n = tanh(x_n + W_hn (r ⊙ h)) from the first's outputs, h'. */
export function gruBeforeStepKernel(
  gpu: GPU,
  batch: number,
  inputs: number,
  units: number,
  tokens: boolean,
  withLengths: boolean,
): IKernelRunShortcut {
  const source = `function (t, h4, r4, xz4, xn4, whh4, lengths) {
    const q = this.thread.y, j = this.thread.x;
    const xz = xz4[q][j], xn = xn4[q][j];
    ${init(['z', 'n'], (n, l) => `x${n}[${l}]`)}
    ${recurrent((l) => `z${l} += w[1] * v[${l}]; n${l} += w[2] * (rv[${l}] * v[${l}]);`, true)}
    const hOld = h4[q][j];
    ${LANES.map(
      (l) => `
    const zz${l} = sigmoidStable(z${l});
    let h${l} = (1 - zz${l}) * tanhStable(n${l}) + zz${l} * hOld[${l}];
    if (${pastLength(l)}) h${l} = hOld[${l}];`,
    ).join('')}
    return [h0, h1, h2, h3];
  }`;
  return gpu.createKernel(
    source as never,
    vec4Settings(Math.ceil(batch / 4), units, stepConstants(batch, inputs, units, tokens, withLengths)),
  );
}
