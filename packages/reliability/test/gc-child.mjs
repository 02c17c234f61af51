// node --expose-gc test/gc-child.mjs BACKEND [trained]: cells dropped without dispose() must not keep their weight
// uploads; with `trained`, whole models a trainer updated on the backend (their heads' parameters live there too).
import '@recur/backend-cpu';
import '@recur/backend-wasm';
import '@recur/backend-simd';
import { Adam, LSTMCell, RnnModel, TbpttTrainer, disposeState, dynamicRnn, memory, ready, tensor, tokenIds } from '@recur/core';

const backend = process.argv[2];
await ready(backend);
const x = tensor(new Float32Array(2 * 3 * 8).fill(0.5), [2, 3, 8], { backend });
const baseline = memory(backend);
const trained = process.argv[3] === 'trained';
/** In a function of its own: the top level's async context would keep the last model reachable. */
async function trainAndDrop(i) {
  // the model is dropped, never disposed (its trainer is)
  const model = new RnnModel({ inputSize: 8, layers: [{ kind: 'lstm', units: 16 }], outputSize: 8 }, { backend, seed: i + 1 });
  const trainer = new TbpttTrainer(model, { batch: 2, optimizer: new Adam() });
  await trainer.trainChunk(tokenIds([1, 2, 3, 4, 5, 6], [2, 3], 8), [2, 3, 4, 5, 6, 7]);
  trainer.dispose();
}
for (let i = 0; i < (trained ? 50 : 200); i++) {
  if (trained) {
    await trainAndDrop(i);
    continue;
  }
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
