//===- runtime.cpp - loader, validation and execution of compiled models -===//
#include "mlc/abi.h"
#include "mlc/runtime.h"

#include <cpuid.h>
#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <vector>

namespace {

thread_local std::string lastError;

mlc_status setError(mlc_status s, std::string msg) {
  lastError = std::move(msg);
  return s;
}

//===----------------------------------------------------------------------===//
// CPU features
//===----------------------------------------------------------------------===//

/// Features of this CPU that the OS has enabled, by LLVM's x86 names.
std::map<std::string, bool> detectCpuFeatures() {
  std::map<std::string, bool> f;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d))
    return f;
  bool osxsave = c & (1u << 27);
  unsigned long long xcr0 = 0;
  if (osxsave) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    xcr0 = ((unsigned long long)hi << 32) | lo;
  }
  bool avxOs = (xcr0 & 0x6) == 0x6;
  bool avx512Os = avxOs && (xcr0 & 0xe0) == 0xe0;
  f["sse4.1"] = c & (1u << 19);
  f["sse4.2"] = c & (1u << 20);
  f["avx"] = avxOs && (c & (1u << 28));
  f["fma"] = avxOs && (c & (1u << 12));
  f["f16c"] = avxOs && (c & (1u << 29));
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    f["avx2"] = avxOs && (b & (1u << 5));
    f["avx512f"] = avx512Os && (b & (1u << 16));
    f["avx512dq"] = avx512Os && (b & (1u << 17));
    f["avx512cd"] = avx512Os && (b & (1u << 28));
    f["avx512bw"] = avx512Os && (b & (1u << 30));
    f["avx512vl"] = avx512Os && (b & (1u << 31));
    f["avx512vnni"] = avx512Os && (c & (1u << 11));
  }
  if (__get_cpuid_count(7, 1, &a, &b, &c, &d))
    f["avx512bf16"] = avx512Os && (a & (1u << 5));
  // Testing knob: pretend the CPU lacks these (comma-separated).
  if (const char *off = std::getenv("MLC_RUNTIME_DISABLE_CPU_FEATURES")) {
    std::string s = off;
    size_t pos = 0;
    while (pos <= s.size()) {
      size_t end = s.find(',', pos);
      if (end == std::string::npos)
        end = s.size();
      f[s.substr(pos, end - pos)] = false;
      pos = end + 1;
    }
  }
  return f;
}

std::vector<std::string> splitComma(const char *s) {
  std::vector<std::string> out;
  std::string cur;
  for (const char *p = s ? s : ""; *p; ++p) {
    if (*p == ',') {
      if (!cur.empty())
        out.push_back(cur);
      cur.clear();
    } else {
      cur += *p;
    }
  }
  if (!cur.empty())
    out.push_back(cur);
  return out;
}

} // namespace

//===----------------------------------------------------------------------===//
// Model
//===----------------------------------------------------------------------===//

struct mlc_model {
  void *handle = nullptr;
  const mlc_abi_model_v1 *table = nullptr;
  std::string path;
  std::string abiVersion, arenaSize;
  ~mlc_model() {
    if (handle)
      dlclose(handle);
  }
};

struct mlc_session {
  const mlc_model *model;
  void *arena = nullptr;
  ~mlc_session() { std::free(arena); }
};

