//===- Model.cpp - loading a compiled model and describing it -----------===//
#include "Cuda.h"
#include "Internal.h"

#include <cpuid.h>
#include <dlfcn.h>
#include <link.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <new>
#include <string>
#include <vector>

using namespace mlc::runtime;

namespace {

thread_local std::string lastError;

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


mlc_status mlc::runtime::setError(mlc_status s, std::string msg) {
  lastError = std::move(msg);
  return s;
}

void *mlc::runtime::allocArena(const ModelTable &t) {
  if (t.arenaSize == 0)
    return nullptr;
  uint64_t align = 64;
  while (align < t.arenaAlignment && align < (1u << 20))
    align *= 2;
  uint64_t rounded = (t.arenaSize + align - 1) / align * align;
  return std::aligned_alloc(align, rounded);
}

mlc_model::~mlc_model() {
  cuda.reset(); // its modules came from the library
  if (handle)
    dlclose(handle);
}

//===----------------------------------------------------------------------===//
// Opening a model
//===----------------------------------------------------------------------===//

namespace {

/// Checks the file at `path` and reads its table: from the file only
/// (`load` false: nothing of the model runs) or after loading it. Every
/// message is built before the library would be closed.
mlc_status openModel(const char *path, bool load, mlc_model &m) {
  std::string who = std::string("'") + path + "'";
  m.path = path;
  m.file = std::make_unique<ArtifactFile>();
  if (mlc_status s = m.file->open(path))
    return s;
  ArtifactFile &file = *m.file;
  uint64_t tableVa = 0, entryVa = 0;
  uint32_t version = 0;
  bool exportsTable = file.symbol(MLC_ABI_TABLE, tableVa);
  if (file.symbol(MLC_ABI_ENTRY, entryVa))
    version = 2;
  else if (file.symbol(MLC_ABI_ENTRY_V1, entryVa))
    version = 1;
  if (!version) {
    for (int v = 3; v <= 9; ++v)
      if (file.symbol(("mlc_model_v" + std::to_string(v)).c_str(), entryVa))
        return setError(MLC_ERROR_ABI, who + " uses model ABI v" + std::to_string(v) +
                                           "; this runtime reads v1 and v2 \u2014 upgrade the mlc "
                                           "runtime");
    return setError(MLC_ERROR_LOAD, who + " is not an mlc model (no " MLC_ABI_ENTRY " or " +
                                        MLC_ABI_ENTRY_V1 + " symbol)");
  }
  if (!load) {
    if (version != 2 || !exportsTable)
      return setError(MLC_ERROR_ABI,
                      who + " was built by an mlc older than 0.3, which does not export " +
                          MLC_ABI_TABLE + "; only loading it (mlc_model_load) can describe it");
    return readModelTable(file, nullptr, tableVa, 2, who, m.table);
  }

  // dlopen needs a path with a slash to avoid a library search.
  std::string p = path;
  if (p.find('/') == std::string::npos)
    p = "./" + p;
  m.handle = dlopen(p.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!m.handle)
    return setError(MLC_ERROR_LOAD, "cannot load " + who + ": " + dlerror());
  struct link_map *lm = nullptr;
  if (dlinfo(m.handle, RTLD_DI_LINKMAP, &lm) != 0 || !lm)
    return setError(MLC_ERROR_LOAD, "cannot load " + who + ": no link map");
  const char *base = reinterpret_cast<const char *>(lm->l_addr);
  if (!exportsTable) {
    // Older models: the table is only reachable through the entry function.
    const void *table = version == 2 ? (const void *)reinterpret_cast<mlc_abi_entry_v2>(
                                           const_cast<char *>(base + entryVa))()
                                     : (const void *)reinterpret_cast<mlc_abi_entry_v1>(
                                           const_cast<char *>(base + entryVa))();
    if ((const char *)table < base)
      return setError(MLC_ERROR_LOAD, who + " has a malformed model table (none)");
    tableVa = (uint64_t)((const char *)table - base);
  }
  if (mlc_status s = readModelTable(file, base, tableVa, version, who, m.table))
    return s;
  m.file.reset(); // the table points into the loaded library
  return MLC_OK;
}

} // namespace

//===----------------------------------------------------------------------===//
// C API
//===----------------------------------------------------------------------===//

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
  case MLC_ERROR_DEVICE: return "device error";
  }
  return "unknown status";
}

const char *mlc_dtype_name(mlc_dtype t) {
  switch (t) {
#define MLC_DTYPE(ENUM, VALUE, NAME, SIZE, KIND, BITS, ONNX, STORE)                              \
  case MLC_DTYPE_##ENUM:                                                                         \
    return NAME;
#include "mlc/dtypes.def"
  default: return "invalid";
  }
}

size_t mlc_dtype_size(mlc_dtype t) {
  switch (t) {
#define MLC_DTYPE(ENUM, VALUE, NAME, SIZE, KIND, BITS, ONNX, STORE)                              \
  case MLC_DTYPE_##ENUM:                                                                         \
    return SIZE;
#include "mlc/dtypes.def"
  default: return 0;
  }
}

