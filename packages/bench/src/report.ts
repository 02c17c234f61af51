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

export function result(
  name: string,
  role: 'recur' | 'peer',
  unit: ContenderResult['unit'],
  samples: number[],
  maxDiff: number | null,
): ContenderResult {
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
      lines.push(
        `${(i === 0 ? c.id : '').padEnd(width)}${x.name.padEnd(20)}${`${num(x.median)} ${x.unit} (${num(x.min)}-${num(x.max)})`.padEnd(28)}${ratios.join('')}${x.maxDiff === null ? '-' : x.maxDiff.toExponential(1)}`,
      );
    });
    for (const [name, why] of Object.entries(c.skipped)) lines.push(`${''.padEnd(width)}${name.padEnd(20)}not run: ${why}`);
  }
  lines.push('', 'ratio = peer median / recur median: above 1, recur is faster');
  return lines.join('\n');
}

const COLORS: Record<string, string> = {
  'recur-cpu': '#1f6fb4',
  'recur-wasm': '#2ca02c',
  'recur-simd': '#17becf',
  'ort-1t': '#d62728',
  'ort-2t': '#ff7f0e',
  'tfjs-layers-cpu': '#9467bd',
  'tfjs-layers-wasm': '#8c564b',
};

/** Horizontal bars per case, each contender's median relative to the slowest in that case (shorter is faster). */
/**
 * The chart: per case, each contender's median time as a multiple of the fastest one's, on a log scale (a 40x
 * slower peer no longer squeezes the fast contenders into a few pixels), every bar labelled with its contender,
 * time and ratio, and the legend under the title where the eye lands first.
 */
export function formatSvg(cases: readonly CaseResult[], title: string): string {
  const names = [...new Set(cases.flatMap((c) => c.contenders.map((x) => x.name)))];
  const barH = 14,
    gap = 12,
    left = 200,
    width = 900,
    chart = width - left - 260;
  const legendRows = Math.ceil(names.length / 4);
  const top = 64 + legendRows * 16 + 22; // title, subtitle, legend, axis labels
  const rows = cases.reduce((a, c) => a + c.contenders.length * barH + gap, 0);
  const height = top + rows + 16;
  const ratios = cases.flatMap((c) => {
    const fastest = Math.min(...c.contenders.map((x) => x.median));
    return c.contenders.map((x) => x.median / fastest);
  });
  const maxRatio = Math.max(2, ...ratios);
  const xOf = (ratio: number) => left + (Math.log10(ratio) / Math.log10(maxRatio)) * chart;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="14">${title}</text>`,
    `<text x="${width / 2}" y="40" text-anchor="middle" fill="#555">median time as a multiple of each case's fastest contender, log scale (shorter is faster)</text>`,
  ];
  names.forEach((n, i) => {
    const x = left + (i % 4) * 170,
      y = 54 + Math.floor(i / 4) * 16;
    out.push(`<rect x="${x}" y="${y}" width="12" height="12" fill="${COLORS[n] ?? '#777'}"/><text x="${x + 18}" y="${y + 10}">${n}</text>`);
  });
  // grid at 1x, 2x, 5x, 10x, 20x, …; a label only where it does not run into the previous one
  let labelled = -Infinity;
  for (let decade = 1; decade <= maxRatio; decade *= 10) {
    for (const m of [1, 2, 5]) {
      const r = decade * m;
      if (r > maxRatio) break;
      const x = xOf(r);
      out.push(`<line x1="${x.toFixed(1)}" y1="${top - 6}" x2="${x.toFixed(1)}" y2="${height - 10}" stroke="#ddd"/>`);
      if (x - labelled < 34) continue;
      out.push(`<text x="${x.toFixed(1)}" y="${top - 10}" text-anchor="middle" fill="#777">${r}x</text>`);
      labelled = x;
    }
  }
  let y = top;
  for (const c of cases) {
    const fastest = Math.min(...c.contenders.map((x) => x.median));
    out.push(`<text x="${left - 8}" y="${y + (c.contenders.length * barH) / 2 + 4}" text-anchor="end">${c.id}</text>`);
    for (const x of c.contenders) {
      const ratio = x.median / fastest,
        w = Math.max(3, xOf(ratio) - left);
      out.push(
        `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH - 3}" fill="${COLORS[x.name] ?? '#777'}"/>`,
        `<text x="${left + w + 4}" y="${y + barH - 4}" fill="#333">${x.name} ${num(x.median)} ${x.unit}${ratio > 1.005 ? ` (${ratio < 10 ? ratio.toFixed(2) : ratio.toFixed(0)}x)` : ' (fastest)'}</text>`,
      );
      y += barH;
    }
    y += gap;
  }
  out.push('</svg>');
  return out.join('\n');
}
