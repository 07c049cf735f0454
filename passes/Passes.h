//===- Passes.h - every mlc pass, for the driver and mlc-opt ----*- C++ -*-===//
#ifndef MLC_PASSES_PASSES_H
#define MLC_PASSES_PASSES_H

#include "mlir/Pass/Pass.h"
#include <memory>

namespace mlc {

/// What the tiling policy and the code generator know of the target.
struct TargetInfo {
  std::string name = "cpu";      // "cpu" (a "cuda" target slots in here)
  std::string cpu = "";          // LLVM CPU name; "" = host
  std::string features = "";     // LLVM feature string
  int vectorBits = 256;          // widest vector register in bits
  int numVectorRegisters = 16;
  static TargetInfo hostCpu();
  static TargetInfo forCpu(const std::string &cpu);
};

// passes/graph
std::unique_ptr<mlir::Pass> createShapePropagationPass();
std::unique_ptr<mlir::Pass> createFoldConstantsPass();
std::unique_ptr<mlir::Pass> createFoldBatchNormPass();
// passes/lower
std::unique_ptr<mlir::Pass> createLowerToLinalgPass();
// passes/fusion
std::unique_ptr<mlir::Pass> createFusionPass();
// passes/tiling
std::unique_ptr<mlir::Pass> createTilingPass(const TargetInfo &target);

/// Registers every pass above with the global registry (for mlc-opt).
void registerMlcPasses();

} // namespace mlc

#endif
