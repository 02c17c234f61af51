// The Node-API surface of the addon: device buffers as externals (freed by free() or, as a safety net, by their
// finalizer), copies, and one function per kernel family. TypeScript validates every argument before it gets here;
// what C checks again (buffer alive, sizes inside the buffer) turns into a JS exception, never a crash.
#define NAPI_VERSION 8
#include <node_api.h>
#include <cuda_runtime.h>
#include <cstring>
#include <map>
#include <string>
#include <vector>
#include "chunk.h"
#include "device.h"
#include "host-reference.h"
#include "kernels.h"

namespace recur {

cudaStream_t stream() {
  static cudaStream_t s = [] {
    // a synchronisation spins instead of yielding the thread: microseconds off every read of a streamed step
    cudaSetDeviceFlags(cudaDeviceScheduleSpin);
    cudaGetLastError();  // refused when the context exists already: keep the default
    cudaStream_t made = nullptr;
    check(cudaStreamCreateWithFlags(&made, cudaStreamNonBlocking), "stream");
    return made;
  }();
  return s;
}

namespace {

struct DeviceBuffer {
  void* ptr = nullptr;
  size_t bytes = 0;     // asked for
  size_t capacity = 0;  // allocated (a size class)
};
size_t g_live_bytes = 0;
long g_live_buffers = 0;

// A caching allocator (as PyTorch's): a freed buffer goes back to a pool by size class and the next allocation of
// that class reuses it, so a streamed step allocates nothing from the driver (cudaMalloc and cudaFree cost tens
// of microseconds; cudaFree also synchronises the device). Reuse is safe without events: every kernel and copy
// runs on one stream, so work queued on a reused buffer follows whatever still used it.
struct Pool {
  std::multimap<size_t, void*> free_blocks;
  size_t cached = 0;
  static size_t size_class(size_t bytes) {
    if (bytes <= 4096) return 4096;
    if (bytes <= (1u << 20)) {  // powers of two up to 1 MiB
      size_t c = 4096;
      while (c < bytes) c <<= 1;
      return c;
    }
    return (bytes + (2u << 20) - 1) / (2u << 20) * (2u << 20);  // 2 MiB steps above
  }
  void* take(size_t capacity) {
    auto it = free_blocks.find(capacity);
    if (it == free_blocks.end()) return nullptr;
    void* p = it->second;
    free_blocks.erase(it);
    cached -= capacity;
    return p;
  }
  void give(void* p, size_t capacity) {
    free_blocks.emplace(capacity, p);
    cached += capacity;
  }
  void empty() {  // back to the driver: before a retry of a failed cudaMalloc, and on request
    if (free_blocks.empty()) return;
    cudaStreamSynchronize(stream());
    for (auto& b : free_blocks) cudaFree(b.second);
    free_blocks.clear();
    cached = 0;
  }
} g_pool;

void release(DeviceBuffer* b) {
  if (!b->ptr) return;
  g_pool.give(b->ptr, b->capacity);
  b->ptr = nullptr;
  g_live_bytes -= b->bytes;
  g_live_buffers--;
}

// cudaMalloc; when the device is full, the pool's cached buffers go back to the driver and it is tried once more.
cudaError_t malloc_or_empty_pool(void** p, size_t bytes) {
  cudaError_t e = cudaMalloc(p, bytes);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    g_pool.empty();
    e = cudaMalloc(p, bytes);
  }
  return e;
}

// A buffer of a size class: a cached one, else a new one.
cudaError_t pooled_malloc(void** p, size_t capacity) {
  if ((*p = g_pool.take(capacity))) return cudaSuccess;
  return malloc_or_empty_pool(p, capacity);
}

// A grow-only device region reused across calls (kernels run in stream order, so reuse is safe).
struct Region {
  void* ptr = nullptr;
  size_t bytes = 0;
  void* get(size_t need, const char* what) {
    if (need <= bytes) return ptr;
    if (ptr) {
      check(cudaStreamSynchronize(stream()), what);
      cudaFree(ptr);
      ptr = nullptr;
      bytes = 0;
    }
    size_t size = need + need / 4;
    check(malloc_or_empty_pool(&ptr, size), what);
    bytes = size;
    return ptr;
  }
};
Region g_workspace, g_ints, g_doubles;
struct Pinned {
  void* ptr = nullptr;
  size_t bytes = 0;
  void* get(size_t need) {
    if (need <= bytes) return ptr;
    if (ptr) cudaFreeHost(ptr);
    ptr = nullptr;
    bytes = 0;
    check(cudaMallocHost(&ptr, need), "pinned staging");
    bytes = need;
    return ptr;
  }
} g_pinned;

// Small uploads go through a ring of pinned slots, so the copy is truly asynchronous (from pageable memory the
// driver stages it and waits); an event per slot says when its last copy has left it.
struct UploadRing {
  static constexpr int kSlots = 8;
  static constexpr size_t kSlotBytes = 1u << 20;
  void* slots[kSlots] = {};
  cudaEvent_t done[kSlots] = {};
  int next = 0;
  void copy(void* dst, const void* src, size_t bytes) {
    const int i = next;
    next = (next + 1) % kSlots;
    if (!slots[i]) {
      check(cudaMallocHost(&slots[i], kSlotBytes), "upload staging");
      check(cudaEventCreateWithFlags(&done[i], cudaEventDisableTiming), "upload event");
    } else {
      check(cudaEventSynchronize(done[i]), "upload staging reuse");
    }
    std::memcpy(slots[i], src, bytes);
    check(cudaMemcpyAsync(dst, slots[i], bytes, cudaMemcpyHostToDevice, stream()), "upload");
    check(cudaEventRecord(done[i], stream()), "upload event");
  }
} g_upload_ring;

// --- Node-API helpers: every failure becomes a pending JS exception and a C++ unwind to the entry point ---
struct JsThrown {};
#define NAPI(call)                                         \
  do {                                                     \
    if ((call) != napi_ok) throw std::runtime_error(#call); \
  } while (0)

napi_value arg_at(napi_env env, napi_callback_info info, size_t i, size_t* count_out = nullptr) {
  size_t argc = 12;
  napi_value argv[12];
  NAPI(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  if (count_out) *count_out = argc;
  if (i >= argc) throw std::runtime_error("argument " + std::to_string(i) + " missing");
  return argv[i];
}

bool is_nullish(napi_env env, napi_value v) {
  napi_valuetype t;
  NAPI(napi_typeof(env, v, &t));
  return t == napi_null || t == napi_undefined;
}

double number(napi_env env, napi_value v, const char* what) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) throw std::runtime_error(std::string(what) + ": expected a number");
  return d;
}

napi_value prop(napi_env env, napi_value obj, const char* key) {
  napi_valuetype t;
  NAPI(napi_typeof(env, obj, &t));
  if (t != napi_object) throw std::runtime_error(std::string("expected an object holding ") + key);
  napi_value v;
  NAPI(napi_get_named_property(env, obj, key, &v));
  return v;
}

long int_prop(napi_env env, napi_value obj, const char* key) { return (long)number(env, prop(env, obj, key), key); }
double num_prop(napi_env env, napi_value obj, const char* key) { return number(env, prop(env, obj, key), key); }
bool bool_prop(napi_env env, napi_value obj, const char* key) {
  napi_value v = prop(env, obj, key);
  if (is_nullish(env, v)) return false;
  bool b;
  NAPI(napi_get_value_bool(env, v, &b));
  return b;
}

DeviceBuffer* buffer_of(napi_env env, napi_value v, const char* what) {
  void* data = nullptr;
  napi_valuetype t;
  NAPI(napi_typeof(env, v, &t));
  if (t != napi_external || napi_get_value_external(env, v, &data) != napi_ok || !data) throw std::runtime_error(std::string(what) + ": not a device buffer");
  DeviceBuffer* b = static_cast<DeviceBuffer*>(data);
  if (!b->ptr) throw std::runtime_error(std::string(what) + ": the device buffer was freed");
  return b;
}

// A device buffer's pointer after checking that `floats` of it exist; null for null/undefined.
float* floats_of(napi_env env, napi_value v, const char* what, long floats) {
  if (is_nullish(env, v)) return nullptr;
  DeviceBuffer* b = buffer_of(env, v, what);
  if (floats < 0 || (size_t)floats * sizeof(float) > b->bytes)
    throw std::runtime_error(std::string(what) + ": needs " + std::to_string(floats) + " floats, the buffer holds " + std::to_string(b->bytes / 4));
  return static_cast<float*>(b->ptr);
}
float* floats_prop(napi_env env, napi_value obj, const char* key, long floats) { return floats_of(env, prop(env, obj, key), key, floats); }

struct HostArray {
  void* data = nullptr;
  size_t length = 0;
  napi_typedarray_type type = napi_float32_array;
};
HostArray typed(napi_env env, napi_value v, const char* what) {
  bool is = false;
  NAPI(napi_is_typedarray(env, v, &is));
  if (!is) throw std::runtime_error(std::string(what) + ": expected a typed array");
  HostArray h;
  napi_value ab;
  size_t offset;
  NAPI(napi_get_typedarray_info(env, v, &h.type, &h.length, &h.data, &ab, &offset));
  return h;
}

// Host Int32Array → device ints in the shared int region at `*cursor` (null for null/undefined).
const int* ints_to_device(napi_env env, napi_value v, const char* what, long expected, std::vector<std::pair<HostArray, size_t>>& pending, size_t& cursor) {
  if (is_nullish(env, v)) return nullptr;
  HostArray h = typed(env, v, what);
  if (h.type != napi_int32_array || (long)h.length != expected) throw std::runtime_error(std::string(what) + ": expected an Int32Array of " + std::to_string(expected));
  pending.push_back({h, cursor});
  const size_t at = cursor;
  cursor += (h.length + 63) / 64 * 64;
  return reinterpret_cast<const int*>(at + 1);  // offset + 1 (never null) until the region is known: see place_ints
}

// Uploads the pending int arrays into the int region and turns their offsets into pointers.
void place_ints(std::vector<std::pair<HostArray, size_t>>& pending, size_t total, std::initializer_list<const int**> slots) {
  if (pending.empty()) return;
  int* base = static_cast<int*>(g_ints.get(total * sizeof(int), "device ints"));
  for (auto& p : pending)
    if (p.first.length) check(cudaMemcpyAsync(base + p.second, p.first.data, p.first.length * sizeof(int), cudaMemcpyHostToDevice, stream()), "ints in");
  for (const int** s : slots)
    if (*s) *s = base + (reinterpret_cast<size_t>(*s) - 1);
}

napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

// Every exported function runs inside this: C++ and CUDA errors become JS errors (code "ERR_RECUR_CUDA" for CUDA).
template <typename F>
napi_value guarded(napi_env env, F&& body) {
  try {
    return body();
  } catch (const CudaError& e) {
    napi_throw_error(env, "ERR_RECUR_CUDA", e.what());
  } catch (const std::exception& e) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) napi_throw_error(env, "ERR_RECUR_ADDON", e.what());
  }
  return nullptr;
}
#define EXPORT(name) napi_value name(napi_env env, napi_callback_info info)

