import type { IGPUKernelSettings } from 'gpu.js';

/**
 * Every kernel's settings: output a matrix [rows, cols] (gpu.js's output is [x = cols, y = rows]), kept as a new
 * texture (pipeline, immutable), single precision; constants are baked into the shader.
 */
export const settings = (rows: number, cols: number, constants: Record<string, number> = {}): IGPUKernelSettings =>
  ({ output: [cols, rows], constants, pipeline: true, immutable: true, precision: 'single', tactic: 'precision' });
