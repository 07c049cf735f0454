//===- Decisions.h - IR attributes that record compiler decisions -*- C++ -*-===//
//
// Fusion and tiling decide; code generation only reads these attributes.
// Keeping them in the IR lets a lit test check each decision alone.
//
//===----------------------------------------------------------------------===//
#ifndef MLC_PASSES_DECISIONS_H
#define MLC_PASSES_DECISIONS_H

namespace mlc::attr {
/// i64: the kernel (fusion group) an op belongs to.
inline constexpr const char *kFusionGroup = "mlc.fusion_group";
/// string: "root" | "producer" | "consumer" | "single".
inline constexpr const char *kFusionRole = "mlc.fusion_role";
// Tile sizes are one typed attribute per op, #mlc.lowering_config
// (dialects/MlcOps.td), read and written through getLoweringConfig /
// setLoweringConfig.
/// unit, on an scf.for of @main: a sequential loop (a scatter) that forms a
/// kernel of its own with the copy that initialises its tensor.
inline constexpr const char *kSequentialLoop = "mlc.sequential";
/// unit, on the fill or broadcast that initialises a window contraction's
/// accumulator (a convolution's bias): tiled inside that root's register
/// tile rather than on its own, so the vectoriser starts the accumulators
/// from the bias instead of reading them back from memory.
inline constexpr const char *kRegisterFused = "mlc.register_fused";
/// unit, on a func.func: a kernel outlined from one fusion group.
inline constexpr const char *kKernel = "mlc.kernel";
/// string, on a kernel: readable name for profiles (ONNX node, op kind).
inline constexpr const char *kKernelName = "mlc.kernel_name";
/// i64, on a kernel: FLOPs per call, -1 when they depend on run-time dims.
inline constexpr const char *kFlops = "mlc.flops";
} // namespace mlc::attr

#endif
