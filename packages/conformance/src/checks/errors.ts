import {
  BackendError,
  DisposedTensorError,
  DropoutWrapper,
  GRUCell,
  LSTMCell,
  LSTMStateTuple,
  MultiRNNCell,
  NonFiniteError,
  RecurError,
  ShapeError,
  StatefulRNN,
  UnsupportedOptionError,
  bidirectionalDynamicRnn,
  dynamicRnn,
  getBackend,
  getStateResetOp,
  getStateUpdateOp,
  getStateVariables,
  memory,
  ready,
  tensor,
  type Cell,
  type CellState,
  type Tensor,
} from '@recur/core';
import { CheckFailure, expect, expectEqualArrays, expectRecurError, type ExpectedError } from '../compare.js';
import { disposeCell, makeCell, randomValues, scoped, type Scope } from './helpers.js';
import { STUB_BACKEND, UNAVAILABLE_BACKEND, UNAVAILABLE_REASON, ensureStubBackends } from './stub-backend.js';
import type { Check, CheckContext } from './types.js';

const B = 3,
  T = 4,
  I = 5,
  H1 = 7,
  H2 = 6;

export interface Env {
  readonly scope: Scope;
  readonly ctx: CheckContext;
  readonly cell: Cell;
  readonly rnn: StatefulRNN;
  /** A valid chunk [B, T, I]. */
  readonly x: Tensor;
  chunk(shape: number[], values?: ArrayLike<number>): Tensor;
}

/**
 * Runs misuse cases against a stateful 2-layer LSTM that has already run a chunk. Each case must throw the
 * expected RecurError, allocate nothing, leave the state exactly as it was, and the object must run on.
 */
export async function misuse(ctx: CheckContext, cases: (env: Env) => [string, () => unknown, ExpectedError][]): Promise<void> {
  await ensureStubBackends();
  await scoped(async (scope) => {
    const cell = makeCell({ kind: 'lstm', sizes: [I, H1, H2] }, ctx.backend, 'float32', 3);
    scope.add(disposeCell(cell));
    const rnn = scope.add(new StatefulRNN(cell, { batch: B }));
    const chunk = (shape: number[], values?: ArrayLike<number>) =>
      scope.add(
        tensor(
          values ??
            randomValues(
              shape.reduce((a, b) => a * b, 1),
              101,
            ),
          shape,
          { backend: ctx.backend },
        ),
      );
    const x = chunk([B, T, I]);
    scope.add(rnn.run(x));
    const env: Env = { scope, ctx, cell, rnn, x, chunk };
    for (const [what, fn, want] of cases(env)) {
      const before = await rnn.readState();
      const mem = memory(ctx.backend);
      expectRecurError(what, fn, want);
      const memAfter = memory(ctx.backend);
      if (mem.numTensors !== memAfter.numTensors || mem.numBytes !== memAfter.numBytes) {
        throw new CheckFailure(
          `${what}: the failed call changed live tensors from ${mem.numTensors} (${mem.numBytes} B) to ${memAfter.numTensors} (${memAfter.numBytes} B)`,
        );
      }
      const after = await rnn.readState();
      after.forEach((s, l) => {
        expectEqualArrays(`${what}: h[${l}] after the error`, s.h, before[l].h);
        expectEqualArrays(`${what}: c[${l}] after the error`, s.c!, before[l].c!);
      });
    }
    const y = await scope.add(rnn.run(x)).data();
    expect(y.length === B * T * H2 && y.every(Number.isFinite), 'the object does not run on after the errors');
  });
}

const stateOf = (env: Env, sizes: number[], batch = B): CellState =>
  sizes.map((H) => new LSTMStateTuple(env.chunk([batch, H]), env.chunk([batch, H])));

const shapeErr = (argument: string | RegExp, expected: string | RegExp, actual: string | RegExp): ExpectedError => ({
  type: ShapeError,
  argument,
  expected,
  actual,
});