extern "C" {

const char *mlc_last_error(void) { return lastError.c_str(); }

const char *mlc_status_name(mlc_status s) {
  switch (s) {
  case MLC_OK: return "ok";
  case MLC_ERROR_INVALID_ARGUMENT: return "invalid argument";
  case MLC_ERROR_LOAD: return "load error";
  case MLC_ERROR_ABI: return "ABI mismatch";
  case MLC_ERROR_UNSUPPORTED_CPU: return "unsupported CPU";
  case MLC_ERROR_OUT_OF_MEMORY: return "out of memory";
  case MLC_ERROR_INTERNAL: return "internal error";
  }
  return "unknown status";
}

const char *mlc_dtype_name(mlc_dtype t) {
  switch (t) {
  case MLC_DTYPE_F32: return "float32";
  case MLC_DTYPE_F64: return "float64";
  case MLC_DTYPE_F16: return "float16";
  case MLC_DTYPE_I64: return "int64";
  case MLC_DTYPE_I32: return "int32";
  case MLC_DTYPE_I16: return "int16";
  case MLC_DTYPE_I8: return "int8";
  case MLC_DTYPE_U8: return "uint8";
  case MLC_DTYPE_BOOL: return "bool";
  default: return "invalid";
  }
}

size_t mlc_dtype_size(mlc_dtype t) {
  switch (t) {
  case MLC_DTYPE_F64:
  case MLC_DTYPE_I64: return 8;
  case MLC_DTYPE_F32:
  case MLC_DTYPE_I32: return 4;
  case MLC_DTYPE_F16:
  case MLC_DTYPE_I16: return 2;
  case MLC_DTYPE_I8:
  case MLC_DTYPE_U8:
  case MLC_DTYPE_BOOL: return 1;
  default: return 0;
  }
}

mlc_status mlc_model_load(const char *path, mlc_model **out) {
  if (!path || !out)
    return setError(MLC_ERROR_INVALID_ARGUMENT, "mlc_model_load: null argument");
  *out = nullptr;
  // dlopen needs a path with a slash to avoid a library search.
  std::string p = path;
  if (p.find('/') == std::string::npos)
    p = "./" + p;
  void *h = dlopen(p.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h)
    return setError(MLC_ERROR_LOAD, std::string("cannot load '") + path + "': " + dlerror());
  auto entry = reinterpret_cast<mlc_abi_entry_v1>(dlsym(h, MLC_ABI_ENTRY));
  if (!entry) {
    bool newer = dlsym(h, "mlc_model_v2") != nullptr;
    dlclose(h);
    return setError(newer ? MLC_ERROR_ABI : MLC_ERROR_LOAD,
                    newer ? std::string("'") + path + "' was built for a newer mlc runtime ABI; "
                                                      "upgrade the runtime"
                          : std::string("'") + path + "' is not an mlc model (no " +
                                MLC_ABI_ENTRY + " symbol)");
  }
  const mlc_abi_model_v1 *t = entry();
  if (!t || t->abi_version != MLC_ABI_VERSION) {
    dlclose(h);
    return setError(MLC_ERROR_ABI, std::string("'") + path + "' has ABI version " +
                                       std::to_string(t ? t->abi_version : 0) +
                                       ", this runtime reads " +
                                       std::to_string(MLC_ABI_VERSION));
  }
  auto cpu = detectCpuFeatures();
  for (const std::string &f : splitComma(t->cpu_features))
    if (!cpu[f]) {
      dlclose(h);
      return setError(MLC_ERROR_UNSUPPORTED_CPU,
                      std::string("'") + path + "' needs the CPU feature '" + f +
                          "', which this CPU lacks; recompile with --cpu for this "
                          "machine (e.g. --cpu x86-64-v2)");
    }
  auto *m = new (std::nothrow) mlc_model;
  if (!m) {
    dlclose(h);
    return setError(MLC_ERROR_OUT_OF_MEMORY, "out of memory");
  }
  m->handle = h;
  m->table = t;
  m->path = path;
  m->abiVersion = std::to_string(t->abi_version);
  m->arenaSize = std::to_string(t->arena_size);
  *out = m;
  return MLC_OK;
}

void mlc_model_free(mlc_model *m) { delete m; }

size_t mlc_model_num_inputs(const mlc_model *m) { return m ? m->table->num_inputs : 0; }
size_t mlc_model_num_outputs(const mlc_model *m) { return m ? m->table->num_outputs : 0; }

static mlc_status describe(const mlc_abi_tensor_v1 *list, size_t n, size_t i,
                           mlc_tensor_info *info, const char *what) {
  if (!info)
    return setError(MLC_ERROR_INVALID_ARGUMENT, "null info pointer");
  if (i >= n)
    return setError(MLC_ERROR_INVALID_ARGUMENT, std::string(what) + " index " +
                                                    std::to_string(i) + " out of range (model has " +
                                                    std::to_string(n) + ")");
  const mlc_abi_tensor_v1 &t = list[i];
  info->name = t.name;
  info->dtype = (mlc_dtype)t.dtype;
  info->rank = t.rank;
  info->dims = t.dims;
  info->dim_names = t.dim_names;
  return MLC_OK;
}

mlc_status mlc_model_input_info(const mlc_model *m, size_t i, mlc_tensor_info *info) {
  if (!m)
    return setError(MLC_ERROR_INVALID_ARGUMENT, "null model");
  return describe(m->table->inputs, m->table->num_inputs, i, info, "input");
}

mlc_status mlc_model_output_info(const mlc_model *m, size_t i, mlc_tensor_info *info) {
  if (!m)
    return setError(MLC_ERROR_INVALID_ARGUMENT, "null model");
  return describe(m->table->outputs, m->table->num_outputs, i, info, "output");
}

const char *mlc_model_metadata(const mlc_model *m, const char *key) {
  if (!m || !key)
    return nullptr;
  std::string k = key;
  const mlc_abi_model_v1 *t = m->table;
  if (k == "compiler_version") return t->compiler_version;
  if (k == "compile_options") return t->compile_options;
  if (k == "target") return t->target;
  if (k == "cpu") return t->cpu_name;
  if (k == "cpu_features") return t->cpu_features;
  if (k == "abi_version") return m->abiVersion.c_str();
  if (k == "arena_size") return m->arenaSize.c_str();
  return nullptr;
}

static void *allocArena(uint64_t size) {
  if (size == 0)
    return nullptr;
  size_t rounded = (size + 63) / 64 * 64;
  return std::aligned_alloc(64, rounded);
}

mlc_status mlc_session_create(const mlc_model *m, mlc_session **out) {
  if (!m || !out)
    return setError(MLC_ERROR_INVALID_ARGUMENT, "mlc_session_create: null argument");
  auto *s = new (std::nothrow) mlc_session{m};
  if (!s)
    return setError(MLC_ERROR_OUT_OF_MEMORY, "out of memory");
  s->arena = allocArena(m->table->arena_size);
  if (m->table->arena_size && !s->arena) {
    delete s;
    return setError(MLC_ERROR_OUT_OF_MEMORY, "cannot allocate the activation arena (" +
                                                 std::to_string(m->table->arena_size) + " bytes)");
  }
  *out = s;
  return MLC_OK;
}

void mlc_session_free(mlc_session *s) { delete s; }

void mlc_tensor_release(mlc_tensor *t) {
  if (!t)
    return;
  std::free(t->data);
  t->data = nullptr;
  t->size_bytes = 0;
}

} // extern "C"

