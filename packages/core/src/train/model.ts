import { BasicRNNCell, GRUCell, LSTMCell } from '../cells/cells.js';
import type { LayerCell } from '../cells/layer-cell.js';
import { MultiRNNCell, type Cell } from '../cells/multi.js';
import { RecurError, ShapeError, describe } from '../errors.js';
import { checkOptions, checkPositiveInt } from '../options.js';
import type { CellKind, DType, RnnActivation } from '../spec.js';
import { Dense } from './dense.js';
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from './safetensors.js';

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

function checkConfig(config: ModelConfig, argument: string): ModelConfig {
  if (!config || typeof config !== 'object') throw new RecurError(argument, 'a model config {inputSize, layers, outputSize}', describe(config));
  checkPositiveInt(config.inputSize, `${argument}.inputSize`);
  checkPositiveInt(config.outputSize, `${argument}.outputSize`);
  if (!Array.isArray(config.layers) || config.layers.length === 0) throw new RecurError(`${argument}.layers`, 'a non-empty array of layer configs', describe(config.layers));
  config.layers.forEach((l, i) => {
    if (!l || !['lstm', 'gru', 'rnn'].includes(l.kind)) throw new RecurError(`${argument}.layers[${i}].kind`, "'lstm', 'gru' or 'rnn'", describe(l?.kind));
    checkPositiveInt(l.units, `${argument}.layers[${i}].units`);
  });
  return config;
}

/** A recurrent stack with a dense head: what the trainer trains, the saver saves and generation runs. */
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
      const common = { backend: opts.backend, dtype, inputSize: i === 0 ? config.inputSize : config.layers[i - 1].units, seed: seed * 1000 + i };
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
      tensors.push({ name: `layers.${l}.w_ih`, shape: [G, layer.inputSize!], data: w.wIh }, { name: `layers.${l}.w_hh`, shape: [G, layer.units], data: w.wHh },
        { name: `layers.${l}.b_ih`, shape: [G], data: w.bIh }, { name: `layers.${l}.b_hh`, shape: [G], data: w.bHh });
    });
    tensors.push({ name: 'head.weight', shape: [this.head.outputSize, this.head.inputSize], data: this.head.weight }, { name: 'head.bias', shape: [this.head.outputSize], data: this.head.bias });
    return encodeSafetensors(tensors, { format: FORMAT, version: '1', config: JSON.stringify(this.config) });
  }

  /** Reads a model saved by `toSafetensors`; a corrupt file or one whose tensors do not fit its config is rejected. */
  static fromSafetensors(bytes: Uint8Array, options?: { backend?: string }): RnnModel {
    const { tensors, metadata } = decodeSafetensors(bytes);
    if (metadata.format !== FORMAT || metadata.version !== '1') {
      throw new RecurError('file', `a ${FORMAT} version 1 file`, `format ${describe(metadata.format)} version ${describe(metadata.version)}`);
    }
    let config: ModelConfig;
    try {
      config = JSON.parse(metadata.config);
    } catch {
      throw new RecurError('file', 'a JSON model config in the metadata', describe(metadata.config));
    }
    const model = new RnnModel(checkConfig(config, 'file config'), options);
    const take = (name: string, shape: number[]) => {
      const t = tensors.get(name);
      if (!t) throw new ShapeError('file', `a tensor ${name}`, 'none');
      if (t.shape.join() !== shape.join()) throw new ShapeError(`file tensor ${name}`, `shape [${shape.join(', ')}] (from the config)`, `shape [${t.shape.join(', ')}]`);
      return t.data;
    };
    model.cell.layers.forEach((layer, l) => {
      const G = layer.gates * layer.units;
      layer.setWeights({ wIh: take(`layers.${l}.w_ih`, [G, layer.inputSize!]), wHh: take(`layers.${l}.w_hh`, [G, layer.units]), bIh: take(`layers.${l}.b_ih`, [G]), bHh: take(`layers.${l}.b_hh`, [G]) });
    });
    model.head.setWeights(take('head.weight', [model.head.outputSize, model.head.inputSize]), take('head.bias', [model.head.outputSize]));
    const expected = 4 * model.cell.layers.length + 2;
    if (tensors.size !== expected) throw new RecurError('file', `${expected} tensors`, `${tensors.size} tensors`);
    return model;
  }

  dispose(): void {
    for (const layer of this.cell.layers) layer.dispose();
  }
}
