//===- CudaCodegen.h - kernels to PTX/cubin and a host schedule -*- C++ -*-===//
//
// The cuda target shares everything up to the outlined kernels, and the
// cpu target's bufferisation and memory plan. Then:
//  1. linalg becomes parallel loops, and every function's top-level work
//     moves into gpu.launch regions (mapToGpu): a parallel loop becomes a
//     1-D grid of 256-thread blocks over its linearised iteration space;
//     any other op that touches memory runs in a one-thread launch;
//  2. launches are outlined into one gpu.module, lowered through NVVM and
//     serialised by MLIR's NVVM target (a fatbin: cubin for the chosen
//     sm_XX plus PTX, or PTX alone);
//  3. the host side (the schedule and each kernel's launches) is CPU code;
//     after translation to LLVM IR its runtime calls go through the
//     execution context's mlc_cuda_api (expandCudaRuntimeCalls), so the
//     model links against libc only and the runtime owns the driver.
//
//===----------------------------------------------------------------------===//
#ifndef MLC_CODEGEN_CUDA_CUDACODEGEN_H
#define MLC_CODEGEN_CUDA_CUDACODEGEN_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "llvm/IR/Module.h"

#include <memory>
#include <string>

namespace mlc::cuda {

/// Threads per block of a mapped parallel loop.
inline constexpr int64_t kBlockSize = 256;
/// The gpu.module all kernels of a model end up in.
inline constexpr const char *kDeviceModule = "mlc_cuda";
/// The host's read of one scalar from device memory: (host, device, bytes)
/// as i64 addresses; a call through ctx->cuda after translation.
inline constexpr const char *kReadFunction = "mlc_cuda_read";
/// A strided-batched SGEMM (LibraryCalls.cpp): 15 i64 arguments, a call
/// through ctx->cuda after translation.
inline constexpr const char *kGemmFunction = "mlc_cuda_gemm";
/// Module attribute: the constants (memref.global names) the host reads,
/// in the order of their index in mlc_cuda_api.constant.
inline constexpr const char *kConstantsAttr = "mlc.cuda_constants";

/// Moves the top-level work of every function with a body into gpu.launch
/// regions (see the file comment). Fails, naming the op, where a value
/// computed on the device would be needed on the host.
mlir::LogicalResult mapToGpu(mlir::ModuleOp m);
/// Moves the kernels of every gpu.module into one (kDeviceModule).
mlir::LogicalResult mergeDeviceModules(mlir::ModuleOp m);

std::unique_ptr<mlir::Pass> createMapToGpuPass();
/// float32 contractions on contiguous buffers -> @mlc_cuda_gemm (cuBLAS).
std::unique_ptr<mlir::Pass> createLibraryCallsPass();
void registerLibraryCallsPass();
std::unique_ptr<mlir::Pass> createMergeDeviceModulesPass();
void registerCudaCodegenPasses();
void registerCudaBackendPasses();

/// After translation to LLVM IR: the GPU runtime calls of MLIR's lowering
/// (module load, launch, streams) and the memref allocation functions
/// become calls through ctx->cuda; the host's reads of the constants named
/// in `constants` become ctx->cuda->constant. Every function with a body
/// takes the context first. Returns false with `err` set on failure.
bool expandCudaRuntimeCalls(llvm::Module &m, llvm::ArrayRef<std::string> constants,
                            std::string &err);

/// The CUDA toolkit's root (ptxas, fatbinary, libdevice), from $CUDA_HOME,
/// $CUDA_PATH, /usr/local/cuda or the ptxas on $PATH; "" if none.
std::string findToolkit();

} // namespace mlc::cuda

#endif
