import { BasicRNNCell, GRUCell, LSTMCell } from '../cells/cells.js';
import type { LayerCell } from '../cells/layer-cell.js';
import { MultiRNNCell, type Cell } from '../cells/multi.js';
import { RecurError, ShapeError, describe } from '../errors.js';
import { checkFiniteNumber, checkOptions, checkPositiveInt } from '../options.js';
import { gateCount, type CellKind, type DType, type FloatArray, type RnnActivation } from '../spec.js';
import { crc32 } from '../crc32.js';
import { Dense } from './dense.js';
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from './safetensors.js';

/** One layer of an `RnnModel`. */
export interface LayerConfig {
  readonly kind: CellKind;
  readonly units: number;
  /** rnn: 'tanh' (default) or 'relu' */
  readonly activation?: RnnActivation;
  /** gru: true (default) = PyTorch/cuDNN, false = TF1 */
  readonly resetAfter?: boolean;
  /** lstm: TF1's run-time forget bias (default 0) */
  readonly forgetBias?: number;
}

/** An `RnnModel`: input size, layers, output size (the dense head). */
export interface ModelConfig {
  readonly inputSize: number;
  readonly layers: readonly LayerConfig[];
  /** Outputs of the dense head (e.g. the vocabulary size). */
  readonly outputSize: number;
  readonly dtype?: DType;
  /** Anything JSON the application needs back with the weights (a vocabulary, say). */
  readonly meta?: unknown;
}

const FORMAT = 'recur-rnn-model';
/**
 * Metadata key of the integrity check: a JSON object of CRC-32s (8 hex digits) of each part of the file, the
 * config's UTF-8 bytes ("config") and each tensor's bytes (by name), so that a mismatch names the damaged part.
 */
const CHECKSUM = 'recur_crc32';

const hex = (crc: number) => crc.toString(16).padStart(8, '0');
const crcOfTensor = (data: FloatArray) => hex(crc32(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)));

function checksums(config: string, tensors: Iterable<NamedTensor>): Record<string, string> {
  const out: Record<string, string> = { config: hex(crc32(new TextEncoder().encode(config))) };
  for (const t of tensors) out[t.name] = crcOfTensor(t.data);
  return out;
}

/** Checks the stored CRC-32 of every part against the file's bytes; names the first part that differs. */
function verifyChecksums(stored: string, config: string, tensors: Map<string, NamedTensor>): void {
  let expected: Record<string, unknown>;
  try {
    expected = JSON.parse(stored);
  } catch {
    throw new RecurError(`file __metadata__.${CHECKSUM}`, 'a JSON object of CRC-32s', describe(stored));
  }
  if (!expected || typeof expected !== 'object' || Array.isArray(expected))
    throw new RecurError(`file __metadata__.${CHECKSUM}`, 'a JSON object of CRC-32s', describe(stored));
  const actual = checksums(config, tensors.values());
  for (const part of new Set([...Object.keys(actual), ...Object.keys(expected)])) {
    const name = part === 'config' ? 'file config' : `file tensor ${part}`;
    if (expected[part] === undefined) throw new RecurError(name, `a part with a CRC-32 in __metadata__.${CHECKSUM}`, 'a part without one');
    if (actual[part] === undefined)
      throw new RecurError(name, 'a part present in the file', `a CRC-32 (${describe(expected[part])}) for a part that is not there`);
    if (actual[part] !== expected[part]) {
      throw new RecurError(
        name,
        `bytes whose CRC-32 is ${describe(expected[part])} (as written)`,
        `CRC-32 "${actual[part]}"`,
        'the file was changed or damaged after it was written',
      );
    }
  }
}

/** The tensors (name -> shape) a model of this config is saved as. */
function expectedTensors(config: ModelConfig): Map<string, number[]> {
  const out = new Map<string, number[]>();
  config.layers.forEach((l, i) => {
    const G = gateCount(l.kind) * l.units,
      inputSize = i === 0 ? config.inputSize : config.layers[i - 1].units;
    out
      .set(`layers.${i}.w_ih`, [G, inputSize])
      .set(`layers.${i}.w_hh`, [G, l.units])
      .set(`layers.${i}.b_ih`, [G])
      .set(`layers.${i}.b_hh`, [G]);
  });
  const last = config.layers[config.layers.length - 1].units;
  return out.set('head.weight', [config.outputSize, last]).set('head.bias', [config.outputSize]);
}

