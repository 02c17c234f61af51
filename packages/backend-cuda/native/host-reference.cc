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

namespace recur {

void host_backward(const HostLayer& L, int T, int B, const float* x, const int* seq_lens, const float* h0, const float* c0, const float* dy,
                   const float* dhT, const float* dcT, HostGradients& out) {
  const int H = L.H, I = L.I, G = gate_count(L.kind), GH = G * H;
  const long BH = (long)B * H;
  // the forward again, keeping per step the states before it, the activations, and GRU's extra operand
  std::vector<float> hs((size_t)(T + 1) * BH), cs((size_t)(T + 1) * BH), act((size_t)T * B * GH), extra((size_t)T * BH);
  std::copy(h0, h0 + BH, hs.begin());
  if (c0) std::copy(c0, c0 + BH, cs.begin());
  std::vector<float> xw(GH), hh(GH), rh(H);
  for (int t = 0; t < T; t++) {
    for (int b = 0; b < B; b++) {
      const float* xt = x + tb_row(t, b, B) * I;
      const float* hp = &hs[t * BH + (long)b * H];
      const float* cp = &cs[t * BH + (long)b * H];
      float* a = &act[tb_row(t, b, B) * GH];
      float* ex = &extra[t * BH + (long)b * H];
      for (int q = 0; q < GH; q++) {
        float bias = L.b_ih[q] + L.b_hh[q];
        if (L.kind == kLstm && q >= H && q < 2 * H) bias = (float)((double)bias + L.forget_bias);
        if (L.kind == kGruAfter && q >= 2 * H) bias = L.b_ih[q];
        xw[q] = dot(L.w_ih + (long)q * I, xt, I) + bias;
        hh[q] = dot(L.w_hh + (long)q * H, hp, H);
      }
      if (L.kind == kGruBefore) {
        for (int j = 0; j < H; j++) ex[j] = rh[j] = sigmoidf(xw[j] + hh[j]) * hp[j];
        for (int j = 0; j < H; j++) hh[2 * H + j] = dot(L.w_hh + (long)(2 * H + j) * H, rh.data(), H);
      }
      const bool live = row_live(seq_lens, t, b);
      for (int j = 0; j < H; j++) {
        float hv, cv = cp[j];
        if (L.kind == kLstm) {
          const StepOut o = lstm_step(xw[j], xw[H + j], xw[2 * H + j], xw[3 * H + j], hh[j], hh[H + j], hh[2 * H + j], hh[3 * H + j], cp[j]);
          hv = o.h, cv = o.c;
          a[j] = o.a0, a[H + j] = o.a1, a[2 * H + j] = o.a2, a[3 * H + j] = o.a3;
        } else if (L.kind == kGruAfter) {
          const StepOut o = gru_after_step(xw[j], xw[H + j], xw[2 * H + j], hh[j], hh[H + j], hh[2 * H + j], L.b_hh[2 * H + j], hp[j]);
          hv = o.h;
          a[j] = o.a0, a[H + j] = o.a1, a[2 * H + j] = o.a2;
          ex[j] = o.a3;
        } else if (L.kind == kGruBefore) {
          const float r = sigmoidf(xw[j] + hh[j]), z = sigmoidf(xw[H + j] + hh[H + j]), n = gru_before_n(xw[2 * H + j], hh[2 * H + j]);
          hv = gru_before_h(z, n, hp[j]);
          a[j] = r, a[H + j] = z, a[2 * H + j] = n;
        } else {
          hv = rnn_step(L.kind, xw[j], hh[j]);
        }
        hs[(t + 1) * BH + (long)b * H + j] = live ? hv : hp[j];
        cs[(t + 1) * BH + (long)b * H + j] = live ? cv : cp[j];
      }
    }
  }
  // back, last step first
  std::fill(out.dw_ih.begin(), out.dw_ih.end(), 0.f);
  std::fill(out.dw_hh.begin(), out.dw_hh.end(), 0.f);
  std::fill(out.db_ih.begin(), out.db_ih.end(), 0.f);
  std::fill(out.db_hh.begin(), out.db_hh.end(), 0.f);
  std::fill(out.dx.begin(), out.dx.end(), 0.f);
  std::vector<float> dh(BH, 0.f), dc(BH, 0.f), dgi(GH), dgh(GH), direct(H), drh(H), dn(H);
  if (dhT) std::copy(dhT, dhT + BH, dh.begin());
  if (dcT) std::copy(dcT, dcT + BH, dc.begin());
  for (int t = T - 1; t >= 0; t--) {
    for (int b = 0; b < B; b++) {
      if (!row_live(seq_lens, t, b)) continue;  // the state went through unchanged: so does its gradient
      float* dhb = &dh[(long)b * H];
      float* dcb = &dc[(long)b * H];
      if (dy)
        for (int j = 0; j < H; j++) dhb[j] += dy[tb_row(t, b, B) * H + j];
      const float* a = &act[tb_row(t, b, B) * GH];
      const float* hp = &hs[t * BH + (long)b * H];
      const float* ex = &extra[t * BH + (long)b * H];
      if (L.kind == kGruBefore) {
        for (int j = 0; j < H; j++) dn[j] = gru_before_dn(a[H + j], a[2 * H + j], dhb[j]);
        for (int k = 0; k < H; k++) {
          float s = 0.f;
          for (int j = 0; j < H; j++) s += dn[j] * L.w_hh[(long)(2 * H + j) * H + k];
          drh[k] = s;
        }
      }
      for (int j = 0; j < H; j++) {
        if (L.kind == kLstm) {
          const LstmGrad d = lstm_backward(a[j], a[H + j], a[2 * H + j], a[3 * H + j], cs[(t + 1) * BH + (long)b * H + j], cs[t * BH + (long)b * H + j], dhb[j], dcb[j]);
          dgi[j] = d.di, dgi[H + j] = d.df, dgi[2 * H + j] = d.dg, dgi[3 * H + j] = d.do_;
          for (int g = 0; g < 4; g++) dgh[g * H + j] = dgi[g * H + j];
          dcb[j] = d.dc_prev;
          direct[j] = 0.f;
        } else if (L.kind == kGruAfter) {
          const GruGrad d = gru_after_backward(a[j], a[H + j], a[2 * H + j], ex[j], hp[j], dhb[j]);
          dgi[j] = dgh[j] = d.dr;
          dgi[H + j] = dgh[H + j] = d.dz;
          dgi[2 * H + j] = d.dn_x;
          dgh[2 * H + j] = d.dn_h;
          direct[j] = d.dh_prev;
        } else if (L.kind == kGruBefore) {
          const GruGrad d = gru_before_backward(a[j], a[H + j], a[2 * H + j], hp[j], dhb[j], drh[j]);
          dgi[j] = dgh[j] = d.dr;
          dgi[H + j] = dgh[H + j] = d.dz;
          dgi[2 * H + j] = dgh[2 * H + j] = dn[j];
          direct[j] = d.dh_prev;
        } else {
          dgi[j] = dgh[j] = rnn_backward(L.kind, hs[(t + 1) * BH + (long)b * H + j], dhb[j]);
          direct[j] = 0.f;
        }
      }
      const float* xt = x + tb_row(t, b, B) * I;
      for (int q = 0; q < GH; q++) {
        out.db_ih[q] += dgi[q];
        out.db_hh[q] += dgh[q];
        for (int k = 0; k < I; k++) out.dw_ih[(long)q * I + k] += dgi[q] * xt[k];
        // TF1's n rows multiply r⊙h_{t-1}, the others h_{t-1}
        const float* operand = L.kind == kGruBefore && q >= 2 * H ? ex : hp;
        for (int k = 0; k < H; k++) out.dw_hh[(long)q * H + k] += dgh[q] * operand[k];
        for (int k = 0; k < I; k++) out.dx[tb_row(t, b, B) * I + k] += dgi[q] * L.w_ih[(long)q * I + k];
      }
      const int through = L.kind == kGruBefore ? 2 * H : GH;  // TF1's n went back through drh already
      for (int k = 0; k < H; k++) {
        float s = direct[k];
        for (int q = 0; q < through; q++) s += dgh[q] * L.w_hh[(long)q * H + k];
        dhb[k] = s;
      }
    }
  }
  std::copy(dh.begin(), dh.end(), out.dh0.begin());
  std::copy(dc.begin(), dc.end(), out.dc0.begin());
}

}  // namespace recur
