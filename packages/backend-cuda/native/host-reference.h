// The host reference of the forward: cells.h's gate math and indexing run on the CPU, so that CI (no GPU) tests
// them against the golden vectors through the same addon.
#pragma once

namespace recur {

struct HostLayer {
  int kind, I, H;
  float forget_bias;
  const float *w_ih, *w_hh, *b_ih, *b_hh;  // the public layout
};

// y [T, B, H] out; h, c [B, H] in (initial state) and out (final state).
void host_forward(const HostLayer& L, int T, int B, const float* x, const int* seq_lens, float* y, float* h, float* c);

}  // namespace recur
