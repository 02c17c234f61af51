// The persistent forward for medium batches (up to 64 rows): as persistent.cu, one cooperative launch for the whole
// chunk with each block's 32 gate rows of W_hh in shared memory, but the products are register-tiled over the
// batch: a lane owns a gate row, a warp 8 batch rows, and h_{t-1} is staged through shared memory 128 columns at a
// time and read as broadcast float4s (32 FMAs per 9 shared loads). Weights stored k-quad-major ([H/4][32][4]) so a
// warp's float4 reads of 32 rows are contiguous.
#include <cooperative_groups.h>
#include <map>
#include <tuple>
#include "chunk.h"
#include "device.h"

namespace recur {
namespace {
namespace cg = cooperative_groups;
constexpr int kRows = 32, kBatch = 64, kChunk = 128, kThreads = 256, kPerWarp = kBatch / (kThreads / 32);  // 8

struct BatchArgs {
  LayerDevice L;
  int T, B, U, Hq;  // Hq: H rounded up to 4
  const float* xw;  // [T, B, GH], bias folded
  const float *h0, *c0;
  const int* seq_lens;
  float *y, *hbuf, *hT, *cT;
};

__global__ void __launch_bounds__(kThreads) persistent_batch_kernel(BatchArgs a) {
  extern __shared__ __align__(16) float smem[];
  const LayerDevice& L = a.L;
  const int H = L.H, G = gate_count(L.kind), GH = G * H, U = a.U, B = a.B, Hq = a.Hq;
  const int j0 = blockIdx.x * U, units = min(U, H - j0), tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  float* wt = smem;                          // [Hq/4][32][4]
  float* hc = wt + (long)Hq * kRows;         // [64][128]
  float* sums = hc + kBatch * kChunk;        // [32][65]
  float* cs = sums + kRows * (kBatch + 1);   // [U][64]
#pragma unroll 8
  for (long e = tid; e < (long)Hq * kRows; e += kThreads) {
    const int k = e / kRows, r = e % kRows, g = r / U, u = r % U;
    const bool valid = r < U * G && u < units && k < H;
    wt[(long)(k / 4) * kRows * 4 + r * 4 + k % 4] = valid ? L.w_hh[((long)g * H + j0 + u) * H + k] : 0.f;
  }
  for (int e = tid; e < U * kBatch; e += kThreads) {
    const int u = e / kBatch, b = e % kBatch;
    cs[e] = (a.c0 && u < units && b < B) ? a.c0[(long)b * H + j0 + u] : 0.f;
  }
  for (int t = 0; t < a.T; t++) {
    const float* src = t == 0 ? a.h0 : a.hbuf + (long)((t - 1) & 1) * B * H;
    float* dst = a.hbuf + (long)(t & 1) * B * H;
    float acc[kPerWarp] = {};
    for (int k0 = 0; k0 < Hq; k0 += kChunk) {
      __syncthreads();  // the previous chunk is consumed
      if (H % 4 == 0) {  // 16-byte loads, all in flight at once (8 a thread), read through L2: other blocks wrote them
#pragma unroll
        for (int l = 0; l < kBatch * kChunk / 4 / kThreads; l++) {
          const int e = tid + l * kThreads, b = e / (kChunk / 4), k = k0 + (e % (kChunk / 4)) * 4;
          reinterpret_cast<float4*>(hc)[e] = (b < B && k < H) ? __ldcg(reinterpret_cast<const float4*>(src + (long)b * H + k)) : make_float4(0.f, 0.f, 0.f, 0.f);
        }
      } else {
#pragma unroll 8
        for (int e = tid; e < kBatch * kChunk; e += kThreads) {
          const int b = e / kChunk, kk = e % kChunk, k = k0 + kk;
          hc[e] = (b < B && k < H) ? __ldcg(src + (long)b * H + k) : 0.f;
        }
      }
      __syncthreads();
      const int depth = min(kChunk, Hq - k0);
      for (int kk = 0; kk < depth; kk += 4) {
        const float4 w = *reinterpret_cast<const float4*>(wt + (long)((k0 + kk) / 4) * kRows * 4 + lane * 4);
#pragma unroll
        for (int i = 0; i < kPerWarp; i++) {
          const float4 h = *reinterpret_cast<const float4*>(hc + (warp * kPerWarp + i) * kChunk + kk);
          acc[i] = fmaf(w.x, h.x, fmaf(w.y, h.y, fmaf(w.z, h.z, fmaf(w.w, h.w, acc[i]))));
        }
      }
    }
#pragma unroll
    for (int i = 0; i < kPerWarp; i++) sums[lane * (kBatch + 1) + warp * kPerWarp + i] = acc[i];
    __syncthreads();
    const bool last = t == a.T - 1;
    for (int e = tid; e < units * kBatch; e += kThreads) {
      const int u = e / kBatch, b = e % kBatch, j = j0 + u;
      if (b >= B) continue;
      const long at = (long)b * H + j;
      const float hp = __ldcg(src + at);
      if (!row_live(a.seq_lens, t, b)) {
        dst[at] = hp;
        a.y[((long)t * B + b) * H + j] = 0.f;
        if (last) {
          a.hT[at] = hp;
          if (a.cT) a.cT[at] = cs[u * kBatch + b];
        }
        continue;
      }
      const float* xw = a.xw + ((long)t * B + b) * GH;
      const auto S = [&](int g) { return sums[(g * U + u) * (kBatch + 1) + b]; };
      float h;
      if (L.kind == kLstm) {
        const StepOut o = lstm_step(xw[j], xw[H + j], xw[2 * H + j], xw[3 * H + j], S(0), S(1), S(2), S(3), cs[u * kBatch + b]);
        cs[u * kBatch + b] = o.c;
        h = o.h;
      } else if (L.kind == kGruAfter) {
        h = gru_after_step(xw[j], xw[H + j], xw[2 * H + j], S(0), S(1), S(2), L.hbn[j], hp).h;
      } else {
        h = rnn_step(L.kind, xw[j], S(0));
      }
      dst[at] = h;
      a.y[((long)t * B + b) * H + j] = h;
      if (last) {
        a.hT[at] = h;
        if (a.cT) a.cT[at] = cs[u * kBatch + b];
      }
    }
    if (!last) cg::this_grid().sync();
  }
}

struct BatchPlan { int blocks = 0, units = 0, hq = 0; size_t smem = 0; };

BatchPlan plan_for(const ForwardChunk& f) {
  static std::map<std::tuple<int, int>, BatchPlan> known;  // by (kind, H): the batch only bounds eligibility
  const auto key = std::make_tuple(f.layer.kind, f.layer.H);
  const auto it = known.find(key);
  if (it != known.end()) return it->second;
  BatchPlan p;
  const int H = f.layer.H, G = gate_count(f.layer.kind), units = kRows / G, hq = (H + 3) / 4 * 4;
  int device = 0, sms = 0, optin = 0, coop = 0, per_sm = 0;
  check(cudaGetDevice(&device), "persistent batch: device");
  check(cudaDeviceGetAttribute(&coop, cudaDevAttrCooperativeLaunch, device), "persistent batch: cooperative launch");
  check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device), "persistent batch: multiprocessors");
  check(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device), "persistent batch: shared memory");
  const size_t smem = sizeof(float) * ((size_t)hq * kRows + kBatch * kChunk + kRows * (kBatch + 1) + (size_t)units * kBatch);
  const int blocks = (H + units - 1) / units;
  if (coop && smem <= (size_t)optin) {
    check(cudaFuncSetAttribute(persistent_batch_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, optin), "persistent batch: shared memory");
    check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, persistent_batch_kernel, kThreads, smem), "persistent batch: occupancy");
    if ((long)per_sm * sms >= blocks) p = BatchPlan{blocks, units, hq, smem};
  }
  return known[key] = p;
}
}  // namespace

bool persistent_batch_forward(const ForwardChunk& f, const float* xw, float* hbuf, int min_batch, bool dry_run) {
  if (f.layer.kind == kGruBefore || f.B < min_batch || f.B > kBatch || f.T == 0 || f.hs || !xw) return false;
  const BatchPlan p = plan_for(f);
  if (p.blocks == 0) return false;
  if (dry_run) return true;
  BatchArgs a{f.layer, f.T, f.B, p.units, p.hq, xw, f.h0, f.c0, f.seq_lens, f.y, hbuf, f.hT, f.cT};
  void* params[] = {&a};
  check(cudaLaunchCooperativeKernel((const void*)persistent_batch_kernel, dim3(p.blocks), dim3(kThreads), params, p.smem, stream()), "persistent batch: launch");
  check_launch("persistent_batch_kernel");
  return true;
}

}  // namespace recur
