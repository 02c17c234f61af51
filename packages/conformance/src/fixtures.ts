/** Parameters of one layer in PyTorch's layout. */
export interface GoldenLayer {
  readonly w_ih: number[];
  readonly w_hh: number[];
  readonly b_ih: number[];
  readonly b_hh: number[];
}

/** What every golden case has: the cell, its sizes and batch, the initial parameters and state. */
export interface GoldenCellCase {
  readonly name: string;
  readonly cell: 'lstm' | 'gru' | 'rnn';
  readonly activation: 'tanh' | 'relu' | null;
  readonly gru_variant: 'reset_after' | 'reset_before' | null;
  readonly sizes: number[];
  readonly batch: number;
  readonly layers: GoldenLayer[];
  readonly h0: number[][];
  readonly c0: number[][] | null;
}

/** One golden case (the format of the golden README; arrays flat, row-major, x time-major). */
export interface GoldenCase extends GoldenCellCase {
  readonly time: number;
  readonly x: number[];
  readonly y: number[];
  readonly hT: number[][];
  readonly cT: number[][] | null;
  readonly chunks?: number[];
  readonly seq_lens?: number[];
  readonly reset_rows?: { before_step: number; rows: number[] };
  readonly grad?: unknown;
  readonly tbptt?: unknown;
}

/** One whole-training golden case (the golden README's second table): TBPTT chunks, dense head, loss, clipping, optimizer. */
export interface TrainingCase extends GoldenCellCase {
  /** V, the head's output size. */
  readonly outputs: number;
  readonly head: { readonly w: number[]; readonly b: number[] };
  /** x time-major [T_k, B, I]; targets [T_k, B] class ids, or [T_k, B, V] values for mse. */
  readonly chunks: { readonly x: number[]; readonly targets: number[] }[];
  readonly loss: 'softmax_cross_entropy' | 'mse';
  readonly clip_norm: number | null;
  readonly optimizer:
    | { readonly kind: 'adam'; readonly lr: number; readonly beta1: number; readonly beta2: number; readonly eps: number }
    | { readonly kind: 'sgd'; readonly lr: number; readonly momentum: number };
  /** After each chunk: the loss, the gradient norm before clipping, every parameter after the update, the carried state. */
  readonly steps: {
    readonly loss: number;
    readonly grad_norm: number;
    readonly layers: GoldenLayer[];
    readonly head: { readonly w: number[]; readonly b: number[] };
    readonly hT: number[][];
    readonly cT: number[][] | null;
  }[];
}

/** Golden vectors: forward, gradient and TBPTT cases, and whole training steps. */
export interface GoldenFixtures {
  /** Where they came from, for reports. */
  readonly source: string;
  /** Forward, gradient and TBPTT cases (the first table of the golden README). */
  readonly cases: readonly GoldenCase[];
  /** Whole training steps (the second table). */
  readonly training: readonly TrainingCase[];
}

/**
 * Fixtures of several files as one set (names must stay unique).
 * @see [docs/backend-authoring.md (proving a backend)](../../../docs/backend-authoring.md#proving-it)
 */
export function mergeFixtures(...sets: readonly GoldenFixtures[]): GoldenFixtures {
  const merged = {
    source: sets.map((s) => s.source).join(' + '),
    cases: sets.flatMap((s) => s.cases),
    training: sets.flatMap((s) => s.training),
  };
  const names = new Set<string>();
  for (const c of [...merged.cases, ...merged.training]) {
    if (names.has(c.name)) throw new Error(`${merged.source}: case name ${c.name} appears twice`);
    names.add(c.name);
  }
  return merged;
}

/** Parses and validates a golden file's JSON so that a malformed file fails with a message, not a wrong check. */
/**
 * Parses and validates a golden file's JSON so that a malformed file fails with a message, not a wrong check. A
 * file may hold forward cases, whole-training cases (those with `steps`), or both.
 * @see [docs/backend-authoring.md (proving a backend)](../../../docs/backend-authoring.md#proving-it)
 */
