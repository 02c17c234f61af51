// One streamed step (T = 1, B <= 16): a block per hidden unit and a warp per gate row, each warp reading its rows
// of W_ih and W_hh once (from L2 when the weights stay there between calls). No grid synchronisation and no
// staging: thousands of warps keep the weight reads in flight, so the step costs about one pass over the weights.
#include "chunk.h"
#include "device.h"
#include "warp.h"

namespace recur {
namespace {

template <int BMAX>
__global__ void __launch_bounds__(128) step_kernel(LayerDevice L, int B, const float* x, const float* h0, const float* c0, const int* seq_lens,
                                                   float* y, float* hT, float* cT) {
  __shared__ float gx[4][BMAX], gh[4][BMAX];
  const int j = blockIdx.x, g = threadIdx.x / 32, lane = threadIdx.x % 32, H = L.H, I = L.I;
  const long row = (long)g * H + j;
  float acc[BMAX], accx[BMAX];
#pragma unroll
  for (int b = 0; b < BMAX; b++) acc[b] = 0.f, accx[b] = 0.f;
  row_dots<BMAX, 4>(L.w_hh + row * H, h0, H, H, B, acc);
  row_dots<BMAX, 4>(L.w_ih + row * I, x, I, I, B, accx);
  warp_sum_all(acc);
  warp_sum_all(accx);
#pragma unroll
  for (int b = 0; b < BMAX; b++)
    if (b < B && lane == b) gh[g][b] = acc[b], gx[g][b] = accx[b] + L.bias[row];
  __syncthreads();
  const int b = threadIdx.x;
  if (b >= B) return;
  const long at = (long)b * H + j;
  const float hp = h0[at];
  if (!row_live(seq_lens, 0, b)) {
    y[at] = 0.f;
    hT[at] = hp;
    if (cT) cT[at] = c0[at];
    return;
  }
  float h;
  if (L.kind == kLstm) {
    const StepOut o = lstm_step(gx[0][b], gx[1][b], gx[2][b], gx[3][b], gh[0][b], gh[1][b], gh[2][b], gh[3][b], c0[at]);
    h = o.h;
    cT[at] = o.c;
  } else if (L.kind == kGruAfter) {
    h = gru_after_step(gx[0][b], gx[1][b], gx[2][b], gh[0][b], gh[1][b], gh[2][b], L.hbn[j], hp).h;
  } else {
    h = rnn_step(L.kind, gx[0][b], gh[0][b]);
  }
  y[at] = h;
  hT[at] = h;
}

template <int BMAX>
void launch(const ForwardChunk& f) {
  const int G = gate_count(f.layer.kind);
  step_kernel<BMAX><<<f.layer.H, 32 * G, 0, stream()>>>(f.layer, f.B, f.x, f.h0, f.c0, f.seq_lens, f.y, f.hT, f.cT);
  check_launch("step_kernel");
}
}  // namespace

bool streamed_step(const ForwardChunk& f) {
  if (f.T != 1 || !f.x || f.B < 1 || f.B > 16 || f.layer.kind == kGruBefore || f.hs) return false;
  switch (f.B <= 1 ? 1 : f.B <= 2 ? 2 : f.B <= 4 ? 4 : f.B <= 8 ? 8 : 16) {
    case 1: launch<1>(f); break;
    case 2: launch<2>(f); break;
    case 4: launch<4>(f); break;
    case 8: launch<8>(f); break;
    default: launch<16>(f); break;
  }
  return true;
}

}  // namespace recur
