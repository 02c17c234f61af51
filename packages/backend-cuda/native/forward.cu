// A chunk forward: one projection product over all T·B rows (or a gather of W_ih's columns for token ids), then per
// step the recurrent product and one fused cell kernel (two of each for TF1's GRU). Small batches whose recurrent
// weights fit the multiprocessors' shared memory run the whole loop in one persistent launch instead.
#include "cell-step.h"
#include "chunk.h"
#include "device.h"

namespace recur {
namespace {

__global__ void cell_forward(StepArgs a) {
  const long idx = (long)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= (long)a.B * a.H) return;
  const int b = idx / a.H, j = idx % a.H, H = a.H, G = gate_count(a.kind);
  const float* hh = a.hh + (long)b * G * H;
  float hv[4] = {};
  if (a.kind != kGruBefore)
    for (int g = 0; g < G; g++) hv[g] = hh[g * H + j];
  apply_cell(a, b, j, hv);
}

// TF1's GRU, phase 1: r and z, and r⊙h for the n product.
__global__ void gru_before_gates(StepArgs a, float* rh) {
  const long idx = (long)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= (long)a.B * a.H) return;
  const int b = idx / a.H, j = idx % a.H, H = a.H;
  const float* xw = a.xw + tb_row(a.t, b, a.B) * 3 * H;
  const float* hh = a.hh + (long)b * 3 * H;
  const float r = sigmoidf(xw[j] + hh[j]), z = sigmoidf(xw[H + j] + hh[H + j]);
  float* act = a.acts + tb_row(a.t, b, a.B) * 3 * H;
  act[j] = r;
  act[H + j] = z;
  rh[idx] = r * a.h_prev[idx];
}

__global__ void token_projection_kernel(LayerDevice L, const int* tokens, int rows, float* xw) {
  const long idx = (long)blockIdx.x * blockDim.x + threadIdx.x;
  const int GH = gate_count(L.kind) * L.H;
  if (idx >= (long)rows * GH) return;
  const int r = idx / GH, q = idx % GH;
  xw[idx] = L.w_ih[(long)q * L.I + tokens[r]] + L.bias[q];
}
}  // namespace

void token_projection(const LayerDevice& L, const int* tokens, int rows, float* xw) {
  const long n = (long)rows * gate_count(L.kind) * L.H;
  if (n == 0) return;
  token_projection_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(L, tokens, rows, xw);
  check_launch("token_projection");
}

// xw [T·B·GH] + hh [B·GH] + states when no tape [2 × 2 × B·H] + TF1 rh, hn, acts [B·H, B·H, T·B·GH]
long forward_scratch_floats(const ForwardChunk& f) {
  const long GH = (long)gate_count(f.layer.kind) * f.layer.H, BH = (long)f.B * f.layer.H;
  long n = (long)f.T * f.B * GH + f.B * GH + 4 * BH;
  if (f.layer.kind == kGruBefore) n += 2 * BH + (f.acts ? 0 : (long)f.T * f.B * GH);
  return n;
}

