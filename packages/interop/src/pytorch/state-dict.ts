import {
  BasicRNNCell,
  GRUCell,
  MultiRNNCell,
  RecurError,
  UnsupportedOptionError,
  checkOptions,
  decodeSafetensors,
  encodeSafetensors,
  type CellKind,
  type DType,
  type FloatArray,
  type LayerCell,
  type RnnActivation,
} from '@recur/core';
import { layerWithWeights, weightsToWrite } from '../cells.js';
import { readTorchFile, writeTorchFile, type StateDictTensor } from './torch-file.js';

/** Options of `loadPyTorchRNN`. */
export interface PyTorchLoadOptions {
  /** The module's key prefix (`'encoder.'` for `model.encoder = nn.LSTM(...)`); found by itself when the file holds one RNN. */
  readonly prefix?: string;
  /** nn.RNN's `nonlinearity` (a state_dict does not record it): 'tanh' (default) or 'relu'. */
  readonly nonlinearity?: RnnActivation;
  /** The backend and dtype of the cells made (defaults: the default backend, float32). */
  readonly backend?: string;
  readonly dtype?: DType;
}

/** What `loadPyTorchRNN` found and made. */
export interface PyTorchRNN {
  /** One layer per `num_layers`, weights loaded. */
  readonly cell: MultiRNNCell;
  readonly kind: CellKind;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  /** false for `bias=False` (the cells' biases are zeros) */
  readonly bias: boolean;
  readonly prefix: string;
}

const KINDS: Record<number, CellKind> = { 4: 'lstm', 3: 'gru', 1: 'rnn' };
const MODULE = { lstm: 'nn.LSTM', gru: 'nn.GRU', rnn: 'nn.RNN' } as const;

/** True for the bytes of a zip (torch.save's format since PyTorch 1.6). */
const isZip = (b: Uint8Array) => b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && b[2] === 0x03 && b[3] === 0x04;

/**
 * The tensors of a PyTorch state_dict file: `torch.save(model.state_dict())` (.pt, .pth: a zip, read by a restricted
 * unpickler) or safetensors, told apart by their first bytes.
 * @example
 * const tensors = readStateDict(readFileSync('model.pt'));
 * console.log([...tensors.keys()]); // ['rnn.weight_ih_l0', ...]
 */
export function readStateDict(bytes: Uint8Array): Map<string, StateDictTensor> {
  return readFile(bytes).tensors;
}

/** The tensors of a PyTorch file and, for safetensors, its metadata. */
function readFile(bytes: Uint8Array): { tensors: Map<string, StateDictTensor>; metadata: Record<string, string> } {
  if (!(bytes instanceof Uint8Array)) throw new RecurError('bytes', 'a Uint8Array (the file)', typeof bytes);
  if (isZip(bytes)) return { tensors: readTorchFile(bytes), metadata: {} };
  // legacy torch.save: a pickle (protocol 2) whose first value is torch's magic number, a 10-byte LONG1; a safetensors
  // header length could share the first bytes, but its JSON starts at byte 8
  if (bytes[0] === 0x80 && bytes[1] === 0x02 && bytes[2] === 0x8a && bytes[3] === 0x0a && bytes[8] !== 0x7b) {
    throw new RecurError(
      'file',
      'a torch.save file in the zip format (PyTorch 1.6 and later) or safetensors',
      'the legacy torch.save format (a bare pickle: PyTorch before 1.6, or _use_new_zipfile_serialization=False)',
      're-save it with a current PyTorch: torch.save(torch.load(path), path)',
    );
  }
  const { tensors, skipped, metadata } = decodeSafetensors(bytes, { skipOtherDtypes: true });
  const out = new Map<string, StateDictTensor>();
  for (const t of tensors.values()) out.set(t.name, { name: t.name, dtype: t.dtype ?? 'F32', shape: t.shape, data: t.data });
  for (const t of skipped) out.set(t.name, { ...t, data: null });
  return { tensors: out, metadata };
}

/** The module prefixes of the RNNs in a state_dict: every key ending in `weight_ih_l0`. */
function rnnPrefixes(names: Iterable<string>): string[] {
  return [...names].filter((n) => n.endsWith('weight_ih_l0')).map((n) => n.slice(0, -'weight_ih_l0'.length));
}

