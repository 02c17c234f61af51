#!/usr/bin/env node
// Draws the chart of a saved run again (after a change of the chart, without running the benchmark):
//   node packages/bench/scripts/redraw-chart.mjs docs/benchmarks.json docs/benchmarks.svg
import { readFileSync, writeFileSync } from 'node:fs';
import { formatSvg } from '../dist/report.js';

const [from, to] = process.argv.slice(2);
if (!from || !to) throw new Error('usage: redraw-chart.mjs BENCH.json OUT.svg');
const run = JSON.parse(readFileSync(from, 'utf8'));
const cores = run.machine?.cores ?? run.machine?.cpus ?? '?';
writeFileSync(
  to,
  formatSvg(
    run.cases.filter((c) => c.contenders.length),
    `Recur benchmarks (${cores} cores, Node ${run.machine?.node ?? ''})`,
  ),
);
console.log(`wrote ${to}`);