function checkConfig(config: ModelConfig, argument: string): ModelConfig {
  if (!config || typeof config !== 'object')
    throw new RecurError(argument, 'a model config {inputSize, layers, outputSize}', describe(config));
  checkPositiveInt(config.inputSize, `${argument}.inputSize`);
  checkPositiveInt(config.outputSize, `${argument}.outputSize`);
  if (!Array.isArray(config.layers) || config.layers.length === 0)
    throw new RecurError(`${argument}.layers`, 'a non-empty array of layer configs', describe(config.layers));
  checkOptions(config, ['inputSize', 'layers', 'outputSize', 'dtype', 'meta'], argument);
  if (config.dtype !== undefined && config.dtype !== 'float32' && config.dtype !== 'float64')
    throw new RecurError(`${argument}.dtype`, "'float32' or 'float64'", describe(config.dtype));
  config.layers.forEach((l, i) => {
    const at = `${argument}.layers[${i}]`;
    if (!l || !['lstm', 'gru', 'rnn'].includes(l.kind)) throw new RecurError(`${at}.kind`, "'lstm', 'gru' or 'rnn'", describe(l?.kind));
    checkOptions(l, ['kind', 'units', l.kind === 'lstm' ? 'forgetBias' : l.kind === 'gru' ? 'resetAfter' : 'activation'], at);
    checkPositiveInt(l.units, `${at}.units`);
    if (l.forgetBias !== undefined) checkFiniteNumber(l.forgetBias, `${at}.forgetBias`);
    if (l.resetAfter !== undefined && typeof l.resetAfter !== 'boolean')
      throw new RecurError(`${at}.resetAfter`, 'a boolean', describe(l.resetAfter));
    if (l.activation !== undefined && l.activation !== 'tanh' && l.activation !== 'relu')
      throw new RecurError(`${at}.activation`, "'tanh' or 'relu'", describe(l.activation));
  });
  return config;
}

/**
 * A recurrent stack with a dense head: what the trainer trains, the saver saves and generation runs.
 * @see [docs/training.md](../../../../docs/training.md)
 */
export class RnnModel {
  readonly config: ModelConfig;
  readonly cell: Cell;
  readonly head: Dense;

  constructor(config: ModelConfig, options?: { backend?: string; seed?: number }) {
    const opts = checkOptions(options, ['backend', 'seed'], 'options');
    this.config = checkConfig(config, 'config');
    const dtype = config.dtype ?? 'float32';
    const seed = opts.seed ?? 1;
    const layers: LayerCell[] = config.layers.map((l, i) => {
      const common = {
        backend: opts.backend,
        dtype,
        inputSize: i === 0 ? config.inputSize : config.layers[i - 1].units,
        seed: seed * 1000 + i,
      };
      if (l.kind === 'lstm') return new LSTMCell(l.units, { ...common, forgetBias: l.forgetBias });
      if (l.kind === 'gru') return new GRUCell(l.units, { ...common, resetAfter: l.resetAfter });
      return new BasicRNNCell(l.units, { ...common, activation: l.activation });
    });
    this.cell = layers.length === 1 ? layers[0] : new MultiRNNCell(layers);
    this.head = new Dense(config.layers[config.layers.length - 1].units, config.outputSize, { dtype, seed: seed * 1000 + 999 });
  }

  /** The model as a safetensors file: layers.<l>.{w_ih,w_hh,b_ih,b_hh}, head.{weight,bias}, config in the metadata. */
  toSafetensors(): Uint8Array {
    const tensors: NamedTensor[] = [];
    this.cell.layers.forEach((layer, l) => {
      const w = layer.getWeights();
      const G = layer.gates * layer.units;
      tensors.push(
        { name: `layers.${l}.w_ih`, shape: [G, layer.inputSize!], data: w.wIh },
        { name: `layers.${l}.w_hh`, shape: [G, layer.units], data: w.wHh },
        { name: `layers.${l}.b_ih`, shape: [G], data: w.bIh },
        { name: `layers.${l}.b_hh`, shape: [G], data: w.bHh },
      );
    });
    tensors.push(
      { name: 'head.weight', shape: [this.head.outputSize, this.head.inputSize], data: this.head.weight },
      { name: 'head.bias', shape: [this.head.outputSize], data: this.head.bias },
    );
    const config = JSON.stringify(this.config);
    return encodeSafetensors(tensors, { format: FORMAT, version: '1', config, [CHECKSUM]: JSON.stringify(checksums(config, tensors)) });
  }