/**
 * Makes a `MultiRNNCell` from the state_dict of an `nn.LSTM`, `nn.GRU` or `nn.RNN` (any `num_layers`, `bias=False`,
 * `batch_first` either way: it does not touch the weights). `proj_size` and `bidirectional` are refused by name, as
 * is a key of the module that is not a weight of these.
 * @example
 * const { cell, kind, numLayers } = rnnFromStateDict(readStateDict(bytes), { prefix: 'encoder.' });
 */
export function rnnFromStateDict(tensors: ReadonlyMap<string, StateDictTensor>, options?: PyTorchLoadOptions): PyTorchRNN {
  const opts = checkOptions(options, ['prefix', 'nonlinearity', 'backend', 'dtype'], 'options');
  if (opts.nonlinearity !== undefined && opts.nonlinearity !== 'tanh' && opts.nonlinearity !== 'relu') {
    throw new RecurError('options.nonlinearity', "'tanh' or 'relu' (nn.RNN's nonlinearity)", String(opts.nonlinearity));
  }
  const found = rnnPrefixes(tensors.keys());
  let prefix = opts.prefix;
  if (prefix === undefined) {
    if (found.length !== 1) {
      throw new RecurError(
        'options.prefix',
        found.length ? 'the prefix of one of the RNN modules in the file' : 'a state_dict holding an nn.LSTM, nn.GRU or nn.RNN',
        found.length
          ? `several: ${found.map((p) => JSON.stringify(p)).join(', ')}`
          : `no key ending in weight_ih_l0 (keys: ${[...tensors.keys()].slice(0, 8).join(', ') || 'none'})`,
      );
    }
    prefix = found[0];
  } else if (typeof prefix !== 'string' || !found.includes(prefix)) {
    throw new RecurError(
      'options.prefix',
      `one of ${found.map((p) => JSON.stringify(p)).join(', ') || '(no RNN in the file)'}`,
      JSON.stringify(prefix),
    );
  }
  const own = [...tensors.keys()].filter((n) => n.startsWith(prefix) && /^(weight|bias)_/.test(n.slice(prefix.length)));
  if (own.some((n) => n.endsWith('_reverse'))) {
    throw new UnsupportedOptionError(
      'file',
      'a one-direction RNN',
      `bidirectional=True (the ${prefix}*_reverse tensors)`,
      'bidirectional is not supported: load each direction as its own stack',
    );
  }
  if (own.some((n) => n.slice(prefix.length).startsWith('weight_hr_'))) {
    throw new UnsupportedOptionError(
      'file',
      'an LSTM without proj_size',
      `proj_size (the ${prefix}weight_hr_* tensors)`,
      "proj_size (TF1's num_proj) is not supported",
    );
  }
  const tensor = (name: string, rows: number, cols?: number): FloatArray => {
    const t = tensors.get(prefix + name);
    if (!t) throw new RecurError('file', `a tensor ${prefix}${name}`, 'none');
    const shape = cols === undefined ? [rows] : [rows, cols];
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new RecurError(`${prefix}${name}`, `shape [${shape}]`, `shape [${t.shape}]`);
    }
    if (!t.data) throw new RecurError(`${prefix}${name}`, 'a float tensor (F32, F64, F16 or BF16)', `dtype ${t.dtype}`);
    return t.data;
  };
  const hh0 = tensors.get(`${prefix}weight_hh_l0`);
  const ih0 = tensors.get(`${prefix}weight_ih_l0`)!;
  if (!hh0 || hh0.shape.length !== 2 || ih0.shape.length !== 2) {
    throw new RecurError(`${prefix}weight_hh_l0`, 'a [G*H, H] matrix beside weight_ih_l0', hh0 ? `shape [${hh0.shape}]` : 'none');
  }
  const H = hh0.shape[1],
    G = H > 0 ? hh0.shape[0] / H : 0;
  const kind = KINDS[G];
  if (!kind) throw new RecurError(`${prefix}weight_hh_l0`, 'shape [4H, H] (LSTM), [3H, H] (GRU) or [H, H] (RNN)', `shape [${hh0.shape}]`);
  if (kind !== 'rnn' && opts.nonlinearity !== undefined) {
    throw new RecurError('options.nonlinearity', `nothing for an ${MODULE[kind]} (it is nn.RNN's)`, opts.nonlinearity);
  }
  const inputSize = ih0.shape[1];
  let numLayers = 0;
  while (tensors.has(`${prefix}weight_ih_l${numLayers}`)) numLayers++;
  const bias = tensors.has(`${prefix}bias_ih_l0`);
  const expected = new Set<string>();
  for (let k = 0; k < numLayers; k++) {
    for (const n of ['weight_ih', 'weight_hh', ...(bias ? ['bias_ih', 'bias_hh'] : [])]) expected.add(`${prefix}${n}_l${k}`);
  }
  const stray = own.filter((n) => !expected.has(n));
  if (stray.length)
    throw new RecurError('file', `the ${expected.size} tensors of a ${numLayers}-layer ${MODULE[kind]}`, `also ${stray.join(', ')}`);
  const cellOptions = { backend: opts.backend, dtype: opts.dtype };
  const cells: LayerCell[] = [];
  for (let k = 0; k < numLayers; k++) {
    const I = k === 0 ? inputSize : H;
    const weights = {
      wIh: tensor(`weight_ih_l${k}`, G * H, I),
      wHh: tensor(`weight_hh_l${k}`, G * H, H),
      bIh: bias ? tensor(`bias_ih_l${k}`, G * H) : new Float32Array(G * H),
      bHh: bias ? tensor(`bias_hh_l${k}`, G * H) : new Float32Array(G * H),
    };
    const cell = layerWithWeights(kind, H, weights, {
      ...cellOptions,
      inputSize: I,
      name: `${prefix}l${k}`,
      activation: opts.nonlinearity,
    });
    cells.push(cell);
  }
  return { cell: new MultiRNNCell(cells), kind, inputSize, hiddenSize: H, numLayers, bias, prefix };
}

