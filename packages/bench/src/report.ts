import { summarise } from './stats.js';

export interface ContenderResult {
  readonly name: string;
  readonly role: 'recur' | 'peer';
  /** milliseconds per timed unit, or microseconds per step for streaming (see unit) */
  readonly unit: 'ms' | 'us/step';
  readonly samples: number[];
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** max |outputs - recur-cpu outputs| before timing */
  readonly maxDiff: number | null;
}

export interface CaseResult {
  readonly id: string;
  readonly mode: string;
  readonly contenders: ContenderResult[];
  /** contender name -> why it did not run */
  readonly skipped: Record<string, string>;
  /** Batch rows of the case. */
  readonly batch: number;
  /** Floating-point operations of the case's matrix products in one run (a multiply-add counts 2). */
  readonly flops: number;
}

export function result(name: string, role: 'recur' | 'peer', unit: ContenderResult['unit'], samples: number[], maxDiff: number | null): ContenderResult {
  return { name, role, unit, samples, maxDiff, ...summarise(samples) };
}

const num = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

/** One block per case: each contender's median (min-max); for Recur rows, peer median / Recur median per peer. */
export function formatTable(cases: readonly CaseResult[]): string {
  const peers = [...new Set(cases.flatMap((c) => c.contenders.filter((x) => x.role === 'peer').map((x) => x.name)))];
  const lines: string[] = [];
  const width = Math.max(29, ...cases.map((c) => c.id.length + 2));
  const header = `${'case'.padEnd(width)}${'contender'.padEnd(20)}${'median (min-max)'.padEnd(28)}${peers.map((p) => `vs ${p}`.padEnd(20)).join('')}max|diff|`;
  lines.push(header, '-'.repeat(header.length));
  for (const c of cases) {
    c.contenders.forEach((x, i) => {
      const ratios = peers.map((p) => {
        const peer = c.contenders.find((y) => y.name === p);
        return (x.role === 'recur' && peer ? `${(peer.median / x.median).toFixed(2)}x` : '').padEnd(20);
      });
      lines.push(`${(i === 0 ? c.id : '').padEnd(width)}${x.name.padEnd(20)}${`${num(x.median)} ${x.unit} (${num(x.min)}-${num(x.max)})`.padEnd(28)}${ratios.join('')}${x.maxDiff === null ? '-' : x.maxDiff.toExponential(1)}`);
    });
    for (const [name, why] of Object.entries(c.skipped)) lines.push(`${''.padEnd(width)}${name.padEnd(20)}not run: ${why}`);
  }
  lines.push('', 'ratio = peer median / recur median: above 1, recur is faster');
  return lines.join('\n');
}

const COLORS: Record<string, string> = {
  'recur-cpu': '#1f6fb4', 'recur-wasm': '#2ca02c', 'recur-simd': '#17becf', 'ort-1t': '#d62728', 'ort-2t': '#ff7f0e', 'tfjs-layers-cpu': '#9467bd', 'tfjs-layers-wasm': '#8c564b',
};

/** Horizontal bars per case, each contender's median relative to the slowest in that case (shorter is faster). */
export function formatSvg(cases: readonly CaseResult[], title: string): string {
  const names = [...new Set(cases.flatMap((c) => c.contenders.map((x) => x.name)))];
  const barH = 12, gap = 10, left = 190, width = 760, chart = width - left - 150;
  const rows = cases.reduce((a, c) => a + c.contenders.length * barH + gap, 0);
  const height = 60 + rows + 20 + names.length * 16;
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`, `<text x="${width / 2}" y="22" text-anchor="middle" font-size="14">${title}</text>`,
    `<text x="${width / 2}" y="40" text-anchor="middle" fill="#555">median time relative to the slowest contender of each case (shorter is faster)</text>`];
  let y = 56;
  for (const c of cases) {
    const slowest = Math.max(...c.contenders.map((x) => x.median));
    out.push(`<text x="${left - 8}" y="${y + (c.contenders.length * barH) / 2 + 4}" text-anchor="end">${c.id}</text>`);
    for (const x of c.contenders) {
      const w = Math.max(1, (x.median / slowest) * chart);
      out.push(`<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH - 2}" fill="${COLORS[x.name] ?? '#777'}"/>`,
        `<text x="${left + w + 4}" y="${y + barH - 3}" fill="#333">${num(x.median)} ${x.unit}</text>`);
      y += barH;
    }
    y += gap;
  }
  y += 10;
  names.forEach((n, i) => out.push(`<rect x="${left}" y="${y + i * 16}" width="12" height="12" fill="${COLORS[n] ?? '#777'}"/><text x="${left + 18}" y="${y + i * 16 + 10}">${n}</text>`));
  out.push('</svg>');
  return out.join('\n');
}
