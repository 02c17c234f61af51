// The per-layer chunk kernels' arguments, as the addon hands them over (device pointers; ints on the device).
#pragma once
#include "cells.h"

namespace recur {

struct LayerDevice {
  int kind;  // CellKind
  int I, H;
  const float* w_ih;  // [G*H, I]
  const float* w_hh;  // [G*H, H]
  const float* bias;  // [G*H]: b_ih + b_hh (+ forget bias on f); GRU reset-after: b_in alone on n
  const float* hbn;   // [H]: b_hn of the reset-after GRU, else null
};

struct ForwardChunk {
  LayerDevice layer;
  int T, B;
  const float* x;       // [T, B, I] or null
  const int* tokens;    // [T, B] or null (x null)
  const float* h0;      // [B, H]
  const float* c0;      // [B, H] or null
  const int* seq_lens;  // [B] or null
  float* y;             // [T, B, H]
  float* hT;
  float* cT;            // lstm
  // tape (training): all null without one
  float* tape_x;        // [T, B, I] copy of x (null with tokens)
  float* hs;            // [T+1, B, H]
  float* cs;            // [T+1, B, H] (lstm)
  float* acts;          // [T, B, G*H]
  float* extra;         // [T, B, H]: GRU's W_hn h + b_hn (reset-after) or r⊙h (TF1)
  bool allow_persistent;
  int batch_kernel_min;  // the smallest batch the batch-tiled persistent kernel takes (17 by default; tests lower it)
};

struct BackwardChunk {
  LayerDevice layer;
  int T, B;
  const float* x;       // the tape's copy, or null with tokens
  const int* tokens;    // with token ids: the rows grouped by id ([I + 1] offsets, then T·B rows; see token_gradient)
  const int* seq_lens;
  const float *hs, *cs, *acts, *extra;
  const float* dy;      // [T, B, H] or null
  const float* dhT;     // or null
  const float* dcT;     // or null
  float* dx;            // [T, B, I] or null (tokens)
  float* dh0;
  float* dc0;           // lstm
  float *dw_ih, *dw_hh, *db_ih, *db_hh;
};

// Floats of scratch each needs (the addon keeps one grow-only workspace).
long forward_scratch_floats(const ForwardChunk& f);
long backward_scratch_floats(const BackwardChunk& b);
void forward_chunk(const ForwardChunk& f, float* scratch);
void backward_chunk(const BackwardChunk& b, float* scratch);

// The persistent kernel (persistent.cu): false when the chunk is not one it takes; else runs it (unless dry_run)
// with the projection `xw` [T, B, GH] (bias folded) or, xw null, projecting x inside the launch.
bool persistent_forward(const ForwardChunk& f, const float* xw, float* hbuf /* [2, B, H] */, bool dry_run);
// The batch-tiled persistent kernel (persistent-batch.cu) for min_batch <= B <= 64, with the projection precomputed.
bool persistent_batch_forward(const ForwardChunk& f, const float* xw, float* hbuf, int min_batch, bool dry_run);
// One streamed step (step.cu): false when the chunk is not one (T = 1, x given, B <= 16, no tape, not TF1's GRU).
bool streamed_step(const ForwardChunk& f);
// Gather of W_ih's columns by token id: xw[r, :] = W_ih[:, id_r] + bias.
void token_projection(const LayerDevice& L, const int* tokens, int rows, float* xw);

}  // namespace recur
