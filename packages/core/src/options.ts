import { RecurError, UnsupportedOptionError, describe } from './errors.js';

/** TF1 options a porter may pass that Recur does not implement yet, by the spellings they may arrive in. */
const NOT_YET: Record<string, string> = {
  usePeepholes: 'peepholes',
  use_peepholes: 'peepholes',
  peepholes: 'peepholes',
  numProj: 'num_proj',
  num_proj: 'num_proj',
  projClip: 'proj_clip',
  proj_clip: 'proj_clip',
  cellClip: 'cell_clip',
  cell_clip: 'cell_clip',
  dropout: 'dropout wrappers',
  inputKeepProb: 'dropout wrappers',
  outputKeepProb: 'dropout wrappers',
  stateKeepProb: 'dropout wrappers',
  recurrentDropout: 'dropout wrappers',
  bidirectional: 'bidirectional',
  direction: 'bidirectional',
};

/**
 * Rejects unknown option names and TF1 options not built yet, so a typo or a port never silently changes the
 * model. Returns the options object (empty if undefined).
 * @see [README: errors](../../../README.md#errors)
 */
export function checkOptions<T extends object>(options: T | undefined, allowed: readonly string[], argument: string): T {
  if (options === undefined) return {} as T;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new RecurError(argument, 'an options object', describe(options));
  }
  for (const key of Object.keys(options)) {
    if ((options as Record<string, unknown>)[key] === undefined) continue;
    if (key in NOT_YET) {
      throw new UnsupportedOptionError(
        `${argument}.${key}`,
        'an option Recur implements (not yet: peepholes, num_proj, cell_clip, dropout wrappers, bidirectional)',
        `${NOT_YET[key]} requested`,
      );
    }
    if (!allowed.includes(key)) {
      throw new RecurError(
        `${argument}.${key}`,
        `one of the known options (${allowed.join(', ')})`,
        `unknown option ${JSON.stringify(key)}`,
      );
    }
  }
  return options;
}

/** The `allowNonFinite` option of calls that take weights or state (false unless `true` is given). */
export function allowNonFinite(options: { allowNonFinite?: boolean } | undefined): boolean {
  const opts = checkOptions(options, ['allowNonFinite'], 'options');
  if (opts.allowNonFinite !== undefined && typeof opts.allowNonFinite !== 'boolean')
    throw new RecurError('options.allowNonFinite', 'a boolean', describe(opts.allowNonFinite));
  return opts.allowNonFinite === true;
}

export function checkPositiveInt(value: unknown, argument: string): number {
  if (!Number.isInteger(value) || (value as number) <= 0) throw new RecurError(argument, 'a positive integer', describe(value));
  return value as number;
}

export function checkFiniteNumber(value: unknown, argument: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new RecurError(argument, 'a finite number', describe(value));
  return value;
}

/**
 * Wrappers and functions of TF1 that are not built yet: they exist so a port fails with a clear error.
 * @see [README: TF1 options not built yet](../../../README.md#errors)
 */
export class DropoutWrapper {
  constructor(..._args: unknown[]) {
    throw new UnsupportedOptionError(
      'DropoutWrapper',
      'a cell Recur implements (dropout wrappers are not built yet)',
      'DropoutWrapper requested',
    );
  }
}

/**
 * Not built yet: throws an `UnsupportedOptionError` that says so (TF1's `bidirectional_dynamic_rnn`).
 * @see [README: TF1 options not built yet](../../../README.md#errors)
 */
export function bidirectionalDynamicRnn(..._args: unknown[]): never {
  throw new UnsupportedOptionError(
    'bidirectionalDynamicRnn',
    'a function Recur implements (bidirectional RNNs are not built yet)',
    'bidirectional requested',
  );
}
