//===- Session.cpp - sessions, their threads and profiling, and runs -----===//
#include "Cuda.h"
#include "Internal.h"
#include "RunMemory.h"

#include <sched.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <new>
#include <string>
#include <thread>
#include <vector>

using namespace mlc::runtime;

//===----------------------------------------------------------------------===//
// Threads
//===----------------------------------------------------------------------===//

namespace {

constexpr int32_t kMaxThreads = 1024;

/// The thread count of a new session: $MLC_NUM_THREADS if set, otherwise
/// the CPUs this process may run on.
mlc_status defaultNumThreads(int32_t &n) {
  const char *env = std::getenv("MLC_NUM_THREADS");
  if (env && *env) {
    errno = 0;
    char *end = nullptr;
    long v = std::strtol(env, &end, 10);
    if (errno || end == env || *end || v < 1 || v > kMaxThreads)
      return setError(MLC_ERROR_INVALID_ARGUMENT,
                      std::string("MLC_NUM_THREADS must be a whole number from 1 to ") +
                          std::to_string(kMaxThreads) + ", got '" + env + "'");
    n = (int32_t)v;
    return MLC_OK;
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  long cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set)
                                                          : (long)std::thread::hardware_concurrency();
  n = (int32_t)std::max(1L, std::min<long>(cpus, kMaxThreads));
  return MLC_OK;
}

mlc_status checkRunnable(const mlc_model *m) {
  if (m->table.runnable())
    return MLC_OK;
  return setError(MLC_ERROR_INVALID_ARGUMENT,
                  "'" + m->path + "' was opened with mlc_model_load_info, which reads its "
                  "description only; load it with mlc_model_load to run it");
}

/// Gives `s` a pool of n threads (none for ABI v1 models, which cannot use
/// one). The old pool is kept if the new one cannot start.
mlc_status startThreads(mlc_session *s, int32_t n) {
  if (!s->model->table.runV2 || s->model->cuda) {
    s->numThreads = 1;
    return MLC_OK;
  }
  if (s->pool && s->pool->numThreads() == n)
    return MLC_OK;
  std::string error;
  std::unique_ptr<ThreadPool> pool = ThreadPool::create(n, error);
  if (!pool)
    return setError(MLC_ERROR_OUT_OF_MEMORY, error);
  s->pool = std::move(pool);
  s->numThreads = n;
  return MLC_OK;
}

//===----------------------------------------------------------------------===//
// The execution context's functions
//===----------------------------------------------------------------------===//

int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

mlc_session *sessionOf(mlc_exec_ctx *ctx) { return static_cast<RunState *>(ctx->runtime)->session; }

void sessionParallelFor(mlc_exec_ctx *ctx, int64_t n, mlc_task_fn fn, void *closure) {
  auto *r = static_cast<RunState *>(ctx->runtime);
  r->session->pool->parallelFor(n, fn, closure);
  // A task that ran out of memory was abandoned; so is its caller.
  if (r->memory.failed())
    abandonToRecoveryPoint();
}


void profileKernelBegin(mlc_exec_ctx *ctx, int32_t) {
  sessionOf(ctx)->kernelBeginNs = nowNs();
}

void profileKernelEnd(mlc_exec_ctx *ctx, int32_t kernel) {
  int64_t end = nowNs();
  mlc_session *s = sessionOf(ctx);
  try {
    s->events.push_back({kernel, 0, s->kernelBeginNs, end});
  } catch (...) {
    // Out of memory: the event is lost, the run goes on.
  }
}

} // namespace

mlc_session::~mlc_session() { std::free(arena); }

