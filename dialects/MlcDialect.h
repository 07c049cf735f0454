//===- MlcDialect.h - the mlc graph-level dialect ---------------*- C++ -*-===//
#ifndef MLC_DIALECTS_MLCDIALECT_H
#define MLC_DIALECTS_MLCDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include <optional>

#include "dialects/MlcDialect.h.inc"
#include "dialects/MlcEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/MlcAttrs.h.inc"

#define GET_OP_CLASSES
#include "dialects/MlcOps.h.inc"

namespace mlc {
/// Refines the result types of `op` (an mlc op) from its operand types and
/// constant operands. Emits an error on `op` and fails on inconsistent input.
mlir::LogicalResult inferShapes(mlir::Operation *op);
/// The type two values of one tensor may both have (element type and rank
/// equal, dims where they agree), or null.
mlir::Type joinTensorTypes(mlir::Type a, mlir::Type b);
/// A one-element constant (float, integer or bool) as a double, if `v`
/// is one.
std::optional<double> constantScalar(mlir::Value v);
/// The value of a one-element bool tensor known at compile time: a
/// constant, or a comparison / logical op of constants.
std::optional<bool> constantCondition(mlir::Value v);

/// The op's lowering config (`mlc.lowering_config`), or null.
LoweringConfigAttr getLoweringConfig(mlir::Operation *op);
/// Sets the given levels of `op`'s lowering config, keeping the others.
/// An empty ArrayRef leaves that level as it is.
void setLoweringConfig(mlir::Operation *op, llvm::ArrayRef<int64_t> distribution,
                       llvm::ArrayRef<int64_t> reduction, llvm::ArrayRef<int64_t> vector);
inline constexpr const char *kLoweringConfigAttr = "mlc.lowering_config";

/// The ONNX node name recorded in `loc` at import, or "" if none.
std::string nodeNameOf(mlir::Location loc);
/// The ONNX op type of that node ("" when the location does not say).
std::string nodeOpTypeOf(mlir::Location loc);
} // namespace mlc

#endif
