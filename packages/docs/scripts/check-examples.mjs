#!/usr/bin/env node
// After TypeDoc: every exported function and class of the API must come with an example (`@example`) or a link to
// one (a Markdown link or an inline `{@link}`, most to a guide whose blocks the tests run). Exits 1 naming those
// that lack both.
import { readFileSync } from 'node:fs';

const project = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const FUNCTION = 64,
  CLASS = 128,
  MODULE = 2;
const missing = [];
let checked = 0;
const hasExampleOrLink = (comment) => {
  if (!comment) return false;
  const parts = [
    ...(comment.summary ?? []),
    ...(comment.blockTags ?? []).flatMap((t) => (t.tag === '@example' ? [{ kind: 'example' }] : t.content)),
  ];
  return parts.some(
    (p) =>
      p.kind === 'example' || p.kind === 'inline-tag' || p.kind === 'relative-link' || (p.kind === 'text' && /\]\([^)]+\)/.test(p.text)),
  );
};
const walk = (node, where) => {
  for (const child of node.children ?? []) {
    if (child.kind === MODULE) walk(child, child.name);
    else if (child.kind === FUNCTION || child.kind === CLASS) {
      checked++;
      if (!hasExampleOrLink(child.comment) && !hasExampleOrLink(child.signatures?.[0]?.comment)) missing.push(`${where}: ${child.name}`);
    }
  }
};
walk(project, '');
if (missing.length) {
  console.error(
    `${missing.length} of ${checked} exported functions and classes have neither an @example nor a link to one:\n  ${missing.join('\n  ')}`,
  );
  process.exit(1);
}
console.log(`every one of the ${checked} exported functions and classes has an example or a link to one`);