export function parseFixtures(json: unknown, source: string): GoldenFixtures {
  const all = (json as { cases?: unknown })?.cases;
  if (!Array.isArray(all) || all.length === 0) throw new Error(`${source}: expected {"cases": [...]} with at least one case`);
  const names = new Set<string>();
  const cases: GoldenCase[] = [],
    training: TrainingCase[] = [];
  all.forEach((c: GoldenCase | TrainingCase, i) => {
    const where = `${source}: cases[${i}]${c && typeof c.name === 'string' ? ` (${c.name})` : ''}`;
    if (!c || typeof c.name !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(c.name))
      throw new Error(`${where}: name must be letters, digits, _ . -`);
    if (names.has(c.name)) throw new Error(`${where}: duplicate name`);
    names.add(c.name);
    if (!['lstm', 'gru', 'rnn'].includes(c.cell)) throw new Error(`${where}: cell must be lstm, gru or rnn`);
    if (!Array.isArray(c.sizes) || c.sizes.length < 2 || !c.sizes.every((n) => Number.isInteger(n) && n > 0))
      throw new Error(`${where}: sizes must be [input, hidden...] of positive integers`);
    if (!(Number.isInteger(c.batch) && c.batch > 0)) throw new Error(`${where}: batch must be a positive integer`);
    const expectLength = (what: string, v: unknown, n: number) => {
      if (v === undefined) throw new Error(`${where}: ${what} is missing (expected ${n} numbers)`);
      if (!Array.isArray(v) || v.length !== n)
        throw new Error(
          `${where}: ${what} must hold ${n} numbers, has ${Array.isArray(v) ? v.length : v === null ? 'null' : `a ${typeof v}`}`,
        );
      const bad = v.findIndex((x) => typeof x !== 'number');
      if (bad >= 0) throw new Error(`${where}: ${what} must hold ${n} numbers, has ${JSON.stringify(v[bad])} at [${bad}]`);
    };
    const expectInteger = (what: string, v: unknown, low: number, high: number) => {
      if (!(Number.isInteger(v) && (v as number) >= low && (v as number) <= high))
        throw new Error(`${where}: ${what} must be an integer in [${low}, ${high}], is ${v === undefined ? 'missing' : JSON.stringify(v)}`);
    };
    if (c.cell === 'rnn' && !['tanh', 'relu'].includes(c.activation as string))
      throw new Error(`${where}: activation must be "tanh" or "relu" for an rnn, is ${JSON.stringify(c.activation)}`);
    if (c.cell === 'gru' && !['reset_after', 'reset_before'].includes(c.gru_variant as string))
      throw new Error(`${where}: gru_variant must be "reset_after" or "reset_before" for a gru, is ${JSON.stringify(c.gru_variant)}`);
    if ('steps' in c) {
      checkTrainingCase(c, expectLength, where);
      training.push(c);
      return;
    }
    const L = c.sizes.length - 1;
    expectInteger('time', c.time, 0, 1e9);
    expectLength('x', c.x, c.time * c.batch * c.sizes[0]);
    expectLength('y', c.y, c.time * c.batch * c.sizes[L]);
    checkLayers(c, c.layers, expectLength, '');
    checkStates(c, c.h0, c.c0, expectLength, '0');
    checkStates(c, c.hT, c.cT, expectLength, 'T');
    const expectChunks = (what: string, chunks: unknown) => {
      if (!Array.isArray(chunks) || chunks.length === 0) throw new Error(`${where}: ${what} must be a non-empty list of chunk lengths`);
      chunks.forEach((n, k) => expectInteger(`${what}[${k}]`, n, 1, c.time));
      if (chunks.reduce((a, b) => a + b, 0) !== c.time) throw new Error(`${where}: ${what} must add up to time (${c.time})`);
    };
    if (c.chunks !== undefined) expectChunks('chunks', c.chunks);
    if (c.seq_lens !== undefined) {
      expectLength('seq_lens', c.seq_lens, c.batch);
      c.seq_lens.forEach((n, b) => expectInteger(`seq_lens[${b}]`, n, 0, c.time));
    }
    if (c.reset_rows !== undefined) {
      expectInteger('reset_rows.before_step', c.reset_rows?.before_step, 1, c.time - 1);
      if (!Array.isArray(c.reset_rows.rows) || c.reset_rows.rows.length === 0)
        throw new Error(`${where}: reset_rows.rows must be a non-empty list of batch rows`);
      c.reset_rows.rows.forEach((r, k) => expectInteger(`reset_rows.rows[${k}]`, r, 0, c.batch - 1));
    }
    if (c.grad !== undefined) {
      const g = c.grad as { loss?: unknown; dy?: unknown; x?: unknown; h0?: unknown; c0?: unknown; layers?: GoldenLayer[] } | null;
      if (g === null || typeof g !== 'object') throw new Error(`${where}: grad must be an object (dy, x, h0, c0, layers)`);
      expectLength('grad.dy', g.dy, c.time * c.batch * c.sizes[L]);
      expectLength('grad.x', g.x, c.time * c.batch * c.sizes[0]);
      checkStates(c, g.h0, g.c0, expectLength, '0', 'grad.');
      checkLayers(c, g.layers as GoldenLayer[], expectLength, 'grad.');
    }
    if (c.tbptt !== undefined) {
      const t = c.tbptt as { chunks?: unknown; layers?: GoldenLayer[] } | null;
      expectChunks('tbptt.chunks', t?.chunks);
      checkLayers(c, t?.layers as GoldenLayer[], expectLength, 'tbptt.');
    }
    cases.push(c);
  });
  return { source, cases, training };
}

