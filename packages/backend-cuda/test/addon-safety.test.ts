// The addon called with bad arguments throws JavaScript errors and never takes the process down: run in a child
// process, so that an abort would show as a failed exit rather than kill the test runner.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadAddon } from '../src/addon.js';

const addonPath = fileURLToPath(new URL('../build/recur_cuda.node', import.meta.url));

const script = `
const addon = require(${JSON.stringify(addonPath)});
const attempts = {
  'forward({})': () => addon.forward({}),
  'forward(bad kind)': () => addon.forward({ layer: { kind: 9, inputSize: 1, units: 1 }, time: 1, batch: 1 }),
  'forward(not a buffer)': () => addon.forward({ layer: { kind: 0, inputSize: 1, units: 1, wIh: {}, wHh: 1, bias: 'x' }, time: 1, batch: 1 }),
  'backward(null)': () => addon.backward(null),
  'alloc(-1)': () => addon.alloc(-1),
  'alloc(NaN)': () => addon.alloc(NaN),
  'upload(plain object)': () => addon.upload({}, new Float32Array(1), 0),
  'download(number)': () => addon.download(1, 1, 0),
  'gemm(negative sizes)': () => addon.gemm({ M: -1, N: 1, K: 1, sam: 1, sak: 1, sbk: 1, sbn: 1, ldc: 1 }),
  'gatherRows(bad rows)': () => addon.gatherRows(null, 1, null, 1, new Float64Array(1)),
  'hostForward(wrong sizes)': () => addon.hostForward({ kind: 0, inputSize: 2, units: 2, time: 1, batch: 1, forgetBias: 0, wIh: new Float32Array(3) }),
  'free(garbage)': () => addon.free({}),
};
const out = {};
for (const [name, run] of Object.entries(attempts)) {
  try { run(); out[name] = 'returned'; } catch (e) { out[name] = (e.code ?? 'no code') + ': ' + e.message; }
}
console.log(JSON.stringify(out));
`;

describe('the addon with bad arguments (child process)', () => {
  if (!loadAddon().addon) {
    it.skip(`bad arguments (n/a: the addon was not built: ${loadAddon().reason})`, () => {});
    return;
  }
  it('throws an error for each, and the process exits normally', () => {
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout.trim()) as Record<string, string>;
    for (const [name, result] of Object.entries(out)) {
      if (name === 'free(garbage)')
        expect(result).toBe('returned'); // freeing something that is not a buffer is a no-op
      else expect(result, name).toMatch(/^ERR_RECUR_(ADDON|CUDA): /);
    }
    expect(out['forward(bad kind)']).toContain('layer: bad kind or sizes');
    expect(out['upload(plain object)']).toContain('not a device buffer');
    expect(out['hostForward(wrong sizes)']).toContain('wIh: expected a Float32Array of 16');
  });
});
