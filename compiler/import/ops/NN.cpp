//===- NN.cpp - converters: Conv, pooling, BatchNormalization ------------===//
#include "compiler/import/NodeBinder.h"

using namespace mlir;
using namespace mlc;

namespace {

/// Reads the window attributes shared by Conv and the pools and resolves
/// auto_pad into explicit pads (needs static spatial dims for SAME_*).
bool windowAttrs(NodeBinder &b, Value x, SmallVectorImpl<int64_t> &kernel,
                 SmallVectorImpl<int64_t> &strides,
                 SmallVectorImpl<int64_t> &pads,
                 SmallVectorImpl<int64_t> &dilations) {
  int64_t rank;
  if (b.rank(x, rank))
    return true;
  size_t spatial = rank - 2;
  if (spatial != 2)
    return b.error("only 2-D windows (4-D NCHW input) are supported");
  std::string autoPad;
  if (b.attr("strides", strides, SmallVector<int64_t>(spatial, 1)) ||
      b.attr("dilations", dilations, SmallVector<int64_t>(spatial, 1)) ||
      b.attr("pads", pads, SmallVector<int64_t>(2 * spatial, 0)) ||
      b.attr("auto_pad", autoPad, std::string("NOTSET")))
    return true;
  if (strides.size() != spatial || dilations.size() != spatial ||
      pads.size() != 2 * spatial || kernel.size() != spatial)
    return b.error("window attributes do not match the input rank");
  if (autoPad == "NOTSET")
    return false;
  if (autoPad == "VALID") {
    pads.assign(2 * spatial, 0);
    return false;
  }
  if (autoPad != "SAME_UPPER" && autoPad != "SAME_LOWER")
    return b.error("auto_pad '" + autoPad + "' is not supported");
  auto shape = cast<RankedTensorType>(x.getType()).getShape();
  for (size_t i = 0; i < spatial; ++i) {
    int64_t in = shape[2 + i];
    if (ShapedType::isDynamic(in))
      return b.error("auto_pad SAME needs static spatial dims");
    int64_t out = (in + strides[i] - 1) / strides[i];
    int64_t span = dilations[i] * (kernel[i] - 1) + 1;
    int64_t total = std::max<int64_t>(0, (out - 1) * strides[i] + span - in);
    int64_t small = total / 2, big = total - small;
    pads[i] = autoPad == "SAME_UPPER" ? small : big;
    pads[i + spatial] = autoPad == "SAME_UPPER" ? big : small;
  }
  return false;
}

LogicalResult conv(NodeBinder &b) {
  Value x, w, bias;
  int64_t group, wRank;
  SmallVector<int64_t> kernel, strides, pads, dilations;
  if (b.tensors(x, w) || b.optTensor(2, bias) || b.attr("group", group, 1) ||
      b.rank(w, wRank))
    return failure();
  auto wShape = cast<RankedTensorType>(w.getType()).getShape();
  SmallVector<int64_t> inferred(wShape.begin() + 2, wShape.end());
  if (b.attr("kernel_shape", kernel, inferred) ||
      windowAttrs(b, x, kernel, strides, pads, dilations))
    return failure();
  if (ArrayRef<int64_t>(kernel) != ArrayRef<int64_t>(inferred))
    return b.error("kernel_shape does not match the weight"), failure();
  auto &B = b.builder;
  b.setResults({b.create<ConvOp>(x, w, bias, B.getDenseI64ArrayAttr(strides),
                                 B.getDenseI64ArrayAttr(pads),
                                 B.getDenseI64ArrayAttr(dilations),
                                 B.getI64IntegerAttr(group))});
  return success();
}

LogicalResult maxPool(NodeBinder &b) {
  Value x;
  int64_t ceil;
  SmallVector<int64_t> kernel, strides, pads, dilations;
  if (b.tensors(x) || b.attr("kernel_shape", kernel) ||
      windowAttrs(b, x, kernel, strides, pads, dilations) ||
      b.attr("ceil_mode", ceil, 0) || b.expect("storage_order", 0))
    return failure();
  auto &B = b.builder;
  b.setResults({b.create<MaxPoolOp>(
      x, B.getDenseI64ArrayAttr(kernel), B.getDenseI64ArrayAttr(strides),
      B.getDenseI64ArrayAttr(pads), B.getDenseI64ArrayAttr(dilations),
      B.getBoolAttr(ceil != 0))});
  return success();
}

LogicalResult averagePool(NodeBinder &b) {
  Value x;
  int64_t ceil, includePad;
  SmallVector<int64_t> kernel, strides, pads, dilations;
  if (b.tensors(x) || b.attr("kernel_shape", kernel) ||
      windowAttrs(b, x, kernel, strides, pads, dilations) ||
      b.attr("ceil_mode", ceil, 0) ||
      b.attr("count_include_pad", includePad, 0))
    return failure();
  if (llvm::any_of(dilations, [](int64_t d) { return d != 1; }))
    return b.error("dilated AveragePool is not supported"), failure();
  auto &B = b.builder;
  b.setResults({b.create<AveragePoolOp>(
      x, B.getDenseI64ArrayAttr(kernel), B.getDenseI64ArrayAttr(strides),
      B.getDenseI64ArrayAttr(pads), B.getBoolAttr(ceil != 0),
      B.getBoolAttr(includePad != 0))});
  return success();
}

LogicalResult globalAveragePool(NodeBinder &b) {
  Value x;
  int64_t rank;
  if (b.tensors(x) || b.rank(x, rank))
    return failure();
  if (rank < 3)
    return b.error("input must have rank >= 3"), failure();
  b.setResults({b.create<GlobalAveragePoolOp>(x)});
  return success();
}

LogicalResult batchNorm(NodeBinder &b) {
  Value x, scale, bias, mean, var;
  float eps;
  if (b.tensors(x, scale, bias, mean, var) || b.attr("epsilon", eps, 1e-5f) ||
      b.expect("training_mode", 0) || b.expect("spatial", 1) ||
      b.expect("is_test", b.opset < 7 ? 1 : 0))
    return failure();
  b.ignore("momentum"); // only used in training
  b.ignore("consumed_inputs");
  b.setResults({b.create<BatchNormOp>(x, scale, bias, mean, var,
                                      b.builder.getF32FloatAttr(eps))});
  return success();
}

} // namespace

void registerNNConverters() {
  registerConverter("Conv", 1, conv);
  registerConverter("MaxPool", 1, maxPool);
  registerConverter("AveragePool", 1, averagePool);
  registerConverter("GlobalAveragePool", 1, globalAveragePool);
  registerConverter("BatchNormalization", 1, batchNorm);
}
