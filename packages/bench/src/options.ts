import { parseArgs } from 'node:util';

/**
 * A command's options through Node's `util.parseArgs`: `--name value` (repeatable) for every name in `values`,
 * `--flag` for every name in `flags`; an unknown option, or one missing its value, is refused with the usage;
 * `--help` prints the usage and exits.
 */
export function parseOptions(
  argv: readonly string[],
  spec: { readonly flags: readonly string[]; readonly values: readonly string[] },
  usage: string,
) {
  const options: Record<string, { type: 'boolean' } | { type: 'string'; multiple: true }> = { help: { type: 'boolean' } };
  for (const f of spec.flags) options[f] = { type: 'boolean' };
  for (const v of spec.values) options[v] = { type: 'string', multiple: true };
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new Error(`${(error as Error).message}\nusage: ${usage}`);
  }
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  const many = (name: string): string[] => (values[name] as string[] | undefined) ?? [];
  return {
    many,
    one: (name: string): string | undefined => many(name)[0],
    has: (name: string): boolean => values[name] === true,
    /** `--name N`, a positive integer, or the fallback. */
    count(name: string, fallback: number): number {
      const n = Number(many(name)[0] ?? fallback);
      if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: expected a positive integer, got ${many(name)[0]}`);
      return n;
    },
  };
}