/**
 * Reads a PyTorch file (.pt or safetensors) and makes the stack its RNN describes: `readStateDict` + `rnnFromStateDict`.
 * @see [docs/interop.md](../../../../docs/interop.md)
 * @example
 * const { cell } = loadPyTorchRNN(readFileSync('lstm.pt'));
 * const rnn = new StatefulRNN(cell, { batch: 1 });
 */
export function loadPyTorchRNN(bytes: Uint8Array, options?: PyTorchLoadOptions): PyTorchRNN {
  const { tensors, metadata } = readFile(bytes);
  // safetensors written by savePyTorchRNN record an RNN's nonlinearity, which a state_dict cannot
  const recorded = metadata['recur.nonlinearity'];
  if (recorded !== undefined && recorded !== 'tanh' && recorded !== 'relu') {
    throw new RecurError('file', "recur.nonlinearity 'tanh' or 'relu' in the metadata", JSON.stringify(recorded));
  }
  const given = (options as { nonlinearity?: unknown } | undefined)?.nonlinearity;
  if (recorded !== undefined && given !== undefined && given !== recorded) {
    throw new RecurError('options.nonlinearity', `${recorded}, as the file records`, String(given));
  }
  return rnnFromStateDict(tensors, recorded === undefined || given !== undefined ? options : { ...options, nonlinearity: recorded });
}

/** Options of `savePyTorchRNN`. */
export interface PyTorchSaveOptions {
  /** 'pt' (what `torch.load` reads; default) or 'safetensors'. */
  readonly format?: 'pt' | 'safetensors';
  /** Put before every key, e.g. 'rnn.' for a module's attribute (default ''). */
  readonly prefix?: string;
  /** false writes no biases (for `bias=False`); refused if a bias is not zero. Default true. */
  readonly bias?: boolean;
}

/**
 * The state_dict of the `nn.LSTM` / `nn.GRU` / `nn.RNN` equal to a Recur cell or stack: one kind and one size for
 * every layer (PyTorch's modules have one `hidden_size`), GRUs reset-after (PyTorch's variant). A TF1 `forgetBias` is
 * folded into `bias_ih` (PyTorch has none at run time). An RNN's nonlinearity is not part of a state_dict: construct
 * the module with it.
 * @example
 * const tensors = stateDictFromRnn(stack, { prefix: 'rnn.' });
 */
