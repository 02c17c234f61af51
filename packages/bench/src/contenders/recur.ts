import {
  Adam,
  tokenIds,
  BasicRNNCell,
  GRUCell,
  LSTMCell,
  LSTMStateTuple,
  RnnModel,
  StatefulRNN,
  TbpttTrainer,
  dynamicRnn,
  dynamicRnnWithTape,
  disposeState,
  getBackend,
  tensor,
  type Tensor,
} from '@recur/core';
import type { BenchCase } from '../cases.js';
import { stepFrames, type CaseData, type Contender, type Gradients, type ModelData, type Prepared } from './types.js';

/** The case's one-layer cell on `backend` (input size H). */
export function makeCell(c: BenchCase, backend: string, seed?: number): LSTMCell | GRUCell | BasicRNNCell {
  const options = { backend, inputSize: c.H, seed };
  return c.cell === 'lstm'
    ? new LSTMCell(c.H, options)
    : c.cell === 'gru'
      ? new GRUCell(c.H, { ...options, resetAfter: c.resetAfter })
      : new BasicRNNCell(c.H, options);
}

/** A Recur backend: dynamicRnn for sequences, StatefulRNN for streaming, dynamicRnnWithTape + backward for training. */
export function recurContender(backend: string): Contender {
  return {
    name: `recur-${backend}`,
    role: 'recur',
    skip: (c) =>
      (c.mode === 'training' || c.mode === 'model') && !getBackend(backend).capabilities.training ? 'no backward kernels' : null,
    async prepare(c: BenchCase, { weights, x, model }: CaseData): Promise<Prepared> {
      if (c.mode === 'model') return prepareModel(backend, c, model!);
      const { H, B, T } = c;
      const cell = makeCell(c, backend);
      cell.setWeights(weights);
      if (c.mode === 'streaming') {
        const rnn = new StatefulRNN(cell, { batch: B });
        const frames = stepFrames(x, B, T, H);
        // one call per step: upload the frame, run with the carried state, read the output
        const stream = (collect: Float32Array | null) => {
          frames.forEach((frame, t) => {
            const input = tensor(frame, [B, 1, H], { backend });
            const y = rnn.run(input);
            const out = y.dataSync();
            if (collect) for (let b = 0; b < B; b++) collect.set(out.subarray(b * H, (b + 1) * H), (b * T + t) * H);
            input.dispose();
            y.dispose();
          });
        };
        return {
          run: () => stream(null),
          outputs: async () => {
            rnn.reset();
            const all = new Float32Array(B * T * H);
            stream(all);
            return all;
          },
          dispose: () => {
            rnn.dispose();
            cell.dispose();
          },
        };
      }
      const input = tensor(x, [B, T, H], { backend });
      const forward = () => {
        const { outputs, state } = dynamicRnn(cell, input);
        const y = outputs.dataSync() as Float32Array;
        outputs.dispose();
        disposeState(state);
        return y;
      };
      const dy = c.mode === 'training' ? tensor(new Float32Array(B * T * H).fill(1 / (B * T)), [B, T, H], { backend }) : null;
      const train = (keep = false): Gradients | null => {
        const { outputs, state, tape } = dynamicRnnWithTape(cell, input);
        const grads = tape.backward({ dOutputs: dy! });
        const w = grads.dWeights[0];
        const s = grads.dInitialState;
        const kept = keep
          ? {
              dx: grads.dInputs!.dataSync() as Float32Array,
              dh0: (s instanceof LSTMStateTuple ? s.h : (s as Tensor)).dataSync() as Float32Array,
              wIh: w.wIh.dataSync() as Float32Array,
              wHh: w.wHh.dataSync() as Float32Array,
              bIh: w.bIh.dataSync() as Float32Array,
              bHh: w.bHh.dataSync() as Float32Array,
            }
          : (w.wHh.dataSync(), null);
        grads.dispose();
        outputs.dispose();
        disposeState(state);
        return kept;
      };
      return {
        run: c.mode === 'training' ? () => train() : forward,
        outputs: c.mode === 'sequence' ? async () => forward() : undefined,
        gradients: c.mode === 'training' ? async () => train(true)! : undefined,
        dispose: () => {
          input.dispose();
          dy?.dispose();
          cell.dispose();
        },
      };
    },
  };
}

/**
 * The demo's training step as the demo runs it: RnnModel + TbpttTrainer (Adam, clipping) on token ids (the first
 * layer's projection a gather; PyTorch's nn.LSTM takes the same characters as one-hot rows), one chunk per run
 * with the state carried from the previous run. On a backend without token kernels core uploads the one-hot rows.
 */
export async function prepareModel(backend: string, c: BenchCase, data: ModelData): Promise<Prepared> {
  const { layers, vocabulary: V, learningRate, clipNorm } = c.model!;
  const model = new RnnModel(
    { inputSize: V, layers: Array.from({ length: layers }, () => ({ kind: 'lstm' as const, units: c.H })), outputSize: V },
    { backend },
  );
  model.cell.layers.forEach((layer, l) => layer.setWeights(data.layers[l]));
  model.head.setWeights(data.headWeight, data.headBias);
  const trainer = new TbpttTrainer(model, { batch: c.B, optimizer: new Adam({ learningRate }), clipNorm });
  const input = tokenIds(data.inputIds, [c.B, c.T], V);
  const step = () => trainer.trainChunk(input, data.targets);
  return {
    run: step,
    firstStep: async () => {
      const { loss, gradNorm } = await step();
      return { loss, gradNorm };
    },
    dispose: () => {
      trainer.dispose();
      model.dispose();
    },
  };
}
