//===- Tensor.cpp - converters: constants, shapes and data movement ------===//
#include "compiler/import/NodeBinder.h"

using namespace mlir;
using namespace mlc;

namespace {

LogicalResult constant(NodeBinder &b) {
  auto &B = b.builder;
  DenseElementsAttr value;
  if (b.has("value")) {
    if (b.attr("value", value))
      return failure();
  } else if (b.has("value_float")) {
    float f;
    if (b.attr("value_float", f))
      return failure();
    value = DenseElementsAttr::get(RankedTensorType::get({}, B.getF32Type()), f);
  } else if (b.has("value_int")) {
    int64_t i;
    if (b.attr("value_int", i))
      return failure();
    value = DenseElementsAttr::get(RankedTensorType::get({}, B.getI64Type()), i);
  } else if (b.has("value_ints")) {
    SmallVector<int64_t> is;
    if (b.attr("value_ints", is))
      return failure();
    value = DenseElementsAttr::get(
        RankedTensorType::get({(int64_t)is.size()}, B.getI64Type()),
        ArrayRef<int64_t>(is));
  } else {
    return b.error("only value, value_float, value_int and value_ints are "
                   "supported"),
           failure();
  }
  b.setResults({b.constant(value)});
  return success();
}

LogicalResult flatten(NodeBinder &b) {
  Value x;
  int64_t axis, rank;
  if (b.tensors(x) || b.rank(x, rank) || b.attr("axis", axis, 1))
    return failure();
  if (axis < -rank || axis > rank)
    return b.error("axis out of range"), failure();
  if (axis < 0)
    axis += rank;
  b.setResults({b.create<FlattenOp>(x, b.builder.getI64IntegerAttr(axis))});
  return success();
}

LogicalResult reshape(NodeBinder &b) {
  Value x, shape;
  int64_t allowZero;
  if (b.tensors(x, shape) || b.attr("allowzero", allowZero, 0))
    return failure();
  b.setResults({b.create<ReshapeOp>(x, shape,
                                    b.builder.getBoolAttr(allowZero != 0))});
  return success();
}

LogicalResult transpose(NodeBinder &b) {
  Value x;
  int64_t rank;
  if (b.tensors(x) || b.rank(x, rank))
    return failure();
  SmallVector<int64_t> reversed;
  for (int64_t i = rank - 1; i >= 0; --i)
    reversed.push_back(i);
  SmallVector<int64_t> perm;
  if (b.attr("perm", perm, reversed))
    return failure();
  b.setResults({b.create<TransposeOp>(x, b.builder.getDenseI64ArrayAttr(perm))});
  return success();
}

LogicalResult concat(NodeBinder &b) {
  SmallVector<Value> xs;
  for (size_t i = 0; i < b.numInputs(); ++i) {
    Value v;
    if (b.tensorAt(i, v))
      return failure();
    xs.push_back(v);
  }
  int64_t axis, rank;
  if (xs.empty())
    return b.error("needs at least one input"), failure();
  if (b.attr("axis", axis) || b.rank(xs[0], rank) || b.axis(axis, rank))
    return failure();
  b.setResults({b.create<ConcatOp>(xs, b.builder.getI64IntegerAttr(axis))});
  return success();
}

LogicalResult shapeOf(NodeBinder &b) {
  Value x;
  int64_t rank, start, end;
  if (b.tensors(x) || b.rank(x, rank) || b.attr("start", start, 0) ||
      b.attr("end", end, rank))
    return failure();
  auto clampAxis = [&](int64_t a) {
    if (a < 0)
      a += rank;
    return std::clamp<int64_t>(a, 0, rank);
  };
  start = clampAxis(start);
  end = std::max(start, clampAxis(end));
  auto &B = b.builder;
  b.setResults({b.create<ShapeOp>(x, B.getI64IntegerAttr(start),
                                  B.getI64IntegerAttr(end))});
  return success();
}

LogicalResult gather(NodeBinder &b) {
  Value x, idx;
  int64_t axis, rank;
  if (b.tensors(x, idx) || b.attr("axis", axis, 0) || b.rank(x, rank) ||
      b.axis(axis, rank))
    return failure();
  b.setResults({b.create<GatherOp>(x, idx, b.builder.getI64IntegerAttr(axis))});
  return success();
}

/// Axes come from an attribute before opset 13 and from a constant input
/// from 13 on; they are normalised against `rank`.
bool squeezeAxes(NodeBinder &b, int64_t rank, SmallVectorImpl<int64_t> &axes) {
  if (b.opset >= 13) {
    Value given;
    b.optTensor(1, given);
    if (given && b.constInts(1, axes))
      return true;
  } else if (b.attr("axes", axes, SmallVector<int64_t>{})) {
    return true;
  }
  for (int64_t &a : axes)
    if (b.axis(a, rank))
      return true;
  llvm::sort(axes);
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end())
    return b.error("axes contain a duplicate");
  return false;
}

LogicalResult unsqueeze(NodeBinder &b) {
  Value x;
  int64_t rank;
  SmallVector<int64_t> axes;
  if (b.tensors(x) || b.rank(x, rank))
    return failure();
  // Axes index the output, whose rank is rank + #axes.
  int64_t count = 0;
  if (b.opset >= 13) {
    SmallVector<int64_t> raw;
    if (b.constInts(1, raw))
      return failure();
    count = raw.size();
  } else {
    SmallVector<int64_t> raw;
    if (b.attr("axes", raw))
      return failure();
    count = raw.size();
  }
  if (squeezeAxes(b, rank + count, axes))
    return failure();
  if (axes.empty())
    return b.error("axes must not be empty"), failure();
  b.setResults({b.create<UnsqueezeOp>(x, b.builder.getDenseI64ArrayAttr(axes))});
  return success();
}

LogicalResult squeeze(NodeBinder &b) {
  Value x;
  int64_t rank;
  SmallVector<int64_t> axes;
  if (b.tensors(x) || b.rank(x, rank) || squeezeAxes(b, rank, axes))
    return failure();
  b.setResults({b.create<SqueezeOp>(x, b.builder.getDenseI64ArrayAttr(axes))});
  return success();
}

} // namespace

void registerTensorConverters() {
  registerConverter("Constant", 1, constant);
  registerConverter("Flatten", 1, flatten);
  registerConverter("Reshape", 5, reshape);
  registerConverter("Transpose", 1, transpose);
  registerConverter("Concat", 1, concat);
  registerConverter("Shape", 1, shapeOf);
  registerConverter("Gather", 1, gather);
  registerConverter("Unsqueeze", 1, unsqueeze);
  registerConverter("Squeeze", 1, squeeze);
}