//===----------------------------------------------------------------------===//
// Running
//===----------------------------------------------------------------------===//

namespace {

std::string shapeText(const int64_t *dims, int32_t rank) {
  std::string s = "[";
  for (int32_t i = 0; i < rank; ++i)
    s += (i ? "x" : "") + (dims[i] < 0 ? std::string("?") : std::to_string(dims[i]));
  return s + "]";
}

/// Checks inputs against the signature: dtype, rank, static dims and
/// symbolic dims shared between inputs.
mlc_status validateInputs(const mlc_abi_model_v1 *t, const mlc_tensor *in, size_t n) {
  if (n != t->num_inputs)
    return setError(MLC_ERROR_INVALID_ARGUMENT, "the model takes " + std::to_string(t->num_inputs) +
                                                    " inputs, " + std::to_string(n) + " were given");
  if (n && !in)
    return setError(MLC_ERROR_INVALID_ARGUMENT, "null inputs array");
  std::map<std::string, std::pair<int64_t, std::string>> symbols;
  for (size_t i = 0; i < n; ++i) {
    const mlc_abi_tensor_v1 &sig = t->inputs[i];
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
      elems *= (size_t)v;
    }
    size_t bytes = elems * mlc_dtype_size(x.dtype);
    if (bytes && !x.data)
      return setError(MLC_ERROR_INVALID_ARGUMENT, who + " has no data");
    if (x.size_bytes && x.size_bytes < bytes)
      return setError(MLC_ERROR_INVALID_ARGUMENT,
                      who + " holds " + std::to_string(x.size_bytes) + " bytes, its shape needs " +
                          std::to_string(bytes));
  }
  return MLC_OK;
}

