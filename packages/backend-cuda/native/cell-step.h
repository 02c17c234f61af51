// One step's cell update given the step's recurrent products (the cell kernel of forward.cu).
#pragma once
#include "cells.h"

namespace recur {

struct StepArgs {
  int kind, t, B, H;
  const float* xw;   // [T, B, G*H]
  const float* hh;   // [B, G*H] recurrent products of this step (TF1's GRU: r, z columns; then n in hn)
  const float* hn;   // TF1's GRU: [B, H] W_hn·(r⊙h)
  const float* hbn;
  const float* h_prev;  // [B, H]
  const float* c_prev;
  const int* seq_lens;
  float *h, *c, *y;     // [B, H] states after the step; y row t
  float *acts, *extra;  // tape rows of step t, or null
};

// Unit j of batch row b, given its recurrent products hv[g] (gate order of the layer).
__device__ __forceinline__ void apply_cell(const StepArgs& a, int b, int j, const float* hv) {
  const int H = a.H, G = gate_count(a.kind);
  const long idx = (long)b * H + j;
  const float* xw = a.xw + tb_row(a.t, b, a.B) * G * H;
  const bool live = row_live(a.seq_lens, a.t, b);
  const float hp = a.h_prev[idx];
  float h, c = 0.f;
  float* act = a.acts ? a.acts + tb_row(a.t, b, a.B) * G * H : nullptr;
  if (a.kind == kLstm) {
    const StepOut o = lstm_step(xw[j], xw[H + j], xw[2 * H + j], xw[3 * H + j], hv[0], hv[1], hv[2], hv[3], a.c_prev[idx]);
    h = o.h;
    c = o.c;
    if (act) act[j] = o.a0, act[H + j] = o.a1, act[2 * H + j] = o.a2, act[3 * H + j] = o.a3;
  } else if (a.kind == kGruAfter) {
    const StepOut o = gru_after_step(xw[j], xw[H + j], xw[2 * H + j], hv[0], hv[1], hv[2], a.hbn[j], hp);
    h = o.h;
    if (act) act[j] = o.a0, act[H + j] = o.a1, act[2 * H + j] = o.a2;
    if (a.extra) a.extra[tb_row(a.t, b, a.B) * H + j] = o.a3;
  } else if (a.kind == kGruBefore) {  // phase 2: r, z are in the tape or scratch acts; n from hn
    const float* rz = a.acts + tb_row(a.t, b, a.B) * G * H;
    const float n = gru_before_n(xw[2 * H + j], a.hn[idx]);
    h = gru_before_h(rz[H + j], n, hp);
    act[2 * H + j] = n;
  } else {
    h = rnn_step(a.kind, xw[j], hv[0]);
  }
  if (live) {
    a.h[idx] = h;
    if (a.c) a.c[idx] = c;
    a.y[idx] = h;
  } else {  // past its length: the state stays, the output is zero
    a.h[idx] = hp;
    if (a.c) a.c[idx] = a.c_prev[idx];
    a.y[idx] = 0.f;
  }
}

}  // namespace recur
