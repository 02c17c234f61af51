// The entry points every thread calls for a job (thread 0 is the caller's own thread): one export per kind of
// job, so that wasm-opt never inlines one kernel into another's entry (a single entry holding every kernel made V8
// compile the forward ~1.7x slower: measured).
#include "simd.h"

__attribute__((export_name("run"))) void run(job_t *job, int tid) {
  const int G = job->kind == KIND_LSTM ? 4 : job->kind == KIND_GRU ? 3 : 1;
  if (job->tokens) project_tokens(job, tid, G);
  else project(job, tid, G);
  if (job->kind == KIND_LSTM) lstm_steps(job, tid);
  else if (job->kind == KIND_GRU) gru_steps(job, tid);
  else rnn_steps(job, tid);
}

__attribute__((export_name("run_gemm"))) void run_gemm(job_t *job, int tid) { gemm_abt(job, tid); }
__attribute__((export_name("run_gemm_atb"))) void run_gemm_atb(job_t *job, int tid) { gemm_atb(job, tid); }
__attribute__((export_name("run_lstm_backward"))) void run_lstm_backward(job_t *job, int tid) { lstm_backward(job, tid); }
__attribute__((export_name("run_gru_backward"))) void run_gru_backward(job_t *job, int tid) { gru_backward(job, tid); }
__attribute__((export_name("run_peak"))) void run_peak(job_t *job, int tid) { peak(job, tid); }
