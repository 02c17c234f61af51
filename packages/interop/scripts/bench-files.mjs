// Model-file speed against PyTorch in the same run: an nn.LSTM(1024, 1024, num_layers=2) state_dict (67 MB) saved by
// torch.save, then read by torch.load + load_state_dict and by loadPyTorchRNN; also Recur's writers and the ONNX
// round trip. Usage (after pnpm build): node packages/interop/scripts/bench-files.mjs [--hidden 1024] [--reps 5]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setBackend } from '@recur/core';
import '@recur/backend-cpu';
import { exportOnnx, importOnnx, loadPyTorchRNN, savePyTorchRNN } from '@recur/interop';

const { values } = parseArgs({ options: { hidden: { type: 'string', default: '1024' }, reps: { type: 'string', default: '5' } } });
const H = Number(values.hidden),
  reps = Number(values.reps);
setBackend('cpu');
const file = join(mkdtempSync(join(tmpdir(), 'recur-files-')), 'lstm.pt');
const script = `
import sys, time, torch
H, reps, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
m = torch.nn.LSTM(H, H, num_layers=2)
torch.save(m.state_dict(), path)
m.load_state_dict(torch.load(path))
t = time.perf_counter()
for _ in range(reps):
    m.load_state_dict(torch.load(path))
print((time.perf_counter() - t) / reps * 1000)
`;
const torch = spawnSync('/usr/bin/python3', ['-c', script, String(H), String(reps), file], {
  encoding: 'utf8',
  env: { ...process.env, OMP_NUM_THREADS: '1' },
});
if (torch.status !== 0) throw new Error(`PyTorch failed: ${torch.stderr}`);
const torchMs = Number(torch.stdout.trim());
const bytes = readFileSync(file);
const time = (f) => {
  f();
  const t = performance.now();
  for (let i = 0; i < reps; i++) f();
  return (performance.now() - t) / reps;
};
let cell;
const load = time(() => {
  cell?.dispose();
  cell = loadPyTorchRNN(bytes).cell;
});
let onnx;
const rows = [
  ['torch.load + load_state_dict (PyTorch ' + 'peer)', torchMs],
  ['loadPyTorchRNN', load],
  ['savePyTorchRNN (.pt)', time(() => savePyTorchRNN(cell))],
  ['exportOnnx', time(() => (onnx = exportOnnx(cell)))],
  ['importOnnx', time(() => importOnnx(onnx).cell.dispose())],
];
console.log(`nn.LSTM(${H}, ${H}, num_layers=2): ${(bytes.length / 1e6).toFixed(1)} MB; ms per call, mean of ${reps}`);
for (const [label, ms] of rows)
  console.log(`${label.padEnd(44)} ${ms.toFixed(1).padStart(8)} ms  ${(ms / torchMs).toFixed(2)}x PyTorch's load`);
cell.dispose();
