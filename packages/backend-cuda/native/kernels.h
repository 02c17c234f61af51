// The small kernels besides the chunk kernels (rows.cu, training.cu).
#pragma once

namespace recur {

void transpose01(const float* src, float* dst, int A, int B, int F);
void zero_rows(const float* src, float* dst, long rows, long per, const int* clear);
void gather_rows(const float* src, float* dst, long out_rows, long per, const int* rows);
void non_finite(const float* a, long n, int* found);
void empty_launch_and_sync();

// The folded biases of a layer (see chunk.h's LayerDevice) from the public ones.
void derive_bias(int kind, int H, float forget_bias, const float* b_ih, const float* b_hh, float* bias, float* hbn);

// Losses: per-row (or per-block) partial sums in double in `partials`, then loss[0] = the mean, as float.
void softmax_cross_entropy(const float* logits, const int* targets, int rows, int classes, float* loss, float* d, double* partials);
long mse_partials(long n);
void mean_squared_error(const float* p, const float* t, long n, float* loss, float* d, double* partials);

// √(Σ v²) over several arrays, summed in double, as float in out[0].
constexpr int kNormBlocks = 64;
void global_norm(const float* const* arrays, const long* sizes, int count, float* out, double* partials /* kNormBlocks·count */);

struct OptimizerRule {
  int adam;  // 0: SGD with momentum, 1: Adam
  double learning_rate, momentum, beta1, beta2, epsilon, step_size, inverse_c2, grad_scale;
};
void optimizer_update(const OptimizerRule& r, float* param, const float* grad, float* slot0, float* slot1, long n);

}  // namespace recur