export function stateDictFromRnn(
  cell: LayerCell | MultiRNNCell,
  options?: Omit<PyTorchSaveOptions, 'format'>,
): { name: string; shape: number[]; data: FloatArray }[] {
  const opts = checkOptions(options, ['prefix', 'bias'], 'options');
  const prefix = opts.prefix ?? '';
  if (typeof prefix !== 'string') throw new RecurError('options.prefix', 'a string', typeof prefix);
  const layers = (cell as { layers?: readonly LayerCell[] } | null)?.layers;
  if (!layers?.length) throw new RecurError('cell', 'an LSTMCell, GRUCell, BasicRNNCell or MultiRNNCell', String(cell));
  const first = layers[0];
  const out: { name: string; shape: number[]; data: FloatArray }[] = [];
  layers.forEach((layer, k) => {
    if (layer.kind !== first.kind || layer.units !== first.units) {
      throw new RecurError(
        `cell.layers[${k}]`,
        `an ${first.kind} of ${first.units} units like layer 0 (one ${MODULE[first.kind]} has one kind and one hidden_size)`,
        `an ${layer.kind} of ${layer.units} units`,
      );
    }
    if (layer instanceof GRUCell && !layer.resetAfter) {
      throw new RecurError(`cell.layers[${k}]`, "a reset-after GRUCell (PyTorch's nn.GRU)", 'a GRUCell with resetAfter: false (TF1)');
    }
    if (first instanceof BasicRNNCell && (layer as BasicRNNCell).activation !== first.activation) {
      throw new RecurError(
        `cell.layers[${k}].activation`,
        `${first.activation} like layer 0 (one nonlinearity per nn.RNN)`,
        (layer as BasicRNNCell).activation,
      );
    }
    const w = weightsToWrite(layer);
    const H = layer.units,
      G = layer.gates * H;
    out.push({ name: `${prefix}weight_ih_l${k}`, shape: [G, w.wIh.length / G], data: w.wIh });
    out.push({ name: `${prefix}weight_hh_l${k}`, shape: [G, H], data: w.wHh });
    if (opts.bias === false) {
      const at = [...w.bIh, ...w.bHh].findIndex((v) => v !== 0);
      if (at >= 0) throw new RecurError('options.bias', `true: layer ${k} has a bias that is not zero`, 'false');
    } else {
      out.push({ name: `${prefix}bias_ih_l${k}`, shape: [G], data: w.bIh });
      out.push({ name: `${prefix}bias_hh_l${k}`, shape: [G], data: w.bHh });
    }
  });
  return out;
}

/**
 * Writes a Recur cell or stack as a PyTorch state_dict file: `.pt` (`torch.load` reads it) or safetensors. Load it
 * with `model.load_state_dict(...)` into the `nn.LSTM` / `nn.GRU` / `nn.RNN` of the same sizes.
 * @see [docs/interop.md](../../../../docs/interop.md)
 * @example
 * writeFileSync('lstm.pt', savePyTorchRNN(stack));
 */
export function savePyTorchRNN(cell: LayerCell | MultiRNNCell, options?: PyTorchSaveOptions): Uint8Array {
  const opts = checkOptions(options, ['format', 'prefix', 'bias'], 'options');
  const format = opts.format ?? 'pt';
  if (format !== 'pt' && format !== 'safetensors') throw new RecurError('options.format', "'pt' or 'safetensors'", String(format));
  const tensors = stateDictFromRnn(cell, { prefix: opts.prefix, bias: opts.bias });
  if (format === 'pt') return writeTorchFile(tensors);
  const layer = (cell as { layers: readonly LayerCell[] }).layers[0];
  const metadata: Record<string, string> = { format: 'pt', 'recur.kind': layer.kind };
  if (layer instanceof BasicRNNCell) metadata['recur.nonlinearity'] = layer.activation;
  return encodeSafetensors(tensors, metadata);
}