type ExpectLength = (what: string, v: unknown, n: number) => void;
type Shape = Pick<GoldenCellCase, 'cell' | 'sizes' | 'batch'>;

function checkLayers(c: Shape, layers: readonly GoldenLayer[], expectLength: ExpectLength, prefix: string): void {
  const L = c.sizes.length - 1,
    G = c.cell === 'lstm' ? 4 : c.cell === 'gru' ? 3 : 1;
  if (!Array.isArray(layers) || layers.length !== L) expectLength(`${prefix}layers (entries)`, layers, L);
  layers.forEach((l, k) => {
    const I = c.sizes[k],
      H = c.sizes[k + 1];
    expectLength(`${prefix}layers[${k}].w_ih`, l?.w_ih, G * H * I);
    expectLength(`${prefix}layers[${k}].w_hh`, l?.w_hh, G * H * H);
    expectLength(`${prefix}layers[${k}].b_ih`, l?.b_ih, G * H);
    expectLength(`${prefix}layers[${k}].b_hh`, l?.b_hh, G * H);
  });
}

function checkStates(c: Shape, h: unknown, cs: unknown, expectLength: ExpectLength, suffix: string, prefix = ''): void {
  c.sizes.slice(1).forEach((H, k) => {
    expectLength(`${prefix}h${suffix}[${k}]`, (h as unknown[] | null)?.[k], c.batch * H);
    if (c.cell === 'lstm') expectLength(`${prefix}c${suffix}[${k}]`, (cs as unknown[] | null)?.[k], c.batch * H);
  });
}

function checkTrainingCase(c: TrainingCase, expectLength: ExpectLength, where: string): void {
  const I = c.sizes[0],
    H = c.sizes[c.sizes.length - 1],
    V = c.outputs,
    B = c.batch;
  if (!(Number.isInteger(V) && V > 0)) throw new Error(`${where}: outputs must be a positive integer`);
  if (c.loss !== 'softmax_cross_entropy' && c.loss !== 'mse') throw new Error(`${where}: loss must be softmax_cross_entropy or mse`);
  if (c.clip_norm !== null && !(typeof c.clip_norm === 'number' && c.clip_norm > 0))
    throw new Error(`${where}: clip_norm must be null or a positive number`);
  const o = c.optimizer as { kind?: unknown; [k: string]: unknown } | undefined;
  const numbers = (keys: string[]) => keys.every((k) => typeof o?.[k] === 'number');
  if (!(o?.kind === 'adam' && numbers(['lr', 'beta1', 'beta2', 'eps'])) && !(o?.kind === 'sgd' && numbers(['lr', 'momentum']))) {
    throw new Error(`${where}: optimizer must be {kind: "adam", lr, beta1, beta2, eps} or {kind: "sgd", lr, momentum}`);
  }
  checkLayers(c, c.layers, expectLength, '');
  expectLength('head.w', c.head?.w, V * H);
  expectLength('head.b', c.head?.b, V);
  checkStates(c, c.h0, c.c0, expectLength, '0');
  if (!Array.isArray(c.chunks) || c.chunks.length === 0) throw new Error(`${where}: chunks must be a non-empty list of {x, targets}`);
  if (!Array.isArray(c.steps) || c.steps.length !== c.chunks.length)
    throw new Error(`${where}: steps must have one entry per chunk (${c.chunks.length})`);
  c.chunks.forEach((k, i) => {
    const T = Array.isArray(k?.x) ? k.x.length / (B * I) : NaN;
    if (!(Number.isInteger(T) && T > 0)) throw new Error(`${where}: chunks[${i}].x must hold T * ${B} * ${I} numbers`);
    expectLength(`chunks[${i}].x`, k.x, T * B * I);
    expectLength(`chunks[${i}].targets`, k.targets, T * B * (c.loss === 'mse' ? V : 1));
    const s = c.steps[i];
    if (typeof s?.loss !== 'number' || typeof s.grad_norm !== 'number')
      throw new Error(`${where}: steps[${i}] must have a numeric loss and grad_norm`);
    checkLayers(c, s.layers, expectLength, `steps[${i}].`);
    expectLength(`steps[${i}].head.w`, s.head?.w, V * H);
    expectLength(`steps[${i}].head.b`, s.head?.b, V);
    checkStates(c, s.hT, s.cT, expectLength, 'T', `steps[${i}].`);
  });
}