extern "C" {

mlc_status mlc_session_create(const mlc_model *m, mlc_session **out) {
  if (!m || !out)
    return setError(MLC_ERROR_INVALID_ARGUMENT, "mlc_session_create: null argument");
  *out = nullptr;
  if (mlc_status st = checkRunnable(m))
    return st;
  int32_t threads = 1;
  if (mlc_status st = defaultNumThreads(threads))
    return st;
  auto s = std::unique_ptr<mlc_session>(new (std::nothrow) mlc_session);
  if (!s)
    return setError(MLC_ERROR_OUT_OF_MEMORY, "out of memory");
  s->model = m;
  if (m->cuda) {
    if (mlc_status st = cudaCreateSession(*m->cuda, m->table.arenaSize, s->cuda))
      return st;
    s->numThreads = 1;
    *out = s.release();
    return MLC_OK;
  }
  s->arena = allocArena(m->table);
  if (m->table.arenaSize && !s->arena)
    return setError(MLC_ERROR_OUT_OF_MEMORY, "cannot allocate the activation arena (" +
                                                 std::to_string(m->table.arenaSize) + " bytes)");
  if (mlc_status st = startThreads(s.get(), threads))
    return st;
  *out = s.release();
  return MLC_OK;
}

void mlc_session_free(mlc_session *s) { delete s; }

mlc_status mlc_session_set_num_threads(mlc_session *s, int32_t n) {
  if (!s)
    return setError(MLC_ERROR_INVALID_ARGUMENT, "null session");
  if (n < 0 || n > kMaxThreads)
    return setError(MLC_ERROR_INVALID_ARGUMENT,
                    "the thread count must be from 1 to " + std::to_string(kMaxThreads) +
                        " (0: the default), got " + std::to_string(n));
  if (n == 0)
    if (mlc_status st = defaultNumThreads(n))
      return st;
  return startThreads(s, n);
}

int32_t mlc_session_num_threads(const mlc_session *s) { return s ? s->numThreads : 0; }

mlc_status mlc_session_set_profiling(mlc_session *s, int enabled) {
  if (!s)
    return setError(MLC_ERROR_INVALID_ARGUMENT, "null session");
  if (enabled && !s->profiling)
    s->events.clear();
  s->profiling = enabled != 0;
  return MLC_OK;
}

size_t mlc_session_profile_events(const mlc_session *s, const mlc_profile_event **events) {
  if (events)
    *events = s && !s->events.empty() ? s->events.data() : nullptr;
  return s ? s->events.size() : 0;
}

void mlc_session_clear_profile(mlc_session *s) {
  if (s)
    s->events.clear();
}

} // extern "C"

//===----------------------------------------------------------------------===//
// Running
//===----------------------------------------------------------------------===//