static mlc_status createModel(const char *path, bool load, mlc_model **out) {
  if (!path || !out)
    return setError(MLC_ERROR_INVALID_ARGUMENT, load ? "mlc_model_load: null argument"
                                                     : "mlc_model_load_info: null argument");
  *out = nullptr;
  auto m = std::unique_ptr<mlc_model>(new (std::nothrow) mlc_model);
  if (!m)
    return setError(MLC_ERROR_OUT_OF_MEMORY, "out of memory");
  try {
    // On failure ~mlc_model closes the library after the message is built.
    if (mlc_status s = openModel(path, load, *m))
      return s;
    if (load) {
      auto cpu = detectCpuFeatures();
      for (const std::string &f : splitComma(m->table.cpuFeatures))
        if (!cpu[f])
          return setError(MLC_ERROR_UNSUPPORTED_CPU,
                          std::string("'") + path + "' needs the CPU feature '" + f +
                              "', which this CPU lacks; recompile with --cpu for this "
                              "machine (e.g. --cpu x86-64-v2)");
      if (std::string(m->table.target) == "cuda") {
        if (!m->table.runV2)
          return setError(MLC_ERROR_LOAD, std::string("'") + path + "' is a CUDA model "
                                          "without an ABI v2 table");
        if (mlc_status s = cudaLoadModel(std::string("'") + path + "'", m->table.cpuName,
                                         m->cuda))
          return s;
      }
    }
    m->abiVersion = std::to_string(m->table.abiVersion);
    m->arenaSize = std::to_string(m->table.arenaSize);
    m->numKernels = std::to_string(m->table.kernels.size());
  } catch (const std::bad_alloc &) {
    return setError(MLC_ERROR_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception &e) {
    return setError(MLC_ERROR_INTERNAL, std::string("loading '") + path + "': " + e.what());
  }
  *out = m.release();
  return MLC_OK;
}

mlc_status mlc_model_load(const char *path, mlc_model **out) {
  return createModel(path, /*load=*/true, out);
}

mlc_status mlc_model_load_info(const char *path, mlc_model **out) {
  return createModel(path, /*load=*/false, out);
}

void mlc_model_free(mlc_model *m) { delete m; }

size_t mlc_model_num_inputs(const mlc_model *m) { return m ? m->table.inputs.size() : 0; }
size_t mlc_model_num_outputs(const mlc_model *m) { return m ? m->table.outputs.size() : 0; }

static mlc_status describe(const std::vector<mlc_abi_tensor_v1> &list, size_t i,
                           mlc_tensor_info *info, const char *what) {
  if (!info)
    return setError(MLC_ERROR_INVALID_ARGUMENT, "null info pointer");
  if (i >= list.size())
    return setError(MLC_ERROR_INVALID_ARGUMENT, std::string(what) + " index " +
                                                    std::to_string(i) + " out of range (model has " +
                                                    std::to_string(list.size()) + ")");
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
  return describe(m->table.inputs, i, info, "input");
}

mlc_status mlc_model_output_info(const mlc_model *m, size_t i, mlc_tensor_info *info) {
  if (!m)
    return setError(MLC_ERROR_INVALID_ARGUMENT, "null model");
  return describe(m->table.outputs, i, info, "output");
}

const char *mlc_model_metadata(const mlc_model *m, const char *key) {
  if (!m || !key)
    return nullptr;
  const ModelTable &t = m->table;
  auto is = [&](const char *k) { return std::strcmp(key, k) == 0; };
  if (is("compiler_version")) return t.compilerVersion;
  if (is("compile_options")) return t.compileOptions;
  if (is("target")) return t.target;
  if (is("cpu")) return t.cpuName;
  if (is("cpu_features")) return t.cpuFeatures;
  if (is("abi_version")) return m->abiVersion.c_str();
  if (is("arena_size")) return m->arenaSize.c_str();
  if (is("num_kernels")) return m->numKernels.c_str();
  return nullptr;
}

size_t mlc_model_num_kernels(const mlc_model *m) { return m ? m->table.kernels.size() : 0; }

mlc_status mlc_model_kernel_info(const mlc_model *m, size_t i, mlc_kernel_info *info) {
  if (!m || !info)
    return setError(MLC_ERROR_INVALID_ARGUMENT, "mlc_model_kernel_info: null argument");
  if (i >= m->table.kernels.size())
    return setError(MLC_ERROR_INVALID_ARGUMENT,
                    "kernel index " + std::to_string(i) + " out of range (model has " +
                        std::to_string(m->table.kernels.size()) + ")");
  info->name = m->table.kernels[i].name;
  info->flops = m->table.kernels[i].flops;
  return MLC_OK;
}

void mlc_tensor_release(mlc_tensor *t) {
  if (!t)
    return;
  std::free(t->data);
  t->data = nullptr;
  t->size_bytes = 0;
}

} // extern "C"
