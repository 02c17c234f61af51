import { RecurError, ShapeError, describe } from './errors.js';
import { crc32 } from './crc32.js';
import type { LayerCell } from './cells/layer-cell.js';
import type { DType, FloatArray } from './spec.js';

/**
 * The byte form of a stateful object's streams and state (docs/snapshots.md): a magic, a format version, a JSON
 * header (dtype, rows, stream ids, every layer's kind and size), the states as little-endian floats, and a CRC-32 of
 * everything before it. Decoding verifies all of it before anything uses it.
 */
export const SNAPSHOT_MAGIC = 'RCRS';
export const SNAPSHOT_VERSION = 2;

/** Where the states start: after the 12-byte preamble and the header, at a multiple of 8. */
const payloadStart = (headerLength: number): number => Math.ceil((12 + headerLength) / 8) * 8;

/** What a snapshot says of one layer; a restore compares it with the cell's. */
export interface SnapshotLayer {
  readonly kind: 'lstm' | 'gru' | 'rnn';
  readonly units: number;
  /** GRU: `resetAfter`; RNN: `activation`. */
  readonly variant?: string;
}

/** A decoded snapshot: per layer, h (and c for LSTM) of rows × units values. */
export interface DecodedSnapshot {
  readonly dtype: DType;
  readonly streams: readonly (string | number)[];
  readonly layers: readonly SnapshotLayer[];
  readonly states: readonly { readonly h: FloatArray; readonly c: FloatArray | null }[];
}

/** How a cell's layer is described in a snapshot. */
export function describeLayer(layer: LayerCell): SnapshotLayer {
  const l = layer as LayerCell & { resetAfter?: boolean; activation?: string };
  const variant = layer.kind === 'gru' ? (l.resetAfter ? 'reset_after' : 'reset_before') : layer.kind === 'rnn' ? l.activation : undefined;
  return variant === undefined ? { kind: layer.kind, units: layer.units } : { kind: layer.kind, units: layer.units, variant };
}

export function encodeSnapshot(s: DecodedSnapshot): Uint8Array {
  const rows = s.streams.length,
    bytes = s.dtype === 'float64' ? 8 : 4;
  const header = new TextEncoder().encode(JSON.stringify({ dtype: s.dtype, rows, streams: s.streams, layers: s.layers }));
  const start = payloadStart(header.length);
  const values = s.states.reduce((n, st) => n + st.h.length + (st.c?.length ?? 0), 0);
  const out = new Uint8Array(start + values * bytes + 4);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode(SNAPSHOT_MAGIC), 0);
  view.setUint16(4, SNAPSHOT_VERSION, true);
  view.setUint32(8, header.length, true);
  out.set(header, 12);
  let at = start;
  for (const st of s.states) {
    for (const part of st.c ? [st.h, st.c] : [st.h]) {
      for (let i = 0; i < part.length; i++, at += bytes) {
        if (bytes === 8) view.setFloat64(at, part[i], true);
        else view.setFloat32(at, part[i], true);
      }
    }
  }
  view.setUint32(at, crc32(out.subarray(0, at)), true);
  return out;
}

