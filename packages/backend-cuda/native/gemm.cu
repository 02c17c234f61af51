// One tiled SGEMM for every product the backend runs (projection, recurrent products when no persistent kernel
// applies, every weight gradient, the dense head): 64×64 tiles, 16-deep, 4×4 outputs a thread. Its strided operands
// load with the unit-stride index fastest across threads, so A·Bᵀ, Aᵀ·B and A·B all read coalesced.
#include "device.h"

namespace recur {
namespace {
constexpr int BM = 64, BN = 64, BK = 16, PAD = 4;

__global__ void __launch_bounds__(256) gemm_kernel(GemmArgs g) {
  __shared__ __align__(16) float As[BK][BM + PAD];
  __shared__ __align__(16) float Bs[BK][BN + PAD];
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  const bool a_k_fast = g.sak == 1, b_k_fast = g.sbk == 1;
  float acc[4][4] = {};
  for (int k0 = 0; k0 < g.K; k0 += BK) {
#pragma unroll
    for (int l = 0; l < 4; l++) {
      const int e = tid + l * 256;  // 0..1023 over a 64×16 tile
      const int kk = a_k_fast ? e % BK : e / BM, mm = a_k_fast ? e / BK : e % BM;
      const int m = m0 + mm, k = k0 + kk;
      As[kk][mm] = (m < g.M && k < g.K) ? g.A[m * g.sam + k * g.sak] : 0.f;
      const int kb = b_k_fast ? e % BK : e / BN, nn = b_k_fast ? e / BK : e % BN;
      const int n = n0 + nn, k2 = k0 + kb;
      Bs[kb][nn] = (n < g.N && k2 < g.K) ? g.B[k2 * g.sbk + n * g.sbn] : 0.f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < BK; kk++) {
      const float4 a = *reinterpret_cast<const float4*>(&As[kk][ty * 4]);
      const float4 b = *reinterpret_cast<const float4*>(&Bs[kk][tx * 4]);
      const float av[4] = {a.x, a.y, a.z, a.w}, bv[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
      for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; i++) {
    const int m = m0 + ty * 4 + i;
    if (m >= g.M) continue;
#pragma unroll
    for (int j = 0; j < 4; j++) {
      const int n = n0 + tx * 4 + j;
      if (n >= g.N) continue;
      float v = acc[i][j];
      if (g.bias) v += g.bias[n];
      float* c = g.C + m * g.ldc + n;
      *c = g.accumulate ? *c + v : v;
    }
  }
}

// One block per 32 columns; 8 row lanes each, then a fixed-order sum in shared memory (deterministic).
__global__ void column_sums_kernel(const float* a, int rows, int cols, long ld, float* out, bool accumulate) {
  __shared__ float part[8][33];
  const int c = blockIdx.x * 32 + threadIdx.x, lane = threadIdx.y;
  float s = 0.f;
  if (c < cols)
    for (int r = lane; r < rows; r += 8) s += a[(long)r * ld + c];
  part[lane][threadIdx.x] = s;
  __syncthreads();
  if (lane == 0 && c < cols) {
    float t = 0.f;
    for (int l = 0; l < 8; l++) t += part[l][threadIdx.x];
    out[c] = accumulate ? out[c] + t : t;
  }
}
}  // namespace

void gemm(const GemmArgs& g) {
  if (g.M <= 0 || g.N <= 0) return;
  if (g.K <= 0) {  // an empty sum: C = 0 (+ bias), or unchanged when accumulating
    if (!g.accumulate) {
      check(cudaMemsetAsync(g.C, 0, sizeof(float) * ((long)(g.M - 1) * g.ldc + g.N), stream()), "gemm: clear C");
      if (g.bias) {  // C[m, :] = bias
        for (int m = 0; m < g.M; m++) check(cudaMemcpyAsync(g.C + m * g.ldc, g.bias, sizeof(float) * g.N, cudaMemcpyDeviceToDevice, stream()), "gemm: bias rows");
      }
    }
    return;
  }
  dim3 grid(blocks_for(g.N, BN), blocks_for(g.M, BM));
  gemm_kernel<<<grid, 256, 0, stream()>>>(g);
  check_launch("gemm");
}

void column_sums(const float* a, int rows, int cols, long ld, float* out, bool accumulate) {
  if (cols <= 0) return;
  column_sums_kernel<<<blocks_for(cols, 32), dim3(32, 8), 0, stream()>>>(a, rows, cols, ld, out, accumulate);
  check_launch("column_sums");
}

}  // namespace recur
