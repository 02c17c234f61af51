// The entry points every thread calls for a job (thread 0 is the caller's own thread): one export per kind of
// job, so that wasm-opt never inlines one kernel into another's entry: a single entry holding every kernel made V8
// run the forward 1.7x slower, and one forward entry for all three cells (once GRU's kept a tape) 2.6x slower.
#include "simd.h"

static inline void project_chunk(const job_t *job, int tid, int G) {
  if (job->tokens) project_tokens(job, tid, G);
  else project(job, tid, G);
}

// A forward: the chunk's input projection, then the steps. One export per cell kind, so that each stays small.
__attribute__((export_name("run_lstm"))) void run_lstm(job_t *job, int tid) {
  project_chunk(job, tid, 4);
  lstm_steps(job, tid);
}

__attribute__((export_name("run_gru"))) void run_gru(job_t *job, int tid) {
  project_chunk(job, tid, 3);
  gru_steps(job, tid);
}

__attribute__((export_name("run_rnn"))) void run_rnn(job_t *job, int tid) {
  project_chunk(job, tid, 1);
  rnn_steps(job, tid);
}

__attribute__((export_name("run_gemm"))) void run_gemm(job_t *job, int tid) { gemm_abt(job, tid); }
__attribute__((export_name("run_gemm_atb"))) void run_gemm_atb(job_t *job, int tid) { gemm_atb(job, tid); }
__attribute__((export_name("run_lstm_backward"))) void run_lstm_backward(job_t *job, int tid) { lstm_backward(job, tid); }
__attribute__((export_name("run_gru_backward"))) void run_gru_backward(job_t *job, int tid) { gru_backward(job, tid); }
__attribute__((export_name("run_rnn_backward"))) void run_rnn_backward(job_t *job, int tid) { rnn_backward(job, tid); }
__attribute__((export_name("run_peak"))) void run_peak(job_t *job, int tid) { peak(job, tid); }
