// What every CUDA source shares: the error type the addon turns into a RecurError, and launch helpers.
#pragma once
#include <cuda_runtime.h>
#include <stdexcept>
#include <string>

namespace recur {

// A CUDA failure, carrying CUDA's own message and what we were doing.
struct CudaError : std::runtime_error {
  explicit CudaError(const std::string& what) : std::runtime_error(what) {}
};

inline void check(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return;
  cudaGetLastError();  // a failed call leaves its error as the "last error": clear it, or the next launch check reports it
  throw CudaError(std::string(what) + ": " + cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ")");
}
// After a launch: a bad configuration shows here; a fault in the kernel shows at the next synchronisation.
inline void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

inline unsigned blocks_for(long n, int threads) { return (unsigned)((n + threads - 1) / threads); }

// The one stream every kernel and copy of the backend runs on (non-blocking: no implicit sync with stream 0).
cudaStream_t stream();

// C[m, n] (+)= Σ_k A(m, k) B(k, n) (+ bias[n]), with A(m, k) = A[m*sam + k*sak], B(k, n) = B[k*sbk + n*sbn],
// C[m*ldc + n]. Strides make every transpose one kernel: A·Bᵀ, Aᵀ·B, A·B.
struct GemmArgs {
  int M, N, K;
  const float* A; long sam, sak;
  const float* B; long sbk, sbn;
  float* C; long ldc;
  const float* bias;  // [N] or null
  bool accumulate;    // C += product (else C = product)
};
void gemm(const GemmArgs& g);
// Row-major helpers: C[M,N] = A[M,K] · W[N,K]ᵀ; C = Aᵀ[K,M]ᵀ... spelled out where used.
inline GemmArgs gemm_abt(int M, int N, int K, const float* A, long lda, const float* W, long ldw, float* C, long ldc) {
  return {M, N, K, A, lda, 1, W, 1, ldw, C, ldc, nullptr, false};
}
inline GemmArgs gemm_ab(int M, int N, int K, const float* A, long lda, const float* B, long ldb, float* C, long ldc) {
  return {M, N, K, A, lda, 1, B, ldb, 1, C, ldc, nullptr, false};
}
// C[M,N] = Aᵀ·B with A stored [K, M] (lda) and B stored [K, N] (ldb).
inline GemmArgs gemm_atb(int M, int N, int K, const float* A, long lda, const float* B, long ldb, float* C, long ldc) {
  return {M, N, K, A, 1, lda, B, ldb, 1, C, ldc, nullptr, false};
}

// Column sums of a [rows, cols] matrix (leading dimension ld) into out[cols] (accumulate: out +=).
void column_sums(const float* a, int rows, int cols, long ld, float* out, bool accumulate);

}  // namespace recur
