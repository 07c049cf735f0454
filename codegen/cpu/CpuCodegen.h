//===- CpuCodegen.h - tiled linalg to an object file ------------*- C++ -*-===//
#ifndef MLC_CODEGEN_CPU_CPUCODEGEN_H
#define MLC_CODEGEN_CPU_CPUCODEGEN_H

#include "codegen/TargetBackend.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Rewrite/FrozenRewritePatternSet.h"
#include "llvm/IR/Module.h"
#include "llvm/Target/TargetMachine.h"

#include <memory>
#include <string>
#include <vector>

namespace mlc::cpu {

/// Resolves the CPU name and features (host by default) and fills the
/// vector facts the tiling policy needs. Fails with `err` on an unknown CPU.
mlir::FailureOr<TargetInfo> resolveTarget(const std::string &cpu,
                                          std::string &err);
/// The instruction-set features the generated code may use (x86 names).
std::vector<std::string> requiredFeatures(const TargetInfo &t);

/// The rewrite patterns tileAndVectorize applies, built (and frozen) once
/// per pass rather than per function.
struct TileVectorizePatterns {
  mlir::FrozenRewritePatternSet canonical;     // every op's canonicalisations
  mlir::FrozenRewritePatternSet vectorCleanup; // after vectorisation
};
TileVectorizePatterns buildTileVectorizePatterns(mlir::MLIRContext *ctx);
/// Applies the recorded tiling/fusion decisions and vectorises.
mlir::LogicalResult tileAndVectorize(mlir::func::FuncOp f,
                                     const TileVectorizePatterns &patterns);
/// Makes every returned tensor a fresh buffer, then one-shot bufferizes.
mlir::LogicalResult bufferize(mlir::ModuleOp m);
/// Static intermediate buffers move into one arena (a trailing memref<?xi8>
/// argument of @main), the rest are freed after their last use. Records the
/// arena size as `mlc.arena_size` on the module.
mlir::LogicalResult planMemory(mlir::ModuleOp m);
/// Gives the host schedule and every kernel the execution context as first
/// argument and outlines each kernel's distribution loop (scf.forall) into
/// a tile function called through a dispatch stub (see Dispatch.cpp).
mlir::LogicalResult outlineDistributionLoops(mlir::ModuleOp m);
/// Name prefix of the dispatch stubs: kDispatchPrefix + tile function.
inline constexpr const char *kDispatchPrefix = "mlc_dispatch__";
/// Vector/scf/memref/arith/math -> LLVM dialect, as passes appended to a
/// module pass manager.
void addLowerToLLVMPasses(mlir::OpPassManager &pm);

/// Registers the codegen steps as passes for mlc-opt.
void registerCpuCodegenPasses();
void registerCpuBackendPasses();
/// The steps above as passes (tileAndVectorize per function; bufferize and
/// planMemory on the module).
std::unique_ptr<mlir::Pass> createTileVectorizePass();
std::unique_ptr<mlir::Pass> createBufferizePlanPass();
/// The host schedule's symbol in the generated code.
inline constexpr const char *kHostSymbol = "mlc_main";

std::unique_ptr<llvm::TargetMachine> createTargetMachine(const TargetInfo &t,
                                                         int optLevel,
                                                         std::string &err);
std::unique_ptr<llvm::Module> translateToLLVMIR(mlir::ModuleOp m,
                                                llvm::LLVMContext &ctx,
                                                llvm::TargetMachine &tm);
void optimizeModule(llvm::Module &m, llvm::TargetMachine &tm, int optLevel);
/// Dispatch stubs -> ctx->parallel_for; profiling hooks around the host's
/// kernel calls (kernel i = kernelNames[i]); kernels stay noinline.
void expandRuntimeCalls(llvm::Module &m, llvm::StringRef hostName,
                        llvm::ArrayRef<std::string> kernelNames);
/// Rewrites the host `hostName`, which returns its results as one struct
/// of memref descriptors, into a function that stores them through a
/// pointer passed last; callers pass theirs. LLVM's instruction selection
/// is quadratic in the size of a returned aggregate (2,000 outputs: a
/// 10,000-field struct, a minute), field stores are linear.
void returnResultsThroughPointer(llvm::Module &m, llvm::StringRef hostName);
/// Splits `m` by function into a fixed number of parts, optimises and
/// emits them on up to `threads` threads; appends one object per part.
bool emitObjectsInParallel(std::unique_ptr<llvm::Module> m, const TargetInfo &target,
                           const TargetOptions &opts, std::vector<std::string> &objects,
                           std::string &err);
/// Emits object code (or assembly) for `m` into `out`.
bool emitMachineCode(llvm::Module &m, llvm::TargetMachine &tm, bool assembly,
                     std::string &out, std::string &err);

} // namespace mlc::cpu

#endif