void forward_chunk(const ForwardChunk& f, float* scratch) {
  const LayerDevice& L = f.layer;
  const int T = f.T, B = f.B, H = L.H, G = gate_count(L.kind), GH = G * H;
  const long BH = (long)B * H, rows = (long)T * B;
  float* xw = scratch;
  float* hh = xw + rows * GH;
  float* states = hh + (long)B * GH;  // [h ping, h pong, c ping, c pong] without a tape
  float* rh = states + 4 * BH;
  float* hn = rh + BH;
  float* acts = f.acts ? f.acts : hn + BH;
  cudaStream_t s = stream();
  if (B == 0) return;  // an empty batch: nothing to compute, every output is empty
  if (f.tape_x) check(cudaMemcpyAsync(f.tape_x, f.x, sizeof(float) * rows * L.I, cudaMemcpyDeviceToDevice, s), "forward: keep x");
  if (T == 0) {
    check(cudaMemcpyAsync(f.hT, f.h0, sizeof(float) * BH, cudaMemcpyDeviceToDevice, s), "forward: h");
    if (f.cT) check(cudaMemcpyAsync(f.cT, f.c0, sizeof(float) * BH, cudaMemcpyDeviceToDevice, s), "forward: c");
    if (f.hs) check(cudaMemcpyAsync(f.hs, f.h0, sizeof(float) * BH, cudaMemcpyDeviceToDevice, s), "forward: h0");
    if (f.cs) check(cudaMemcpyAsync(f.cs, f.c0, sizeof(float) * BH, cudaMemcpyDeviceToDevice, s), "forward: c0");
    return;
  }
  if (f.allow_persistent && streamed_step(f)) return;  // one launch, no scratch
  // short chunks (T = 2, x given) project inside the persistent launch
  if (f.allow_persistent && !f.hs && f.x && T <= 2 && persistent_forward(f, nullptr, states, true)) {
    persistent_forward(f, nullptr, states, false);
    return;
  }
  // dry run with a stand-in projection pointer: the staged plan
  const bool batch_tiled = f.allow_persistent && persistent_batch_forward(f, xw, states, f.batch_kernel_min, true);
  const bool persistent = !batch_tiled && f.allow_persistent && !f.hs && persistent_forward(f, xw, states, true);
  // the projection of every row at once
  if (f.tokens) token_projection(L, f.tokens, rows, xw);
  else {
    GemmArgs g = gemm_abt(rows, GH, L.I, f.x, L.I, L.w_ih, L.I, xw, GH);
    g.bias = L.bias;
    gemm(g);
  }
  if (persistent) {
    persistent_forward(f, xw, states, false);
    return;
  }
  if (batch_tiled) {
    persistent_batch_forward(f, xw, states, f.batch_kernel_min, false);
    return;
  }
  const float* h_prev = f.h0;
  const float* c_prev = f.c0;
  if (f.hs) {
    check(cudaMemcpyAsync(f.hs, f.h0, sizeof(float) * BH, cudaMemcpyDeviceToDevice, s), "forward: h0");
    if (f.cs) check(cudaMemcpyAsync(f.cs, f.c0, sizeof(float) * BH, cudaMemcpyDeviceToDevice, s), "forward: c0");
  }
  for (int t = 0; t < T; t++) {
    float* h = f.hs ? f.hs + (t + 1) * BH : states + (t & 1) * BH;
    float* c = L.kind != kLstm ? nullptr : f.cs ? f.cs + (t + 1) * BH : states + (2 + (t & 1)) * BH;
    StepArgs a{L.kind, t, B, H, xw, hh, hn, L.hbn, h_prev, c_prev, f.seq_lens, h, c, f.y + t * BH, f.acts, f.extra};
    if (L.kind == kGruBefore) {
      a.acts = acts;
      gemm(gemm_abt(B, 2 * H, H, h_prev, H, L.w_hh, H, hh, GH));
      float* rh_t = f.extra ? f.extra + t * BH : rh;
      gru_before_gates<<<blocks_for(BH, 256), 256, 0, s>>>(a, rh_t);
      check_launch("gru_before_gates");
      gemm(gemm_abt(B, H, H, rh_t, H, L.w_hh + 2L * H * H, H, hn, H));
    } else {
      gemm(gemm_abt(B, GH, H, h_prev, H, L.w_hh, H, hh, GH));
    }
    cell_forward<<<blocks_for(BH, 256), 256, 0, s>>>(a);
    check_launch("cell_forward");
    h_prev = h;
    c_prev = c;
  }
  check(cudaMemcpyAsync(f.hT, h_prev, sizeof(float) * BH, cudaMemcpyDeviceToDevice, s), "forward: final h");
  if (f.cT) check(cudaMemcpyAsync(f.cT, c_prev, sizeof(float) * BH, cudaMemcpyDeviceToDevice, s), "forward: final c");
}

}  // namespace recur
