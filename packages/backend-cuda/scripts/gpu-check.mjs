// The GPU check: on a machine with an NVIDIA GPU, runs the conformance suite on backend-cuda (persistent kernel on,
// then off), times our kernels on the issue's shapes, writes the outputs PyTorch must reproduce, and (with
// --report) prints the ratios against scripts/gpu-peer.py's cuDNN timings from the same run.
// Bundled with Node.js by scripts/pack-device.sh; run by scripts/device-run.sh. Usage:
//   node gpu-check.mjs [--quick] [--out DIR]        conformance + our timings -> DIR/ours.json, DIR/case-*.f32
//   node gpu-check.mjs --report DIR                 the ratio table from DIR/ours.json and DIR/peer.json
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LSTMCell, StatefulRNN, getBackend, registerBackend, seededRandom, tensor } from '@recur/core';
import { runSuite } from '@recur/conformance';
import { defaultFixtures } from '@recur/conformance/node';
import '@recur/backend-cpu';
import { CudaBackend, loadAddon } from '../src/index.ts';

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(name);
const option = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);

if (flag('--report')) {
  report(option('--report'));
  process.exit(0);
}

const out = option('--out', '/tmp/recur-gpu');
const quick = flag('--quick');
// --dry-run: the whole script on backend-cpu at H=64 (checks the script itself on a machine without a GPU)
const dryRun = flag('--dry-run');
mkdirSync(out, { recursive: true });
const load = loadAddon();
console.log(`addon: ${load.addon ? 'loaded' : load.reason}`);
if (load.addon) console.log('device:', JSON.stringify(load.addon.info()));

registerBackend('cuda-generic', () => new CudaBackend('cuda-generic', { persistent: false }), -1);
// the batch-tiled persistent kernel on every case (it takes 17..64 rows by default, which no golden case has)
registerBackend('cuda-batch', () => new CudaBackend('cuda-batch', { batchKernelMinBatch: 1 }), -1);
const cuda = getBackend(dryRun ? 'cpu' : 'cuda');
const availability = cuda.available();
console.log(`${cuda.name} available:`, JSON.stringify(availability));
if (!availability.available) process.exit(2);
const sync = () => (dryRun ? undefined : cuda.synchronize());

// 1. conformance, both kernel paths
const results = {};
for (const name of dryRun ? [] : ['cuda', 'cuda-generic', 'cuda-batch']) {
  const start = performance.now();
  const rs = await runSuite(name, {
    fixtures: defaultFixtures(),
    onResult: (r) => console.log(`  ${name} ${r.status} ${r.id} ${r.ms.toFixed(0)} ms`),
  });
  const count = (s) => rs.filter((r) => r.status === s).length;
  results[name] = {
    pass: count('pass'),
    fail: count('fail'),
    skip: count('skip'),
    na: count('n/a'),
    seconds: (performance.now() - start) / 1000,
  };
  console.log(`conformance ${name}: ${JSON.stringify(results[name])}`);
  for (const r of rs)
    if (r.status === 'fail' || r.status === 'skip')
      console.log(`  ${r.status} ${r.id}: ${String(r.message).split('\n').slice(0, 4).join(' | ').slice(0, 600)}`);
}

// 2. timings: the backend's kernels directly (x already on the device, as cuDNN is timed), and streamed calls
// through the public API (x in from the host, y out, synchronised by the read)
const random = seededRandom(11);
const draw = (n, scale = 1) => Float32Array.from({ length: n }, () => (random() * 2 - 1) * scale);
const H = dryRun ? 64 : 1024,
  I = H,
  G = 4;
const spec = { kind: 'lstm', inputSize: I, units: H, dtype: 'float32', forgetBias: 0 };
const bound = 1 / Math.sqrt(H);
const weights = { wIh: draw(G * H * I, bound), wHh: draw(G * H * H, bound), bIh: draw(G * H, bound), bHh: draw(G * H, bound) };
for (const [k, v] of Object.entries(weights)) writeFileSync(join(out, `w-${k}.f32`), v);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const timeIt = (reps, body, sync) => {
  for (let i = 0; i < Math.min(5, reps); i++) body();
  sync();
  const times = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    body();
    sync();
    times.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  return median(times);
};

