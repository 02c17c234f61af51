import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { RecurError, RnnModel, ShapeError, decodeSafetensors, encodeSafetensors, seededRandom } from '../src/index.js';
import { crc32 } from '../src/crc32.js';

const config = {
  inputSize: 3,
  layers: [
    { kind: 'lstm' as const, units: 4 },
    { kind: 'gru' as const, units: 3 },
  ],
  outputSize: 5,
};

function weightsOf(model: RnnModel): number[][] {
  return [
    ...model.cell.layers.flatMap((l) => Object.values(l.getWeights()).map((a) => Array.from(a as Float32Array))),
    Array.from(model.head.weight),
    Array.from(model.head.bias),
  ];
}

describe('crc32', () => {
  it('equals zlib.crc32 on random bytes of many lengths, in one call and continued', () => {
    const random = seededRandom(3);
    for (const n of [0, 1, 2, 7, 8, 63, 64, 1000, 65537]) {
      const bytes = Uint8Array.from({ length: n }, () => Math.floor(random() * 256));
      expect(crc32(bytes)).toBe(zlibCrc32(bytes));
      const cut = Math.floor(n / 3);
      expect(crc32(bytes.subarray(cut), crc32(bytes.subarray(0, cut)))).toBe(zlibCrc32(bytes));
    }
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926); // the standard check value
  });
});

describe('model files from any view of the bytes (defect 1)', () => {
  const model = new RnnModel(config, { seed: 5 });
  const bytes = model.toSafetensors();
  const want = weightsOf(model);

  it('fs.readFileSync, Buffer.from, a small pooled Buffer and odd-offset views load the same weights', () => {
    const dir = mkdtempSync(join(tmpdir(), 'recur-model-'));
    const file = join(dir, 'model.safetensors');
    writeFileSync(file, bytes);
    Buffer.from(new Uint8Array(17)); // take a bit of the pool first, so the next pooled Buffer starts mid-pool
    const pooled = Buffer.from(bytes);
    expect(pooled.byteOffset).toBeGreaterThan(0); // the case that broke: a view into Node's shared pool
    const big = new Uint8Array(bytes.length + 11);
    big.set(bytes, 5);
    const views: [string, Uint8Array][] = [
      ['readFileSync', readFileSync(file)],
      ['Buffer.from', pooled],
      ['odd offset view', big.subarray(5, 5 + bytes.length)],
      ['Buffer over an ArrayBuffer at an offset', Buffer.from(big.buffer, 5, bytes.length)],
    ];
    for (const [what, view] of views) {
      expect(weightsOf(RnnModel.fromSafetensors(view)), what).toEqual(want);
    }
  });

  it('decodeSafetensors reads tensors from a view without touching the bytes around it', () => {
    const big = new Uint8Array(bytes.length + 3).fill(0xff);
    big.set(bytes, 3);
    const { tensors } = decodeSafetensors(big.subarray(3));
    expect(Array.from(tensors.get('head.bias')!.data)).toEqual(Array.from(model.head.bias));
  });
});

describe('shapes before allocation (defect 6)', () => {
  it('a file whose config claims a huge layer is refused by tensor shape, allocating nothing', () => {
    const { tensors, metadata } = decodeSafetensors(new RnnModel(config).toSafetensors());
    const { recur_crc32: _crc, ...plain } = metadata; // as another tool would write it: no checksum to catch the lie
    // the last layer is the one a stack initialises as it is built (its recurrent kernel is units x units): the
    // case that took a minute and 3.4 GB; the first layer's lie must be refused the same way
    for (const [layer, units] of [
      [1, 1_200],
      [1, 12_000],
      [1, 1_000_000],
      [0, 1_000_000],
    ]) {
      const lie = JSON.parse(plain.config);
      lie.layers[layer].units = units;
      const file = encodeSafetensors([...tensors.values()], { ...plain, config: JSON.stringify(lie) });
      const before = process.memoryUsage().arrayBuffers;
      let error: unknown;
      try {
        RnnModel.fromSafetensors(file);
      } catch (e) {
        error = e;
      }
      // a model of 1e6 units would need 16 TB: any allocation attempted first would fail differently (or abort)
      expect(error).toBeInstanceOf(ShapeError);
      const [gates, inputSize] = layer === 0 ? [4, 3] : [3, 4];
      expect((error as ShapeError).argument).toBe(`file tensor layers.${layer}.w_ih`);
      expect((error as ShapeError).expected).toBe(`shape [${gates * units}, ${inputSize}] (from the config)`);
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1 << 20);
    }
  });

  it('sizes no host could allocate are refused by the host budget with a RecurError, not a RangeError or an abort', () => {
    expect(() => new RnnModel({ ...config, outputSize: 1e9 })).toThrow(
      expect.objectContaining({ argument: 'outputSize', expected: expect.stringContaining('for one buffer') }),
    );
    const big = new RnnModel({ inputSize: 1e9, layers: [{ kind: 'lstm', units: 4 }], outputSize: 2 });
    expect(() => big.cell.layers[0].getWeights()).toThrow(
      expect.objectContaining({ argument: 'inputSize', actual: expect.stringContaining('w_ih [16, 1000000000]') }),
    );
  });
});