/** Decodes and verifies a snapshot's bytes: every failure a RecurError naming what is wrong. */
export function decodeSnapshot(bytes: unknown, argument = 'snapshot'): DecodedSnapshot {
  if (!(bytes instanceof Uint8Array)) throw new RecurError(argument, 'the Uint8Array snapshot() gave', describe(bytes));
  if (bytes.length < 16) throw new RecurError(argument, 'a snapshot of at least 16 bytes', `${bytes.length} bytes (cut short?)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = new TextDecoder().decode(bytes.subarray(0, 4));
  if (magic !== SNAPSHOT_MAGIC)
    throw new RecurError(argument, `a Recur snapshot (starting "${SNAPSHOT_MAGIC}")`, `bytes starting ${JSON.stringify(magic)}`);
  const version = view.getUint16(4, true);
  if (version !== SNAPSHOT_VERSION)
    throw new RecurError(`${argument} format version`, `${SNAPSHOT_VERSION} (the one this Recur reads)`, String(version));
  const stored = view.getUint32(bytes.length - 4, true),
    actual = crc32(bytes.subarray(0, bytes.length - 4));
  if (stored !== actual) {
    throw new RecurError(
      argument,
      `bytes whose CRC-32 is the stored 0x${stored.toString(16).padStart(8, '0')}`,
      `0x${actual.toString(16).padStart(8, '0')}: the bytes were changed or cut`,
    );
  }
  const headerLength = view.getUint32(8, true);
  if (12 + headerLength > bytes.length - 4)
    throw new RecurError(`${argument} header`, `at most ${bytes.length - 16} bytes`, `${headerLength} bytes`);
  let header: { dtype?: unknown; rows?: unknown; streams?: unknown; layers?: unknown };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headerLength)));
  } catch (error) {
    throw new RecurError(`${argument} header`, 'JSON', `unreadable JSON (${(error as Error).message})`);
  }
  const { dtype, rows, streams, layers } = header;
  if (dtype !== 'float32' && dtype !== 'float64')
    throw new RecurError(`${argument} header.dtype`, "'float32' or 'float64'", describe(dtype));
  if (!Number.isInteger(rows) || (rows as number) < 1)
    throw new RecurError(`${argument} header.rows`, 'a positive integer', describe(rows));
  if (!Array.isArray(streams) || streams.length !== rows || !streams.every((id) => typeof id === 'string' || Number.isInteger(id))) {
    throw new RecurError(`${argument} header.streams`, `${rows} stream ids`, describe(streams));
  }
  if (!Array.isArray(layers) || layers.length === 0)
    throw new RecurError(`${argument} header.layers`, 'one entry a layer', describe(layers));
  layers.forEach((l: SnapshotLayer, i) => {
    if (!l || !['lstm', 'gru', 'rnn'].includes(l.kind) || !Number.isInteger(l.units) || l.units < 1) {
      throw new RecurError(`${argument} header.layers[${i}]`, '{kind, units}', describe(l));
    }
  });
  const size = dtype === 'float64' ? 8 : 4,
    start = payloadStart(headerLength);
  const expected = (layers as SnapshotLayer[]).reduce((n, l) => n + (l.kind === 'lstm' ? 2 : 1) * (rows as number) * l.units, 0);
  if (start + expected * size + 4 !== bytes.length) {
    throw new RecurError(argument, `${start + expected * size + 4} bytes for its header`, `${bytes.length} bytes`);
  }
  let at = start;
  const read = (n: number): FloatArray => {
    const out = dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
    for (let i = 0; i < n; i++, at += size) out[i] = size === 8 ? view.getFloat64(at, true) : view.getFloat32(at, true);
    return out;
  };
  const states = (layers as SnapshotLayer[]).map((l) => ({
    h: read((rows as number) * l.units),
    c: l.kind === 'lstm' ? read((rows as number) * l.units) : null,
  }));
  return { dtype, streams: streams as (string | number)[], layers: layers as SnapshotLayer[], states };
}

/** Refuses a snapshot made by a cell other than this one's shape and kinds, naming the first difference. */
export function checkSnapshotFits(snapshot: DecodedSnapshot, layers: readonly LayerCell[], argument = 'snapshot'): void {
  if (snapshot.layers.length !== layers.length)
    throw new ShapeError(`${argument} layers`, `${layers.length} (this cell's)`, `${snapshot.layers.length}`);
  layers.forEach((layer, i) => {
    const mine = describeLayer(layer),
      theirs = snapshot.layers[i];
    const show = (l: SnapshotLayer) => `${l.kind}${l.variant ? ` ${l.variant}` : ''} of ${l.units} units`;
    if (mine.kind !== theirs.kind || mine.units !== theirs.units || (mine.variant ?? '') !== (theirs.variant ?? '')) {
      throw new ShapeError(`${argument} layers[${i}]`, `${show(mine)} (this cell's)`, show(theirs));
    }
    if (layer.dtype !== snapshot.dtype) throw new RecurError(`${argument} dtype`, `${layer.dtype} (this cell's)`, snapshot.dtype);
  });
}
