import { describe, expect, it } from 'vitest';
import { Adam, RecurError, SGD, clipByGlobalNorm, decodeSafetensors, encodeSafetensors, softmaxCrossEntropy } from '../src/index.js';
import { Dense } from '../src/train/dense.js';

const fields = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    const err = e as RecurError;
    return { type: err.constructor.name, argument: err.argument, expected: err.expected, actual: err.actual };
  }
  throw new Error('did not throw');
};

describe('losses and the dense head against finite differences (float64)', () => {
  it('softmax cross-entropy: value against a hand computation, gradient against central differences', () => {
    const logits = Float64Array.of(1, 2, 3, -1, 0, 1);
    const { loss, dPredictions } = softmaxCrossEntropy(logits, [2, 0], 2, 3);
    const lse = (a: number[]) => Math.log(a.reduce((s, v) => s + Math.exp(v), 0));
    expect(loss).toBeCloseTo((lse([1, 2, 3]) - 3 + (lse([-1, 0, 1]) + 1)) / 2, 12);
    for (let i = 0; i < 6; i++) {
      const up = logits.slice(),
        down = logits.slice();
      up[i] += 1e-6;
      down[i] -= 1e-6;
      const numeric = (softmaxCrossEntropy(up, [2, 0], 2, 3).loss - softmaxCrossEntropy(down, [2, 0], 2, 3).loss) / 2e-6;
      expect(Math.abs(numeric - dPredictions[i])).toBeLessThan(1e-8);
    }
  });

  it('Dense backward matches central differences for x, W and b', () => {
    const dense = new Dense(3, 2, { dtype: 'float64', seed: 4 });
    const x = Float64Array.of(0.5, -1, 2, 0.3, 0.1, -0.7),
      R = Float64Array.of(1, -2, 0.5, 3);
    const weight = dense.weight,
      bias = dense.bias; // copies: the head changes only through setWeights
    const lossOf = () => {
      dense.setWeights(weight, bias);
      return dense.forward(x, 2).reduce((s, v, i) => s + v * R[i], 0);
    };
    const { dx, dWeight, dBias } = dense.backward(x, R, 2);
    for (const [values, grad] of [
      [x, dx],
      [weight, dWeight],
      [bias, dBias],
    ] as const) {
      for (let i = 0; i < values.length; i++) {
        const keep = values[i];
        values[i] = keep + 1e-6;
        const up = lossOf();
        values[i] = keep - 1e-6;
        const down = lossOf();
        values[i] = keep;
        expect(Math.abs((up - down) / 2e-6 - grad[i])).toBeLessThan(1e-8);
      }
    }
  });
});

describe('optimizers', () => {
  it('SGD with momentum and Adam take the textbook first steps', () => {
    const p = Float64Array.of(1, -1),
      g = Float64Array.of(0.5, -2);
    const sgd = new SGD({ learningRate: 0.1, momentum: 0.9 });
    sgd.step([p], [g]);
    expect(Array.from(p)).toEqual([1 - 0.05, -1 + 0.2]);
    sgd.step([p], [g]);
    expect(p[0]).toBeCloseTo(0.95 - 0.1 * (0.9 * 0.5 + 0.5), 12);
    const q = Float64Array.of(1, -1);
    new Adam({ learningRate: 0.01 }).step([q], [g]);
    // first Adam step is lr * sign(g) (up to epsilon)
    expect(q[0]).toBeCloseTo(0.99, 6);
    expect(q[1]).toBeCloseTo(-0.99, 6);
  });

  it('rejects learning rates that are not positive finite numbers, by name', () => {
    for (const bad of [0, -1, NaN, Infinity, '0.1']) {
      expect(fields(() => new SGD({ learningRate: bad as number }))).toMatchObject({
        argument: 'options.learningRate',
        expected: 'a positive finite number',
      });
      expect(fields(() => new Adam({ learningRate: bad as number }))).toMatchObject({
        argument: 'options.learningRate',
        expected: 'a positive finite number',
      });
    }
  });

  it('clipByGlobalNorm scales every gradient by one factor', () => {
    const a = Float64Array.of(3),
      b = Float64Array.of(4);
    expect(clipByGlobalNorm([a, b], 1)).toBe(5);
    expect(a[0]).toBeCloseTo(0.6, 12);
    expect(b[0]).toBeCloseTo(0.8, 12);
  });
});

describe('safetensors', () => {
  it('round-trips tensors and metadata, and reads what another writer laid out', () => {
    const bytes = encodeSafetensors(
      [
        { name: 'a', shape: [2, 2], data: Float32Array.of(1, 2, 3, 4) },
        { name: 'b', shape: [1], data: Float64Array.of(0.5) },
      ],
      { note: 'x' },
    );
    expect(Number(new DataView(bytes.buffer).getBigUint64(0, true)) % 8).toBe(0);
    const back = decodeSafetensors(bytes);
    expect(back.metadata).toEqual({ note: 'x' });
    expect(Array.from(back.tensors.get('a')!.data)).toEqual([1, 2, 3, 4]);
    expect(back.tensors.get('b')!.data).toBeInstanceOf(Float64Array);
  });

  it('rejects truncated, lying and overlapping files with a RecurError naming the file', () => {
    const good = encodeSafetensors([{ name: 'a', shape: [4], data: Float32Array.of(1, 2, 3, 4) }], {});
    expect(fields(() => decodeSafetensors(good.subarray(0, good.length - 4)))).toMatchObject({
      argument: 'file',
      actual: expect.stringContaining('offsets [0,16] for 4 values in 12 data bytes'),
    });
    expect(fields(() => decodeSafetensors(new Uint8Array(4)))).toMatchObject({
      argument: 'file',
      actual: '4 bytes, too short for a header',
    });
    const lying = good.slice();
    new DataView(lying.buffer).setBigUint64(0, 10_000n, true);
    expect(fields(() => decodeSafetensors(lying))).toMatchObject({
      argument: 'file',
      actual: expect.stringContaining('a header of 10000 bytes'),
    });
    const header = JSON.stringify({
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
    });
    const overlap = new Uint8Array(8 + header.length + 12);
    new DataView(overlap.buffer).setBigUint64(0, BigInt(header.length), true);
    overlap.set(new TextEncoder().encode(header), 8);
    expect(fields(() => decodeSafetensors(overlap))).toMatchObject({ argument: 'file', actual: 'tensors a and b overlapping' });
  });
});