namespace {

/// The most bytes one input may hold (2^48, as the compiler's limit).
constexpr size_t kMaxBytes = size_t(1) << 48;

std::string shapeText(const int64_t *dims, int32_t rank) {
  std::string s = "[";
  for (int32_t i = 0; i < rank; ++i)
    s += (i ? "x" : "") + (dims[i] < 0 ? std::string("?") : std::to_string(dims[i]));
  return s + "]";
}

/// Checks inputs against the signature: dtype, rank, static dims and
/// symbolic dims shared between inputs.
mlc_status validateInputs(const ModelTable &t, const mlc_tensor *in, size_t n) {
  if (n != t.inputs.size())
    return setError(MLC_ERROR_INVALID_ARGUMENT, "the model takes " + std::to_string(t.inputs.size()) +
                                                    " inputs, " + std::to_string(n) + " were given");
  if (n && !in)
    return setError(MLC_ERROR_INVALID_ARGUMENT, "null inputs array");
  std::map<std::string, std::pair<int64_t, std::string>> symbols;
  for (size_t i = 0; i < n; ++i) {
    const mlc_abi_tensor_v1 &sig = t.inputs[i];
    const mlc_tensor &x = in[i];
    std::string who = std::string("input '") + sig.name + "'";
    if (x.dtype != (mlc_dtype)sig.dtype)
      return setError(MLC_ERROR_INVALID_ARGUMENT,
                      who + " must be " + mlc_dtype_name((mlc_dtype)sig.dtype) + ", got " +
                          mlc_dtype_name(x.dtype));
    if (x.rank != sig.rank)
      return setError(MLC_ERROR_INVALID_ARGUMENT,
                      who + " must have rank " + std::to_string(sig.rank) + " " +
                          shapeText(sig.dims, sig.rank) + ", got rank " + std::to_string(x.rank));
    if (x.rank < 0 || x.rank > MLC_MAX_RANK)
      return setError(MLC_ERROR_INVALID_ARGUMENT, who + " has an invalid rank");
    size_t elems = 1;
    for (int32_t d = 0; d < x.rank; ++d) {
      int64_t v = x.shape[d];
      if (v < 0)
        return setError(MLC_ERROR_INVALID_ARGUMENT, who + " has a negative dim");
      if (sig.dims[d] >= 0 && v != sig.dims[d])
        return setError(MLC_ERROR_INVALID_ARGUMENT,
                        who + " dim " + std::to_string(d) + " must be " +
                            std::to_string(sig.dims[d]) + " (model shape " +
                            shapeText(sig.dims, sig.rank) + "), got " + std::to_string(v));
      const char *sym = sig.dim_names ? sig.dim_names[d] : "";
      if (sig.dims[d] < 0 && sym && *sym) {
        auto [it, fresh] = symbols.insert({sym, {v, who}});
        if (!fresh && it->second.first != v)
          return setError(MLC_ERROR_INVALID_ARGUMENT,
                          "symbolic dim '" + std::string(sym) + "' is " +
                              std::to_string(it->second.first) + " in " + it->second.second +
                              " but " + std::to_string(v) + " in " + who);
      }
      if (__builtin_mul_overflow(elems, (size_t)v, &elems))
        elems = SIZE_MAX;
    }
    // Whatever size_bytes says, the shape's byte count must be one a
    // machine can hold (an overflow must not wrap to a small number).
    size_t bytes = 0;
    if (__builtin_mul_overflow(elems, mlc_dtype_size(x.dtype), &bytes) || bytes > kMaxBytes)
      return setError(MLC_ERROR_INVALID_ARGUMENT,
                      who + " has shape " + shapeText(x.shape, x.rank) +
                          ", more bytes than any machine holds");
    if (bytes && !x.data)
      return setError(MLC_ERROR_INVALID_ARGUMENT, who + " has no data");
    if (x.size_bytes && x.size_bytes < bytes)
      return setError(MLC_ERROR_INVALID_ARGUMENT,
                      who + " holds " + std::to_string(x.size_bytes) + " bytes, its shape needs " +
                          std::to_string(bytes));
  }
  return MLC_OK;
}

} // namespace

mlc_status mlc::runtime::validateRun(const ModelTable &t, const mlc_tensor *in, size_t nin,
                                     const mlc_tensor *out, size_t nout) {
  if (mlc_status st = validateInputs(t, in, nin))
    return st;
  if (nout != t.outputs.size())
    return setError(MLC_ERROR_INVALID_ARGUMENT, "the model has " +
                                                    std::to_string(t.outputs.size()) +
                                                    " outputs, " + std::to_string(nout) +
                                                    " were given");
  if (nout && !out)
    return setError(MLC_ERROR_INVALID_ARGUMENT, "null outputs array");
  return MLC_OK;
}

std::vector<OutputDesc> mlc::runtime::outputDescs(const ModelTable &t,
                                                  const std::vector<int64_t> &results) {
  std::vector<OutputDesc> out;
  size_t pos = 0;
  for (const mlc_abi_tensor_v1 &sig : t.outputs) {
    int32_t r = sig.rank;
    const int64_t *d = &results[pos];
    pos += 3 + 2 * r;
    OutputDesc o;
    o.alloc = (void *)(intptr_t)d[0];
    size_t esize = mlc_dtype_size((mlc_dtype)sig.dtype);
    o.data = (char *)(intptr_t)d[1] + d[2] * esize;
    o.sizes = d + 3;
    o.strides = d + 3 + r;
    o.elems = 1;
    int64_t expect = 1;
    o.contiguous = true;
    for (int32_t k = r - 1; k >= 0; --k) {
      if (o.sizes[k] != 1 && o.strides[k] != expect)
        o.contiguous = false;
      expect *= o.sizes[k];
      o.elems *= (size_t)o.sizes[k];
    }
    if (o.elems == 0)
      o.contiguous = true; // no element to place
    o.bytes = o.elems * esize;
    out.push_back(o);
  }
  return out;
}

