#include "host-reference.h"
#include <vector>
#include "cells.h"

namespace recur {

namespace {
// Σ_k w[row, k] · v[k], summed in float as the kernels do.
float dot(const float* w, const float* v, int n) {
  float s = 0.f;
  for (int k = 0; k < n; k++) s += w[k] * v[k];
  return s;
}
}  // namespace

void host_forward(const HostLayer& L, int T, int B, const float* x, const int* seq_lens, float* y, float* h, float* c) {
  const int H = L.H, G = gate_count(L.kind), GH = G * H;
  std::vector<float> xw(GH), hh(GH), h_new((size_t)B * H), c_new((size_t)B * H), rh(H);
  for (int t = 0; t < T; t++) {
    for (int b = 0; b < B; b++) {
      const float* xt = x + tb_row(t, b, B) * L.I;
      const float* hp = h + (long)b * H;
      // the folded biases, as derive_bias makes them
      for (int q = 0; q < GH; q++) {
        float bias = L.b_ih[q] + L.b_hh[q];
        if (L.kind == kLstm && q >= H && q < 2 * H) bias = (float)((double)bias + L.forget_bias);
        if (L.kind == kGruAfter && q >= 2 * H) bias = L.b_ih[q];
        xw[q] = dot(L.w_ih + (long)q * L.I, xt, L.I) + bias;
        hh[q] = dot(L.w_hh + (long)q * H, hp, H);
      }
      if (L.kind == kGruBefore) {
        for (int j = 0; j < H; j++) rh[j] = sigmoidf(xw[j] + hh[j]) * hp[j];
        for (int j = 0; j < H; j++) hh[2 * H + j] = dot(L.w_hh + (long)(2 * H + j) * H, rh.data(), H);
      }
      const bool live = row_live(seq_lens, t, b);
      for (int j = 0; j < H; j++) {
        const long idx = (long)b * H + j;
        float hv, cv = c[idx];
        if (L.kind == kLstm) {
          const StepOut o = lstm_step(xw[j], xw[H + j], xw[2 * H + j], xw[3 * H + j], hh[j], hh[H + j], hh[2 * H + j], hh[3 * H + j], c[idx]);
          hv = o.h;
          cv = o.c;
        } else if (L.kind == kGruAfter) {
          hv = gru_after_step(xw[j], xw[H + j], xw[2 * H + j], hh[j], hh[H + j], hh[2 * H + j], L.b_hh[2 * H + j], hp[j]).h;
        } else if (L.kind == kGruBefore) {
          const float z = sigmoidf(xw[H + j] + hh[H + j]);
          hv = gru_before_h(z, gru_before_n(xw[2 * H + j], hh[2 * H + j]), hp[j]);
        } else {
          hv = rnn_step(L.kind, xw[j], hh[j]);
        }
        h_new[idx] = live ? hv : hp[j];
        c_new[idx] = live ? cv : c[idx];
        y[tb_row(t, b, B) * H + j] = live ? hv : 0.f;
      }
    }
    for (long i = 0; i < (long)B * H; i++) h[i] = h_new[i], c[i] = c_new[i];
  }
}

}  // namespace recur
