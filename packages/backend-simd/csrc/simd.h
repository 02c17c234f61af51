// Shared pieces of the kernels: the job every thread reads, SIMD math, the panel dot product and the barrier.
#pragma once
#include <stdint.h>
#include <wasm_simd128.h>

typedef v128_t f4;

enum { KIND_LSTM = 0, KIND_GRU = 1, KIND_RNN = 2, KIND_GEMM = 3, KIND_PEAK = 4, KIND_GEMM_ATB = 5, KIND_LSTM_BACKWARD = 6, KIND_GRU_BACKWARD = 7 };

// Written by JavaScript (src/job.ts mirrors these offsets), read by every thread.
// Addresses are byte offsets into the shared linear memory. Units are padded to blocks of 4 (one f4 each).
typedef struct {
  int32_t kind;
  int32_t variant;    // gru: 1 = reset after; rnn: 1 = relu
  int32_t T, B, I, H;
  int32_t nub;        // unit blocks of 4 units, padded to a multiple of 4 (whole quads)
  int32_t nthreads;
  uint32_t x;         // [T][B][I]
  uint32_t wih;       // panels [nub/P][I][P][G][4]: P = 1 (lstm, gru) or 4 (rnn) blocks per panel
  uint32_t whh;       // panels [nub/P][H][P][GA][4]: lstm 1 x 4 gates, gru reset-after 1 x 3, reset-before 2 x (r, z), rnn 4 x 1
  uint32_t whhn;      // gru reset before: panels [nub/4][H][4][1] (n)
  uint32_t bias;      // [nub][G][4], added to the input projection
  uint32_t bhn;       // gru reset after: [nub][4], b_hn inside r * (W_hn h + b_hn)
  uint32_t proj;      // scratch [T][B][nub][G][4]
  uint32_t h;         // [2][B][nub*4]: h0 in slot 0; after T steps h_T is in slot T % 2
  uint32_t c;         // lstm: [B][nub*4], c0 in, c_T out
  uint32_t rh;        // gru reset before: scratch [B][nub*4], r * h_{t-1}
  uint32_t y;         // [T][B][nub*4]
  uint32_t seqlens;   // int32 [B], or 0 for all T
  int32_t barrier_count;
  int32_t barrier_generation;
  int32_t abort;      // set by a thread that trapped: the others leave their barrier instead of spinning forever
  // KIND_GEMM: c[m][n] (+)= sum_k a[m][k] * w[n][k] for m < M, n < N (C = A W^T), row strides lda, ldw, ldc;
  // KIND_GEMM_ATB: c[m][n] (+)= sum_{r < K} a[r][m] * w[r][n] (C = A^T W)
  int32_t M, N, K, lda, ldw, ldc;
  uint32_t a, w, cm;
  int32_t accumulate;
  // Forwards that keep a tape (0: none), in backend-cpu's layout with unpadded rows (see its CpuTape): act
  // [T][B][G][H] (LSTM i, f, g, o; GRU r, z, n; activated), h_{t-1} [T][B][H]; LSTM c_{t-1} and c_t [T][B][H]
  uint32_t tape_act, tape_hprev, tape_cprev, tape_cnew;
  // KIND_LSTM_BACKWARD (with T, B, H, seqlens, nthreads and the tape above): dy [T][B][H] (0: none), dh and dc
  // [B][H] (dh_T, dc_T in; dh_0, dc_0 out), dg [T][B][4H] out, dhp [B][H] scratch, whht W_hh^T [H][4H]
  uint32_t dy, dh, dc, dg, dhp, whht;
  uint32_t tokens;    // int32 [T][B] token ids instead of x (the first layer of a token model), or 0
  uint32_t tape_extra; // GRU forwards that keep a tape: [T][B][H] W_hn h + b_hn (reset after) or r * h (before)
  uint32_t dhg;        // GRU reset after, backward: [T][B][3H] the recurrent-side gate gradients (dg: input side)
  int32_t tid0_spins;  // 1: thread 0 is a browser's main thread, where memory.atomic.wait traps: it only spins
} job_t;

