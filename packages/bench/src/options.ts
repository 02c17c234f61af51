/**
 * A command's options, as the bench commands take them: `--name value` (repeatable), `--flag`, unknown ones refused
 * with the list, `--help` printing the usage and exiting.
 */
export function parseOptions(argv: readonly string[], known: readonly string[], usage: string) {
  for (const a of argv) if (a.startsWith('--') && !known.includes(a.slice(2))) throw new Error(`unknown option ${a}; options: ${known.map((k) => `--${k}`).join(' ')}`);
  if (argv.includes('--help')) {
    console.log(usage);
    process.exit(0);
  }
  const many = (name: string) => argv.flatMap((a, i) => (argv[i - 1] === `--${name}` ? [a] : []));
  return {
    many,
    one: (name: string): string | undefined => many(name)[0],
    has: (name: string) => argv.includes(`--${name}`),
    /** `--name N`, a positive integer, or the fallback. */
    count(name: string, fallback: number): number {
      const n = Number(many(name)[0] ?? fallback);
      if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: expected a positive integer, got ${many(name)[0]}`);
      return n;
    },
  };
}