describe('integrity (CRC-32 in the metadata)', () => {
  it('a damaged part is named: the tensor, or the config', () => {
    const model = new RnnModel(config, { seed: 6 });
    const bytes = model.toSafetensors();
    const damaged = bytes.slice();
    damaged[damaged.length - 1] ^= 4; // the last byte of head.bias
    expect(() => RnnModel.fromSafetensors(damaged)).toThrow(
      expect.objectContaining({ argument: 'file tensor head.bias', actual: expect.stringMatching(/^CRC-32 "[0-9a-f]{8}"$/) }),
    );
    const text = new TextDecoder().decode(bytes);
    const at = text.indexOf('\\"units\\":4');
    expect(at).toBeGreaterThan(0);
    const lied = bytes.slice();
    lied[at + 10] = '5'.charCodeAt(0);
    expect(() => RnnModel.fromSafetensors(lied)).toThrow(
      expect.objectContaining({ argument: 'file config', expected: expect.stringContaining('as written') }),
    );
  });

  it('of 2,000 random 1-3 byte flips, none loads with changed weights, and every refusal is a RecurError', () => {
    const model = new RnnModel(config, { seed: 6 });
    const bytes = model.toSafetensors();
    const want = weightsOf(model);
    const random = seededRandom(99);
    let refused = 0,
      unchanged = 0;
    const byArgument = new Map<string, number>();
    for (let trial = 0; trial < 2000; trial++) {
      const damaged = bytes.slice();
      const flips = 1 + Math.floor(random() * 3);
      for (let f = 0; f < flips; f++) damaged[Math.floor(random() * damaged.length)] ^= 1 << Math.floor(random() * 8);
      try {
        const loaded = RnnModel.fromSafetensors(damaged);
        expect(weightsOf(loaded), `trial ${trial} loaded with changed weights`).toEqual(want);
        expect(loaded.config).toEqual(model.config);
        unchanged++;
      } catch (error) {
        expect(error, `trial ${trial}`).toBeInstanceOf(RecurError);
        const argument = (error as RecurError).argument.replace(/^file tensor .*/, 'file tensor <name>').replace(/\[\d+\]$/, '');
        byArgument.set(argument, (byArgument.get(argument) ?? 0) + 1);
        refused++;
      }
    }
    const kinds = [...byArgument]
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    console.log(`2000 damaged files: ${refused} refused with a RecurError (${kinds}), ${unchanged} loaded unchanged, 0 silently changed`);
    expect(refused + unchanged).toBe(2000);
  });

  it('the checksum is metadata: the file stays valid safetensors that ignores it', () => {
    const { metadata, tensors } = decodeSafetensors(new RnnModel(config).toSafetensors());
    const crcs = JSON.parse(metadata.recur_crc32);
    expect(Object.keys(crcs).sort()).toEqual(['config', ...tensors.keys()].sort());
    expect(Object.values(crcs).every((v) => /^[0-9a-f]{8}$/.test(v as string))).toBe(true);
    expect(tensors.size).toBe(10);
  });
});
