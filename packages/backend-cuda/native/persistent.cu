// The persistent forward (Diamos et al., "Persistent RNNs", ICML 2016): one cooperative launch runs every step of a
// chunk. Each block owns U hidden units, keeps their G·U rows of W_hh in shared memory for the whole chunk, and
// the grid synchronises once a step; h_{t-1} is staged from L2 into shared memory each step. For short chunks
// (streamed calls) the input projection happens in the same launch, so a step is one launch.
#include <cooperative_groups.h>
#include <map>
#include <tuple>
#include "chunk.h"
#include "device.h"

namespace recur {
namespace {
namespace cg = cooperative_groups;
// Threads a block: 1024 for one row of the batch (a warp a row of W_hh, no register pressure), else 256.
__host__ __device__ constexpr int threads_for(int bmax) { return bmax == 1 ? 1024 : 256; }

struct PersistentArgs {
  LayerDevice L;
  int T, B, U;
  const float* xw;  // [T, B, GH] with the folded bias, or null: project x in the kernel
  const float* x;
  const float *h0, *c0;
  const int* seq_lens;
  float *y, *hbuf, *hT, *cT;
};

// STAGED: W_hh rows copied into shared memory once and read from there every step (long chunks); else read from
// global memory (L2) where used: a streamed step uses each weight once, so staging would only add a copy.
template <int BMAX, bool STAGED>
__global__ void __launch_bounds__(threads_for(BMAX)) persistent_kernel(PersistentArgs a) {
  constexpr int kThreads = threads_for(BMAX), kWarps = kThreads / 32, kUnroll = BMAX <= 2 ? 8 : BMAX <= 8 ? 4 : 2;
  extern __shared__ __align__(16) float smem[];
  const LayerDevice& L = a.L;
  const int H = L.H, G = gate_count(L.kind), GH = G * H, U = a.U, R = G * U, B = a.B;
  const int j0 = blockIdx.x * U, units = min(U, H - j0);
  float* ws = smem;                            // [R, H] when STAGED
  float* hs = ws + (STAGED ? (long)R * H : 0);  // [B, H]
  float* gh = hs + (long)B * H;  // [R, BMAX] recurrent products
  float* gx = gh + R * BMAX;     // [R, BMAX] input projections
  float* cs = gx + R * BMAX;     // [U, BMAX] cell states
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  if (STAGED)
#pragma unroll 8
    for (long e = tid; e < (long)R * H; e += kThreads) {
      const int lr = e / H, k = e % H, g = lr / U, u = lr % U;
      ws[e] = u < units ? L.w_hh[((long)g * H + j0 + u) * H + k] : 0.f;
    }
  for (int e = tid; e < U * BMAX; e += kThreads) {
    const int u = e / BMAX, b = e % BMAX;
    cs[e] = (a.c0 && u < units && b < B) ? a.c0[(long)b * H + j0 + u] : 0.f;
  }
  for (int t = 0; t < a.T; t++) {
    const float* src = t == 0 ? a.h0 : a.hbuf + (long)((t - 1) & 1) * B * H;
    float* dst = a.hbuf + (long)(t & 1) * B * H;
    stage_to_shared(hs, src, (long)B * H);
    __syncthreads();
    for (int lr = warp; lr < R; lr += kWarps) {
      const int g = lr / U, u = lr % U;
      if (u >= units) continue;
      const long row = (long)g * H + j0 + u;
      // this row's precomputed projection, one batch row a lane, loaded before the dot products hide its latency
      const float xw_lane = a.xw && lane < B ? a.xw[((long)t * B + lane) * GH + row] : 0.f;
      float acc[BMAX], accx[BMAX];
#pragma unroll
      for (int b = 0; b < BMAX; b++) acc[b] = 0.f, accx[b] = 0.f;
      const float* wr = STAGED ? ws + (long)lr * H : L.w_hh + row * H;
      // unrolled: several weight loads in flight a lane (a streamed step reads W from L2 or HBM)
#pragma unroll(kUnroll)
      for (int k = lane; k < H; k += 32) {
        const float w = STAGED ? wr[k] : __ldg(wr + k);
#pragma unroll
        for (int b = 0; b < BMAX; b++)
          if (b < B) acc[b] = fmaf(w, hs[(long)b * H + k], acc[b]);
      }
      if (!a.xw) {
        const float* wi = L.w_ih + row * L.I;
        const float* xt = a.x + (long)t * B * L.I;
#pragma unroll(kUnroll)
        for (int k = lane; k < L.I; k += 32) {
          const float w = __ldg(wi + k);
#pragma unroll
          for (int b = 0; b < BMAX; b++)
            if (b < B) accx[b] = fmaf(w, __ldg(xt + (long)b * L.I + k), accx[b]);
        }
      }
#pragma unroll
      for (int b = 0; b < BMAX; b++) {
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
          acc[b] += __shfl_xor_sync(0xffffffffu, acc[b], o);
          accx[b] += __shfl_xor_sync(0xffffffffu, accx[b], o);
        }
      }
      // every lane holds every sum after the butterfly: lane b stores batch row b
#pragma unroll
      for (int b = 0; b < BMAX; b++) {
        if (b < B && lane == b) {
          gh[lr * BMAX + b] = acc[b];
          gx[lr * BMAX + b] = a.xw ? xw_lane : accx[b] + L.bias[row];
        }
      }
    }
    __syncthreads();
    for (int e = tid; e < units * B; e += kThreads) {
      const int u = e / B, b = e % B, j = j0 + u;
      const float hp = hs[(long)b * H + j];
      const long out = ((long)t * B + b) * H + j;
      const bool last = t == a.T - 1;
      if (!row_live(a.seq_lens, t, b)) {
        dst[(long)b * H + j] = hp;
        a.y[out] = 0.f;
        if (last) {
          a.hT[(long)b * H + j] = hp;
          if (a.cT) a.cT[(long)b * H + j] = cs[u * BMAX + b];
        }
        continue;
      }
      const auto X = [&](int g) { return gx[(g * U + u) * BMAX + b]; };
      const auto Hh = [&](int g) { return gh[(g * U + u) * BMAX + b]; };
      float h;
      if (L.kind == kLstm) {
        const StepOut o = lstm_step(X(0), X(1), X(2), X(3), Hh(0), Hh(1), Hh(2), Hh(3), cs[u * BMAX + b]);
        cs[u * BMAX + b] = o.c;
        h = o.h;
      } else if (L.kind == kGruAfter) {
        h = gru_after_step(X(0), X(1), X(2), Hh(0), Hh(1), Hh(2), L.hbn[j], hp).h;
      } else {
        h = rnn_step(L.kind, X(0), Hh(0));
      }
      dst[(long)b * H + j] = h;
      a.y[out] = h;
      if (last) {
        a.hT[(long)b * H + j] = h;
        if (a.cT) a.cT[(long)b * H + j] = cs[u * BMAX + b];
      }
    }
    if (t < a.T - 1) cg::this_grid().sync();  // one chunk of one step (a streamed call) never synchronises the grid
  }
}

struct Plan { int blocks, units, bmax; size_t smem; };

template <int BMAX>
void* kernel_of(bool staged) { return staged ? (void*)persistent_kernel<BMAX, true> : (void*)persistent_kernel<BMAX, false>; }
void* kernel_for(int bmax, bool staged) {
  switch (bmax) {
    case 1: return kernel_of<1>(staged);
    case 2: return kernel_of<2>(staged);
    case 4: return kernel_of<4>(staged);
    case 8: return kernel_of<8>(staged);
    default: return kernel_of<16>(staged);
  }
}

struct DeviceLimits { int sms = 0, smem_optin = 0, cooperative = 0; };
const DeviceLimits& limits() {
  static DeviceLimits d = [] {
    DeviceLimits l;
    int device = 0;
    check(cudaGetDevice(&device), "persistent: device");
    check(cudaDeviceGetAttribute(&l.cooperative, cudaDevAttrCooperativeLaunch, device), "persistent: cooperative launch");
    check(cudaDeviceGetAttribute(&l.sms, cudaDevAttrMultiProcessorCount, device), "persistent: multiprocessors");
    check(cudaDeviceGetAttribute(&l.smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device), "persistent: shared memory");
    return l;
  }();
  return d;
}

Plan make_plan(const ForwardChunk& f, bool staged);
// The launch shape for a chunk, or blocks = 0 when the persistent kernel does not take it; remembered per
// (kind, H, B, staged) so that a streamed step pays for the attribute and occupancy queries once.
Plan plan(const ForwardChunk& f, bool staged) {
  static std::map<std::tuple<int, int, int, bool>, Plan> known;
  if (f.T == 0) return Plan{0, 0, 0, 0};
  const auto key = std::make_tuple(f.layer.kind, f.layer.H, f.B, staged);
  const auto it = known.find(key);
  if (it != known.end()) return it->second;
  return known[key] = make_plan(f, staged);
}

Plan make_plan(const ForwardChunk& f, bool staged) {
  Plan p{0, 0, 0, 0};
  const LayerDevice& L = f.layer;
  if (L.kind == kGruBefore || f.B > 16 || f.B < 1 || f.T == 0) return p;
  const DeviceLimits& d = limits();
  if (!d.cooperative) return p;
  const int H = L.H, G = gate_count(L.kind);
  const int bmax = f.B <= 1 ? 1 : f.B <= 2 ? 2 : f.B <= 4 ? 4 : f.B <= 8 ? 8 : 16;
  const int units = (H + d.sms - 1) / d.sms, blocks = (H + units - 1) / units, R = G * units;
  const size_t smem = sizeof(float) * ((staged ? (size_t)R * H : 0) + (size_t)f.B * H + 2 * (size_t)R * bmax + (size_t)units * bmax);
  if (smem > (size_t)d.smem_optin) return p;
  void* kernel = kernel_for(bmax, staged);
  // the largest the device allows, once for every plan: a smaller value set for one plan would refuse another's
  check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, d.smem_optin), "persistent: shared memory");
  int per_sm = 0;
  check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, threads_for(bmax), smem), "persistent: occupancy");
  if ((long)per_sm * d.sms < blocks) return p;  // not every block co-resident: a grid sync would deadlock
  return Plan{blocks, units, bmax, smem};
}
}  // namespace

bool persistent_forward(const ForwardChunk& f, const float* xw, float* hbuf, bool dry_run) {
  const bool staged = xw != nullptr;  // long chunks project first and stage W_hh; streamed steps do neither
  const Plan p = plan(f, staged);
  if (p.blocks == 0) return false;
  if (dry_run) return true;
  PersistentArgs a{f.layer, f.T, f.B, p.units, xw, f.x, f.h0, f.c0, f.seq_lens, f.y, hbuf, f.hT, f.cT};
  void* kernel = kernel_for(p.bmax, staged);
  if (f.T == 1) {  // no step to wait for: a plain launch
    void* params[] = {&a};
    check(cudaLaunchKernel(kernel, dim3(p.blocks), dim3(threads_for(p.bmax)), params, p.smem, stream()), "persistent: launch");
  } else {
    void* params[] = {&a};
    check(cudaLaunchCooperativeKernel(kernel, dim3(p.blocks), dim3(threads_for(p.bmax)), params, p.smem, stream()), "persistent: cooperative launch");
  }
  check_launch("persistent_kernel");
  return true;
}

}  // namespace recur
