//===- Passes.h - every mlc pass, for the driver and mlc-opt ----*- C++ -*-===//
#ifndef MLC_PASSES_PASSES_H
#define MLC_PASSES_PASSES_H

#include "mlir/IR/Value.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Support/LogicalResult.h"
#include <memory>

namespace mlir {
class ModuleOp;
namespace func {
class FuncOp;
} // namespace func
} // namespace mlir

namespace mlc {

/// What the tiling policy and the code generator know of the target.
struct TargetInfo {
  std::string name = "cpu";      // "cpu" (a "cuda" target slots in here)
  std::string cpu = "";          // LLVM CPU name; "" = host
  std::string features = "";     // LLVM feature string
  int vectorBits = 256;          // widest vector register in bits
  int numVectorRegisters = 16;
};

/// The target as a module attribute (`mlc.target`: a dictionary with
/// backend, cpu, features, vector_bits, vector_registers).
inline constexpr const char *kTargetAttr = "mlc.target";
void setTargetAttr(mlir::ModuleOp m, const TargetInfo &t);
/// The module's target; failure when it has none or it is malformed.
mlir::FailureOr<TargetInfo> getTargetAttr(mlir::ModuleOp m);

/// A linalg.generic reducing each row along its innermost dim: one
/// reduction loop, last; the output indexed by the parallel loops in order;
/// every input walking the reduction along its own last dim (contiguously)
/// or not depending on it (a per-row value); a float body yielding
/// combine(f(inputs), out), combine one of add, max, min and f elementwise
/// (softmax's max and sum of exponentials, LayerNorm's moments, ReduceSum).
bool isRowReduction(mlir::Operation *op);

/// A linalg.generic sliding-window contraction, out[p...] += x[window of
/// p] * w[...] over static shapes (grouped and depthwise convolutions):
/// parallel loops first, indexing the output in order; the innermost of
/// them (the output's columns) moves x's last dim only, with a stride of 1
/// or 2, and not w at all; reductions after; the body out + x * w. Sets
/// which input is x and the column stride.
bool isWindowContraction(mlir::Operation *op, int *slidingInput = nullptr,
                         int64_t *columnStride = nullptr);

/// Whether a linalg body is exactly out + in0 * in1 (floats, in either
/// operand order): what the matmul and window vectorisers turn into FMAs.
bool isMultiplyAccumulateBody(mlir::Block &body);

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
// passes/kernels
std::unique_ptr<mlir::Pass> createOutlineKernelsPass();
/// The value whose buffer `v` is written into: `v` followed back through
/// the destination (init) operands of the destination-style ops producing
/// it, as long as `follow(op)` holds for the op.
mlir::Value writtenInto(mlir::Value v, llvm::function_ref<bool(mlir::Operation *)> follow);
/// The model's entry function (the public one with a body): @main before
/// code generation, the host schedule after kernel outlining.
mlir::func::FuncOp hostFunction(mlir::ModuleOp m);

/// Registers every pass above with the global registry (for mlc-opt).
void registerMlcPasses();

} // namespace mlc

#endif
