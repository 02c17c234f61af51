// Where a streamed step's or a training step's time goes, kernel by kernel (gl.finish() around each, so a kernel's
// GPU time is its own): node scripts/profile-kernels.mjs stream|train lstm|gru [batch], under xvfb-run -a, after
// `pnpm build`. Figures from it are headless-gl's (Mesa's software rasteriser), not a GPU's.
import '@recur/backend-cpu';
import { GRUCell, LSTMCell, StatefulRNN, disposeState, dynamicRnnWithTape, tensor } from '@recur/core';
import { GpuContext } from '../dist/context.js';
import { registerGpujsBackend } from '../dist/index.js';

const [mode = 'stream', kind = 'lstm', batchArg] = process.argv.slice(2);
if (!['stream', 'train'].includes(mode) || !['lstm', 'gru'].includes(kind))
  throw new Error('usage: profile-kernels.mjs stream|train lstm|gru [batch]');
registerGpujsBackend();
const times = new Map();
const timed = (fn) =>
  function (key, ...rest) {
    this.gl?.finish();
    const t0 = performance.now();
    const out = fn.call(this, key, ...rest);
    this.gl?.finish();
    const name = key.split(' ')[0],
      v = times.get(name) ?? [0, 0];
    times.set(name, [v[0] + performance.now() - t0, v[1] + 1]);
    return out;
  };
GpuContext.prototype.run = timed(GpuContext.prototype.run);
GpuContext.prototype.runMap = timed(GpuContext.prototype.runMap);

const H = 256,
  B = Number(batchArg ?? (mode === 'stream' ? 1 : 16)),
  T = 50,
  runs = mode === 'stream' ? 100 : 1;
const cell =
  kind === 'lstm'
    ? new LSTMCell(H, { backend: 'gpujs', inputSize: H })
    : new GRUCell(H, { backend: 'gpujs', inputSize: H, resetAfter: false });
let once;
if (mode === 'stream') {
  const rnn = new StatefulRNN(cell, { batch: B }),
    frame = Float32Array.from({ length: B * H }, (_, i) => Math.sin(i));
  once = () => {
    const x = tensor(frame, [B, 1, H], { backend: 'gpujs' }),
      y = rnn.run(x);
    y.dataSync();
    x.dispose();
    y.dispose();
  };
} else {
  const x = tensor(
    Float32Array.from({ length: B * T * H }, (_, i) => Math.sin(i)),
    [B, T, H],
    { backend: 'gpujs' },
  );
  const dy = tensor(new Float32Array(B * T * H).fill(1 / (B * T)), [B, T, H], { backend: 'gpujs' });
  once = () => {
    const { outputs, state, tape } = dynamicRnnWithTape(cell, x),
      g = tape.backward({ dOutputs: dy });
    g.dWeights[0].wHh.dataSync();
    g.dispose();
    tape.dispose();
    outputs.dispose();
    disposeState(state);
  };
}
for (let i = 0; i < Math.max(2, runs / 10); i++) once(); // shaders compiled
times.clear();
const t0 = performance.now();
for (let i = 0; i < runs; i++) once();
console.log(
  `${kind} ${mode} H=${H} B=${B}${mode === 'train' ? ` T=${T}` : ''}: ${((performance.now() - t0) / runs).toFixed(2)} ms per ${mode === 'stream' ? 'streamed step' : 'training step'}`,
);
for (const [name, [ms, n]] of [...times].sort((a, b) => b[1][0] - a[1][0]))
  console.log(`  ${name.padEnd(16)} ${(ms / runs).toFixed(3)} ms  (${n / runs} per ${mode === 'stream' ? 'step' : 'run'})`);
