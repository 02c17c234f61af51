import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** A fenced code block of a Markdown file. */
export interface Block {
  readonly file: string; // relative to the repository root
  readonly line: number; // of the opening fence, 1-based
  readonly lang: string;
  readonly code: string;
  /** The reason given by a `<!-- fragment: reason -->` line just above the fence, or null. */
  readonly fragment: string | null;
}

/** Every Markdown file a reader meets: the root README, docs/, and each package's and example's README. */
export function documentationFiles(): string[] {
  const files = [join(ROOT, 'README.md')];
  for (const f of readdirSync(join(ROOT, 'docs'))) if (f.endsWith('.md')) files.push(join(ROOT, 'docs', f));
  for (const group of ['packages', 'examples']) {
    for (const dir of readdirSync(join(ROOT, group))) {
      const readme = join(ROOT, group, dir, 'README.md');
      if (existsSync(readme)) files.push(readme);
    }
  }
  return files;
}

export function codeBlocks(path: string): Block[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]);
    if (!open) continue;
    let end = i + 1;
    while (end < lines.length && !/^```\s*$/.test(lines[end])) end++;
    let above = i - 1;
    while (above >= 0 && lines[above].trim() === '') above--;
    const marker = above >= 0 ? /^<!--\s*fragment:\s*(.+?)\s*-->$/.exec(lines[above].trim()) : null;
    blocks.push({
      file: relative(ROOT, path),
      line: i + 1,
      lang: open[1],
      code: lines.slice(i + 1, end).join('\n'),
      fragment: marker ? marker[1] : null,
    });
    i = end;
  }
  return blocks;
}
