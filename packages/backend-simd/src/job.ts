/** Field indices of job_t (csrc/simd.h), one 32-bit word each: keep the two in the same order. */
export const JOB = {
  kind: 0, variant: 1, T: 2, B: 3, I: 4, H: 5, nub: 6, nthreads: 7,
  x: 8, wih: 9, whh: 10, whhn: 11, bias: 12, bhn: 13, proj: 14, h: 15, c: 16, rh: 17, y: 18, seqlens: 19,
  barrierCount: 20, barrierGeneration: 21, abort: 22,
  M: 23, N: 24, K: 25, lda: 26, ldw: 27, ldc: 28, a: 29, w: 30, cm: 31, accumulate: 32,
  tapeAct: 33, tapeHprev: 34, tapeCprev: 35, tapeCnew: 36,
  dy: 37, dh: 38, dc: 39, dg: 40, dhp: 41, whht: 42, tokens: 43, tapeExtra: 44, dhg: 45,
} as const;
export const JOB_BYTES = 46 * 4;

export const KIND = { lstm: 0, gru: 1, rnn: 2, gemm: 3, peak: 4, gemmAtB: 5, lstmBackward: 6, gruBackward: 7, rnnBackward: 8 } as const;

/** The module's export that runs each kind of job (csrc/run.c), by KIND value. */
export const ENTRY = ['run_lstm', 'run_gru', 'run_rnn', 'run_gemm', 'run_peak', 'run_gemm_atb', 'run_lstm_backward', 'run_gru_backward', 'run_rnn_backward'] as const;
