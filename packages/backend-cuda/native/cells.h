// The gate math and index arithmetic of every kernel, as __host__ __device__ functions: the CUDA kernels call them,
// and so does the host reference (host-reference.cc) that CI, which has no GPU, tests against the golden vectors.
#pragma once
#include <math.h>

#ifdef __CUDACC__
#define RECUR_HD __host__ __device__ __forceinline__
#else
#define RECUR_HD inline
#endif

namespace recur {

enum CellKind { kLstm = 0, kGruAfter = 1, kGruBefore = 2, kRnnTanh = 3, kRnnRelu = 4 };

RECUR_HD int gate_count(int kind) { return kind == kLstm ? 4 : (kind == kGruAfter || kind == kGruBefore) ? 3 : 1; }

// Stable for any input and NaN-preserving: exp of a negative number only.
RECUR_HD float sigmoidf(float x) {
  if (x >= 0.f) return 1.f / (1.f + expf(-x));
  const float e = expf(x);
  return e / (1.f + e);
}
RECUR_HD float reluf(float x) { return x > 0.f ? x : (x != x ? x : 0.f); }

// Index of gate g of unit j in a [rows, G*H] gate matrix (PyTorch's layout: gate blocks of H).
RECUR_HD long gate_index(long row, int G, int H, int g, int j) { return row * (long)G * H + (long)g * H + j; }
// Row of a time-major [T, B, F] tensor.
RECUR_HD long tb_row(int t, int b, int B) { return (long)t * B + b; }
// A row is live at step t when t < its length (seqLens null: every row, every step).
RECUR_HD bool row_live(const int* seq_lens, int t, int b) { return seq_lens == nullptr || t < seq_lens[b]; }

// One unit of one row, forward. `x*` are the input projection with the folded bias, `h*` the recurrent products
// (W_hh·h; for TF1's GRU `hn` is W_hn·(r⊙h)); `hbn` is b_hn for the reset-after GRU.
struct StepOut { float h, c, a0, a1, a2, a3; };

RECUR_HD StepOut lstm_step(float xi, float xf, float xg, float xo, float hi, float hf, float hg, float ho, float c_prev) {
  const float i = sigmoidf(xi + hi), f = sigmoidf(xf + hf), g = tanhf(xg + hg), o = sigmoidf(xo + ho);
  const float c = f * c_prev + i * g;
  return {o * tanhf(c), c, i, f, g, o};
}

// Reset after the recurrent product (PyTorch, cuDNN, Keras 2): n = tanh(x_n + r⊙(W_hn h + b_hn)).
// a2 holds n, a3 the recurrent term W_hn h + b_hn that the backward needs for dr.
RECUR_HD StepOut gru_after_step(float xr, float xz, float xn, float hr, float hz, float hn, float hbn, float h_prev) {
  const float r = sigmoidf(xr + hr), z = sigmoidf(xz + hz), hh = hn + hbn, n = tanhf(xn + r * hh);
  return {(1.f - z) * n + z * h_prev, 0.f, r, z, n, hh};
}

// TF1's GRUCell: r and z first; n = tanh(x_n + W_hn·(r⊙h)) once r⊙h is known (two phases a step).
RECUR_HD float gru_before_n(float xn, float hn_of_rh) { return tanhf(xn + hn_of_rh); }
RECUR_HD float gru_before_h(float z, float n, float h_prev) { return (1.f - z) * n + z * h_prev; }

RECUR_HD float rnn_step(int kind, float x, float h) { return kind == kRnnRelu ? reluf(x + h) : tanhf(x + h); }

// Backward of one unit of one row. dh, dc: gradients reaching h_t, c_t. Outputs: pre-activation gradients of the
// input projection (dx*) and of the recurrent products (dh* : differ from dx* only for GRU's n), and the parts of
// the gradients of h_{t-1}, c_{t-1} that do not go through W_hh.
struct LstmGrad { float di, df, dg, do_, dc_prev; };
RECUR_HD LstmGrad lstm_backward(float i, float f, float g, float o, float c, float c_prev, float dh, float dc) {
  const float tc = tanhf(c);
  const float dct = dc + dh * o * (1.f - tc * tc);
  return {dct * g * i * (1.f - i), dct * c_prev * f * (1.f - f), dct * i * (1.f - g * g), dh * tc * o * (1.f - o), dct * f};
}

struct GruGrad { float dr, dz, dn_x, dn_h, dh_prev; };
// Reset-after: dn_x is the gradient of x_n's pre-activation, dn_h that of (W_hn h + b_hn) (= dn_x · r).
RECUR_HD GruGrad gru_after_backward(float r, float z, float n, float hh, float h_prev, float dh) {
  const float dn = dh * (1.f - z) * (1.f - n * n);
  const float dz = dh * (h_prev - n) * z * (1.f - z);
  const float dr = dn * hh * r * (1.f - r);
  return {dr, dz, dn, dn * r, dh * z};
}
// TF1's, phase 1: the gradient of n's pre-activation (both projections: x_n and W_hn·(r⊙h)).
RECUR_HD float gru_before_dn(float z, float n, float dh) { return dh * (1.f - z) * (1.f - n * n); }
// Phase 2, given d(r⊙h) = dn · W_hn: dr, dz and the direct part of dh_prev.
RECUR_HD GruGrad gru_before_backward(float r, float z, float n, float h_prev, float dh, float drh) {
  const float dz = dh * (h_prev - n) * z * (1.f - z);
  const float dr = drh * h_prev * r * (1.f - r);
  return {dr, dz, 0.f, 0.f, dh * z + drh * r};
}

RECUR_HD float rnn_backward(int kind, float h, float dh) { return kind == kRnnRelu ? (h > 0.f ? dh : 0.f) : dh * (1.f - h * h); }

#ifdef __CUDACC__
// Copies n floats from global memory (written by other blocks of this launch: read through L2, not L1) into shared
// memory, with many loads in flight a thread: 16-byte loads when both sides allow, unrolled either way. A plain
// loop here issues one load at a time and waits for each (the stall that dominated the persistent kernels' steps).
__device__ __forceinline__ void stage_to_shared(float* dst, const float* src, long n) {
  const bool vector = n % 4 == 0 && reinterpret_cast<unsigned long>(src) % 16 == 0 && reinterpret_cast<unsigned long>(dst) % 16 == 0;
  if (vector) {
    const float4* s4 = reinterpret_cast<const float4*>(src);
    float4* d4 = reinterpret_cast<float4*>(dst);
#pragma unroll 8
    for (long e = threadIdx.x; e < n / 4; e += blockDim.x) d4[e] = __ldcg(s4 + e);
  } else {
#pragma unroll 8
    for (long e = threadIdx.x; e < n; e += blockDim.x) dst[e] = __ldcg(src + e);
  }
}
#endif

}  // namespace recur
