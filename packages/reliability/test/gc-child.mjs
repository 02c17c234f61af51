// node --expose-gc test/gc-child.mjs BACKEND: cells dropped without dispose() must not keep their weight uploads.
import '@recur/backend-cpu';
import '@recur/backend-wasm';
import '@recur/backend-simd';
import { LSTMCell, disposeState, dynamicRnn, memory, ready, tensor } from '@recur/core';

const backend = process.argv[2];
await ready(backend);
const x = tensor(new Float32Array(2 * 3 * 8).fill(0.5), [2, 3, 8], { backend });
const baseline = memory(backend);
for (let i = 0; i < 200; i++) {
  const { outputs, state } = dynamicRnn(new LSTMCell(64, { backend, inputSize: 8 }), x); // the cell is dropped, never disposed
  outputs.dispose();
  disposeState(state);
}
const held = memory(backend);
for (let i = 0; i < 10 && memory(backend).numTensors > baseline.numTensors; i++) {
  globalThis.gc();
  await new Promise((resolve) => setTimeout(resolve, 20));
}
const after = memory(backend);
process.stdout.write(`${JSON.stringify({ baseline, held, after })}\n`);
process.exit(0);
