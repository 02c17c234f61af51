import { RecurError, describe } from './errors.js';
import { checkOptions } from './options.js';

/** Process-wide settings (`configure()`). */
export interface RecurConfig {
  /** Check inputs for NaN/Infinity before kernels run (costs one pass over the input; off by default). */
  checkFinite: boolean;
}

const config: RecurConfig = { checkFinite: false };

/**
 * Sets global options; returns the previous values.
 * @example
 * configure({ checkFinite: true }); // refuse NaN and Infinity in inputs from here on
 */
export function configure(options: Partial<RecurConfig>): RecurConfig {
  checkOptions(options, ['checkFinite'], 'options');
  const previous = { ...config };
  if (options.checkFinite !== undefined) {
    if (typeof options.checkFinite !== 'boolean') throw new RecurError('options.checkFinite', 'a boolean', describe(options.checkFinite));
    config.checkFinite = options.checkFinite;
  }
  return previous;
}

/**
 * The current settings.
 * @see [README: the finite check](../../../README.md#errors)
 */
export function getConfig(): Readonly<RecurConfig> {
  return config;
}
