//===- Cuda.cpp - the runtime's CUDA side: driver, device memory, launches ===//
#include "Cuda.h"
#include "Internal.h"

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <vector>

using namespace mlc::runtime;

//===----------------------------------------------------------------------===//
// The driver API, loaded at run time (declared here: no CUDA header needed)
//===----------------------------------------------------------------------===//

namespace {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using Ptr = void *;
template <class T> using Id = T;
constexpr int kComputeMajor = 75, kComputeMinor = 76; // CU_DEVICE_ATTRIBUTE_*
constexpr unsigned kStreamNonBlocking = 1;

struct Driver {
  void *lib = nullptr;
  std::string loadError;
#define MLC_CU_FUNCTIONS(X)                                                                 \
  X(cuInit, CUresult (*)(unsigned))                                                         \
  X(cuDeviceGetCount, CUresult (*)(int *))                                                  \
  X(cuDeviceGet, CUresult (*)(CUdevice *, int))                                             \
  X(cuDeviceGetAttribute, CUresult (*)(int *, int, CUdevice))                               \
  X(cuDeviceGetName, CUresult (*)(char *, int, CUdevice))                                   \
  X(cuDevicePrimaryCtxRetain, CUresult (*)(Ptr *, CUdevice))                                \
  X(cuDevicePrimaryCtxRelease_v2, CUresult (*)(CUdevice))                                   \
  X(cuCtxSetCurrent, CUresult (*)(Ptr))                                                     \
  X(cuModuleLoadData, CUresult (*)(Ptr *, const void *))                                    \
  X(cuModuleUnload, CUresult (*)(Ptr))                                                      \
  X(cuModuleGetFunction, CUresult (*)(Ptr *, Ptr, const char *))                            \
  X(cuLaunchKernel, CUresult (*)(Ptr, unsigned, unsigned, unsigned, unsigned, unsigned,     \
                                 unsigned, unsigned, Ptr, void **, void **))                \
  X(cuStreamCreate, CUresult (*)(Ptr *, unsigned))                                          \
  X(cuStreamDestroy_v2, CUresult (*)(Ptr))                                                  \
  X(cuStreamSynchronize, CUresult (*)(Ptr))                                                 \
  X(cuMemAlloc_v2, CUresult (*)(CUdeviceptr *, size_t))                                     \
  X(cuMemFree_v2, CUresult (*)(CUdeviceptr))                                                \
  X(cuMemAllocAsync, CUresult (*)(CUdeviceptr *, size_t, Ptr))                              \
  X(cuMemFreeAsync, CUresult (*)(CUdeviceptr, Ptr))                                         \
  X(cuMemcpyHtoDAsync_v2, CUresult (*)(CUdeviceptr, const void *, size_t, Ptr))             \
  X(cuMemcpyDtoHAsync_v2, CUresult (*)(void *, CUdeviceptr, size_t, Ptr))                   \
  X(cuMemcpyDtoDAsync_v2, CUresult (*)(CUdeviceptr, CUdeviceptr, size_t, Ptr))              \
  X(cuMemcpyHtoD_v2, CUresult (*)(CUdeviceptr, const void *, size_t))                       \
  X(cuMemcpyDtoH_v2, CUresult (*)(void *, CUdeviceptr, size_t))                             \
  X(cuGetErrorName, CUresult (*)(CUresult, const char **))                                  \
  X(cuGetErrorString, CUresult (*)(CUresult, const char **))
#define MLC_CU_FIELD(name, type) Id<type> name = nullptr;
  MLC_CU_FUNCTIONS(MLC_CU_FIELD)
#undef MLC_CU_FIELD

