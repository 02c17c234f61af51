// The host reference of the forward: cells.h's gate math and indexing run on the CPU, so that CI (no GPU) tests
// them against the golden vectors through the same addon.
#pragma once
#include <vector>

namespace recur {

struct HostLayer {
  int kind, I, H;
  float forget_bias;
  const float *w_ih, *w_hh, *b_ih, *b_hh;  // the public layout
};

// y [T, B, H] out; h, c [B, H] in (initial state) and out (final state).
void host_forward(const HostLayer& L, int T, int B, const float* x, const int* seq_lens, float* y, float* h, float* c);

struct HostGradients {
  std::vector<float> dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh;
};

// The backward of host_forward for the loss Σ y·dy + Σ h_T·dhT + Σ c_T·dcT (dy, dhT, dcT may be null), with
// cells.h's backward math; `out`'s vectors are sized by the caller.
void host_backward(const HostLayer& L, int T, int B, const float* x, const int* seq_lens, const float* h0, const float* c0, const float* dy,
                   const float* dhT, const float* dcT, HostGradients& out);

}  // namespace recur