const timings = { floor_us: null, cases: {} };
const addon = load.addon;
timings.floor_us = timeIt(
  2000,
  () => (dryRun ? undefined : addon.emptyLaunch()),
  () => {},
);
console.log(`floor (one empty launch + synchronise): ${timings.floor_us.toFixed(2)} us`);

function kernelCase(backend, id, T, B, mode, reps) {
  const w = backend.uploadWeights(spec, weights);
  const x = draw(T * B * I);
  writeFileSync(join(out, `case-${id}-x.f32`), x);
  const xs = backend.upload(x, [T, B, I], 'float32');
  const h0 = backend.zeros([B, H], 'float32'),
    c0 = backend.zeros([B, H], 'float32');
  const dy = mode === 'train' ? backend.upload(new Float32Array(T * B * H).fill(1 / (T * B)), [T, B, H], 'float32') : null;
  const args = { layer: spec, weights: w, x: xs, h0, c0, time: T, batch: B, seqLens: null };
  let keepGradients = true;
  const runOnce = () => {
    const r = backend.forward({ ...args, keepTape: mode === 'train' });
    if (mode === 'train') {
      const g = backend.backward({ layer: spec, weights: w, tape: r.tape, time: T, batch: B, seqLens: null, dy, dhT: null, dcT: null });
      if (keepGradients) {
        // what PyTorch's float64 autograd must reproduce (gpu-peer.py)
        for (const [k, v] of Object.entries({
          dx: g.dx,
          dWih: g.dWeights.wIh,
          dWhh: g.dWeights.wHh,
          dbIh: g.dWeights.bIh,
          dbHh: g.dWeights.bHh,
        }))
          writeFileSync(join(out, `grad-${id}-${k}.f32`), backend.readSync(v));
        keepGradients = false;
      }
      for (const s of [g.dx, g.dh0, g.dc0, g.dWeights.wIh, g.dWeights.wHh, g.dWeights.bIh, g.dWeights.bHh]) backend.dispose(s);
      backend.disposeTape(r.tape);
    }
    return r;
  };
  const first = runOnce();
  writeFileSync(join(out, `case-${id}-y.f32`), backend.readSync(first.y));
  for (const s of [first.y, first.hT, first.cT]) backend.dispose(s);
  const us = timeIt(
    reps,
    () => {
      const r = runOnce();
      backend.dispose(r.y);
      backend.dispose(r.hT);
      backend.dispose(r.cT);
    },
    sync,
  );
  for (const s of [xs, h0, c0, dy]) if (s) backend.dispose(s);
  backend.disposeWeights(w);
  return us;
}

function streamCase(backendName, B, reps) {
  const cell = new LSTMCell(H, { backend: backendName, inputSize: I, seed: 5 });
  cell.setWeights(weights);
  const rnn = new StatefulRNN(cell, { batch: B });
  const frame = draw(B * I);
  const step = () => {
    const input = tensor(frame, [B, 1, I], { backend: backendName });
    const y = rnn.run(input);
    y.dataSync();
    input.dispose();
    y.dispose();
  };
  const us = timeIt(reps, step, () => {});
  rnn.dispose();
  cell.dispose();
  return us;
}

function rawStepCase(backend, B, reps) {
  // one streamed step on the backend's spec API: upload x, one-step forward with the carried state, read y
  const w = backend.uploadWeights(spec, weights);
  let h = backend.zeros([B, H], 'float32'),
    c = backend.zeros([B, H], 'float32');
  const frame = draw(B * I);
  const us = timeIt(
    reps,
    () => {
      const xs = backend.upload(frame, [1, B, I], 'float32');
      const r = backend.forward({ layer: spec, weights: w, x: xs, h0: h, c0: c, time: 1, batch: B, seqLens: null });
      backend.readSync(r.y);
      backend.dispose(xs);
      backend.dispose(r.y);
      backend.dispose(h);
      backend.dispose(c);
      h = r.hT;
      c = r.cT;
    },
    () => {},
  );
  backend.dispose(h);
  backend.dispose(c);
  backend.disposeWeights(w);
  return us;
}