export function errorChecks(): Check[] {
  const check = (id: string, title: string, cases: (env: Env) => [string, () => unknown, ExpectedError][]): Check => ({
    id: `errors/${id}`,
    title,
    run: (ctx) => misuse(ctx, cases),
  });
  return [
    check('input-rank', 'inputs of the wrong rank', (e) => {
      const rank2 = e.chunk([B, I]),
        rank1 = e.chunk([B * T * I]),
        rank3 = e.chunk([1, B, I]);
      return [
        ['run([B, I])', () => e.rnn.run(rank2), shapeErr('chunk', 'rank 3', 'rank 2')],
        ['dynamicRnn([T*B*I])', () => dynamicRnn(e.cell, rank1), shapeErr('inputs', 'rank 3', 'rank 1')],
        ['step([1, B, I])', () => e.cell.step(rank3, e.rnn.state), shapeErr('input', 'rank 2', 'rank 3')],
      ];
    }),
    check('feature-size', 'inputs with the wrong feature size', (e) => {
      const wide = e.chunk([B, T, I + 1]),
        narrow = e.chunk([T, B, I - 1]);
      return [
        ['run([B, T, I + 1])', () => e.rnn.run(wide), shapeErr('chunk', `feature size ${I}`, `feature size ${I + 1}`)],
        [
          'dynamicRnn time-major [T, B, I - 1]',
          () => dynamicRnn(e.cell, narrow, { timeMajor: true }),
          shapeErr('inputs', `feature size ${I}`, `feature size ${I - 1}`),
        ],
      ];
    }),
    check('batch-mismatch', 'a batch that does not match the state variables', (e) => {
      const big = e.chunk([B + 1, T, I]),
        vars = e.scope.add(getStateVariables(B, e.cell)),
        small = stateOf(e, [H1, H2], B - 1);
      return [
        ['run([B + 1, T, I])', () => e.rnn.run(big), shapeErr('chunk', `batch ${B}`, `batch ${B + 1}`)],
        [
          'getStateUpdateOp with batch B - 1',
          () => getStateUpdateOp(vars, small),
          shapeErr('newStates[0].c', `shape [${B}, ${H1}]`, `shape [${B - 1}, ${H1}]`),
        ],
        ['getStateResetOp with another batch', () => getStateResetOp(vars, e.cell, B + 2), shapeErr('batch', `(${B})`, `${B + 2}`)],
      ];
    }),
    check('state-shape', 'a state tuple of the wrong shape', (e) => {
      const wrongH = [new LSTMStateTuple(e.chunk([B, H1]), e.chunk([B, H1])), new LSTMStateTuple(e.chunk([B, H2]), e.chunk([B, H2 + 1]))];
      const bare = [e.chunk([B, H1]), e.chunk([B, H2])];
      return [
        [
          'initialState h of [B, H + 1]',
          () => dynamicRnn(e.cell, e.x, { initialState: wrongH }),
          shapeErr('options.initialState[1].h', `shape [${B}, ${H2}]`, `shape [${B}, ${H2 + 1}]`),
        ],
        [
          'initialState layer as a bare tensor',
          () => dynamicRnn(e.cell, e.x, { initialState: bare }),
          shapeErr('options.initialState[0]', 'LSTMStateTuple', 'Tensor'),
        ],
        [
          'setState with a short h',
          () =>
            e.rnn.setState([
              { h: new Float32Array(B * H1 - 1), c: new Float32Array(B * H1) },
              { h: new Float32Array(B * H2), c: new Float32Array(B * H2) },
            ]),
          shapeErr('state[0].h', `${B * H1} values`, `${B * H1 - 1} values`),
        ],
      ];
    }),
    check('state-layer-count', 'a state with the wrong number of layers', (e) => {
      const one = stateOf(e, [H1]),
        three = stateOf(e, [H1, H2, H2]),
        vars = e.scope.add(getStateVariables(B, e.cell));
      return [
        [
          'initialState with 1 layer for 2',
          () => dynamicRnn(e.cell, e.x, { initialState: one }),
          shapeErr('options.initialState', '2 layer states', '1 layer states'),
        ],
        ['getStateUpdateOp with 3 layers', () => getStateUpdateOp(vars, three), shapeErr('newStates', '2 layer states', '3 layer states')],
      ];
    }),
    check('same-cell-twice', 'MultiRNNCell given one cell instance twice ([cell] * n)', (e) => {
      const shared = new LSTMCell(H1, { backend: e.ctx.backend });
      return [
        [
          'MultiRNNCell([cell, cell])',
          () => new MultiRNNCell([shared, shared]),
          { argument: 'cells[1]', expected: 'distinct cell instance', actual: 'the same instance as cells[0]' },
        ],
        [
          'MultiRNNCell([a, b, a])',
          () => new MultiRNNCell([shared, new LSTMCell(H1, { backend: e.ctx.backend }), shared]),
          { argument: 'cells[2]', expected: 'distinct cell instance', actual: 'the same instance as cells[0]' },
        ],
      ];
    }),
    check('unknown-backend', 'an unknown or unavailable backend', (e) => [
      [
        'cell on an unknown backend',
        () => dynamicRnn(new GRUCell(4, { backend: 'no-such-backend' }), e.x),
        { type: BackendError, argument: 'cell.backend', expected: 'a registered backend', actual: '"no-such-backend"' },
      ],
      [
        'tensor on an unknown backend',
        () => tensor([1], [1], { backend: 'no-such-backend' }),
        { type: BackendError, argument: 'backend', expected: 'a registered backend', actual: '"no-such-backend"' },
      ],
      [
        'getBackend of an unavailable one',
        () => getBackend(UNAVAILABLE_BACKEND),
        { type: BackendError, argument: 'backend', expected: 'an available backend', actual: UNAVAILABLE_REASON },
      ],
    ]),
    {
      id: 'errors/unavailable-backend-async',
      title: 'ready() of an unavailable backend rejects with its reason',
      run: async () => {
        await ensureStubBackends();
        const error = await ready(UNAVAILABLE_BACKEND).then(
          () => null,
          (err: unknown) => err,
        );
        if (!(error instanceof BackendError) || !error.actual.includes(UNAVAILABLE_REASON))
          throw new CheckFailure(`ready(unavailable) gave ${String(error)}`);
      },
    },
    check('disposed-tensor', 'a disposed tensor, and disposing a tensor the state owns', (e) => {
      const gone = e.chunk([B, T, I]);
      gone.dispose();
      const owned = (e.rnn.state as LSTMStateTuple[])[0].h;
      return [
        [
          'run(disposed chunk)',
          () => e.rnn.run(gone),
          { type: DisposedTensorError, argument: 'chunk', expected: 'a live tensor', actual: 'disposed' },
        ],
        [
          'data() of a disposed tensor',
          () => gone.dataSync(),
          { type: DisposedTensorError, argument: 'tensor', expected: 'a live tensor', actual: 'disposed' },
        ],
        [
          'dispose() of the state',
          () => owned.dispose(),
          { argument: 'tensor', expected: 'not owned by state variables', actual: 'owned by StatefulRNN' },
        ],
      ];
    }),
    check('non-finite', 'NaN or Infinity in inputs with checkFinite on', (e) => {
      const nan = randomValues(B * T * I, 7);
      nan[5] = NaN;
      const inf = randomValues(B * T * I, 8);
      inf[B * T * I - 1] = -Infinity;
      const withNaN = e.chunk([B, T, I], nan),
        withInf = e.chunk([B, T, I], inf);
      // where: the first bad value's index, named by axis ([B, T, I] batch-major: flat 5 is row 0, step 1, feature 0)
      const async = /reads asynchronously: the position is not shown/;
      return [
        [
          'run(NaN) with checkFinite',
          () => e.rnn.run(withNaN, { checkFinite: true }),
          {
            type: NonFiniteError,
            argument: 'chunk',
            expected: 'finite values',
            actual: new RegExp(`^NaN at \\[0, 1, 0\\] \\(batch row 0, time step 1, feature 0\\)$|${async.source}`),
          },
        ],
        [
          'dynamicRnn(-Infinity) with checkFinite',
          () => dynamicRnn(e.cell, withInf, { checkFinite: true }),
          {
            type: NonFiniteError,
            argument: 'inputs',
            expected: 'finite values',
            actual: new RegExp(
              `^-Infinity at \\[${B - 1}, ${T - 1}, ${I - 1}\\] \\(batch row ${B - 1}, time step ${T - 1}, feature ${I - 1}\\)$|${async.source}`,
            ),
          },
        ],
      ];
    }),
    check('sequence-length-range', 'sequenceLength entries out of range', (e) => [
      [
        'sequenceLength T + 1',
        () => e.rnn.run(e.x, { sequenceLength: [1, T + 1, 0] }),
        { argument: 'sequenceLength[1]', expected: `an integer in [0, ${T}]`, actual: `${T + 1}` },
      ],
      [
        'sequenceLength -1',
        () => dynamicRnn(e.cell, e.x, { sequenceLength: [-1, 1, 1] }),
        { argument: 'sequenceLength[0]', expected: `an integer in [0, ${T}]`, actual: '-1' },
      ],
      [
        'sequenceLength 1.5',
        () => e.rnn.run(e.x, { sequenceLength: [1, 2, 1.5] }),
        { argument: 'sequenceLength[2]', expected: 'an integer', actual: '1.5' },
      ],
      [
        'sequenceLength of B - 1 rows',
        () => e.rnn.run(e.x, { sequenceLength: [1, 2] }),
        shapeErr('sequenceLength', `${B} entries`, '2 entries'),
      ],
    ]),
    check('reset-rows-range', 'reset rows out of range', (e) => {
      const vars = e.scope.add(getStateVariables(B, e.cell));
      return [
        ['reset([0, B])', () => e.rnn.reset([0, B]), { argument: 'rows[1]', expected: `a row index in [0, ${B})`, actual: `${B}` }],
        [
          'getStateResetOp rows [-1]',
          () => getStateResetOp(vars, e.cell, B, [-1]),
          { argument: 'rows[0]', expected: `a row index in [0, ${B})`, actual: '-1' },
        ],
        [
          'resetStreams of an unknown id',
          () => e.rnn.resetStreams([0, 'nope']),
          { argument: 'id', expected: 'a stream id in use', actual: '"nope"' },
        ],
      ];
    }),
    check('reset-rows-duplicate', 'reset rows duplicated', (e) => [
      ['reset([1, 1])', () => e.rnn.reset([1, 1]), { argument: 'rows[1]', expected: 'without duplicates', actual: '1 again' }],
      ['reset([2, 0, 2])', () => e.rnn.reset([2, 0, 2]), { argument: 'rows[2]', expected: 'without duplicates', actual: '2 again' }],
    ]),
    check('unsupported-options', 'TF1 options not built yet are rejected by name', (e) => {
      const u = (argument: string, actual: string): ExpectedError => ({
        type: UnsupportedOptionError,
        argument,
        expected: 'not yet',
        actual,
      });
      return [
        ['LSTMCell usePeepholes', () => new LSTMCell(4, { usePeepholes: true } as never), u('options.usePeepholes', 'peepholes requested')],
        ['LSTMCell num_proj', () => new LSTMCell(4, { num_proj: 2 } as never), u('options.num_proj', 'num_proj requested')],
        ['LSTMCell cellClip', () => new LSTMCell(4, { cellClip: 3 } as never), u('options.cellClip', 'cell_clip requested')],
        [
          'DropoutWrapper',
          () => new DropoutWrapper(e.cell, { outputKeepProb: 0.5 }),
          { type: UnsupportedOptionError, argument: 'DropoutWrapper', expected: 'not built yet', actual: 'DropoutWrapper requested' },
        ],
        [
          'bidirectionalDynamicRnn',
          () => bidirectionalDynamicRnn(e.cell, e.cell, e.x),
          {
            type: UnsupportedOptionError,
            argument: 'bidirectionalDynamicRnn',
            expected: 'not built yet',
            actual: 'bidirectional requested',
          },
        ],
        [
          'an unknown option',
          () => new GRUCell(4, { resetAftr: false } as never),
          { type: RecurError, argument: 'options.resetAftr', expected: 'known options', actual: 'unknown option' },
        ],
      ];
    }),
    check('mixed-backends', 'tensors and cells of different backends never mix', (e) => {
      const foreign = e.scope.add(tensor(randomValues(B * T * I, 9), [B, T, I], { backend: STUB_BACKEND }));
      const stubCell = new LSTMCell(H1, { backend: STUB_BACKEND, inputSize: I });
      return [
        [
          'run(chunk of another backend)',
          () => e.rnn.run(foreign),
          {
            type: BackendError,
            argument: 'chunk',
            expected: `a tensor on backend "${e.ctx.backend}"`,
            actual: `backend "${STUB_BACKEND}"`,
          },
        ],
        [
          'a cell on a backend without LSTM',
          () => dynamicRnn(stubCell, foreign),
          { type: BackendError, argument: 'cell', expected: 'a cell kind backend', actual: 'lstm' },
        ],
      ];
    }),
  ];
}
