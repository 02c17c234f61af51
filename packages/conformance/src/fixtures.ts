/** One golden case (the format of the golden README; arrays flat, row-major, x time-major). */
export interface GoldenCase {
  readonly name: string;
  readonly cell: 'lstm' | 'gru' | 'rnn';
  readonly activation: 'tanh' | 'relu' | null;
  readonly gru_variant: 'reset_after' | 'reset_before' | null;
  readonly sizes: number[];
  readonly batch: number;
  readonly time: number;
  readonly layers: { w_ih: number[]; w_hh: number[]; b_ih: number[]; b_hh: number[] }[];
  readonly x: number[];
  readonly h0: number[][];
  readonly c0: number[][] | null;
  readonly y: number[];
  readonly hT: number[][];
  readonly cT: number[][] | null;
  readonly chunks?: number[];
  readonly seq_lens?: number[];
  readonly reset_rows?: { before_step: number; rows: number[] };
  readonly grad?: unknown;
  readonly tbptt?: unknown;
}

export interface GoldenFixtures {
  /** Where they came from, for reports. */
  readonly source: string;
  readonly cases: readonly GoldenCase[];
}

/** Parses and validates a golden file's JSON so that a malformed file fails with a message, not a wrong check. */
export function parseFixtures(json: unknown, source: string): GoldenFixtures {
  const cases = (json as { cases?: unknown })?.cases;
  if (!Array.isArray(cases) || cases.length === 0) throw new Error(`${source}: expected {"cases": [...]} with at least one case`);
  const names = new Set<string>();
  cases.forEach((c: GoldenCase, i) => {
    const where = `${source}: cases[${i}]${c && typeof c.name === 'string' ? ` (${c.name})` : ''}`;
    if (!c || typeof c.name !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(c.name)) throw new Error(`${where}: name must be letters, digits, _ . -`);
    if (names.has(c.name)) throw new Error(`${where}: duplicate name`);
    names.add(c.name);
    if (!['lstm', 'gru', 'rnn'].includes(c.cell)) throw new Error(`${where}: cell must be lstm, gru or rnn`);
    if (!Array.isArray(c.sizes) || c.sizes.length < 2) throw new Error(`${where}: sizes must be [input, hidden...]`);
    const L = c.sizes.length - 1, G = c.cell === 'lstm' ? 4 : c.cell === 'gru' ? 3 : 1;
    const expectLength = (what: string, v: unknown, n: number) => {
      if (!Array.isArray(v) || v.length !== n) throw new Error(`${where}: ${what} must hold ${n} numbers, has ${Array.isArray(v) ? v.length : typeof v}`);
    };
    expectLength('x', c.x, c.time * c.batch * c.sizes[0]);
    expectLength('y', c.y, c.time * c.batch * c.sizes[L]);
    if (!Array.isArray(c.layers) || c.layers.length !== L) throw new Error(`${where}: layers must have ${L} entries`);
    c.layers.forEach((l, k) => {
      const I = c.sizes[k], H = c.sizes[k + 1];
      expectLength(`layers[${k}].w_ih`, l.w_ih, G * H * I);
      expectLength(`layers[${k}].w_hh`, l.w_hh, G * H * H);
      expectLength(`layers[${k}].b_ih`, l.b_ih, G * H);
      expectLength(`layers[${k}].b_hh`, l.b_hh, G * H);
      expectLength(`h0[${k}]`, c.h0?.[k], c.batch * H);
      expectLength(`hT[${k}]`, c.hT?.[k], c.batch * H);
      if (c.cell === 'lstm') {
        expectLength(`c0[${k}]`, c.c0?.[k], c.batch * H);
        expectLength(`cT[${k}]`, c.cT?.[k], c.batch * H);
      }
    });
    if (c.chunks && c.chunks.reduce((a, b) => a + b, 0) !== c.time) throw new Error(`${where}: chunks must add up to time (${c.time})`);
    if (c.seq_lens) expectLength('seq_lens', c.seq_lens, c.batch);
  });
  return { source, cases };
}