#define F(addr) ((float *)(uintptr_t)(addr))

static inline f4 splat(float v) { return wasm_f32x4_splat(v); }

// a + b·c: fused (one rounding) in the relaxed build where the engine has FMA; two instructions in SIMD128
#ifdef RECUR_RELAXED
static inline f4 madd(f4 a, f4 b, f4 c) { return (f4)__builtin_wasm_relaxed_madd_f32x4((__f32x4)b, (__f32x4)c, (__f32x4)a); }
#else
static inline f4 madd(f4 a, f4 b, f4 c) { return wasm_f32x4_add(a, wasm_f32x4_mul(b, c)); }
#endif

// e^x on 4 lanes: x = n ln2 + r, |r| <= ln2/2, e^r by its degree-7 Taylor polynomial (error < 1 ulp), 2^n by
// building the exponent bits. No libm in this module.
static inline f4 v_exp(f4 x) {
  x = wasm_f32x4_pmin(wasm_f32x4_pmax(x, splat(-87.0f)), splat(88.0f));
  f4 n = wasm_f32x4_nearest(wasm_f32x4_mul(x, splat(1.44269504088896341f)));
  f4 r = wasm_f32x4_sub(x, wasm_f32x4_mul(n, splat(0.693359375f)));
  r = wasm_f32x4_sub(r, wasm_f32x4_mul(n, splat(-2.12194440e-4f)));
  f4 p = splat(1.0f / 5040.0f);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), splat(1.0f / 720.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), splat(1.0f / 120.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), splat(1.0f / 24.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), splat(1.0f / 6.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), splat(0.5f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), splat(1.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), splat(1.0f));
  v128_t bits = wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(n), wasm_i32x4_splat(127)), 23);
  return wasm_f32x4_mul(p, bits);
}

static inline f4 v_sigmoid(f4 x) {
  return wasm_f32x4_div(splat(1.0f), wasm_f32x4_add(splat(1.0f), v_exp(wasm_f32x4_neg(x))));
}

// tanh|x| = (1 - e^-2|x|) / (1 + e^-2|x|), sign restored: no overflow, absolute error ~1e-7 near 0.
static inline f4 v_tanh(f4 x) {
  f4 t = v_exp(wasm_f32x4_mul(wasm_f32x4_abs(x), splat(-2.0f)));
  f4 m = wasm_f32x4_div(wasm_f32x4_sub(splat(1.0f), t), wasm_f32x4_add(splat(1.0f), t));
  return wasm_v128_or(m, wasm_v128_and(x, wasm_i32x4_splat((int32_t)0x80000000)));
}

// For NB rows (1 or 2) at once: acc[r][v] += sum_k w[k][v] * rows[r][k], NV vectors of 4 outputs; w is a panel
// [K][NV][4] whose every load serves NB rows. S independent accumulator sets (k interleaved) hide the adds'
// latency when NV is small. Each row's summation order depends on NV only, never on NB, the batch or the chunk
// size, so a row gives the same bits whether it runs alone, paired, streamed or in one shot.
#define PANEL_SETS(NV) ((NV) >= 3 ? 1 : (NV) == 2 ? 2 : 4)

