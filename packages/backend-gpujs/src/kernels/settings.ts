import type { IGPUKernelSettings } from 'gpu.js';

/**
 * Every kernel's settings: output a matrix [rows, cols] (gpu.js's output is [x = cols, y = rows]), kept as a new
 * texture (pipeline, immutable), single precision; constants are baked into the shader.
 */
export const settings = (rows: number, cols: number, constants: Record<string, number> = {}): IGPUKernelSettings =>
  ({ output: [cols, rows], constants, pipeline: true, immutable: true, precision: 'single', tactic: 'precision' });

/**
 * A kernel map's extra output (the kernel's source calls `name(value)`; gpu.js writes the value to that output's
 * texture), as source text: a bundler may rename a function's own name, never the text.
 */
export const mapOutput = (name: string) => `function ${name}(value) { return value; }` as unknown as (value: number) => number;

/** A function's source under a fixed name, for `gpu.addFunction` (kernels call it by that name; bundlers rename). */
export const sourceNamed = (fn: (...args: number[]) => number, name: string): string => fn.toString().replace(/^function\s*[\w$]*\s*\(/, `function ${name}(`);
