// The v2 training kernels besides the products: softmax cross-entropy, mean squared error, the global norm, the
// optimizer update in place, and the biases derived from the public ones. Sums run in double, as core's host code
// does, so both paths agree to the last float bit where core's does and overflow where it does.
#include "cells.h"
#include "device.h"
#include "kernels.h"

namespace recur {
namespace {
constexpr int kReduceThreads = 256;

__device__ double block_sum(double v) {
  __shared__ double part[kReduceThreads / 32];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  if (threadIdx.x % 32 == 0) part[threadIdx.x / 32] = v;
  __syncthreads();
  double s = 0;
  if (threadIdx.x == 0)
    for (int w = 0; w < kReduceThreads / 32; w++) s += part[w];
  __syncthreads();
  return s;  // in thread 0
}

__device__ double block_max(double v) {
  __shared__ double part[kReduceThreads / 32];
  __shared__ double result;
  for (int o = 16; o > 0; o >>= 1) v = fmax(v, __shfl_xor_sync(0xffffffffu, v, o));
  if (threadIdx.x % 32 == 0) part[threadIdx.x / 32] = v;
  __syncthreads();
  if (threadIdx.x == 0) {
    double m = part[0];
    for (int w = 1; w < kReduceThreads / 32; w++) m = fmax(m, part[w]);
    result = m;
  }
  __syncthreads();
  return result;
}

// One block a row: max, Σ exp, then the gradient softmax/rows − onehot/rows.
__global__ void softmax_ce_rows(const float* logits, const int* targets, int rows, int classes, float* d, double* row_loss) {
  const int r = blockIdx.x;
  const float* l = logits + (long)r * classes;
  double m = -INFINITY;
  for (int c = threadIdx.x; c < classes; c += kReduceThreads) m = fmax(m, (double)l[c]);
  m = block_max(m);
  double s = 0;
  for (int c = threadIdx.x; c < classes; c += kReduceThreads) s += exp((double)l[c] - m);
  __shared__ double total;
  const double t = block_sum(s);
  if (threadIdx.x == 0) total = t;
  __syncthreads();
  const double scale = 1.0 / (total * rows);
  const int target = targets[r];
  for (int c = threadIdx.x; c < classes; c += kReduceThreads) {
    double v = exp((double)l[c] - m) * scale;
    if (c == target) v -= 1.0 / rows;
    d[(long)r * classes + c] = (float)v;
  }
  if (threadIdx.x == 0) row_loss[r] = log(total) + m - (double)l[target];
}

// Sums `n` partials in a fixed order; out[0] = (float)(Σ / divisor) (sqrt of it when `root`).
__global__ void finish_sum(const double* partials, long n, double divisor, bool root, float* out) {
  double s = 0;
  for (long i = threadIdx.x; i < n; i += kReduceThreads) s += partials[i];
  s = block_sum(s);
  if (threadIdx.x == 0) out[0] = (float)(root ? sqrt(s) : s / divisor);
}

constexpr int kMseBlocks = 256;
__global__ void mse_kernel(const float* p, const float* t, long n, float* d, double* partials) {
  double s = 0;
  for (long i = (long)blockIdx.x * kReduceThreads + threadIdx.x; i < n; i += (long)gridDim.x * kReduceThreads) {
    const double e = (double)p[i] - (double)t[i];
    s += e * e;
    d[i] = (float)(2 * e / n);
  }
  s = block_sum(s);
  if (threadIdx.x == 0) partials[blockIdx.x] = s;
}

__global__ void squares_kernel(const float* a, long n, double* partials) {
  double s = 0;
  for (long i = (long)blockIdx.x * kReduceThreads + threadIdx.x; i < n; i += (long)gridDim.x * kReduceThreads) s += (double)a[i] * a[i];
  s = block_sum(s);
  if (threadIdx.x == 0) partials[blockIdx.x] = s;
}

__global__ void optimizer_kernel(OptimizerRule r, float* param, const float* grad, float* s0, float* s1, long n) {
  const long j = (long)blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= n) return;
  const double g = r.grad_scale * grad[j];
  if (!r.adam) {  // the update uses the double velocity, as core's host rule does; the slot keeps its float
    const double v = r.momentum * s0[j] + g;
    s0[j] = (float)v;
    param[j] = (float)(param[j] - r.learning_rate * v);
    return;
  }
  const double m = r.beta1 * s0[j] + (1 - r.beta1) * g, v = r.beta2 * s1[j] + (1 - r.beta2) * g * g;
  s0[j] = (float)m;
  s1[j] = (float)v;
  param[j] = (float)(param[j] - (r.step_size * m) / (sqrt(v * r.inverse_c2) + r.epsilon));
}

__global__ void derive_bias_kernel(int kind, int H, float forget_bias, const float* b_ih, const float* b_hh, float* bias, float* hbn) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  const int G = gate_count(kind);
  if (i >= G * H) return;
  float v = b_ih[i] + b_hh[i];
  if (kind == kLstm && i >= H && i < 2 * H) v = (float)((double)v + forget_bias);
  if (kind == kGruAfter && i >= 2 * H) {  // b_hn sits inside r⊙(W_hn h + b_hn)
    v = b_ih[i];
    hbn[i - 2 * H] = b_hh[i];
  }
  bias[i] = v;
}
}  // namespace

void softmax_cross_entropy(const float* logits, const int* targets, int rows, int classes, float* loss, float* d, double* partials) {
  if (rows > 0) {
    softmax_ce_rows<<<rows, kReduceThreads, 0, stream()>>>(logits, targets, rows, classes, d, partials);
    check_launch("softmax_cross_entropy");
  }
  finish_sum<<<1, kReduceThreads, 0, stream()>>>(partials, rows, rows, false, loss);
  check_launch("softmax_cross_entropy: mean");
}

long mse_partials(long) { return kMseBlocks; }

void mean_squared_error(const float* p, const float* t, long n, float* loss, float* d, double* partials) {
  mse_kernel<<<kMseBlocks, kReduceThreads, 0, stream()>>>(p, t, n, d, partials);
  check_launch("mean_squared_error");
  finish_sum<<<1, kReduceThreads, 0, stream()>>>(partials, kMseBlocks, (double)n, false, loss);
  check_launch("mean_squared_error: mean");
}

void global_norm(const float* const* arrays, const long* sizes, int count, float* out, double* partials) {
  for (int i = 0; i < count; i++) {
    squares_kernel<<<kNormBlocks, kReduceThreads, 0, stream()>>>(arrays[i], sizes[i], partials + (long)i * kNormBlocks);
    check_launch("global_norm");
  }
  finish_sum<<<1, kReduceThreads, 0, stream()>>>(partials, (long)count * kNormBlocks, 1, true, out);
  check_launch("global_norm: root");
}

void optimizer_update(const OptimizerRule& r, float* param, const float* grad, float* slot0, float* slot1, long n) {
  if (n == 0) return;
  optimizer_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(r, param, grad, slot0, slot1, n);
  check_launch("optimizer_update");
}

void derive_bias(int kind, int H, float forget_bias, const float* b_ih, const float* b_hh, float* bias, float* hbn) {
  const int n = gate_count(kind) * H;
  if (n == 0) return;
  derive_bias_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(kind, H, forget_bias, b_ih, b_hh, bias, hbn);
  check_launch("derive_bias");
}

}  // namespace recur