  /// Loads the library once; false with loadError set when it cannot.
  bool load() {
    const char *env = std::getenv("MLC_CUDA_DRIVER");
    const char *path = env && *env ? env : "libcuda.so.1";
    lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char *e = dlerror();
      loadError = std::string("the NVIDIA driver library (") + path +
                  ") cannot be loaded: " + (e ? e : "not found") +
                  "; install the NVIDIA driver, or set MLC_CUDA_DRIVER to libcuda.so.1";
      return false;
    }
#define MLC_CU_LOAD(name, type)                                                             \
  name = reinterpret_cast<Id<type>>(dlsym(lib, #name));                                         \
  if (!name) {                                                                              \
    loadError = std::string("the NVIDIA driver library (") + path + ") lacks " #name        \
                "; the driver is too old for mlc's CUDA models (CUDA 12 or newer needed)";  \
    return false;                                                                           \
  }
    MLC_CU_FUNCTIONS(MLC_CU_LOAD)
#undef MLC_CU_LOAD
    CUresult r = cuInit(0);
    if (r != 0) {
      loadError = "the NVIDIA driver did not start (cuInit: " + describe(r) +
                  "); is there a GPU this process may use?";
      return false;
    }
    return true;
  }

  std::string describe(CUresult r) const {
    const char *name = nullptr, *text = nullptr;
    if (cuGetErrorName)
      cuGetErrorName(r, &name);
    if (cuGetErrorString)
      cuGetErrorString(r, &text);
    return std::string(name ? name : "CUDA error " + std::to_string(r)) +
           (text ? std::string(": ") + text : "");
  }
};

/// The process's one instance of a library wrapper (Driver, Blas), loaded
/// on first use; null with `err` set when it cannot be.
template <typename Lib> Lib *loadedOnce(std::string &err) {
  static Lib lib;
  static bool ok = lib.load();
  if (!ok)
    err = lib.loadError;
  return ok ? &lib : nullptr;
}

Driver *driver(std::string &err) { return loadedOnce<Driver>(err); }

/// cuBLAS, loaded on a model's first GEMM.
struct Blas {
  void *lib = nullptr;
  std::string loadError;
  using Handle = void *;
  int (*cublasCreate_v2)(Handle *) = nullptr;
  int (*cublasDestroy_v2)(Handle) = nullptr;
  int (*cublasSetStream_v2)(Handle, void *) = nullptr;
  int (*cublasSgemmStridedBatched)(Handle, int, int, int, int, int, const float *, const float *,
                                   int, long long, const float *, int, long long, const float *,
                                   float *, int, long long, int) = nullptr;