const generic = dryRun ? cuda : getBackend('cuda-generic');
const reps = quick ? 20 : 200;
const record = (id, value) => {
  timings.cases[id] = value;
  console.log(`${id}: ${value.toFixed(1)} us`);
};
for (const B of [1, 16]) {
  record(`stream-B${B}-api`, streamCase(cuda.name, B, quick ? 100 : 3000));
  record(`stream-B${B}-spec`, rawStepCase(cuda, B, quick ? 100 : 3000));
  record(`stream-B${B}-generic-spec`, rawStepCase(generic, B, quick ? 50 : 500));
}
record('seq-B1-T100', kernelCase(cuda, 'seq-B1-T100', 100, 1, 'seq', reps));
record('seq-B1-T100-generic', kernelCase(generic, 'seq-B1-T100-generic', 100, 1, 'seq', reps));
record('seq-B16-T100', kernelCase(cuda, 'seq-B16-T100', 100, 16, 'seq', reps));
record('seq-B64-T100', kernelCase(cuda, 'seq-B64-T100', 100, 64, 'seq', reps));
record('seq-B64-T100-generic', kernelCase(generic, 'seq-B64-T100-generic', 100, 64, 'seq', reps));
record('seq-B32-T100', kernelCase(cuda, 'seq-B32-T100', 100, 32, 'seq', reps));
record('train-B64-T50', kernelCase(cuda, 'train-B64-T50', 50, 64, 'train', quick ? 10 : 50));
// every SGEMM path (64-tiles, split K, 128-tiles) in every operand layout against float64 on the host
if (!dryRun) {
  let worst = 0;
  for (const [M, N, K] of [
    [64, 256, 2048],
    [640, 640, 96],
    [1536, 1536, 64],
  ]) {
    for (const layout of ['ABt', 'AB', 'AtB']) {
      const a = draw(M * K),
        b = draw(N * K),
        bias = draw(N);
      // A(m,k), B(k,n) strides for each layout; the host reference reads the same arrays the same way
      const [sam, sak] = layout === 'AtB' ? [1, M] : [K, 1];
      const [sbk, sbn] = layout === 'ABt' ? [1, K] : [N, 1];
      const sa = cuda.upload(a, [M * K], 'float32'),
        sb = cuda.upload(b, [N * K], 'float32'),
        sbias = cuda.upload(bias, [N], 'float32'),
        sc = cuda.zeros([M, N], 'float32');
      addon.gemm({ M, N, K, a: sa.buffer, sam, sak, b: sb.buffer, sbk, sbn, c: sc.buffer, ldc: N, bias: sbias.buffer, accumulate: false });
      const c = cuda.readSync(sc);
      let err = 0;
      for (let m = 0; m < M; m += 7) {
        for (let n = 0; n < N; n++) {
          let ref = bias[n];
          for (let k = 0; k < K; k++) ref += a[m * sam + k * sak] * b[k * sbk + n * sbn];
          err = Math.max(err, Math.abs(c[m * N + n] - ref) / Math.max(1, Math.abs(ref)));
        }
      }
      worst = Math.max(worst, err);
      console.log(`sgemm check ${layout} ${M}x${N}x${K}: max relative error ${err.toExponential(2)}`);
      for (const x of [sa, sb, sbias, sc]) cuda.dispose(x);
    }
  }
  timings.gemmWorstError = worst;
  if (!(worst < 1e-4)) console.log(`SGEMM CHECK FAILED: ${worst}`); // float32 sums over K <= 2048
}
// the product every generic step and every weight gradient runs: our SGEMM alone, for the profile
if (!dryRun) {
  for (const [M, N, K] of [
    [64, 4096, 1024],
    [6400, 4096, 1024],
    [4096, 1024, 3200],
  ]) {
    const a = cuda.upload(draw(M * K), [M, K], 'float32'),
      b = cuda.upload(draw(N * K), [N, K], 'float32'),
      c = cuda.zeros([M, N], 'float32');
    const us = timeIt(
      quick ? 5 : 50,
      () =>
        addon.gemm({
          M,
          N,
          K,
          a: a.buffer,
          sam: K,
          sak: 1,
          b: b.buffer,
          sbk: 1,
          sbn: K,
          c: c.buffer,
          ldc: N,
          bias: null,
          accumulate: false,
        }),
      sync,
    );
    record(`sgemm-${M}x${N}x${K}`, us);
    console.log(`  = ${((2 * M * N * K) / us / 1e6).toFixed(1)} TFLOP/s`);
    for (const s of [a, b, c]) cuda.dispose(s);
  }
}
const mem = dryRun ? null : cuda.deviceMemory();
timings.memory = { tensors: cuda.memory(), device: mem };
console.log('memory after the benchmark (live tensors, device buffers):', JSON.stringify(timings.memory));
if (!dryRun) {
  cuda.releaseCachedMemory();
  console.log('after releaseCached:', JSON.stringify(cuda.deviceMemory()));
}
writeFileSync(
  join(out, 'ours.json'),
  JSON.stringify({ conformance: results, ...timings, units: H, device: addon?.info(), runsOn: availability.runsOn ?? cuda.name }, null, 2),
);

