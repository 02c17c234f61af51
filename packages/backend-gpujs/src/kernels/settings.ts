import type { IGPUKernelSettings } from 'gpu.js';

/**
 * A loop that gpu.js cannot prove bounded by constants (`k < 4 * this.constants.H`, a bound read from a texture)
 * becomes `for (i < LOOP_MAX) { if (!test) break; … }`, and LOOP_MAX is 1000 unless set: a sum over 4H = 1024 terms
 * or T·B = 1600 rows would stop short, silently. The break ends every loop long before this one.
 */
const LOOP_MAX = 1 << 24;

/**
 * Every kernel's settings: output a matrix [rows, cols] (gpu.js's output is [x = cols, y = rows]), kept as a new
 * texture (pipeline, immutable), single precision; constants are baked into the shader.
 */
export const settings = (rows: number, cols: number, constants: Record<string, number> = {}): IGPUKernelSettings =>
  ({
    output: [cols, rows],
    constants,
    pipeline: true,
    immutable: true,
    precision: 'single',
    tactic: 'precision',
    loopMaxIterations: LOOP_MAX,
  }) as IGPUKernelSettings; // gpu.js's typings omit loopMaxIterations

/**
 * A kernel map's extra output (the kernel's source calls `name(value)`; gpu.js writes the value to that output's
 * texture), as source text: a bundler may rename a function's own name, never the text.
 */
export const mapOutput = (name: string) => `function ${name}(value) { return value; }` as unknown as (value: number) => number;

/** A function's source under a fixed name, for `gpu.addFunction` (kernels call it by that name; bundlers rename). */
export const sourceNamed = (fn: (...args: number[]) => number, name: string): string =>
  fn.toString().replace(/^function\s*[\w$]*\s*\(/, `function ${name}(`);
