//===- Cuda.h - the runtime's CUDA side -------------------------*- C++ -*-===//
//
// CUDA models (target "cuda") run through the CUDA driver API, which the
// runtime loads with dlopen the first time such a model is loaded, so CPU
// models and machines without a GPU never touch it. The driver library is
// libcuda.so.1 from the standard search path, or $MLC_CUDA_DRIVER. Models
// whose GEMMs run on cuBLAS load it on their first GEMM: $MLC_CUBLAS, else
// libcublas.so.13 or .12 from the search path or the CUDA toolkit's lib64.
//
//===----------------------------------------------------------------------===//
#ifndef MLC_RUNTIME_CUDA_H
#define MLC_RUNTIME_CUDA_H

#include "mlc/abi.h"
#include "mlc/runtime.h"

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

namespace mlc::runtime {

/// What a loaded CUDA model holds: its GPU, the kernels' modules and the
/// device copies of its constants (shared by the model's sessions).
struct CudaModel {
  int device = 0;
  void *context = nullptr; // CUcontext: the device's primary context
  std::mutex mutex;
  std::map<const void *, void *> modules;                          // image -> CUmodule
  std::map<std::pair<void *, const char *>, void *> functions;     // -> CUfunction
  std::map<int64_t, unsigned long long> constants;                         // index -> CUdeviceptr
  ~CudaModel();
};

/// A session's stream and device arena, and the first error of its run.
struct CudaSession {
  CudaModel *model = nullptr;
  void *stream = nullptr; // CUstream
  unsigned long long arena = 0; // CUdeviceptr
  void *blas = nullptr;         // cublasHandle_t, made on the first GEMM
  /// The model's modules and kernels this session has used: looked up
  /// without the model's lock on every launch after the first.
  std::unordered_map<const void *, void *> modules, functions;
  std::string error;
  ~CudaSession();
};

/// Loads the driver, picks the GPU and checks that it can run code built
/// for `arch` (sm_XX). `who` names the model in messages.
mlc_status cudaLoadModel(const std::string &who, const char *arch,
                         std::unique_ptr<CudaModel> &out);
mlc_status cudaCreateSession(CudaModel &m, uint64_t arenaSize,
                             std::unique_ptr<CudaSession> &out);
/// One run; tensors are host memory, or device memory when `device`.
mlc_status cudaRun(const mlc_model *m, CudaSession &s, const mlc_tensor *in, size_t nin,
                   mlc_tensor *out, size_t nout, bool device);

} // namespace mlc::runtime

#endif
