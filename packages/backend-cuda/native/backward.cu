// A chunk backward: per step (last first) one fused kernel for the gate gradients (two for TF1's GRU) and one
// product for the gradient reaching h_{t-1} through W_hh; then every weight gradient as one product over all T·B
// rows, the bias gradients as column sums, and dx as one product.
#include "chunk.h"
#include "device.h"

namespace recur {
namespace {

struct BackStep {
  int kind, t, B, H;
  const int* seq_lens;
  const float *hs, *cs, *acts, *extra, *dy;
  const float *dh_in, *dc_in;  // gradients reaching h_t, c_t from later steps
  const float* drh;            // TF1's GRU phase 2: d(r⊙h) = dn·W_hn
  float *dg_ih, *dg_hh;        // [T, B, G*H]
  float *dh_out, *dc_out;      // direct parts of the gradients of h_{t-1}, c_{t-1}
};

__device__ __forceinline__ float incoming(const BackStep& a, long idx, bool live) {
  const float d = a.dh_in[idx];
  return live && a.dy ? d + a.dy[a.t * (long)a.B * a.H + idx] : d;
}

__global__ void cell_backward(BackStep a) {
  const long idx = (long)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= (long)a.B * a.H) return;
  const int b = idx / a.H, j = idx % a.H, H = a.H, G = gate_count(a.kind);
  const bool live = row_live(a.seq_lens, a.t, b);
  const long BH = (long)a.B * H, row = tb_row(a.t, b, a.B);
  float* gi = a.dg_ih + row * G * H;
  float* gh = a.dg_hh + row * G * H;
  const float dh = incoming(a, idx, live);
  if (!live) {  // the state went through unchanged
    for (int g = 0; g < G; g++) gi[g * H + j] = 0.f, gh[g * H + j] = 0.f;
    a.dh_out[idx] = dh;
    if (a.dc_out) a.dc_out[idx] = a.dc_in[idx];
    return;
  }
  const float* act = a.acts + row * G * H;
  if (a.kind == kLstm) {
    const float c = a.cs[(a.t + 1) * BH + idx], c_prev = a.cs[a.t * BH + idx];
    const LstmGrad d = lstm_backward(act[j], act[H + j], act[2 * H + j], act[3 * H + j], c, c_prev, dh, a.dc_in[idx]);
    gi[j] = gh[j] = d.di;
    gi[H + j] = gh[H + j] = d.df;
    gi[2 * H + j] = gh[2 * H + j] = d.dg;
    gi[3 * H + j] = gh[3 * H + j] = d.do_;
    a.dc_out[idx] = d.dc_prev;
    a.dh_out[idx] = 0.f;
  } else if (a.kind == kGruAfter) {
    const float h_prev = a.hs[a.t * BH + idx], hh = a.extra[a.t * BH + idx];
    const GruGrad d = gru_after_backward(act[j], act[H + j], act[2 * H + j], hh, h_prev, dh);
    gi[j] = gh[j] = d.dr;
    gi[H + j] = gh[H + j] = d.dz;
    gi[2 * H + j] = d.dn_x;
    gh[2 * H + j] = d.dn_h;
    a.dh_out[idx] = d.dh_prev;
  } else if (a.kind == kGruBefore) {  // phase 1: dn only
    const float dn = gru_before_dn(act[H + j], act[2 * H + j], dh);
    gi[2 * H + j] = gh[2 * H + j] = dn;
  } else {
    const float d = rnn_backward(a.kind, a.hs[(a.t + 1) * BH + idx], dh);
    gi[j] = gh[j] = d;
    a.dh_out[idx] = 0.f;
  }
}

// TF1's GRU, phase 2 (live rows; masked ones were finished in phase 1).
__global__ void gru_before_backward_kernel(BackStep a) {
  const long idx = (long)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= (long)a.B * a.H) return;
  const int b = idx / a.H, j = idx % a.H, H = a.H;
  if (!row_live(a.seq_lens, a.t, b)) return;
  const long BH = (long)a.B * H, row = tb_row(a.t, b, a.B);
  const float* act = a.acts + row * 3 * H;
  const float dh = incoming(a, idx, true);
  const GruGrad d = gru_before_backward(act[j], act[H + j], act[2 * H + j], a.hs[a.t * BH + idx], dh, a.drh[idx]);
  float* gi = a.dg_ih + row * 3 * H;
  float* gh = a.dg_hh + row * 3 * H;
  gi[j] = gh[j] = d.dr;
  gi[H + j] = gh[H + j] = d.dz;
  a.dh_out[idx] = d.dh_prev;
}

// dW_ih[q, id] = Σ dg[r, q] over the rows r whose token is id, in row order: `index` is the tape's rows grouped
// by id ([I + 1] offsets, then the rows), so the sum is deterministic (no atomics: a rerun gives the same bits).
__global__ void token_gradient(const float* dg, const int* index, int GH, int I, float* dw_ih) {
  const long idx = (long)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= (long)GH * I) return;
  const int id = idx / GH, q = idx % GH;
  const int* rows = index + I + 1;
  float s = 0.f;
  for (int p = index[id]; p < index[id + 1]; p++) s += dg[(long)rows[p] * GH + q];
  dw_ih[(long)q * I + id] = s;
}
}  // namespace