__attribute__((always_inline)) static inline void panel_dot(const float *restrict w, const float *restrict row0, const float *restrict row1,
                                                            int K, const int NV, const int NB, f4 *acc) {
  const int S = PANEL_SETS(NV);
  const float *rows[2] = {row0, row1};
  f4 a[4][2][4];
  for (int s = 0; s < S; s++)
    for (int r = 0; r < NB; r++)
      for (int v = 0; v < NV; v++) a[s][r][v] = s == 0 ? acc[r * NV + v] : splat(0.0f);
  int k = 0;
  for (; k + S <= K; k += S) {
    for (int s = 0; s < S; s++) {
      const float *wk = w + (k + s) * NV * 4;
      f4 x[2];
      for (int r = 0; r < NB; r++) x[r] = wasm_v128_load32_splat(rows[r] + k + s);
      for (int v = 0; v < NV; v++) {
        const f4 wv = wasm_v128_load(wk + 4 * v);
        for (int r = 0; r < NB; r++) a[s][r][v] = madd(a[s][r][v], wv, x[r]);
      }
    }
  }
  for (; k < K; k++) {
    const float *wk = w + k * NV * 4;
    f4 x[2];
    for (int r = 0; r < NB; r++) x[r] = wasm_v128_load32_splat(rows[r] + k);
    for (int v = 0; v < NV; v++) {
      const f4 wv = wasm_v128_load(wk + 4 * v);
      for (int r = 0; r < NB; r++) a[0][r][v] = madd(a[0][r][v], wv, x[r]);
    }
  }
  for (int r = 0; r < NB; r++)
    for (int v = 0; v < NV; v++) {
      f4 sum = a[0][r][v];
      for (int s = 1; s < S; s++) sum = wasm_f32x4_add(sum, a[s][r][v]);
      acc[r * NV + v] = sum;
    }
}

static inline float lanes_sum(f4 v) {
  v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
  v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 1, 0, 3, 2));
  return wasm_f32x4_extract_lane(v, 0);
}

// C = A W^T on one MR x NR tile (MR <= 4 rows of A, NR <= 2 rows of W) over k in [0, kn), dot products along
// contiguous rows; `add` says whether C already holds a partial sum to add to.
__attribute__((always_inline)) static inline void dot_tile(const float *a, int lda, const float *w, int ldw, float *c, int ldc, int kn,
                                                       int add, const int MR, const int NR) {
  f4 acc[4][2];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) acc[i][j] = splat(0.0f);
  int k = 0;
  for (; k + 4 <= kn; k += 4) {
    f4 wv[2];
    for (int j = 0; j < NR; j++) wv[j] = wasm_v128_load(w + j * ldw + k);
    for (int i = 0; i < MR; i++) {
      const f4 av = wasm_v128_load(a + i * lda + k);
      for (int j = 0; j < NR; j++) acc[i][j] = madd(acc[i][j], av, wv[j]);
    }
  }
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) {
      float s = lanes_sum(acc[i][j]);
      for (int kk = k; kk < kn; kk++) s += a[i * lda + kk] * w[j * ldw + kk];
      float *out = c + i * ldc + j;
      *out = add ? *out + s : s;
    }
}

// dh_{t-1} of a backward step: out[b][j] = sum over gate columns k0..k1 of dG[b][k] W_hh^T[j][k], for rows b < B
// and this thread's units j0..j1 (dG rows of G floats, W_hh^T rows of G floats, out rows of H). A pair of W_hh^T
// rows stays in L1 while every row of dG (in L2) passes, in k blocks of DH_KC; W_hh^T as a whole often does not
// fit L2 (1 MiB for an LSTM of 256 units).
#define DH_KC 256

static inline void dh_product(const float *dg, const float *whht, int B, int H, int G, int k0, int k1, int j0, int j1, float *out) {
  for (int kb = k0; kb < k1; kb += DH_KC) {
    const int kn = k1 - kb < DH_KC ? k1 - kb : DH_KC;
    const float *a = dg + kb, *w = whht + kb;
    for (int j = j0; j < j1; j += 2) {
      const int two = j + 2 <= j1;
      int b = 0;
      for (; b + 4 <= B; b += 4) {
        if (two) dot_tile(a + (uint32_t)b * G, G, w + (uint32_t)j * G, G, out + (uint32_t)b * H + j, H, kn, kb > k0, 4, 2);
        else dot_tile(a + (uint32_t)b * G, G, w + (uint32_t)j * G, G, out + (uint32_t)b * H + j, H, kn, kb > k0, 4, 1);
      }
      for (; b < B; b++) {
        if (two) dot_tile(a + (uint32_t)b * G, G, w + (uint32_t)j * G, G, out + (uint32_t)b * H + j, H, kn, kb > k0, 1, 2);
        else dot_tile(a + (uint32_t)b * G, G, w + (uint32_t)j * G, G, out + (uint32_t)b * H + j, H, kn, kb > k0, 1, 1);
      }
    }
  }
}

