import type * as OrtApi from 'onnxruntime-common';
import type { BenchCase } from '../cases.js';
import { rnnModel } from '../onnx-model.js';
import { stepFrames, type CaseData, type Contender, type Prepared } from './types.js';

/** [B, T, H] -> [T, B, H] */
export function timeMajor(x: Float32Array, B: number, T: number, H: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) out.set(x.subarray((b * T + t) * H, (b * T + t + 1) * H), (t * B + b) * H);
  return out;
}

/** What the contender needs of an ONNX Runtime package (onnxruntime-node and onnxruntime-web share the API). */
export interface OrtPackage {
  readonly InferenceSession: typeof OrtApi.InferenceSession;
  readonly Tensor: typeof OrtApi.Tensor;
}

/**
 * ONNX Runtime (`ort`: onnxruntime-node's CPU provider, or onnxruntime-web's wasm provider) as a peer, named `name`,
 * its sessions made with `options`. Streaming is done the way an ORT user must: one session.run per step, the
 * state fed back as inputs.
 */
export function ortContenderOf(ort: OrtPackage, name: string, options: OrtApi.InferenceSession.SessionOptions): Contender {
  return {
    name,
    role: 'peer',
    skip: (c) =>
      c.mode === 'training' || c.mode === 'model'
        ? 'ONNX Runtime has no training API here'
        : c.cell === 'rnn'
          ? 'the bench builds ONNX LSTM and GRU models only'
          : null,
    async prepare(c: BenchCase, { weights, x }: CaseData): Promise<Prepared> {
      const { H, B, T } = c;
      const lstm = c.cell === 'lstm';
      const steps = c.mode === 'streaming' ? 1 : T;
      const session = await ort.InferenceSession.create(rnnModel(c.cell as 'lstm' | 'gru', weights, H, H, steps, B, c.resetAfter), options);
      const zeros = () => new ort.Tensor('float32', new Float32Array(B * H), [1, B, H]);
      if (c.mode === 'streaming') {
        const frames = stepFrames(x, B, T, H);
        const fetches = lstm ? ['Y_h', 'Y_c'] : ['Y_h'];
        const stream = async (collect: Float32Array | null) => {
          let h: OrtApi.Tensor = zeros(),
            cs: OrtApi.Tensor = zeros();
          for (let t = 0; t < T; t++) {
            const feeds: Record<string, OrtApi.Tensor> = { X: new ort.Tensor('float32', frames[t], [1, B, H]), initial_h: h };
            if (lstm) feeds.initial_c = cs;
            const r = await session.run(feeds, fetches);
            h = r.Y_h;
            if (lstm) cs = r.Y_c;
            const out = h.data as Float32Array; // one step: the output is the new h
            if (collect) for (let b = 0; b < B; b++) collect.set(out.subarray(b * H, (b + 1) * H), (b * T + t) * H);
          }
        };
        return {
          run: () => stream(null),
          outputs: async () => {
            const all = new Float32Array(B * T * H);
            await stream(all);
            return all;
          },
          dispose: () => void session.release(),
        };
      }
      const feeds: Record<string, OrtApi.Tensor> = { X: new ort.Tensor('float32', timeMajor(x, B, T, H), [T, B, H]), initial_h: zeros() };
      if (lstm) feeds.initial_c = zeros();
      const forward = async () => (await session.run(feeds, ['Y'])).Y.data as Float32Array;
      return {
        run: forward,
        // Y is [T, 1, B, H]: back to [B, T, H]
        outputs: async () => timeMajor(await forward(), T, B, H),
        dispose: () => void session.release(),
      };
    },
  };
}
