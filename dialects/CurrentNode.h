//===- CurrentNode.h - the ONNX node being compiled, per thread -*- C++ -*-===//
#ifndef MLC_DIALECTS_CURRENTNODE_H
#define MLC_DIALECTS_CURRENTNODE_H

#include <string>

namespace mlir {
class Location;
class MLIRContext;
} // namespace mlir

namespace mlc {

/// The ONNX node this thread is working on, when the compiler knows it: a
/// node's conversion at import, and every rewrite of an op in the pass
/// pipelines (trackCurrentNode). An internal error (an LLVM fatal error, an
/// out-of-memory) names it. Scoped: the previous node is restored.
class CurrentNodeScope {
public:
  explicit CurrentNodeScope(mlir::Location loc);
  ~CurrentNodeScope();
  CurrentNodeScope(const CurrentNodeScope &) = delete;
  CurrentNodeScope &operator=(const CurrentNodeScope &) = delete;

private:
  const void *previous;
};
/// "node 'name' (OpType)" for this thread's current node, or "".
std::string describeCurrentNode();
/// Makes every pattern application in `ctx` a CurrentNodeScope of the op it
/// rewrites (through MLIR's action handler).
void trackCurrentNode(mlir::MLIRContext &ctx);
} // namespace mlc

#endif