// --- device, buffers, copies ---
EXPORT(Info) {
  return guarded(env, [&] {
    napi_value o;
    NAPI(napi_create_object(env, &o));
    const auto set = [&](const char* k, napi_value v) { NAPI(napi_set_named_property(env, o, k, v)); };
    const auto num = [&](const char* k, double d) { napi_value v; NAPI(napi_create_double(env, d, &v)); set(k, v); };
    const auto str = [&](const char* k, const std::string& s) { napi_value v; NAPI(napi_create_string_utf8(env, s.c_str(), s.size(), &v)); set(k, v); };
    int driver = 0, runtime = 0, count = 0;
    cudaDriverGetVersion(&driver);
    cudaRuntimeGetVersion(&runtime);
    num("driverVersion", driver);
    num("runtimeVersion", runtime);
    const cudaError_t e = cudaGetDeviceCount(&count);
    num("devices", e == cudaSuccess ? count : 0);
    if (e != cudaSuccess) {
      str("error", std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e));
      return o;
    }
    if (count > 0) {
      cudaDeviceProp p;
      const cudaError_t pe = cudaGetDeviceProperties(&p, 0);
      if (pe != cudaSuccess) {
        str("error", std::string(cudaGetErrorName(pe)) + ": " + cudaGetErrorString(pe));
        return o;
      }
      str("name", p.name);
      num("major", p.major);
      num("minor", p.minor);
      num("multiprocessors", p.multiProcessorCount);
      num("totalBytes", (double)p.totalGlobalMem);
    }
    return o;
  });
}