RunArgs::RunArgs(const ModelTable &t, const mlc_tensor *in, const std::vector<void *> &data,
                 void *arena)
    : descs(data.size() + 1), args(data.size() + 1) {
  for (size_t i = 0; i < data.size(); ++i) {
    int32_t r = in[i].rank;
    auto &d = descs[i];
    d.assign(3 + 2 * r, 0);
    d[0] = d[1] = (int64_t)(intptr_t)data[i];
    int64_t stride = 1;
    for (int32_t k = r - 1; k >= 0; --k) {
      d[3 + k] = in[i].shape[k];
      d[3 + r + k] = stride;
      stride *= in[i].shape[k];
    }
    args[i] = d.data();
  }
  size_t n = data.size();
  descs[n] = {(int64_t)(intptr_t)arena, (int64_t)(intptr_t)arena, 0, (int64_t)t.arenaSize, 1};
  args[n] = descs[n].data();
  size_t resultWords = 0;
  for (const mlc_abi_tensor_v1 &o : t.outputs)
    resultWords += 3 + 2 * o.rank;
  results.assign(resultWords + 1, 0);
}

void mlc::runtime::serialParallelFor(mlc_exec_ctx *, int64_t n, mlc_task_fn fn, void *closure) {
  if (n > 0)
    fn(closure, 0, n);
}

