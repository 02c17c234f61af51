import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import '@recur/backend-cpu';
import { RnnModel } from '@recur/core';
import { expect, it } from 'vitest';

// The demo with its default settings (about three minutes): it must train, chart, save, and beat the bigram table.
it('pnpm demo trains a char-LSTM whose held-out bits per character beat the bigram reference', () => {
  const out = mkdtempSync(join(tmpdir(), 'recur-demo-'));
  const demo = fileURLToPath(new URL('../dist/demo.js', import.meta.url));
  const run = spawnSync(process.execPath, [demo, '--out', out, '--check'], { encoding: 'utf8', timeout: 280_000 });
  const stdout = run.stdout;
  expect(run.status, stdout + run.stderr).toBe(0);
  // no --backend: the fastest available, said by name (backend-simd runs wherever Node does)
  expect(stdout).toMatch(/backend "simd": the fastest available \(preference cuda > gpujs > simd > cpu > wasm;/);
  // the progress bar draws on stderr while training (every 10 s when not a terminal)
  expect(run.stderr).toMatch(/training \|[=-]+\| \d+% \| chunk \d+ \| loss [\d.]+ bits\/char \| \d+ chars\/s/);
  const bits = (label: string) => Number(new RegExp(`${label}\\s+([\\d.]+)`).exec(stdout)![1]);
  const unigram = bits('unigram entropy of the training text'),
    bigram = bits('bigram conditional entropy \\(pair table\\)');
  const held = bits('this model on the held-out 5%');
  expect(unigram).toBeGreaterThan(4.3);
  expect(unigram).toBeLessThan(4.5);
  expect(bigram).toBeGreaterThan(3.4);
  expect(bigram).toBeLessThan(3.6);
  expect(held).toBeLessThan(bigram);
  const svg = readFileSync(join(out, 'loss.svg'), 'utf8');
  expect(svg).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  expect(svg.match(/<polyline [^>]*points="([^"]+)"/)![1].split(' ').length).toBeGreaterThan(100);
  const model = RnnModel.fromSafetensors(new Uint8Array(readFileSync(join(out, 'char-lstm.safetensors'))));
  expect(model.config.layers.map((l) => [l.kind, l.units])).toEqual([
    ['lstm', 128],
    ['lstm', 128],
  ]);
  expect((model.config.meta as { vocabulary: string[] }).vocabulary.length).toBe(model.config.outputSize);
  // the prime, then exactly 400 sampled characters (whitespace included: a sample may end in blank lines), then
  // the blank line the demo prints after them
  const generated = stdout.split('state carried):\n\n')[1];
  expect(generated.startsWith('Call me Ishmael. ')).toBe(true);
  expect(generated.endsWith('\n\n')).toBe(true);
  expect([...generated.slice(0, -2)].length).toBe('Call me Ishmael. '.length + 400);
}, 300_000);