// Barrier at the end of each step. Steps are microseconds apart, far below a futex wake-up, so a thread spins; if
// its partner is late (descheduled: 2 cores shared with V8's compiler and GC threads), it then sleeps in short
// timed waits rather than holding the core. Nobody notifies: Linux places a thread woken by another next to its
// waker, and two threads that spin against each other on one core run at half speed or worse (measured: 5.7 ms
// jobs became 13-19 ms once that happened); a timed wait wakes a thread where it slept.
#define BARRIER_SPINS 100000
#define BARRIER_WAIT_NS 50000

static inline void barrier(job_t *job, int tid) {
  if (job->nthreads == 1) return;
  int32_t generation = __atomic_load_n(&job->barrier_generation, __ATOMIC_SEQ_CST);
  if (__atomic_add_fetch(&job->barrier_count, 1, __ATOMIC_SEQ_CST) == job->nthreads) {
    __atomic_store_n(&job->barrier_count, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&job->barrier_generation, generation + 1, __ATOMIC_SEQ_CST);
    return;
  }
  for (int spins = 0; __atomic_load_n(&job->barrier_generation, __ATOMIC_SEQ_CST) == generation; spins++) {
    if (__atomic_load_n(&job->abort, __ATOMIC_RELAXED)) return;
    if (spins >= BARRIER_SPINS && !(tid == 0 && job->tid0_spins))
      __builtin_wasm_memory_atomic_wait32(&job->barrier_generation, generation, BARRIER_WAIT_NS);
  }
}

// This thread's unit blocks: a contiguous share of whole quads (16 units; nub is a multiple of 4), so that a panel
// of 1, 2 or 4 blocks lies within one thread, and the weights that produce them.
static inline void thread_blocks(const job_t *job, int tid, int *first, int *end) {
  const int quads = job->nub / 4;
  *first = (int)((int64_t)quads * tid / job->nthreads) * 4;
  *end = (int)((int64_t)quads * (tid + 1) / job->nthreads) * 4;
}

static inline int row_active(const job_t *job, int t, int b) {
  return job->seqlens == 0 || t < ((const int32_t *)(uintptr_t)job->seqlens)[b];
}

// Where h_{t-1} is read at step t: the kernels ping-pong between two [B][nub*4] slots; h0 is in slot 0.
static inline float *h_slot(const job_t *job, int t) { return F(job->h) + (uint32_t)(t & 1) * job->B * job->nub * 4; }

// Stores the 4 lanes of unit block u into a row of H floats: whole when the block lies inside it, else the lanes
// that do (the last block of an H that is not a multiple of 4).
static inline void store_units(float *row, f4 v, int u, int H) {
  const int j = u * 4;
  if (j + 4 <= H) {
    wasm_v128_store(row + j, v);
    return;
  }
  float lanes[4];
  wasm_v128_store(lanes, v);
  for (int l = 0; j + l < H; l++) row[j + l] = lanes[l];
}

// Output row b of step t, at unit block u.
static inline float *y_at(const job_t *job, int t, int b, int u) { return F(job->y) + (((uint32_t)t * job->B + b) * job->nub + u) * 4; }