EXPORT(Alloc) {
  return guarded(env, [&] {
    const double bytes = number(env, arg_at(env, info, 0), "bytes");
    if (!(bytes >= 0) || bytes > 1e15) throw std::runtime_error("bytes: expected a size");
    stream();  // the context exists, with its flags, before the first allocation
    DeviceBuffer* b = new DeviceBuffer();
    b->bytes = (size_t)bytes;
    b->capacity = Pool::size_class(b->bytes);
    const cudaError_t e = pooled_malloc(&b->ptr, b->capacity);
    if (e != cudaSuccess) {
      delete b;
      cudaGetLastError();  // an allocation failure is not sticky: clear it
      throw CudaError(std::string("cudaMalloc of ") + std::to_string((size_t)bytes) + " bytes: " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
    }
    g_live_bytes += b->bytes;
    g_live_buffers++;
    napi_value ext;
    NAPI(napi_create_external(env, b, [](napi_env, void* data, void*) {
      DeviceBuffer* d = static_cast<DeviceBuffer*>(data);
      release(d);
      delete d;
    }, nullptr, &ext));
    return ext;
  });
}

EXPORT(Free) {
  return guarded(env, [&] {
    void* data = nullptr;
    if (napi_get_value_external(env, arg_at(env, info, 0), &data) == napi_ok && data) release(static_cast<DeviceBuffer*>(data));
    return undefined(env);
  });
}

EXPORT(Live) {
  return guarded(env, [&] {
    napi_value o, v;
    NAPI(napi_create_object(env, &o));
    NAPI(napi_create_double(env, (double)g_live_bytes, &v));
    NAPI(napi_set_named_property(env, o, "bytes", v));
    NAPI(napi_create_double(env, (double)g_live_buffers, &v));
    NAPI(napi_set_named_property(env, o, "buffers", v));
    NAPI(napi_create_double(env, (double)(g_workspace.bytes + g_ints.bytes + g_doubles.bytes), &v));
    NAPI(napi_set_named_property(env, o, "workspaceBytes", v));
    NAPI(napi_create_double(env, (double)g_pool.cached, &v));
    NAPI(napi_set_named_property(env, o, "cachedBytes", v));
    size_t free_b = 0, total_b = 0;
    if (cudaMemGetInfo(&free_b, &total_b) == cudaSuccess) {
      NAPI(napi_create_double(env, (double)free_b, &v));
      NAPI(napi_set_named_property(env, o, "deviceFreeBytes", v));
    }
    return o;
  });
}

// upload(buffer, typedArray, byteOffset)
EXPORT(Upload) {
  return guarded(env, [&] {
    DeviceBuffer* b = buffer_of(env, arg_at(env, info, 0), "buffer");
    HostArray h = typed(env, arg_at(env, info, 1), "values");
    const double offset = number(env, arg_at(env, info, 2), "byteOffset");
    const size_t bytes = h.length * (h.type == napi_float64_array ? 8 : 4);
    if (offset < 0 || offset + bytes > b->bytes) throw std::runtime_error("upload: past the buffer's end");
    char* dst = static_cast<char*>(b->ptr) + (size_t)offset;
    if (bytes && bytes <= UploadRing::kSlotBytes) g_upload_ring.copy(dst, h.data, bytes);
    else if (bytes) check(cudaMemcpyAsync(dst, h.data, bytes, cudaMemcpyHostToDevice, stream()), "upload");
    return undefined(env);
  });
}

// download(buffer, floats, floatOffset) -> Float32Array (synchronises)
EXPORT(Download) {
  return guarded(env, [&] {
    DeviceBuffer* b = buffer_of(env, arg_at(env, info, 0), "buffer");
    const double n = number(env, arg_at(env, info, 1), "floats"), off = number(env, arg_at(env, info, 2), "floatOffset");
    if (n < 0 || off < 0 || (n + off) * 4 > b->bytes) throw std::runtime_error("download: past the buffer's end");
    const size_t bytes = (size_t)n * 4;
    void* staging = g_pinned.get(bytes ? bytes : 4);
    if (bytes) check(cudaMemcpyAsync(staging, static_cast<float*>(b->ptr) + (size_t)off, bytes, cudaMemcpyDeviceToHost, stream()), "download");
    check(cudaStreamSynchronize(stream()), "download: synchronise");
    napi_value ab, arr;
    void* data = nullptr;
    NAPI(napi_create_arraybuffer(env, bytes, &data, &ab));
    if (bytes) std::memcpy(data, staging, bytes);
    NAPI(napi_create_typedarray(env, napi_float32_array, (size_t)n, ab, 0, &arr));
    return arr;
  });
}

// copy(dst, dstByteOffset, src, srcByteOffset, bytes)
EXPORT(Copy) {
  return guarded(env, [&] {
    DeviceBuffer* d = buffer_of(env, arg_at(env, info, 0), "dst");
    const double doff = number(env, arg_at(env, info, 1), "dstByteOffset");
    DeviceBuffer* s = buffer_of(env, arg_at(env, info, 2), "src");
    const double soff = number(env, arg_at(env, info, 3), "srcByteOffset"), bytes = number(env, arg_at(env, info, 4), "bytes");
    if (doff < 0 || soff < 0 || bytes < 0 || doff + bytes > d->bytes || soff + bytes > s->bytes) throw std::runtime_error("copy: past a buffer's end");
    if (bytes) check(cudaMemcpyAsync(static_cast<char*>(d->ptr) + (size_t)doff, static_cast<char*>(s->ptr) + (size_t)soff, (size_t)bytes, cudaMemcpyDeviceToDevice, stream()), "copy");
    return undefined(env);
  });
}

EXPORT(Zero) {
  return guarded(env, [&] {
    DeviceBuffer* d = buffer_of(env, arg_at(env, info, 0), "buffer");
    if (d->bytes) check(cudaMemsetAsync(d->ptr, 0, d->bytes, stream()), "zero");
    return undefined(env);
  });
}

// Returns the pool's cached buffers and the kernel workspace to the driver (memory pressure, or a test's proof).
EXPORT(ReleaseCached) {
  return guarded(env, [&] {
    g_pool.empty();
    for (Region* r : {&g_workspace, &g_ints, &g_doubles}) {
      if (!r->ptr) continue;
      check(cudaStreamSynchronize(stream()), "releaseCached");
      cudaFree(r->ptr);
      r->ptr = nullptr;
      r->bytes = 0;
    }
    return undefined(env);
  });
}

EXPORT(EmptyLaunch) {
  return guarded(env, [&] {
    empty_launch_and_sync();
    return undefined(env);
  });
}

EXPORT(Synchronize) {
  return guarded(env, [&] {
    check(cudaStreamSynchronize(stream()), "synchronize");
    return undefined(env);
  });
}

// --- chunk kernels ---
LayerDevice layer_of(napi_env env, napi_value o) {
  LayerDevice L;
  L.kind = (int)int_prop(env, o, "kind");
  L.I = (int)int_prop(env, o, "inputSize");
  L.H = (int)int_prop(env, o, "units");
  if (L.kind < kLstm || L.kind > kRnnRelu || L.I < 1 || L.H < 1) throw std::runtime_error("layer: bad kind or sizes");
  const long GH = (long)gate_count(L.kind) * L.H;
  L.w_ih = floats_prop(env, o, "wIh", GH * L.I);
  L.w_hh = floats_prop(env, o, "wHh", GH * L.H);
  L.bias = floats_prop(env, o, "bias", GH);
  L.hbn = L.kind == kGruAfter ? floats_prop(env, o, "hbn", L.H) : nullptr;
  if (!L.w_ih || !L.w_hh || !L.bias || (L.kind == kGruAfter && !L.hbn)) throw std::runtime_error("layer: weights missing");
  return L;
}

EXPORT(Forward) {
  return guarded(env, [&] {
    napi_value o = arg_at(env, info, 0);
    ForwardChunk f{};
    f.layer = layer_of(env, prop(env, o, "layer"));
    f.T = (int)int_prop(env, o, "time");
    f.B = (int)int_prop(env, o, "batch");
    if (f.T < 0 || f.B < 0) throw std::runtime_error("forward: bad time or batch");
    const int H = f.layer.H, I = f.layer.I;
    const long GH = (long)gate_count(f.layer.kind) * H, BH = (long)f.B * H, TB = (long)f.T * f.B;
    const bool lstm = f.layer.kind == kLstm;
    std::vector<std::pair<HostArray, size_t>> pending;
    size_t cursor = 0;
    f.x = floats_prop(env, o, "x", TB * I);
    f.tokens = ints_to_device(env, prop(env, o, "tokens"), "tokens", TB, pending, cursor);
    f.seq_lens = ints_to_device(env, prop(env, o, "seqLens"), "seqLens", f.B, pending, cursor);
    if (!f.x && !f.tokens && f.T > 0) throw std::runtime_error("forward: x or tokens needed");
    f.h0 = floats_prop(env, o, "h0", BH);
    f.c0 = lstm ? floats_prop(env, o, "c0", BH) : nullptr;
    f.y = floats_prop(env, o, "y", TB * H);
    f.hT = floats_prop(env, o, "hT", BH);
    f.cT = lstm ? floats_prop(env, o, "cT", BH) : nullptr;
    if (!f.h0 || !f.y || !f.hT || (lstm && (!f.c0 || !f.cT))) throw std::runtime_error("forward: state or output missing");
    const bool tape = bool_prop(env, o, "keepTape");
    int* tape_tokens = nullptr;
    if (tape) {
      f.tape_x = f.x ? floats_prop(env, o, "tapeX", TB * I) : nullptr;
      f.hs = floats_prop(env, o, "hs", (TB + f.B) * H);
      f.cs = lstm ? floats_prop(env, o, "cs", (TB + f.B) * H) : nullptr;
      f.acts = floats_prop(env, o, "acts", TB * GH);
      const bool gru = f.layer.kind == kGruAfter || f.layer.kind == kGruBefore;
      f.extra = gru ? floats_prop(env, o, "extra", TB * H) : nullptr;
      if (f.tokens) tape_tokens = reinterpret_cast<int*>(floats_prop(env, o, "tapeTokens", TB + I + 1));
      if (!f.hs || (lstm && !f.cs) || !f.acts || (gru && !f.extra) || (f.x && !f.tape_x) || (f.tokens && !tape_tokens)) throw std::runtime_error("forward: tape buffers missing");
    }
    f.allow_persistent = bool_prop(env, o, "persistent");
    napi_value min_batch = prop(env, o, "batchKernelMinBatch");
    f.batch_kernel_min = is_nullish(env, min_batch) ? 17 : (int)number(env, min_batch, "batchKernelMinBatch");
    place_ints(pending, cursor, {&f.tokens, &f.seq_lens});
    if (tape_tokens) {  // the rows grouped by token id (a counting sort), for a deterministic dW_ih in the backward
      const int* ids = static_cast<const int*>(pending[0].first.data);
      std::vector<int> index(I + 1 + TB, 0);
      for (long r = 0; r < TB; r++) {
        if (ids[r] < 0 || ids[r] >= I) throw std::runtime_error("tokens: an id out of range");
        index[ids[r] + 1]++;
      }
      for (int i = 0; i < I; i++) index[i + 1] += index[i];
      std::vector<int> next(index.begin(), index.begin() + I);
      for (long r = 0; r < TB; r++) index[I + 1 + next[ids[r]]++] = (int)r;
      check(cudaMemcpyAsync(tape_tokens, index.data(), index.size() * sizeof(int), cudaMemcpyHostToDevice, stream()), "forward: token index");
    }
    float* scratch = static_cast<float*>(g_workspace.get(sizeof(float) * forward_scratch_floats(f), "forward: workspace"));
    forward_chunk(f, scratch);
    return undefined(env);
  });
}

EXPORT(Backward) {
  return guarded(env, [&] {
    napi_value o = arg_at(env, info, 0);
    BackwardChunk c{};
    c.layer = layer_of(env, prop(env, o, "layer"));
    c.T = (int)int_prop(env, o, "time");
    c.B = (int)int_prop(env, o, "batch");
    if (c.T < 0 || c.B < 0) throw std::runtime_error("backward: bad time or batch");
    const int H = c.layer.H, I = c.layer.I;
    const long GH = (long)gate_count(c.layer.kind) * H, BH = (long)c.B * H, TB = (long)c.T * c.B;
    const bool lstm = c.layer.kind == kLstm, gru = c.layer.kind == kGruAfter || c.layer.kind == kGruBefore;
    std::vector<std::pair<HostArray, size_t>> pending;
    size_t cursor = 0;
    c.seq_lens = ints_to_device(env, prop(env, o, "seqLens"), "seqLens", c.B, pending, cursor);
    c.x = floats_prop(env, o, "x", TB * I);
    c.tokens = reinterpret_cast<const int*>(floats_prop(env, o, "tokens", TB + I + 1));
    if (!c.x && !c.tokens && c.T > 0) throw std::runtime_error("backward: the tape holds neither x nor tokens");
    c.hs = floats_prop(env, o, "hs", (TB + c.B) * H);
    c.cs = lstm ? floats_prop(env, o, "cs", (TB + c.B) * H) : nullptr;
    c.acts = floats_prop(env, o, "acts", TB * GH);
    c.extra = gru ? floats_prop(env, o, "extra", TB * H) : nullptr;
    c.dy = floats_prop(env, o, "dy", TB * H);
    c.dhT = floats_prop(env, o, "dhT", BH);
    c.dcT = lstm ? floats_prop(env, o, "dcT", BH) : nullptr;
    c.dx = c.tokens ? nullptr : floats_prop(env, o, "dx", TB * I);
    c.dh0 = floats_prop(env, o, "dh0", BH);
    c.dc0 = lstm ? floats_prop(env, o, "dc0", BH) : nullptr;
    c.dw_ih = floats_prop(env, o, "dWih", GH * I);
    c.dw_hh = floats_prop(env, o, "dWhh", GH * H);
    c.db_ih = floats_prop(env, o, "dbIh", GH);
    c.db_hh = floats_prop(env, o, "dbHh", GH);
    if (!c.hs || (lstm && (!c.cs || !c.dc0)) || !c.acts || (gru && !c.extra) || !c.dh0 || !c.dw_ih || !c.dw_hh || !c.db_ih || !c.db_hh || (!c.tokens && !c.dx))
      throw std::runtime_error("backward: a buffer is missing");
    place_ints(pending, cursor, {&c.seq_lens});
    float* scratch = static_cast<float*>(g_workspace.get(sizeof(float) * backward_scratch_floats(c), "backward: workspace"));
    backward_chunk(c, scratch);
    return undefined(env);
  });
}

// gemm({M, N, K, a, aOffset, sam, sak, b, bOffset, sbk, sbn, c, cOffset, ldc, bias, accumulate}) — the dense head
EXPORT(Gemm) {
  return guarded(env, [&] {
    napi_value o = arg_at(env, info, 0);
    GemmArgs g{};
    g.M = (int)int_prop(env, o, "M");
    g.N = (int)int_prop(env, o, "N");
    g.K = (int)int_prop(env, o, "K");
    g.sam = int_prop(env, o, "sam"), g.sak = int_prop(env, o, "sak"), g.sbk = int_prop(env, o, "sbk"), g.sbn = int_prop(env, o, "sbn"), g.ldc = int_prop(env, o, "ldc");
    if (g.M < 0 || g.N < 0 || g.K < 0) throw std::runtime_error("gemm: bad sizes");
    const auto last = [](long rows, long s0, long cols, long s1) { return rows && cols ? (rows - 1) * s0 + (cols - 1) * s1 + 1 : 0; };
    g.A = floats_prop(env, o, "a", last(g.M, g.sam, g.K, g.sak));
    g.B = floats_prop(env, o, "b", last(g.K, g.sbk, g.N, g.sbn));
    g.C = floats_prop(env, o, "c", last(g.M, g.ldc, g.N, 1));
    g.bias = floats_prop(env, o, "bias", g.N);
    g.accumulate = bool_prop(env, o, "accumulate");
    if (!g.C || (g.K && (!g.A || !g.B))) throw std::runtime_error("gemm: an operand is missing");
    gemm(g);
    return undefined(env);
  });
}

EXPORT(ColumnSums) {  // columnSums(a, rows, cols, out)
  return guarded(env, [&] {
    const long rows = (long)number(env, arg_at(env, info, 1), "rows"), cols = (long)number(env, arg_at(env, info, 2), "cols");
    const float* a = floats_of(env, arg_at(env, info, 0), "a", rows * cols);
    float* out = floats_of(env, arg_at(env, info, 3), "out", cols);
    column_sums(a, rows, cols, cols, out, false);
    return undefined(env);
  });
}

// --- rows ---
EXPORT(Transpose01) {  // transpose01(src, dst, A, B, F)
  return guarded(env, [&] {
    const int A = (int)number(env, arg_at(env, info, 2), "A"), B = (int)number(env, arg_at(env, info, 3), "B"), F = (int)number(env, arg_at(env, info, 4), "F");
    const long n = (long)A * B * F;
    transpose01(floats_of(env, arg_at(env, info, 0), "src", n), floats_of(env, arg_at(env, info, 1), "dst", n), A, B, F);
    return undefined(env);
  });
}

EXPORT(ZeroRows) {  // zeroRows(src, dst, rows, per, Int32Array clearFlags[rows])
  return guarded(env, [&] {
    const long rows = (long)number(env, arg_at(env, info, 2), "rows"), per = (long)number(env, arg_at(env, info, 3), "per");
    std::vector<std::pair<HostArray, size_t>> pending;
    size_t cursor = 0;
    const int* flags = ints_to_device(env, arg_at(env, info, 4), "clear", rows, pending, cursor);
    place_ints(pending, cursor, {&flags});
    zero_rows(floats_of(env, arg_at(env, info, 0), "src", rows * per), floats_of(env, arg_at(env, info, 1), "dst", rows * per), rows, per, flags);
    return undefined(env);
  });
}

EXPORT(GatherRows) {  // gatherRows(src, srcRows, dst, per, Int32Array rows)
  return guarded(env, [&] {
    const long src_rows = (long)number(env, arg_at(env, info, 1), "srcRows"), per = (long)number(env, arg_at(env, info, 3), "per");
    HostArray h = typed(env, arg_at(env, info, 4), "rows");
    if (h.type != napi_int32_array) throw std::runtime_error("gatherRows: rows must be an Int32Array");
    const long out_rows = (long)h.length;
    for (long i = 0; i < out_rows; i++) {
      const int r = static_cast<const int*>(h.data)[i];
      if (r < 0 || r >= src_rows) throw std::runtime_error("gatherRows: a row index out of range");
    }
    std::vector<std::pair<HostArray, size_t>> pending;
    size_t cursor = 0;
    const int* rows = ints_to_device(env, arg_at(env, info, 4), "rows", out_rows, pending, cursor);
    place_ints(pending, cursor, {&rows});
    gather_rows(floats_of(env, arg_at(env, info, 0), "src", src_rows * per), floats_of(env, arg_at(env, info, 2), "dst", out_rows * per), out_rows, per, rows);
    return undefined(env);
  });
}

EXPORT(AllFinite) {  // allFinite(buffer, floats) -> boolean (synchronises)
  return guarded(env, [&] {
    const long n = (long)number(env, arg_at(env, info, 1), "floats");
    const float* a = floats_of(env, arg_at(env, info, 0), "buffer", n);
    int* flag = static_cast<int*>(g_ints.get(sizeof(int), "finite flag"));
    check(cudaMemsetAsync(flag, 0, sizeof(int), stream()), "finite flag");
    non_finite(a, n, flag);
    int found = 0;
    check(cudaMemcpyAsync(&found, flag, sizeof(int), cudaMemcpyDeviceToHost, stream()), "finite flag out");
    check(cudaStreamSynchronize(stream()), "allFinite: synchronise");
    napi_value v;
    NAPI(napi_get_boolean(env, found == 0, &v));
    return v;
  });
}

// --- training ---
EXPORT(SoftmaxCrossEntropy) {  // (logits, Int32Array targets, rows, classes, loss, d)
  return guarded(env, [&] {
    const long rows = (long)number(env, arg_at(env, info, 2), "rows"), classes = (long)number(env, arg_at(env, info, 3), "classes");
    const float* logits = floats_of(env, arg_at(env, info, 0), "logits", rows * classes);
    float* loss = floats_of(env, arg_at(env, info, 4), "loss", 1);
    float* d = floats_of(env, arg_at(env, info, 5), "d", rows * classes);
    std::vector<std::pair<HostArray, size_t>> pending;
    size_t cursor = 0;
    const int* targets = ints_to_device(env, arg_at(env, info, 1), "targets", rows, pending, cursor);
    place_ints(pending, cursor, {&targets});
    double* partials = static_cast<double*>(g_doubles.get(sizeof(double) * (rows ? rows : 1), "loss partials"));
    softmax_cross_entropy(logits, targets, (int)rows, (int)classes, loss, d, partials);
    return undefined(env);
  });
}

EXPORT(MeanSquaredError) {  // (predictions, targets, n, loss, d)
  return guarded(env, [&] {
    const long n = (long)number(env, arg_at(env, info, 2), "count");
    double* partials = static_cast<double*>(g_doubles.get(sizeof(double) * mse_partials(n), "loss partials"));
    mean_squared_error(floats_of(env, arg_at(env, info, 0), "predictions", n), floats_of(env, arg_at(env, info, 1), "targets", n), n,
                       floats_of(env, arg_at(env, info, 3), "loss", 1), floats_of(env, arg_at(env, info, 4), "d", n), partials);
    return undefined(env);
  });
}

EXPORT(GlobalNorm) {  // (buffers[], sizes[], out)
  return guarded(env, [&] {
    napi_value list = arg_at(env, info, 0), sizes = arg_at(env, info, 1);
    uint32_t count = 0;
    NAPI(napi_get_array_length(env, list, &count));
    std::vector<const float*> arrays(count);
    std::vector<long> ns(count);
    for (uint32_t i = 0; i < count; i++) {
      napi_value b, s;
      NAPI(napi_get_element(env, list, i, &b));
      NAPI(napi_get_element(env, sizes, i, &s));
      ns[i] = (long)number(env, s, "size");
      arrays[i] = floats_of(env, b, "gradient", ns[i]);
    }
    double* partials = static_cast<double*>(g_doubles.get(sizeof(double) * kNormBlocks * (count ? count : 1), "norm partials"));
    global_norm(arrays.data(), ns.data(), (int)count, floats_of(env, arg_at(env, info, 2), "out", 1), partials);
    return undefined(env);
  });
}

EXPORT(Optimizer) {  // (rule, param, grad, slot0, slot1|null, n)
  return guarded(env, [&] {
    napi_value r = arg_at(env, info, 0);
    OptimizerRule rule{};
    rule.adam = (int)int_prop(env, r, "adam");
    rule.learning_rate = num_prop(env, r, "learningRate");
    rule.momentum = num_prop(env, r, "momentum");
    rule.beta1 = num_prop(env, r, "beta1");
    rule.beta2 = num_prop(env, r, "beta2");
    rule.epsilon = num_prop(env, r, "epsilon");
    rule.step_size = num_prop(env, r, "stepSize");
    rule.inverse_c2 = num_prop(env, r, "inverseC2");
    rule.grad_scale = num_prop(env, r, "gradScale");
    const long n = (long)number(env, arg_at(env, info, 5), "n");
    float* slot1 = floats_of(env, arg_at(env, info, 4), "slot1", n);
    if (rule.adam && !slot1) throw std::runtime_error("optimizer: Adam needs two slots");
    optimizer_update(rule, floats_of(env, arg_at(env, info, 1), "param", n), floats_of(env, arg_at(env, info, 2), "grad", n),
                     floats_of(env, arg_at(env, info, 3), "slot0", n), slot1, n);
    return undefined(env);
  });
}

EXPORT(DeriveBias) {  // (kind, H, forgetBias, bIh, bHh, bias, hbn|null)
  return guarded(env, [&] {
    const int kind = (int)number(env, arg_at(env, info, 0), "kind"), H = (int)number(env, arg_at(env, info, 1), "units");
    const long GH = (long)gate_count(kind) * H;
    float* hbn = floats_of(env, arg_at(env, info, 6), "hbn", H);
    if (kind == kGruAfter && !hbn) throw std::runtime_error("deriveBias: b_hn buffer missing");
    derive_bias(kind, H, (float)number(env, arg_at(env, info, 2), "forgetBias"), floats_of(env, arg_at(env, info, 3), "bIh", GH),
                floats_of(env, arg_at(env, info, 4), "bHh", GH), floats_of(env, arg_at(env, info, 5), "bias", GH), hbn);
    return undefined(env);
  });
}

// The host reference's arguments: {kind, inputSize, units, time, batch, forgetBias, wIh, wHh, bIh, bHh, x, h0, c0,
// seqLens} as Float32Arrays (seqLens an Int32Array), each checked against the sizes.
struct HostCall {
  HostLayer L;
  int T, B;
  const float *x, *h0, *c0;
  const int* seq;
};

const float* host_floats(napi_env env, napi_value o, const char* key, long n, bool optional) {
  napi_value v = prop(env, o, key);
  if (optional && is_nullish(env, v)) return nullptr;
  HostArray h = typed(env, v, key);
  if (h.type != napi_float32_array || (long)h.length != n) throw std::runtime_error(std::string(key) + ": expected a Float32Array of " + std::to_string(n));
  return static_cast<const float*>(h.data);
}

HostCall host_call(napi_env env, napi_value o) {
  HostCall c;
  HostLayer& L = c.L;
  L.kind = (int)int_prop(env, o, "kind");
  L.I = (int)int_prop(env, o, "inputSize");
  L.H = (int)int_prop(env, o, "units");
  L.forget_bias = (float)num_prop(env, o, "forgetBias");
  c.T = (int)int_prop(env, o, "time");
  c.B = (int)int_prop(env, o, "batch");
  if (L.kind < kLstm || L.kind > kRnnRelu || L.I < 1 || L.H < 1 || c.T < 0 || c.B < 1) throw std::runtime_error("host reference: bad sizes");
  const long GH = (long)gate_count(L.kind) * L.H;
  L.w_ih = host_floats(env, o, "wIh", GH * L.I, false);
  L.w_hh = host_floats(env, o, "wHh", GH * L.H, false);
  L.b_ih = host_floats(env, o, "bIh", GH, false);
  L.b_hh = host_floats(env, o, "bHh", GH, false);
  c.x = host_floats(env, o, "x", (long)c.T * c.B * L.I, false);
  c.h0 = host_floats(env, o, "h0", (long)c.B * L.H, false);
  c.c0 = host_floats(env, o, "c0", (long)c.B * L.H, true);
  napi_value sl = prop(env, o, "seqLens");
  c.seq = nullptr;
  if (!is_nullish(env, sl)) {
    HostArray h = typed(env, sl, "seqLens");
    if (h.type != napi_int32_array || (long)h.length != c.B) throw std::runtime_error("seqLens: expected an Int32Array of batch");
    c.seq = static_cast<const int*>(h.data);
  }
  return c;
}

void put_floats(napi_env env, napi_value out, const char* key, const std::vector<float>& v) {
  napi_value ab, arr;
  void* data;
  NAPI(napi_create_arraybuffer(env, v.size() * 4, &data, &ab));
  if (!v.empty()) std::memcpy(data, v.data(), v.size() * 4);
  NAPI(napi_create_typedarray(env, napi_float32_array, v.size(), ab, 0, &arr));
  NAPI(napi_set_named_property(env, out, key, arr));
}

// hostForward(args) -> {y, h, c}: the kernels' gate math and indexing on the CPU (CI tests it on golden vectors).
EXPORT(HostForward) {
  return guarded(env, [&] {
    const HostCall c = host_call(env, arg_at(env, info, 0));
    const long BH = (long)c.B * c.L.H;
    std::vector<float> y((size_t)c.T * BH), h(c.h0, c.h0 + BH), cs(BH, 0.f);
    if (c.c0) std::copy(c.c0, c.c0 + BH, cs.begin());
    host_forward(c.L, c.T, c.B, c.x, c.seq, y.data(), h.data(), cs.data());
    napi_value out;
    NAPI(napi_create_object(env, &out));
    put_floats(env, out, "y", y);
    put_floats(env, out, "h", h);
    put_floats(env, out, "c", cs);
    return out;
  });
}

// hostBackward(args + {dy, dhT, dcT}) -> {dx, dh0, dc0, dWih, dWhh, dbIh, dbHh}: the backward math on the CPU.
EXPORT(HostBackward) {
  return guarded(env, [&] {
    napi_value o = arg_at(env, info, 0);
    const HostCall c = host_call(env, o);
    const long BH = (long)c.B * c.L.H, GH = (long)gate_count(c.L.kind) * c.L.H;
    const float* dy = host_floats(env, o, "dy", (long)c.T * BH, true);
    const float* dhT = host_floats(env, o, "dhT", BH, true);
    const float* dcT = host_floats(env, o, "dcT", BH, true);
    HostGradients g;
    g.dx.resize((size_t)c.T * c.B * c.L.I);
    g.dh0.resize(BH);
    g.dc0.resize(BH);
    g.dw_ih.resize(GH * c.L.I);
    g.dw_hh.resize(GH * c.L.H);
    g.db_ih.resize(GH);
    g.db_hh.resize(GH);
    host_backward(c.L, c.T, c.B, c.x, c.seq, c.h0, c.c0, dy, dhT, dcT, g);
    napi_value out;
    NAPI(napi_create_object(env, &out));
    put_floats(env, out, "dx", g.dx);
    put_floats(env, out, "dh0", g.dh0);
    put_floats(env, out, "dc0", g.dc0);
    put_floats(env, out, "dWih", g.dw_ih);
    put_floats(env, out, "dWhh", g.dw_hh);
    put_floats(env, out, "dbIh", g.db_ih);
    put_floats(env, out, "dbHh", g.db_hh);
    return out;
  });
}

napi_value Init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
#define FN(js, c) {js, nullptr, c, nullptr, nullptr, nullptr, napi_default, nullptr}
      FN("info", Info), FN("alloc", Alloc), FN("free", Free), FN("live", Live), FN("upload", Upload), FN("download", Download),
      FN("copy", Copy), FN("zero", Zero), FN("synchronize", Synchronize), FN("forward", Forward), FN("backward", Backward),
      FN("gemm", Gemm), FN("columnSums", ColumnSums), FN("transpose01", Transpose01), FN("zeroRows", ZeroRows), FN("gatherRows", GatherRows),
      FN("allFinite", AllFinite), FN("softmaxCrossEntropy", SoftmaxCrossEntropy), FN("meanSquaredError", MeanSquaredError),
      FN("globalNorm", GlobalNorm), FN("optimizer", Optimizer), FN("deriveBias", DeriveBias), FN("hostForward", HostForward), FN("hostBackward", HostBackward), FN("emptyLaunch", EmptyLaunch), FN("releaseCached", ReleaseCached),
#undef FN
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace
}  // namespace recur

NAPI_MODULE(NODE_GYP_MODULE_NAME, recur::Init)