function report(dir) {
  const ours = JSON.parse(readFileSync(join(dir, 'ours.json'), 'utf8'));
  const peer = JSON.parse(readFileSync(join(dir, 'peer.json'), 'utf8'));
  const rows = [
    ['one step per call B=1 (public API)', 'stream-B1-api', 'stream-B1', 'stream-B1-graph', 10],
    ['one step per call B=1 (spec API)', 'stream-B1-spec', 'stream-B1', 'stream-B1-graph', 10],
    ['one step per call B=16 (public API)', 'stream-B16-api', 'stream-B16', 'stream-B16-graph', 10],
    ['one step per call B=16 (spec API)', 'stream-B16-spec', 'stream-B16', 'stream-B16-graph', 10],
    ['sequence B=1 T=100', 'seq-B1-T100', 'seq-B1-T100', null, 300],
    ['sequence B=1 T=100, no persistent kernel', 'seq-B1-T100-generic', 'seq-B1-T100', null, null],
    ['sequence B=16 T=100', 'seq-B16-T100', 'seq-B16-T100', null, null],
    ['sequence B=32 T=100', 'seq-B32-T100', 'seq-B32-T100', null, null],
    ['sequence B=64 T=100 (fp32)', 'seq-B64-T100', 'seq-B64-T100', null, null],
    ['sequence B=64 T=100, no persistent kernel', 'seq-B64-T100-generic', 'seq-B64-T100', null, null],
    ['sequence B=64 T=100 vs cuDNN TF32', 'seq-B64-T100', 'seq-B64-T100-tf32', null, null],
    ['training fwd+bwd B=64 T=50', 'train-B64-T50', 'train-B64-T50', null, 'train'],
  ];
  console.log(`\nGPU: ${ours.runsOn}; torch ${peer.torch}, cuDNN ${peer.cudnn}; TF32 switches: ${JSON.stringify(peer.tf32)}`);
  console.log(`floor: empty launch + synchronise: ours ${ours.floor_us.toFixed(2)} us, torch ${peer.floor_us.toFixed(2)} us`);
  console.log(
    `| case (LSTM, H = I = ${ours.units}) | Recur cuda (us) | cuDNN plain (us) | cuDNN graph (us) | ratio (cuDNN best / ours) | goal |`,
  );
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const [label, mine, theirs, graph, goal] of rows) {
    const a = ours.cases[mine],
      b = peer.cases[theirs],
      g = graph ? peer.cases[graph] : null;
    const best = g ? Math.min(b, g) : b;
    console.log(
      `| ${label} | ${a?.toFixed(1)} | ${b?.toFixed(1)} | ${g ? g.toFixed(1) : '-'} | ${(best / a).toFixed(2)}x | ${goal === 'train' ? '>= 0.83x (<= 1.2x its time)' : goal ? `<= ${goal} us` : '>= 1.0x'} |`,
    );
  }
  console.log('agreement with PyTorch (max |ours - torch fp32|):', JSON.stringify(peer.agreement));
  console.log('conformance:', JSON.stringify(ours.conformance));
}