namespace {

/// Runs the model's run function. `s` is null for mlc_model_run.
mlc_status run(const mlc_model *m, mlc_session *s, void *arena, const mlc_tensor *in,
               size_t nin, mlc_tensor *out, size_t nout) {
  const ModelTable &t = m->table;
  if (s && s->cuda)
    return cudaRun(m, *s->cuda, in, nin, out, nout, /*device=*/false);
  if (mlc_status st = validateRun(t, in, nin, out, nout))
    return st;
  std::vector<void *> data(nin);
  for (size_t i = 0; i < nin; ++i)
    data[i] = in[i].data;
  RunArgs ra(t, in, data, arena);
  std::vector<int64_t> &results = ra.results;

  bool profiling = s && s->profiling;
  // Grow the event list outside the timed hooks where we can.
  if (profiling && s->events.capacity() < s->events.size() + 2 * t.kernels.size() + 1)
    s->events.reserve(2 * (s->events.size() + 2 * t.kernels.size() + 1));
  int64_t begin = profiling ? nowNs() : 0;
  // What the run allocates; whatever it still holds when this returns
  // (all of it, if the run was abandoned) is freed with it.
  RunState state;
  state.session = s;
  if (t.runV2) {
    mlc_exec_ctx ctx{};
    ctx.size = sizeof ctx;
    ctx.num_threads = s ? (uint32_t)s->pool->numThreads() : 1;
    ctx.runtime = &state;
    ctx.parallel_for = s ? sessionParallelFor : serialParallelFor;
    if (profiling) {
      ctx.kernel_begin = profileKernelBegin;
      ctx.kernel_end = profileKernelEnd;
    }
    ctx.alloc = runAlloc;
    ctx.free = runFree;
    auto call = [&] { t.runV2(&ctx, results.data(), ra.args.data()); };
    recoverableCall(call);
  } else {
    t.runV1(results.data(), ra.args.data()); // no context: one thread, no kernel events
  }
  if (profiling)
    s->events.push_back({-1, 0, begin, nowNs()});
  std::string taskError = s && s->pool ? s->pool->takeError() : "";
  if (state.memory.failed())
    return setError(MLC_ERROR_OUT_OF_MEMORY, state.memory.error());
  mlc_status status = MLC_OK;
  if (!taskError.empty())
    status = setError(MLC_ERROR_INTERNAL, "a parallel task of the model failed: " + taskError);

  // Take each output buffer: copy it where the caller wants it, then free.
  std::vector<OutputDesc> descs = outputDescs(t, results);
  for (size_t i = 0; i < nout; ++i) {
    const mlc_abi_tensor_v1 &sig = t.outputs[i];
    const OutputDesc &d = descs[i];
    int32_t r = sig.rank;
    size_t esize = mlc_dtype_size((mlc_dtype)sig.dtype), bytes = d.bytes;
    mlc_tensor &o = out[i];
    if (status == MLC_OK) {
      if (!o.data) {
        o.data = std::malloc(bytes ? bytes : 1);
        if (!o.data)
          status = setError(MLC_ERROR_OUT_OF_MEMORY, "cannot allocate output");
        else
          o.size_bytes = bytes;
      } else if (o.size_bytes < bytes) {
        status = setError(MLC_ERROR_INVALID_ARGUMENT,
                          std::string("output '") + sig.name + "' needs " + std::to_string(bytes) +
                              " bytes, the buffer given holds " + std::to_string(o.size_bytes));
      }
    }
    if (status == MLC_OK) {
      o.dtype = (mlc_dtype)sig.dtype;
      o.rank = r;
      for (int32_t k = 0; k < r; ++k)
        o.shape[k] = d.sizes[k];
      // Outputs are fresh row-major buffers; copy element-wise by strides
      // only if that ever stops holding.
      if (d.contiguous) {
        if (bytes)
          std::memcpy(o.data, d.data, bytes);
      } else {
        std::vector<int64_t> idx(r, 0);
        for (size_t e = 0; e < d.elems; ++e) {
          int64_t off = 0;
          for (int32_t k = 0; k < r; ++k)
            off += idx[k] * d.strides[k];
          std::memcpy((char *)o.data + e * esize, d.data + off * esize, esize);
          for (int32_t k = r - 1; k >= 0; --k) {
            if (++idx[k] < d.sizes[k])
              break;
            idx[k] = 0;
          }
        }
      }
    }
    if (!state.memory.releaseIfOwned(d.alloc))
      std::free(d.alloc); // a model that allocates with malloc (mlc 0.3.0 and older)
  }
  return status;
}

mlc_status runGuarded(const mlc_model *m, mlc_session *s, void *arena, const mlc_tensor *in,
                      size_t nin, mlc_tensor *out, size_t nout) {
  try {
    return run(m, s, arena, in, nin, out, nout);
  } catch (const std::bad_alloc &) {
    return setError(MLC_ERROR_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception &e) {
    return setError(MLC_ERROR_INTERNAL, e.what());
  }
}

} // namespace

extern "C" mlc_status mlc_session_run(mlc_session *s, const mlc_tensor *in, size_t nin,
                                      mlc_tensor *out, size_t nout) {
  if (!s)
    return setError(MLC_ERROR_INVALID_ARGUMENT, "null session");
  return runGuarded(s->model, s, s->arena, in, nin, out, nout);
}

extern "C" mlc_status mlc_model_run(const mlc_model *m, const mlc_tensor *in, size_t nin,
                                    mlc_tensor *out, size_t nout) {
  if (!m)
    return setError(MLC_ERROR_INVALID_ARGUMENT, "null model");
  if (mlc_status st = checkRunnable(m))
    return st;
  if (m->cuda) { // a temporary session: its own stream and device arena
    mlc_session *s = nullptr;
    if (mlc_status st = mlc_session_create(m, &s))
      return st;
    mlc_status st = runGuarded(m, s, nullptr, in, nin, out, nout);
    mlc_session_free(s);
    return st;
  }
  void *arena = allocArena(m->table);
  if (m->table.arenaSize && !arena)
    return setError(MLC_ERROR_OUT_OF_MEMORY, "cannot allocate the activation arena");
  mlc_status st = runGuarded(m, nullptr, arena, in, nin, out, nout);
  std::free(arena);
  return st;
}
