// One tiled SGEMM for every product the backend runs (projection, recurrent products when no persistent kernel
// applies, every weight gradient, the dense head): 64×64 tiles, 32-deep, 4×4 outputs a thread, the next tile's
// loads in registers while the current one is multiplied. Strided operands load with their unit-stride index
// fastest across threads, so A·Bᵀ, Aᵀ·B and A·B all read coalesced. Products with few tiles (a recurrent step's
// [B, 4H] at small B) split K over blocks and sum the slices in a fixed order: deterministic, no atomics.
#include <algorithm>
#include "device.h"

namespace recur {
namespace {
constexpr int BM = 64, BN = 64, BK = 32, PAD = 4, THREADS = 256, LOADS = BM * BK / THREADS;  // 8

// C[m, n] = v (+ bias[n]) (+ C[m, n] when accumulating): every kernel's epilogue.
__device__ __forceinline__ void store_c(const GemmArgs& g, int m, int n, float v) {
  if (g.bias) v += g.bias[n];
  float* c = g.C + m * g.ldc + n;
  *c = g.accumulate ? *c + v : v;
}

struct Tile {
  float a[LOADS], b[LOADS];
};

__device__ __forceinline__ void load_tile(const GemmArgs& g, int m0, int n0, int k0, int k_end, Tile& t) {
  const bool a_k_fast = g.sak == 1, b_k_fast = g.sbk == 1;
#pragma unroll
  for (int l = 0; l < LOADS; l++) {
    const int e = threadIdx.x + l * THREADS;  // 0..2047 over a 64×32 tile
    const int ka = a_k_fast ? e % BK : e / BM, mm = a_k_fast ? e / BK : e % BM;
    const int m = m0 + mm, k = k0 + ka;
    t.a[l] = (m < g.M && k < k_end) ? g.A[m * g.sam + k * g.sak] : 0.f;
    const int kb = b_k_fast ? e % BK : e / BN, nn = b_k_fast ? e / BK : e % BN;
    const int n = n0 + nn, k2 = k0 + kb;
    t.b[l] = (n < g.N && k2 < k_end) ? g.B[k2 * g.sbk + n * g.sbn] : 0.f;
  }
}

__device__ __forceinline__ void store_tile(const GemmArgs& g, const Tile& t, float (*As)[BM + PAD], float (*Bs)[BN + PAD]) {
  const bool a_k_fast = g.sak == 1, b_k_fast = g.sbk == 1;
#pragma unroll
  for (int l = 0; l < LOADS; l++) {
    const int e = threadIdx.x + l * THREADS;
    const int ka = a_k_fast ? e % BK : e / BM, mm = a_k_fast ? e / BK : e % BM;
    As[ka][mm] = t.a[l];
    const int kb = b_k_fast ? e % BK : e / BN, nn = b_k_fast ? e / BK : e % BN;
    Bs[kb][nn] = t.b[l];
  }
}

// blockIdx.z: the K slice [z·kslice, (z+1)·kslice); with several slices, C is `partial` + z·M·N (ld N), raw.
__global__ void __launch_bounds__(THREADS) gemm_kernel(GemmArgs g, int kslice, float* partial) {
  __shared__ __align__(16) float As[BK][BM + PAD];
  __shared__ __align__(16) float Bs[BK][BN + PAD];
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  const int k_begin = blockIdx.z * kslice, k_end = min(g.K, k_begin + kslice);
  float acc[4][4] = {};
  Tile next;
  load_tile(g, m0, n0, k_begin, k_end, next);
  for (int k0 = k_begin; k0 < k_end; k0 += BK) {
    store_tile(g, next, As, Bs);
    __syncthreads();
    if (k0 + BK < k_end) load_tile(g, m0, n0, k0 + BK, k_end, next);  // in flight while this tile multiplies
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
      if (partial) partial[((long)blockIdx.z * g.M + m) * g.N + n] = acc[i][j];
      else store_c(g, m, n, acc[i][j]);
    }
  }
}

// Large products (the projection of a whole chunk, the weight gradients): 128×128 tiles, 8 deep, 8×8 outputs a
// thread in two 4×4 quadrants 64 apart (conflict-free float4 reads), the next tile's loads in registers.
constexpr int LM = 128, LN = 128, LK = 8, LPAD = 4;

__global__ void __launch_bounds__(THREADS) gemm_large_kernel(GemmArgs g) {
  __shared__ __align__(16) float As[LK][LM + LPAD];
  __shared__ __align__(16) float Bs[LK][LN + LPAD];
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int m0 = blockIdx.y * LM, n0 = blockIdx.x * LN;
  const bool a_k_fast = g.sak == 1, b_k_fast = g.sbk == 1;
  float acc[8][8] = {};
  float na[4], nb[4];
  const auto load = [&](int k0) {
#pragma unroll
    for (int l = 0; l < 4; l++) {
      const int e = tid + l * THREADS;  // 0..1023 over a 128×8 tile
      const int ka = a_k_fast ? e % LK : e / LM, mm = a_k_fast ? e / LK : e % LM;
      const int m = m0 + mm, k = k0 + ka;
      na[l] = (m < g.M && k < g.K) ? g.A[m * g.sam + k * g.sak] : 0.f;
      const int kb = b_k_fast ? e % LK : e / LN, nn = b_k_fast ? e / LK : e % LN;
      const int n = n0 + nn, k2 = k0 + kb;
      nb[l] = (n < g.N && k2 < g.K) ? g.B[k2 * g.sbk + n * g.sbn] : 0.f;
    }
  };
  load(0);
  for (int k0 = 0; k0 < g.K; k0 += LK) {
#pragma unroll
    for (int l = 0; l < 4; l++) {
      const int e = tid + l * THREADS;
      As[a_k_fast ? e % LK : e / LM][a_k_fast ? e / LK : e % LM] = na[l];
      Bs[b_k_fast ? e % LK : e / LN][b_k_fast ? e / LK : e % LN] = nb[l];
    }
    __syncthreads();
    if (k0 + LK < g.K) load(k0 + LK);
#pragma unroll
    for (int kk = 0; kk < LK; kk++) {
      const float4 a0 = *reinterpret_cast<const float4*>(&As[kk][ty * 4]), a1 = *reinterpret_cast<const float4*>(&As[kk][ty * 4 + 64]);
      const float4 b0 = *reinterpret_cast<const float4*>(&Bs[kk][tx * 4]), b1 = *reinterpret_cast<const float4*>(&Bs[kk][tx * 4 + 64]);
      const float av[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w}, bv[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
      for (int i = 0; i < 8; i++)
#pragma unroll
        for (int j = 0; j < 8; j++) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 8; i++) {
    const int m = m0 + ty * 4 + (i & 3) + (i >> 2) * 64;
    if (m >= g.M) continue;
#pragma unroll
    for (int j = 0; j < 8; j++) {
      const int n = n0 + tx * 4 + (j & 3) + (j >> 2) * 64;
      if (n >= g.N) continue;
      store_c(g, m, n, acc[i][j]);
    }
  }
}

// C = Σ_z partial[z] (in z order) (+ bias) (+ C when accumulating).
__global__ void sum_slices(GemmArgs g, int slices, const float* partial) {
  const long idx = (long)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= (long)g.M * g.N) return;
  const int m = idx / g.N, n = idx % g.N;
  float v = 0.f;
  for (int z = 0; z < slices; z++) v += partial[(long)z * g.M * g.N + idx];
  store_c(g, m, n, v);
}

// One column of 32 a block; 8 row lanes each, then a fixed-order sum in shared memory (deterministic).
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

int multiprocessors() {
  static int sms = [] {
    int device = 0, n = 0;
    check(cudaGetDevice(&device), "gemm: device");
    check(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device), "gemm: multiprocessors");
    return n;
  }();
  return sms;
}

// The split-K slices' partial sums: grow-only, reused (stream order makes reuse safe).
float* partials(size_t floats) {
  static float* p = nullptr;
  static size_t have = 0;
  if (floats > have) {
    if (p) {
      check(cudaStreamSynchronize(stream()), "gemm: partials");
      cudaFree(p);
      p = nullptr;
      have = 0;
    }
    check(cudaMalloc(&p, floats * sizeof(float)), "gemm: partials");
    have = floats;
  }
  return p;
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
  const long large_tiles = (long)blocks_for(g.N, LN) * blocks_for(g.M, LM);
  if (large_tiles >= multiprocessors()) {  // enough 128×128 tiles to fill the device
    gemm_large_kernel<<<dim3(blocks_for(g.N, LN), blocks_for(g.M, LM)), THREADS, 0, stream()>>>(g);
    check_launch("gemm (large)");
    return;
  }
  const long tiles = (long)blocks_for(g.N, BN) * blocks_for(g.M, BM);
  // few tiles: split K so that about two blocks a multiprocessor run, each slice at least 4 tiles deep
  int slices = 1;
  const long target = 2L * multiprocessors();
  if (tiles < target) slices = (int)std::min<long>((target + tiles - 1) / tiles, std::max(1, g.K / (4 * BK)));
  const int per_slice = (g.K + slices - 1) / slices, kslice = (per_slice + BK - 1) / BK * BK;
  slices = (g.K + kslice - 1) / kslice;
  dim3 grid(blocks_for(g.N, BN), blocks_for(g.M, BM), slices);
  if (slices == 1) {
    gemm_kernel<<<grid, THREADS, 0, stream()>>>(g, g.K, nullptr);
    check_launch("gemm");
    return;
  }
  float* p = partials((size_t)slices * g.M * g.N);
  gemm_kernel<<<grid, THREADS, 0, stream()>>>(g, kslice, p);
  check_launch("gemm (split K)");
  sum_slices<<<blocks_for((long)g.M * g.N, 256), 256, 0, stream()>>>(g, slices, p);
  check_launch("gemm: sum slices");
}

void column_sums(const float* a, int rows, int cols, long ld, float* out, bool accumulate) {
  if (cols <= 0) return;
  column_sums_kernel<<<blocks_for(cols, 32), dim3(32, 8), 0, stream()>>>(a, rows, cols, ld, out, accumulate);
  check_launch("column_sums");
}

}  // namespace recur