  /**
   * Reads a model saved by `toSafetensors`. A corrupt file, one whose checksum does not match, or one whose tensors
   * do not fit its config is rejected, and every declared shape is checked against the bytes present before
   * anything is allocated. Files without a checksum (written by other tools) still load. Weights must be finite.
   */
  static fromSafetensors(bytes: Uint8Array, options?: { backend?: string }): RnnModel {
    checkOptions(options, ['backend'], 'options');
    const { tensors, metadata } = decodeSafetensors(bytes);
    if (metadata.format !== FORMAT || metadata.version !== '1') {
      throw new RecurError(
        'file',
        `a ${FORMAT} version 1 file`,
        `format ${describe(metadata.format)} version ${describe(metadata.version)}`,
      );
    }
    // a damaged key name must not switch the integrity check off: only these keys may be there
    const unknown = Object.keys(metadata).filter((k) => !['format', 'version', 'config', CHECKSUM].includes(k));
    if (unknown.length)
      throw new RecurError('file', `__metadata__ keys format, version, config and ${CHECKSUM}`, `key ${JSON.stringify(unknown[0])}`);
    if (metadata[CHECKSUM] !== undefined) verifyChecksums(metadata[CHECKSUM], metadata.config ?? '', tensors);
    let config: ModelConfig;
    try {
      config = JSON.parse(metadata.config);
    } catch {
      throw new RecurError('file', 'a JSON model config in the metadata', describe(metadata.config));
    }
    checkConfig(config, 'file config');
    // every tensor the config implies, checked against the file's header before any weight is allocated
    const expected = expectedTensors(config);
    const take = (name: string) => {
      const t = tensors.get(name);
      const shape = expected.get(name)!;
      if (!t) throw new ShapeError('file', `a tensor ${name}`, 'none');
      if (t.shape.join() !== shape.join())
        throw new ShapeError(`file tensor ${name}`, `shape [${shape.join(', ')}] (from the config)`, `shape [${t.shape.join(', ')}]`);
      return t.data;
    };
    for (const name of expected.keys()) take(name);
    if (tensors.size !== expected.size) {
      const extra = [...tensors.keys()].filter((n) => !expected.has(n));
      throw new RecurError(
        'file',
        `${expected.size} tensors`,
        `${tensors.size} tensors`,
        extra.length ? `not in the config: ${extra.slice(0, 4).join(', ')}` : undefined,
      );
    }
    for (const name of expected.keys()) {
      const values = take(name);
      for (let i = 0; i < values.length; i++) {
        if (!Number.isFinite(values[i])) throw new RecurError(`file tensor ${name}[${i}]`, 'a finite number', String(values[i]));
      }
    }
    const model = new RnnModel(config, options);
    try {
      model.cell.layers.forEach((layer, l) => {
        layer.setWeights({
          wIh: take(`layers.${l}.w_ih`),
          wHh: take(`layers.${l}.w_hh`),
          bIh: take(`layers.${l}.b_ih`),
          bHh: take(`layers.${l}.b_hh`),
        });
      });
      model.head.setWeights(take('head.weight'), take('head.bias'));
    } catch (error) {
      model.dispose();
      throw error;
    }
    return model;
  }

  /**
   * Reads parameters a backend's optimizer kernel updated back to the host (needed before `getWeights`, saving or
   * the head's host forward only on backends that read asynchronously; elsewhere those read back by themselves).
   */
  async sync(): Promise<void> {
    await Promise.all([...this.cell.layers.map((l) => l.syncWeights()), this.head.sync()]);
  }

  /** Frees the weights uploaded to backends, the head's included (newer ones are read back first). */
  dispose(): void {
    for (const layer of this.cell.layers) layer.dispose();
    this.head.dispose();
  }
}
