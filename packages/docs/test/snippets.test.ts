// Documentation that cannot drift from the code: every TypeScript block of the READMEs and docs/ runs here as a
// program (in a child process, from this package, so that `@recur/*` imports resolve) and must leave no tensor
// or weight upload behind on any backend it used; a block that is only part of a program says so with
// `<!-- fragment: why -->` above its fence. Every shell command they show must be one the tests or CI run (the
// table in commands.ts says where, and this test checks that the place really holds the command).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transformSync } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from './commands.js';
import { ROOT, codeBlocks, documentationFiles, type Block } from './markdown.js';

const here = fileURLToPath(new URL('..', import.meta.url));
const scratch = join(here, '.snippets');
mkdirSync(scratch, { recursive: true });
const blocks = documentationFiles().flatMap(codeBlocks);
const programs = blocks.filter((b) => (b.lang === 'ts' || b.lang === 'js') && b.fragment === null);
const shell = blocks.filter((b) => b.lang === 'sh');

/** Runs after a snippet: every backend it imported must hold nothing (tensors, uploads) once it is done. */
const LEAK_CHECK = `
;{
  const { listBackends, memory } = await import('@recur/core');
  for (const b of await listBackends()) {
    if (!b.available || !__recurUsed.includes(b.name)) continue;
    const m = memory(b.name);
    if (m.numTensors !== 0) {
      console.error('leak: backend ' + b.name + ' still holds ' + m.numTensors + ' tensors or uploads (' + m.numBytes + ' bytes) after the snippet');
      process.exit(3);
    }
  }
  process.exit(0);
}`;

function run(block: Block) {
  const used = [...block.code.matchAll(/@recur\/backend-(\w+)/g)].map((m) => m[1]);
  if (!used.length) used.push('cpu'); // core's embedded default
  const js = transformSync(block.code, { loader: 'ts', format: 'esm', target: 'node20', sourcefile: `${block.file}:${block.line}` }).code;
  const file = join(scratch, `${block.file.replace(/[^\w]+/g, '-')}-${block.line}.mjs`);
  writeFileSync(file, `const __recurUsed = ${JSON.stringify(used)};\n${js}\n${LEAK_CHECK}\n`);
  return spawnSync(process.execPath, [file], { cwd: here, encoding: 'utf8', timeout: 120_000 });
}

describe('every TypeScript block of the documentation runs and leaks nothing', () => {
  for (const block of programs) {
    it(`${block.file}:${block.line}`, () => {
      const r = run(block);
      expect(r.status, `${block.file}:${block.line} exited ${r.status}\n${r.stderr}${r.stdout}`).toBe(0);
    }, 130_000);
  }

  it('marks the blocks it does not run as fragments, with a reason each', () => {
    const fragments = blocks.filter((b) => b.fragment !== null);
    for (const b of fragments) expect(b.fragment!.length, `${b.file}:${b.line}`).toBeGreaterThan(10);
    for (const b of fragments) expect(['ts', 'js'], `${b.file}:${b.line}: only code blocks are fragments`).toContain(b.lang);
    expect(programs.length).toBeGreaterThan(fragments.length); // most blocks run
  });
});

describe('every shell command of the documentation is one the tests or CI run', () => {
  const shown = [
    ...new Set(
      shell.flatMap((b) =>
        b.code
          .split('\n')
          .map((l) => l.replace(/\s+#.*$/, '').trim())
          .filter((l) => l && !l.startsWith('#')),
      ),
    ),
  ];
  it('each command has an entry saying where it runs, and that place holds it verbatim', () => {
    for (const command of shown) {
      const entry = COMMANDS[command];
      expect(entry, `"${command}" is shown in the docs but not in packages/docs/test/commands.ts`).toBeDefined();
      if ('runIn' in entry)
        expect(readFileSync(join(ROOT, entry.runIn), 'utf8'), `${entry.runIn} must run "${command}"`).toContain(command);
      else expect(entry.notRun.length).toBeGreaterThan(20);
    }
    // and no stale entries
    for (const command of Object.keys(COMMANDS))
      expect(shown, `commands.ts lists "${command}", which no document shows`).toContain(command);
  });
});
