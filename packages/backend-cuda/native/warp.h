// The dot products of one weight row against up to BMAX batch rows, a warp a row (lane l sums k = l, l + 32, …):
// the streamed step's (step.cu). The row-per-warp persistent kernel (persistent.cu) keeps its own copy of this loop
// on purpose: built on these helpers, its B=16 sequence ran 36% slower on the H200 (4.28 against 3.14 ms, same
// outputs bit for bit), the compiler allocating its registers differently.
#pragma once

namespace recur {

// acc[b] += Σ_k w[k] · v[b·v_stride + k] over this lane's k; UNROLL loads in flight a lane.
template <int BMAX, int UNROLL>
__device__ __forceinline__ void row_dots(const float* __restrict__ w, const float* __restrict__ v, long v_stride, int n, int B, float (&acc)[BMAX]) {
#pragma unroll(UNROLL)
  for (int k = threadIdx.x % 32; k < n; k += 32) {
    const float wk = w[k];
#pragma unroll
    for (int b = 0; b < BMAX; b++)
      if (b < B) acc[b] = fmaf(wk, v[b * v_stride + k], acc[b]);
  }
}

// The butterfly: afterwards every lane holds every row's total.
template <int BMAX>
__device__ __forceinline__ void warp_sum_all(float (&acc)[BMAX]) {
#pragma unroll
  for (int b = 0; b < BMAX; b++)
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) acc[b] += __shfl_xor_sync(0xffffffffu, acc[b], o);
}

}  // namespace recur