// A finished row (t >= its length) keeps its state and outputs zeros, for blocks u..u+P-1.
static inline void keep_rows(const job_t *job, int t, int u, int P, int b, const float *hPrev, float *hNext) {
  for (int q = 0; q < P; q++) {
    const uint32_t at = (uint32_t)b * job->nub * 4 + (u + q) * 4;
    wasm_v128_store(hNext + at, wasm_v128_load(hPrev + at));
    wasm_v128_store(y_at(job, t, b, u + q), splat(0.0f));
  }
}

// The tape of rows whose sequence has ended (t >= length), as backend-cpu keeps it: no activations (G gates),
// h_{t-1} (the state passed through), and LSTM c_{t-1} = c_t = c, GRU's extra zero. Call it before the step's
// panels run, so h_{t-1} and c are still unchanged.
static inline void tape_finished_rows(const job_t *job, int t, int first, int end, int G) {
  const int B = job->B, H = job->H, Hp = job->nub * 4;
  const float *hPrev = h_slot(job, t);
  for (int b = 0; b < B; b++) {
    if (row_active(job, t, b)) continue;
    const uint32_t row = (uint32_t)t * B + b;
    for (int u = first; u < end; u++) {
      const uint32_t at = (uint32_t)b * Hp + u * 4;
      for (int g = 0; g < G; g++) store_units(F(job->tape_act) + row * G * H + g * H, splat(0.0f), u, H);
      store_units(F(job->tape_hprev) + row * H, wasm_v128_load(hPrev + at), u, H);
      if (job->tape_cprev) {
        const f4 c = wasm_v128_load(F(job->c) + at);
        store_units(F(job->tape_cprev) + row * H, c, u, H);
        store_units(F(job->tape_cnew) + row * H, c, u, H);
      }
      if (job->tape_extra) store_units(F(job->tape_extra) + row * H, splat(0.0f), u, H);
    }
  }
}

// How many rows from b on run together (2 when the next row exists and both run at step t), or 0 if row b is done.
static inline int rows_at(const job_t *job, int t, int b) {
  if (!row_active(job, t, b)) return 0;
  return b + 1 < job->B && row_active(job, t, b + 1) ? 2 : 1;
}

// The loop of every step phase: this thread's panels of P blocks, every batch row, two rows at a time while both
// still run. ROWS(job, t, u, b, NB, hPrev, hNext) gets NB as a literal, so that its accumulators stay in
// registers (a macro, not a function pointer, for that reason). A finished row keeps its state where KEEP (the
// phases that write h_t) and is skipped otherwise.
#define FOR_PANEL_ROWS(job, t, first, end, P, KEEP, ROWS)                                                        \
  do {                                                                                                            \
    const float *hPrev_ = h_slot(job, t);                                                                         \
    float *hNext_ = h_slot(job, (t) + 1);                                                                         \
    for (int u_ = (first); u_ < (end); u_ += (P))                                                                 \
      for (int b_ = 0; b_ < (job)->B;) {                                                                          \
        const int n_ = rows_at(job, t, b_);                                                                       \
        if (n_ == 2) ROWS(job, t, u_, b_, 2, hPrev_, hNext_);                                                     \
        else if (n_ == 1) ROWS(job, t, u_, b_, 1, hPrev_, hNext_);                                                \
        else if (KEEP) keep_rows(job, t, u_, P, b_, hPrev_, hNext_);                                              \
        b_ += n_ == 2 ? 2 : 1;                                                                                    \
      }                                                                                                           \
  } while (0)

void project(const job_t *job, int tid, int G);
void project_tokens(const job_t *job, int tid, int G);
void gemm_abt(const job_t *job, int tid);
void peak(const job_t *job, int tid);
void gemm_atb(const job_t *job, int tid);
void lstm_backward(job_t *job, int tid);
void rnn_backward(job_t *job, int tid);
void gru_backward(job_t *job, int tid);
void lstm_steps(job_t *job, int tid);
void gru_steps(job_t *job, int tid);
void rnn_steps(job_t *job, int tid);