// dg_ih, dg_hh [T·B·GH each] + dh, dc ping-pong [4 · B·H] + drh [B·H]
long backward_scratch_floats(const BackwardChunk& c) {
  const long GH = (long)gate_count(c.layer.kind) * c.layer.H, BH = (long)c.B * c.layer.H;
  return 2 * (long)c.T * c.B * GH + 5 * BH;
}

void backward_chunk(const BackwardChunk& c, float* scratch) {
  const LayerDevice& L = c.layer;
  const int T = c.T, B = c.B, H = L.H, I = L.I, GH = gate_count(L.kind) * H;
  const long BH = (long)B * H, rows = (long)T * B;
  cudaStream_t s = stream();
  if (B == 0) {  // an empty batch: every weight gradient is zero
    for (float* d : {c.dw_ih, c.dw_hh}) check(cudaMemsetAsync(d, 0, sizeof(float) * GH * (d == c.dw_ih ? I : H), s), "backward: empty batch");
    for (float* d : {c.db_ih, c.db_hh}) check(cudaMemsetAsync(d, 0, sizeof(float) * GH, s), "backward: empty batch");
    return;
  }
  float* dg_ih = scratch;
  float* dg_hh = dg_ih + rows * GH;
  float* dh[2] = {dg_hh + rows * GH, dg_hh + rows * GH + BH};
  float* dc[2] = {dh[1] + BH, dh[1] + 2 * BH};
  float* drh = dh[1] + 3 * BH;
  const auto init = [&](float* dst, const float* src) {
    if (src) check(cudaMemcpyAsync(dst, src, sizeof(float) * BH, cudaMemcpyDeviceToDevice, s), "backward: final-state gradient");
    else check(cudaMemsetAsync(dst, 0, sizeof(float) * BH, s), "backward: zero");
  };
  init(dh[0], c.dhT);
  if (L.kind == kLstm) init(dc[0], c.dcT);
  int cur = 0;
  for (int t = T - 1; t >= 0; t--) {
    const int nxt = cur ^ 1;
    BackStep a{L.kind, t, B, H, c.seq_lens, c.hs, c.cs, c.acts, c.extra, c.dy, dh[cur], L.kind == kLstm ? dc[cur] : nullptr, drh, dg_ih, dg_hh,
               dh[nxt], L.kind == kLstm ? dc[nxt] : nullptr};
    cell_backward<<<blocks_for(BH, 256), 256, 0, s>>>(a);
    check_launch("cell_backward");
    float* dg_t = dg_hh + (long)t * B * GH;
    if (L.kind == kGruBefore) {
      // d(r⊙h) = dn · W_hn, then r, z and the direct part of dh_{t-1}
      gemm(gemm_ab(B, H, H, dg_t + 2 * H, GH, L.w_hh + 2L * H * H, H, drh, H));
      gru_before_backward_kernel<<<blocks_for(BH, 256), 256, 0, s>>>(a);
      check_launch("gru_before_backward");
      GemmArgs g = gemm_ab(B, H, 2 * H, dg_t, GH, L.w_hh, H, dh[nxt], H);
      g.accumulate = true;
      gemm(g);
    } else {
      GemmArgs g = gemm_ab(B, H, GH, dg_t, GH, L.w_hh, H, dh[nxt], H);
      g.accumulate = true;
      gemm(g);
    }
    cur = nxt;
  }
  check(cudaMemcpyAsync(c.dh0, dh[cur], sizeof(float) * BH, cudaMemcpyDeviceToDevice, s), "backward: dh0");
  if (c.dc0) check(cudaMemcpyAsync(c.dc0, dc[cur], sizeof(float) * BH, cudaMemcpyDeviceToDevice, s), "backward: dc0");
  // weight gradients over all rows at once
  if (c.tokens) {
    token_gradient<<<blocks_for((long)GH * I, 256), 256, 0, s>>>(dg_ih, c.tokens, GH, I, c.dw_ih);
    check_launch("token_gradient");
  } else {
    gemm(gemm_atb(GH, I, rows, dg_ih, GH, c.x, I, c.dw_ih, I));
  }
  if (L.kind == kGruBefore) {  // r, z rows against h_{t-1}; n rows against r⊙h_{t-1}
    gemm(gemm_atb(2 * H, H, rows, dg_hh, GH, c.hs, H, c.dw_hh, H));
    gemm(gemm_atb(H, H, rows, dg_hh + 2 * H, GH, c.extra, H, c.dw_hh + 2L * H * H, H));
  } else {
    gemm(gemm_atb(GH, H, rows, dg_hh, GH, c.hs, H, c.dw_hh, H));
  }
  column_sums(dg_ih, rows, GH, GH, c.db_ih, false);
  column_sums(dg_hh, rows, GH, GH, c.db_hh, false);
  if (c.dx) gemm(gemm_ab(rows, I, GH, dg_ih, GH, L.w_ih, I, c.dx, I));
}

}  // namespace recur
