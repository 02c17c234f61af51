// The one entry point every thread calls for a job (thread 0 is the caller's own thread).
#include "simd.h"

__attribute__((export_name("run"))) void run(job_t *job, int tid) {
  if (job->kind == KIND_GEMM) {
    gemm_abt(job, tid);
    return;
  }
  if (job->kind == KIND_GEMM_ATB) {
    gemm_atb(job, tid);
    return;
  }
  if (job->kind == KIND_LSTM_BACKWARD) {
    lstm_backward(job, tid);
    return;
  }
  if (job->kind == KIND_PEAK) {
    peak(job, tid);
    return;
  }
  const int G = job->kind == KIND_LSTM ? 4 : job->kind == KIND_GRU ? 3 : 1;
  if (job->tokens) project_tokens(job, tid, G);
  else project(job, tid, G);
  if (job->kind == KIND_LSTM) lstm_steps(job, tid);
  else if (job->kind == KIND_GRU) gru_steps(job, tid);
  else rnn_steps(job, tid);
}