  bool load() {
    std::vector<std::string> paths;
    if (const char *env = std::getenv("MLC_CUBLAS"); env && *env)
      paths.push_back(env);
    else
      for (const char *p : {"libcublas.so.13", "libcublas.so.12",
                            "/usr/local/cuda/lib64/libcublas.so.13",
                            "/usr/local/cuda/lib64/libcublas.so.12"})
        paths.push_back(p);
    std::string tried;
    for (const std::string &p : paths) {
      lib = dlopen(p.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (lib)
        break;
      tried += (tried.empty() ? "" : ", ") + p;
    }
    if (!lib) {
      loadError = "this CUDA model runs its matrix products on cuBLAS, which cannot be loaded "
                  "(tried " + tried + "); install cuBLAS or set MLC_CUBLAS to libcublas.so";
      return false;
    }
    bool ok = true;
    auto sym = [&](auto &fn, const char *name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
      if (!fn && ok) {
        ok = false;
        loadError = std::string("cuBLAS lacks ") + name;
      }
    };
    sym(cublasCreate_v2, "cublasCreate_v2");
    sym(cublasDestroy_v2, "cublasDestroy_v2");
    sym(cublasSetStream_v2, "cublasSetStream_v2");
    sym(cublasSgemmStridedBatched, "cublasSgemmStridedBatched");
    return ok;
  }
};

Blas *blas(std::string &err) { return loadedOnce<Blas>(err); }

/// The driver, once some model loaded it (every caller below runs after).
Driver &cu() {
  std::string unused;
  return *driver(unused);
}

mlc_status deviceError(const std::string &what, CUresult r) {
  return setError(MLC_ERROR_DEVICE, what + ": " + cu().describe(r));
}

//===----------------------------------------------------------------------===//
// The services the generated host code calls (mlc_cuda_api)
//===----------------------------------------------------------------------===//

CudaSession &sessionOf(mlc_exec_ctx *ctx) { return *static_cast<CudaSession *>(ctx->runtime); }

/// Records the first failure of a run; true when the call succeeded.
bool ok(CudaSession &s, CUresult r, const char *what) {
  if (r == 0)
    return true;
  if (s.error.empty())
    s.error = std::string(what) + ": " + cu().describe(r);
  return false;
}

void *apiModuleLoad(mlc_exec_ctx *ctx, const void *image, uint64_t) {
  CudaSession &s = sessionOf(ctx);
  if (!s.error.empty())
    return nullptr;
  if (auto mine = s.modules.find(image); mine != s.modules.end())
    return mine->second;
  CudaModel &m = *s.model;
  std::lock_guard<std::mutex> lock(m.mutex);
  auto it = m.modules.find(image);
  if (it == m.modules.end()) {
    void *module = nullptr;
    if (!ok(s, cu().cuModuleLoadData(&module, image), "loading the model's GPU code"))
      return nullptr;
    it = m.modules.emplace(image, module).first;
  }
  s.modules[image] = it->second;
  return it->second;
}

void *apiModuleFunction(mlc_exec_ctx *ctx, void *module, const char *name) {
  CudaSession &s = sessionOf(ctx);
  if (!s.error.empty() || !module)
    return nullptr;
  // A kernel's name is a string of the model (one module per model).
  if (auto mine = s.functions.find(name); mine != s.functions.end())
    return mine->second;
  CudaModel &m = *s.model;
  std::lock_guard<std::mutex> lock(m.mutex);
  auto key = std::make_pair(module, name);
  auto it = m.functions.find(key);
  if (it == m.functions.end()) {
    void *fn = nullptr;
    if (!ok(s, cu().cuModuleGetFunction(&fn, module, name),
            (std::string("finding kernel ") + name).c_str()))
      return nullptr;
    it = m.functions.emplace(key, fn).first;
  }
  s.functions[name] = it->second;
  return it->second;
}

void apiLaunch(mlc_exec_ctx *ctx, void *fn, int64_t gx, int64_t gy, int64_t gz, int64_t bx,
               int64_t by, int64_t bz, int32_t smem, void **params) {
  CudaSession &s = sessionOf(ctx);
  if (!s.error.empty() || !fn)
    return;
  if (gx < 1 || gy < 1 || gz < 1 || bx < 1 || by < 1 || bz < 1 || gx > INT32_MAX ||
      gy > 65535 || gz > 65535 || bx * by * bz > 1024) {
    s.error = "a kernel launch has a grid or block outside the GPU's limits (grid " +
              std::to_string(gx) + "x" + std::to_string(gy) + "x" + std::to_string(gz) +
              ", block " + std::to_string(bx) + "x" + std::to_string(by) + "x" +
              std::to_string(bz) + ")";
    return;
  }
  ok(s,
     cu().cuLaunchKernel(fn, (unsigned)gx, (unsigned)gy, (unsigned)gz, (unsigned)bx,
                         (unsigned)by, (unsigned)bz, (unsigned)smem, s.stream, params, nullptr),
     "launching a kernel");
}

void *apiAlloc(mlc_exec_ctx *ctx, uint64_t bytes) {
  CudaSession &s = sessionOf(ctx);
  if (!s.error.empty())
    return nullptr;
  CUdeviceptr p = 0;
  if (!ok(s, cu().cuMemAllocAsync(&p, bytes ? bytes : 1, s.stream),
          ("allocating " + std::to_string(bytes) + " bytes on the GPU").c_str()))
    return nullptr;
  return reinterpret_cast<void *>(p);
}

void apiFree(mlc_exec_ctx *ctx, void *p) {
  CudaSession &s = sessionOf(ctx);
  if (p)
    ok(s, cu().cuMemFreeAsync(reinterpret_cast<CUdeviceptr>(p), s.stream), "freeing GPU memory");
}

void *apiConstant(mlc_exec_ctx *ctx, const void *host, uint64_t bytes, int64_t index) {
  CudaSession &s = sessionOf(ctx);
  if (!s.error.empty())
    return nullptr;
  CudaModel &m = *s.model;
  std::lock_guard<std::mutex> lock(m.mutex);
  auto it = m.constants.find(index);
  if (it != m.constants.end())
    return reinterpret_cast<void *>(it->second);
  // Uploaded once, complete before any session can see the pointer.
  CUdeviceptr p = 0;
  if (!ok(s, cu().cuMemAlloc_v2(&p, bytes ? bytes : 1), "allocating the model's weights"))
    return nullptr;
  if (!ok(s, cu().cuMemcpyHtoDAsync_v2(p, host, bytes, s.stream), "uploading weights") ||
      !ok(s, cu().cuStreamSynchronize(s.stream), "uploading weights")) {
    cu().cuMemFree_v2(p);
    return nullptr;
  }
  m.constants[index] = p;
  return reinterpret_cast<void *>(p);
}

void apiRead(mlc_exec_ctx *ctx, void *host, const void *device, uint64_t bytes) {
  CudaSession &s = sessionOf(ctx);
  if (!s.error.empty()) {
    std::memset(host, 0, bytes); // the run has failed; any value will do
    return;
  }
  if (!ok(s, cu().cuMemcpyDtoHAsync_v2(host, reinterpret_cast<CUdeviceptr>(device), bytes,
                                       s.stream),
          "reading a value from the GPU") ||
      !ok(s, cu().cuStreamSynchronize(s.stream), "reading a value from the GPU"))
    std::memset(host, 0, bytes);
}

void apiGemm(mlc_exec_ctx *ctx, int64_t transA, int64_t transB, int64_t m, int64_t n, int64_t k,
             int64_t batch, const float *a, int64_t lda, int64_t strideA, const float *b,
             int64_t ldb, int64_t strideB, float *c, int64_t ldc, int64_t strideC) {
  CudaSession &s = sessionOf(ctx);
  if (!s.error.empty())
    return;
  if (m == 0 || n == 0 || batch == 0)
    return;
  for (int64_t v : {m, n, k, batch, lda, ldb, ldc})
    if (v < 0 || v > INT32_MAX) {
      s.error = "a matrix product has a dimension beyond cuBLAS's 32-bit limit";
      return;
    }
  std::string err;
  Blas *bl = blas(err);
  if (!bl) {
    s.error = err;
    return;
  }
  if (!s.blas) {
    if (int r = bl->cublasCreate_v2(&s.blas)) {
      s.blas = nullptr;
      s.error = "creating a cuBLAS handle failed (cuBLAS status " + std::to_string(r) + ")";
      return;
    }
    if (int r = bl->cublasSetStream_v2(s.blas, s.stream)) {
      s.error = "binding cuBLAS to the session's stream failed (status " + std::to_string(r) + ")";
      return;
    }
  }
  // Row-major C = A B is column-major C^T = B^T A^T: B first.
  const float alpha = 1.0f, beta = 1.0f; // C += A B (C holds the fill or bias)
  if (int r = bl->cublasSgemmStridedBatched(
          s.blas, transB ? 1 : 0, transA ? 1 : 0, (int)n, (int)m, (int)k, &alpha, b, (int)ldb,
          strideB, a, (int)lda, strideA, &beta, c, (int)ldc, strideC, (int)batch))
    s.error = "a cuBLAS matrix product failed (cublasSgemmStridedBatched status " +
              std::to_string(r) + ")";
}

const mlc_cuda_api kApi = {sizeof(mlc_cuda_api), 0,        apiModuleLoad, apiModuleFunction,
                           apiLaunch,            apiAlloc, apiFree,       apiConstant,
                           apiRead,              apiGemm};

int archOf(const char *arch) {
  int n = 0;
  if (!arch || std::strncmp(arch, "sm_", 3) != 0)
    return 0;
  for (const char *p = arch + 3; *p >= '0' && *p <= '9'; ++p)
    n = n * 10 + (*p - '0');
  return n;
}

} // namespace

//===----------------------------------------------------------------------===//
// Models and sessions
//===----------------------------------------------------------------------===//

CudaModel::~CudaModel() {
  std::string err;
  Driver *d = driver(err);
  if (!d || !context)
    return;
  d->cuCtxSetCurrent(context);
  for (auto &[image, module] : modules)
    d->cuModuleUnload(module);
  for (auto &[index, p] : constants)
    d->cuMemFree_v2(p);
  d->cuDevicePrimaryCtxRelease_v2(device);
}

CudaSession::~CudaSession() {
  if (!model)
    return;
  Driver &d = cu();
  d.cuCtxSetCurrent(model->context);
  if (stream)
    d.cuStreamSynchronize(stream);
  if (blas) {
    std::string err;
    if (Blas *b = ::blas(err))
      b->cublasDestroy_v2(blas);
  }
  if (arena)
    d.cuMemFree_v2(arena);
  if (stream)
    d.cuStreamDestroy_v2(stream);
}

mlc_status mlc::runtime::cudaLoadModel(const std::string &who, const char *arch,
                                       std::unique_ptr<CudaModel> &out) {
  std::string err;
  Driver *d = driver(err);
  if (!d)
    return setError(MLC_ERROR_DEVICE, who + " is a CUDA model, but " + err);
  int count = 0;
  if (CUresult r = d->cuDeviceGetCount(&count))
    return deviceError(who + " is a CUDA model; counting GPUs failed", r);
  int ordinal = 0;
  if (const char *env = std::getenv("MLC_CUDA_DEVICE"); env && *env) {
    char *end = nullptr;
    long v = std::strtol(env, &end, 10);
    if (*end || v < 0 || v > 1024)
      return setError(MLC_ERROR_INVALID_ARGUMENT,
                      std::string("MLC_CUDA_DEVICE must be a GPU number, got '") + env + "'");
    ordinal = (int)v;
  }
  if (count == 0)
    return setError(MLC_ERROR_DEVICE, who + " is a CUDA model, and this machine has no GPU");
  if (ordinal >= count)
    return setError(MLC_ERROR_DEVICE, "MLC_CUDA_DEVICE is " + std::to_string(ordinal) +
                                          ", but this machine has " + std::to_string(count) +
                                          " GPU(s)");
  auto m = std::make_unique<CudaModel>();
  if (CUresult r = d->cuDeviceGet(&m->device, ordinal))
    return deviceError("opening GPU " + std::to_string(ordinal), r);
  int major = 0, minor = 0;
  char name[256] = {0};
  d->cuDeviceGetAttribute(&major, kComputeMajor, m->device);
  d->cuDeviceGetAttribute(&minor, kComputeMinor, m->device);
  d->cuDeviceGetName(name, sizeof name - 1, m->device);
  int need = archOf(arch), have = major * 10 + minor;
  if (need && have < need)
    return setError(MLC_ERROR_DEVICE,
                    who + " was compiled for " + arch + ", but GPU " + std::to_string(ordinal) +
                        " (" + name + ") is sm_" + std::to_string(have) +
                        "; recompile with --target cuda:sm_" + std::to_string(have));
  if (CUresult r = d->cuDevicePrimaryCtxRetain(&m->context, m->device))
    return deviceError("opening GPU " + std::to_string(ordinal) + " (" + name + ")", r);
  out = std::move(m);
  return MLC_OK;
}

mlc_status mlc::runtime::cudaCreateSession(CudaModel &m, uint64_t arenaSize,
                                           std::unique_ptr<CudaSession> &out) {
  Driver &d = cu();
  auto s = std::make_unique<CudaSession>();
  s->model = &m;
  if (CUresult r = d.cuCtxSetCurrent(m.context))
    return deviceError("selecting the GPU", r);
  if (CUresult r = d.cuStreamCreate(&s->stream, kStreamNonBlocking))
    return deviceError("creating a CUDA stream", r);
  if (arenaSize)
    if (CUresult r = d.cuMemAlloc_v2(&s->arena, arenaSize))
      return setError(r == 2 ? MLC_ERROR_OUT_OF_MEMORY : MLC_ERROR_DEVICE,
                      "allocating the activation arena (" + std::to_string(arenaSize) +
                          " bytes) on the GPU: " + d.describe(r));
  out = std::move(s);
  return MLC_OK;
}

mlc_status mlc::runtime::cudaRun(const mlc_model *m, CudaSession &s, const mlc_tensor *in,
                                 size_t nin, mlc_tensor *out, size_t nout, bool device) {
  const ModelTable &t = m->table;
  if (mlc_status st = validateRun(t, in, nin, out, nout))
    return st;
  Driver &d = cu();
  if (CUresult r = d.cuCtxSetCurrent(s.model->context))
    return deviceError("selecting the GPU", r);
  s.error.clear();
  mlc_exec_ctx ctx{};
  ctx.size = sizeof ctx;
  ctx.num_threads = 1;
  ctx.runtime = &s;
  ctx.parallel_for = serialParallelFor;
  ctx.cuda_stream = s.stream;
  ctx.cuda = &kApi;

  // Inputs on the device: the caller's, or staged copies.
  std::vector<void *> data(nin), staged;
  for (size_t i = 0; i < nin && s.error.empty(); ++i) {
    size_t bytes = mlc_dtype_size(in[i].dtype);
    for (int32_t k = 0; k < in[i].rank; ++k)
      bytes *= (size_t)in[i].shape[k];
    data[i] = in[i].data;
    if (!device) {
      data[i] = apiAlloc(&ctx, bytes);
      if (data[i]) {
        staged.push_back(data[i]);
        if (bytes)
          ok(s, d.cuMemcpyHtoDAsync_v2(reinterpret_cast<CUdeviceptr>(data[i]), in[i].data,
                                       bytes, s.stream),
             "copying an input to the GPU");
      }
    }
  }
  RunArgs ra(t, in, data, reinterpret_cast<void *>(s.arena));
  std::vector<int64_t> &results = ra.results;
  if (s.error.empty())
    t.runV2(&ctx, results.data(), ra.args.data());

  // Outputs: copy to the caller, hand over, or free.
  std::vector<OutputDesc> descs = outputDescs(t, results);
  std::vector<void *> handed(nout, nullptr);
  for (size_t i = 0; i < nout; ++i) {
    const mlc_abi_tensor_v1 &sig = t.outputs[i];
    int32_t r = sig.rank;
    void *alloc = descs[i].alloc;
    if (!alloc)
      continue; // the run failed before this output was made
    size_t bytes = descs[i].bytes;
    CUdeviceptr src = (CUdeviceptr)(uintptr_t)descs[i].data;
    mlc_tensor &o = out[i];
    if (s.error.empty() && !descs[i].contiguous)
      s.error = std::string("output '") + sig.name + "' is not contiguous on the GPU (a bug)";
    if (s.error.empty() && o.data && o.size_bytes < bytes)
      s.error = std::string("output '") + sig.name + "' needs " + std::to_string(bytes) +
                " bytes, the buffer given holds " + std::to_string(o.size_bytes);
    bool keep = false;
    if (s.error.empty()) {
      o.dtype = (mlc_dtype)sig.dtype;
      o.rank = r;
      for (int32_t k = 0; k < r; ++k)
        o.shape[k] = descs[i].sizes[k];
      if (device && !o.data && src == (CUdeviceptr)alloc) {
        o.data = alloc; // the caller's now (mlc_device_free)
        o.size_bytes = bytes;
        handed[i] = alloc;
        keep = true;
      } else if (device) {
        if (!o.data) {
          CUdeviceptr p = 0;
          if (ok(s, d.cuMemAllocAsync(&p, bytes ? bytes : 1, s.stream), "allocating an output")) {
            o.data = reinterpret_cast<void *>(p);
            o.size_bytes = bytes;
            handed[i] = o.data;
          }
        }
        if (o.data && bytes)
          ok(s, d.cuMemcpyDtoDAsync_v2((CUdeviceptr)o.data, src, bytes, s.stream),
             "copying an output");
      } else {
        if (!o.data) {
          o.data = std::malloc(bytes ? bytes : 1);
          if (!o.data) {
            s.error = "out of memory for an output";
          } else {
            o.size_bytes = bytes;
            handed[i] = o.data;
          }
        }
        if (o.data && bytes)
          ok(s, d.cuMemcpyDtoHAsync_v2(o.data, src, bytes, s.stream),
             "copying an output from the GPU");
      }
    }
    if (!keep)
      apiFree(&ctx, alloc);
  }
  for (void *p : staged)
    apiFree(&ctx, p);
  ok(s, d.cuStreamSynchronize(s.stream), "running the model on the GPU");
  if (s.error.empty())
    return MLC_OK;
  // Nothing half-made reaches the caller.
  for (size_t i = 0; i < nout; ++i)
    if (handed[i]) {
      if (device)
        d.cuMemFree_v2(reinterpret_cast<CUdeviceptr>(handed[i]));
      else
        std::free(handed[i]);
      out[i].data = nullptr;
      out[i].size_bytes = 0;
    }
  return setError(MLC_ERROR_DEVICE, s.error);
}

//===----------------------------------------------------------------------===//
// The C API's device calls
//===----------------------------------------------------------------------===//

namespace {
mlc_status cudaModelOf(const mlc_model *m, const char *who, CudaModel *&cm) {
  if (!m)
    return setError(MLC_ERROR_INVALID_ARGUMENT, std::string(who) + ": null model");
  if (!m->cuda)
    return setError(MLC_ERROR_INVALID_ARGUMENT,
                    std::string(who) + ": '" + m->path + "' is not a loaded CUDA model");
  cm = m->cuda.get();
  if (CUresult r = cu().cuCtxSetCurrent(cm->context))
    return deviceError("selecting the GPU", r);
  return MLC_OK;
}
} // namespace

extern "C" {

mlc_status mlc_session_run_device(mlc_session *s, const mlc_tensor *in, size_t nin,
                                  mlc_tensor *out, size_t nout) {
  if (!s)
    return setError(MLC_ERROR_INVALID_ARGUMENT, "null session");
  if (!s->cuda)
    return setError(MLC_ERROR_INVALID_ARGUMENT,
                    "mlc_session_run_device: '" + s->model->path + "' is not a CUDA model");
  try {
    return cudaRun(s->model, *s->cuda, in, nin, out, nout, /*device=*/true);
  } catch (const std::bad_alloc &) {
    return setError(MLC_ERROR_OUT_OF_MEMORY, "out of memory");
  }
}

mlc_status mlc_device_alloc(const mlc_model *m, size_t bytes, void **ptr) {
  CudaModel *cm = nullptr;
  if (!ptr)
    return setError(MLC_ERROR_INVALID_ARGUMENT, "mlc_device_alloc: null argument");
  *ptr = nullptr;
  if (mlc_status st = cudaModelOf(m, "mlc_device_alloc", cm))
    return st;
  CUdeviceptr p = 0;
  if (CUresult r = cu().cuMemAlloc_v2(&p, bytes ? bytes : 1))
    return deviceError("allocating " + std::to_string(bytes) + " bytes on the GPU", r);
  *ptr = reinterpret_cast<void *>(p);
  return MLC_OK;
}

mlc_status mlc_device_free(const mlc_model *m, void *ptr) {
  CudaModel *cm = nullptr;
  if (mlc_status st = cudaModelOf(m, "mlc_device_free", cm))
    return st;
  if (ptr)
    if (CUresult r = cu().cuMemFree_v2(reinterpret_cast<CUdeviceptr>(ptr)))
      return deviceError("freeing GPU memory", r);
  return MLC_OK;
}

mlc_status mlc_device_copy(const mlc_model *m, void *dst, const void *src, size_t bytes,
                           int toDevice) {
  CudaModel *cm = nullptr;
  if (mlc_status st = cudaModelOf(m, "mlc_device_copy", cm))
    return st;
  if (!bytes)
    return MLC_OK;
  if (!dst || !src)
    return setError(MLC_ERROR_INVALID_ARGUMENT, "mlc_device_copy: null pointer");
  CUresult r = toDevice ? cu().cuMemcpyHtoD_v2(reinterpret_cast<CUdeviceptr>(dst), src, bytes)
                        : cu().cuMemcpyDtoH_v2(dst, reinterpret_cast<CUdeviceptr>(src), bytes);
  if (r)
    return deviceError("copying between host and GPU", r);
  return MLC_OK;
}

void *mlc_session_cuda_stream(const mlc_session *s) {
  return s && s->cuda ? s->cuda->stream : nullptr;
}

} // extern "C"
