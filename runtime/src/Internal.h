//===- Internal.h - what the runtime's sources share -------------*- C++ -*-===//
#ifndef MLC_RUNTIME_INTERNAL_H
#define MLC_RUNTIME_INTERNAL_H

#include "Artifact.h"
#include "ThreadPool.h"
#include "mlc/abi.h"
#include "mlc/runtime.h"

#include <memory>
#include <string>
#include <vector>

namespace mlc::runtime {

/// Sets this thread's mlc_last_error() and returns `s`.
mlc_status setError(mlc_status s, std::string msg);

/// The model table, whatever ABI version it was loaded from, checked and
/// with null names replaced by "". Strings and dims point into the loaded
/// library, or into the mapped file when only the description was read.
struct ModelTable {
  uint32_t abiVersion = 0;
  std::vector<mlc_abi_tensor_v1> inputs, outputs;
  uint64_t arenaSize = 0, arenaAlignment = 0;
  const char *compilerVersion = "", *compileOptions = "", *target = "", *cpuName = "",
             *cpuFeatures = "";
  mlc_abi_run_fn runV1 = nullptr;    // ABI v1: no execution context
  mlc_abi_run_fn_v2 runV2 = nullptr; // ABI v2
  std::vector<mlc_abi_kernel_v2> kernels;
  std::vector<std::vector<const char *>> dimNames; // what inputs/outputs' dim_names point to
  /// Whether the model can run (false when only its description was read).
  bool runnable() const { return runV1 || runV2; }
};

/// Checks a run's inputs against the signature and the outputs' count.
mlc_status validateRun(const ModelTable &t, const mlc_tensor *in, size_t nin,
                       const mlc_tensor *out, size_t nout);

/// The run function's arguments: one memref descriptor per input
/// ({alloc, aligned, offset, sizes[r], strides[r]}, row-major, at data[i]),
/// then the arena's; and room for the outputs' descriptors.
struct RunArgs {
  std::vector<std::vector<int64_t>> descs;
  std::vector<void *> args;
  std::vector<int64_t> results;
  RunArgs(const ModelTable &t, const mlc_tensor *in, const std::vector<void *> &data,
          void *arena);
};

/// One output's memref descriptor, as the run function leaves it in
/// RunArgs::results (allocated, aligned, offset, sizes, strides), decoded.
struct OutputDesc {
  void *alloc;            ///< the buffer to free or hand over (null: never made)
  char *data;             ///< the first element (aligned + offset)
  const int64_t *sizes;   ///< rank entries
  const int64_t *strides; ///< rank entries, in elements
  size_t elems, bytes;
  bool contiguous; ///< row-major (or empty): `bytes` from `data` are the tensor
};
/// The outputs' descriptors in `results`, in the table's order.
std::vector<OutputDesc> outputDescs(const ModelTable &t, const std::vector<int64_t> &results);

/// parallel_for of runs that use no thread pool: the caller only.
void serialParallelFor(mlc_exec_ctx *ctx, int64_t n, mlc_task_fn fn, void *closure);

struct CudaModel;
struct CudaSession;

/// Allocates an activation arena of the model's size and alignment (null
/// for an empty arena); free with std::free.
void *allocArena(const ModelTable &t);

} // namespace mlc::runtime

struct mlc_model {
  void *handle = nullptr;
  /// The file, mapped, while the table points into it (mlc_model_load_info).
  std::unique_ptr<mlc::runtime::ArtifactFile> file;
  mlc::runtime::ModelTable table;
  std::string path;
  std::string abiVersion, arenaSize, numKernels;
  /// CUDA models: the GPU side (null for CPU models).
  std::unique_ptr<mlc::runtime::CudaModel> cuda;
  ~mlc_model();
};

struct mlc_session {
  const mlc_model *model = nullptr;
  void *arena = nullptr;
  int32_t numThreads = 1; // what runs use (1 for ABI v1 models)
  std::unique_ptr<mlc::runtime::ThreadPool> pool;
  bool profiling = false;
  int64_t kernelBeginNs = 0;
  std::vector<mlc_profile_event> events;
  /// CUDA models: the session's stream and device arena.
  std::unique_ptr<mlc::runtime::CudaSession> cuda;
  ~mlc_session();
};

#endif