mlc_status run(const mlc_model *m, void *arena, const mlc_tensor *in, size_t nin,
               mlc_tensor *out, size_t nout) {
  const mlc_abi_model_v1 *t = m->table;
  if (mlc_status s = validateInputs(t, in, nin))
    return s;
  if (nout != t->num_outputs)
    return setError(MLC_ERROR_INVALID_ARGUMENT, "the model has " + std::to_string(t->num_outputs) +
                                                    " outputs, " + std::to_string(nout) +
                                                    " were given");
  if (nout && !out)
    return setError(MLC_ERROR_INVALID_ARGUMENT, "null outputs array");
  // Input descriptors: {alloc, aligned, offset, sizes[r], strides[r]}.
  std::vector<std::vector<int64_t>> descs(nin + 1);
  std::vector<void *> args(nin + 1);
  for (size_t i = 0; i < nin; ++i) {
    int32_t r = in[i].rank;
    auto &d = descs[i];
    d.assign(3 + 2 * r, 0);
    d[0] = d[1] = (int64_t)(intptr_t)in[i].data;
    int64_t stride = 1;
    for (int32_t k = r - 1; k >= 0; --k) {
      d[3 + k] = in[i].shape[k];
      d[3 + r + k] = stride;
      stride *= in[i].shape[k];
    }
    args[i] = d.data();
  }
  descs[nin] = {(int64_t)(intptr_t)arena, (int64_t)(intptr_t)arena, 0,
                (int64_t)t->arena_size, 1};
  args[nin] = descs[nin].data();
  size_t resultWords = 0;
  for (size_t i = 0; i < nout; ++i)
    resultWords += 3 + 2 * t->outputs[i].rank;
  std::vector<int64_t> results(resultWords + 1, 0);
  t->run(results.data(), args.data());

  // Take each output buffer: copy it where the caller wants it, then free.
  mlc_status status = MLC_OK;
  size_t pos = 0;
  for (size_t i = 0; i < nout; ++i) {
    const mlc_abi_tensor_v1 &sig = t->outputs[i];
    int32_t r = sig.rank;
    int64_t *d = &results[pos];
    pos += 3 + 2 * r;
    void *alloc = (void *)(intptr_t)d[0];
    char *base = (char *)(intptr_t)d[1];
    size_t esize = mlc_dtype_size((mlc_dtype)sig.dtype);
    size_t elems = 1;
    for (int32_t k = 0; k < r; ++k)
      elems *= (size_t)d[3 + k];
    size_t bytes = elems * esize;
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
        o.shape[k] = d[3 + k];
      // Outputs are fresh row-major buffers; copy element-wise by strides
      // only if that ever stops holding.
      bool contiguous = true;
      int64_t expect = 1;
      for (int32_t k = r - 1; k >= 0; --k) {
        if (d[3 + k] != 1 && d[3 + r + k] != expect)
          contiguous = false;
        expect *= d[3 + k];
      }
      char *src = base + d[2] * esize;
      if (contiguous) {
        std::memcpy(o.data, src, bytes);
      } else {
        std::vector<int64_t> idx(r, 0);
        for (size_t e = 0; e < elems; ++e) {
          int64_t off = 0;
          for (int32_t k = 0; k < r; ++k)
            off += idx[k] * d[3 + r + k];
          std::memcpy((char *)o.data + e * esize, src + off * esize, esize);
          for (int32_t k = r - 1; k >= 0; --k) {
            if (++idx[k] < d[3 + k])
              break;
            idx[k] = 0;
          }
        }
      }
    }
    std::free(alloc);
  }
  return status;
}

} // namespace

extern "C" mlc_status mlc_session_run(mlc_session *s, const mlc_tensor *in, size_t nin,
                                      mlc_tensor *out, size_t nout) {
  if (!s)
    return setError(MLC_ERROR_INVALID_ARGUMENT, "null session");
  return run(s->model, s->arena, in, nin, out, nout);
}

extern "C" mlc_status mlc_model_run(const mlc_model *m, const mlc_tensor *in, size_t nin,
                                    mlc_tensor *out, size_t nout) {
  if (!m)
    return setError(MLC_ERROR_INVALID_ARGUMENT, "null model");
  void *arena = allocArena(m->table->arena_size);
  if (m->table->arena_size && !arena)
    return setError(MLC_ERROR_OUT_OF_MEMORY, "cannot allocate the activation arena");
  mlc_status s = run(m, arena, in, nin, out, nout);
  std::free(arena);
  return s;
}
