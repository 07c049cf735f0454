//===- Validate.h - ONNX's structural rules, checked before import -*- C++ -*-===//
#ifndef MLC_IMPORT_VALIDATE_H
#define MLC_IMPORT_VALIDATE_H

#include "absl/status/status.h"
#include "onnx/onnx_pb.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mlc {

/// The newest ONNX opset mlc knows (onnx 1.23).
constexpr int64_t kMaxOpset = 28;
/// The most bytes one tensor may declare (2^48).
constexpr int64_t kMaxTensorBytes = int64_t(1) << 48;

/// Bytes per element of an ONNX dtype (1 for sub-byte and unknown types).
int64_t elementTypeBytes(int dtype);

/// Checks a tensor's dims: rank within the runtime's maximum, every dim
/// >= 0 (-1 too where `dynamicAllowed`), the byte count within
/// kMaxTensorBytes. The message starts with `what`.
absl::Status checkTensorDims(const std::string &what, int dtype,
                             const std::vector<int64_t> &dims, bool dynamicAllowed);

/// Checks `m` against ONNX's structural rules (see Validate.cpp); every
/// violation found is one line of the returned error, naming the node or
/// tensor and the rule. On success, `order` lists the node indices in a
/// topological order.
/// A node's subgraphs: its graph attributes (If's branches, Loop's and
/// Scan's bodies) and the graphs of its graph-list attributes.
std::vector<const onnx::GraphProto *> subgraphsOf(const onnx::NodeProto &n);

/// The names a node's subgraphs (If branches, Loop and Scan bodies, at
/// any depth) read from enclosing graphs: inputs the node has implicitly.
std::vector<std::string> implicitInputs(const onnx::NodeProto &n);

/// A topological order of `g`'s nodes (explicit and implicit inputs);
/// names no node of `g` produces count as available. False on a cycle.
bool topologicalOrder(const onnx::GraphProto &g, std::vector<int> &order);

absl::Status validateModel(const onnx::ModelProto &m, std::vector<int> &order);

} // namespace mlc

#endif
