//===- NN.cpp - converters: Conv, pooling, BatchNormalization ------------===//
#include "compiler/import/NodeBinder.h"

using namespace mlir;
using namespace mlc;

namespace {

/// The largest kernel, stride, dilation or pad a window may have.
constexpr int64_t kMaxWindowAttr = int64_t(1) << 20;

/// 1-D window attributes as those of a 2-D window of height 1.
void liftWindow(SmallVectorImpl<int64_t> &kernel, SmallVectorImpl<int64_t> &strides,
                SmallVectorImpl<int64_t> &pads, SmallVectorImpl<int64_t> &dilations) {
  kernel.insert(kernel.begin(), 1);
  strides.insert(strides.begin(), 1);
  dilations.insert(dilations.begin(), 1);
  pads.assign({0, pads[0], 0, pads[1]});
}

/// Reads the window attributes shared by Conv and the pools and resolves
/// auto_pad into explicit pads (needs static spatial dims for SAME_*).
/// A 1-D window comes back lifted to 2-D (liftWindow); 3-D windows are
/// taken where `allow3d` (the pools, which poolNd splits).
bool windowAttrs(NodeBinder &b, Value x, SmallVectorImpl<int64_t> &kernel,
                 SmallVectorImpl<int64_t> &strides,
                 SmallVectorImpl<int64_t> &pads,
                 SmallVectorImpl<int64_t> &dilations, bool allow3d = false) {
  int64_t rank;
  if (b.rank(x, rank))
    return true;
  size_t spatial = rank - 2;
  if (spatial != 1 && spatial != 2 && !(allow3d && spatial == 3))
    return b.error(allow3d ? "only 1-D, 2-D and 3-D windows (NCL, NCHW or NCDHW input) are "
                             "supported"
                           : "only 1-D and 2-D windows (3-D NCL or 4-D NCHW input) are "
                             "supported");
  std::string autoPad;
  if (b.attr("strides", strides, SmallVector<int64_t>(spatial, 1)) ||
      b.attr("dilations", dilations, SmallVector<int64_t>(spatial, 1)) ||
      b.attr("pads", pads, SmallVector<int64_t>(2 * spatial, 0)) ||
      b.attr("auto_pad", autoPad, std::string("NOTSET")))
    return true;
  if (strides.size() != spatial || dilations.size() != spatial ||
      pads.size() != 2 * spatial || kernel.size() != spatial)
    return b.error("window attributes do not match the input rank");
  for (size_t i = 0; i < spatial; ++i)
    if (kernel[i] <= 0 || strides[i] <= 0 || dilations[i] <= 0 || pads[i] < 0 ||
        pads[i + spatial] < 0 || kernel[i] > kMaxWindowAttr || strides[i] > kMaxWindowAttr ||
        dilations[i] > kMaxWindowAttr || pads[i] > kMaxWindowAttr ||
        pads[i + spatial] > kMaxWindowAttr)
      return b.error("kernel_shape, strides and dilations must be in [1, 2^20] and pads in "
                     "[0, 2^20]");
  if (autoPad == "NOTSET" || autoPad == "VALID") {
    if (autoPad == "VALID")
      pads.assign(2 * spatial, 0);
    if (spatial == 1)
      liftWindow(kernel, strides, pads, dilations);
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
  if (spatial == 1)
    liftWindow(kernel, strides, pads, dilations);
  return false;
}

/// A 1-D window runs as a 2-D one over (N, C, 1, L): these views.
Value liftInput(NodeBinder &b, Value x) { return b.unsqueeze(x, {2}); }
Value dropLifted(NodeBinder &b, Value y) { return b.squeeze(y, {2}); }

/// A 2-D pool of `x` (N, C, H, W) with the given window.
using Pool2d = function_ref<Value(Value x, ArrayRef<int64_t> kernel, ArrayRef<int64_t> strides,
                                  ArrayRef<int64_t> pads, ArrayRef<int64_t> dilations)>;

/// A pool of any window rank: 1-D lifted to 2-D, 2-D as is, and 3-D
/// (N, C, D, H, W) as two 2-D pools, first over (H, W) on (N, C*D, H, W),
/// then over D with a [k, 1] window on (N, C, D, H'*W'). Max and average
/// pools are separable: the window's max (sum) is the max (sum) over D of
/// its (H, W) slices', and the count an average divides by (window
/// positions inside the input or the padded input) is the product of the
/// per-dim counts. Dims may be run-time values.
Value poolNd(NodeBinder &b, Value x, ArrayRef<int64_t> k, ArrayRef<int64_t> s,
             ArrayRef<int64_t> p, ArrayRef<int64_t> d, Pool2d pool2d) {
  int64_t rank = cast<RankedTensorType>(x.getType()).getRank();
  if (rank == 3)
    return dropLifted(b, pool2d(liftInput(b, x), k, s, p, d));
  if (rank == 4)
    return pool2d(x, k, s, p, d);
  auto &B = b.builder;
  auto shape = [&](Value v, int64_t from, int64_t to) -> Value {
    return b.create<ShapeOp>(v, B.getI64IntegerAttr(from), B.getI64IntegerAttr(to));
  };
  auto reshape = [&](Value v, ArrayRef<Value> dims) -> Value {
    return b.create<ReshapeOp>(v, b.create<ConcatOp>(ValueRange(dims), B.getI64IntegerAttr(0)),
                               B.getBoolAttr(false));
  };
  Value n = shape(x, 0, 1), c = shape(x, 1, 2), depth = shape(x, 2, 3);
  Value planes = reshape(x, {n, b.create<MulOp>(c, depth), shape(x, 3, 5)});
  Value y = pool2d(planes, {k[1], k[2]}, {s[1], s[2]}, {p[1], p[2], p[4], p[5]}, {d[1], d[2]});
  Value hw = shape(y, 2, 4);
  Value flat = b.create<MulOp>(shape(y, 2, 3), shape(y, 3, 4));
  Value z = pool2d(reshape(y, {n, c, depth, flat}), {k[0], 1}, {s[0], 1}, {p[0], 0, p[3], 0},
                   {d[0], 1});
  return reshape(z, {n, c, shape(z, 2, 3), hw});
}

} // namespace

Value mlc::convolution(NodeBinder &b, Value x, Value w, Value bias) {
  int64_t group, wRank;
  SmallVector<int64_t> kernel, strides, pads, dilations;
  if (b.attr("group", group, 1) || b.rank(w, wRank))
    return nullptr;
  if (wRank < 3 || group <= 0)
    return b.error("the weight needs rank >= 3 and group must be > 0"), nullptr;
  auto wShape = cast<RankedTensorType>(w.getType()).getShape();
  SmallVector<int64_t> inferred(wShape.begin() + 2, wShape.end());
  if (b.attr("kernel_shape", kernel, inferred))
    return nullptr;
  if (ArrayRef<int64_t>(kernel) != ArrayRef<int64_t>(inferred))
    return b.error("kernel_shape does not match the weight"), nullptr;
  if (windowAttrs(b, x, kernel, strides, pads, dilations))
    return nullptr;
  bool lifted = wRank == 3;
  if (lifted) {
    x = liftInput(b, x);
    w = liftInput(b, w);
  }
  auto &B = b.builder;
  Value y = b.create<ConvOp>(x, w, bias, B.getDenseI64ArrayAttr(strides),
                             B.getDenseI64ArrayAttr(pads), B.getDenseI64ArrayAttr(dilations),
                             B.getI64IntegerAttr(group));
  return lifted ? dropLifted(b, y) : y;
}

namespace {

LogicalResult conv(NodeBinder &b) {
  Value x, w, bias;
  if (b.tensors(x, w) || b.optTensor(2, bias))
    return failure();
  Value y = convolution(b, x, w, bias);
  if (!y)
    return failure();
  b.setResults({y});
  return success();
}

LogicalResult maxPool(NodeBinder &b) {
  Value x;
  int64_t ceil;
  SmallVector<int64_t> kernel, strides, pads, dilations;
  if (b.tensors(x) || b.attr("kernel_shape", kernel) ||
      windowAttrs(b, x, kernel, strides, pads, dilations, /*allow3d=*/true) ||
      b.attr("ceil_mode", ceil, 0) || b.expect("storage_order", 0))
    return failure();
  auto &B = b.builder;
  b.setResults({poolNd(b, x, kernel, strides, pads, dilations,
                       [&](Value v, ArrayRef<int64_t> k, ArrayRef<int64_t> s,
                           ArrayRef<int64_t> p, ArrayRef<int64_t> d) -> Value {
                         return b.create<MaxPoolOp>(
                             v, B.getDenseI64ArrayAttr(k), B.getDenseI64ArrayAttr(s),
                             B.getDenseI64ArrayAttr(p), B.getDenseI64ArrayAttr(d),
                             B.getBoolAttr(ceil != 0));
                       })});
  return success();
}

Value averagePoolNd(NodeBinder &b, Value x, ArrayRef<int64_t> kernel,
                    ArrayRef<int64_t> strides, ArrayRef<int64_t> pads,
                    ArrayRef<int64_t> dilations, bool ceil, bool includePad) {
  auto &B = b.builder;
  return poolNd(b, x, kernel, strides, pads, dilations,
                [&](Value v, ArrayRef<int64_t> k, ArrayRef<int64_t> s, ArrayRef<int64_t> p,
                    ArrayRef<int64_t> d) -> Value {
                  return b.create<AveragePoolOp>(
                      v, B.getDenseI64ArrayAttr(k), B.getDenseI64ArrayAttr(s),
                      B.getDenseI64ArrayAttr(p), B.getDenseI64ArrayAttr(d),
                      B.getBoolAttr(ceil), B.getBoolAttr(includePad));
                });
}

LogicalResult averagePool(NodeBinder &b) {
  Value x;
  int64_t ceil, includePad;
  SmallVector<int64_t> kernel, strides, pads, dilations;
  if (b.tensors(x) || b.attr("kernel_shape", kernel) ||
      windowAttrs(b, x, kernel, strides, pads, dilations, /*allow3d=*/true) ||
      b.attr("ceil_mode", ceil, 0) ||
      b.attr("count_include_pad", includePad, 0))
    return failure();
  b.setResults({averagePoolNd(b, x, kernel, strides, pads, dilations, ceil != 0,
                              includePad != 0)});
  return success();
}

/// LpPool: (sum over the window of |x|^p)^(1/p), the sum taken as an
/// average with the padding counted, times the window size.
LogicalResult lpPool(NodeBinder &b) {
  Value x;
  int64_t ceil, p;
  SmallVector<int64_t> kernel, strides, pads, dilations;
  if (b.tensors(x) || b.attr("kernel_shape", kernel) ||
      windowAttrs(b, x, kernel, strides, pads, dilations, /*allow3d=*/true) ||
      b.attr("ceil_mode", ceil, 0) || b.attr("p", p, 2))
    return failure();
  if (ceil)
    return b.error("LpPool with ceil_mode is not supported"), failure();
  if (p <= 0)
    return b.error("p must be positive"), failure();
  Type elem = NodeBinder::elementType(x);
  if (!isa<FloatType>(elem))
    return b.error("the input must be a float tensor"), failure();
  Value xp = b.create<AbsOp>(x);
  if (p != 1)
    xp = b.create<PowOp>(xp, b.scalar(elem, double(p)));
  Value avg = averagePoolNd(b, xp, kernel, strides, pads, dilations, /*ceil=*/false,
                            /*includePad=*/true);
  int64_t count = 1;
  for (int64_t k : kernel)
    count *= k;
  Value sum = b.create<MulOp>(avg, b.scalar(elem, double(count)));
  Value y = p == 1 ? sum : b.create<PowOp>(sum, b.scalar(elem, 1.0 / double(p))).getResult();
  b.setResults({y});
  return success();
}

/// LRN: x / (bias + alpha / size * (sum of x^2 over `size` channels
/// around c))^beta; the channel sum is a zero-padded [size, 1] window over
/// (N, 1, C, H*W).
LogicalResult lrn(NodeBinder &b) {
  Value x;
  int64_t size, rank;
  float alpha, beta, bias;
  if (b.tensors(x) || b.attr("size", size) || b.attr("alpha", alpha, 1e-4f) ||
      b.attr("beta", beta, 0.75f) || b.attr("bias", bias, 1.0f) || b.rank(x, rank))
    return failure();
  if (rank < 3 || size <= 0)
    return b.error("LRN needs an input of rank >= 3 and size > 0"), failure();
  Type elem = NodeBinder::elementType(x);
  if (!isa<FloatType>(elem))
    return b.error("the input must be a float tensor"), failure();
  int64_t c = cast<RankedTensorType>(x.getType()).getDimSize(1);
  if (c < 0)
    return b.error("the channel dim must be static"), failure();
  auto &B = b.builder;
  Value sq = b.reshape(b.create<MulOp>(x, x), {0, 1, c, -1});
  int64_t lo = (size - 1) / 2, hi = size - 1 - lo;
  Value avg = b.create<AveragePoolOp>(sq, B.getDenseI64ArrayAttr({size, 1}),
                                      B.getDenseI64ArrayAttr({1, 1}),
                                      B.getDenseI64ArrayAttr({lo, 0, hi, 0}),
                                      B.getDenseI64ArrayAttr({1, 1}), B.getBoolAttr(false),
                                      B.getBoolAttr(true));
  // avg * size = the window's sum; alpha / size * sum = alpha * avg.
  Value shape = b.create<ShapeOp>(x, B.getI64IntegerAttr(0), B.getI64IntegerAttr(rank));
  Value s = b.create<ReshapeOp>(avg, shape, B.getBoolAttr(false));
  Value d = b.create<AddOp>(b.create<MulOp>(s, b.scalar(elem, alpha)), b.scalar(elem, bias));
  b.setResults({b.create<DivOp>(x, b.create<PowOp>(d, b.scalar(elem, beta)))});
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

Value reduceOver(NodeBinder &b, Value x, ArrayRef<int64_t> axes, const char *kind);
SmallVector<int64_t> range(int64_t from, int64_t to);
Value standardize(NodeBinder &b, Value x, ArrayRef<int64_t> axes, float eps,
                  Value *meanOut = nullptr, Value *varOut = nullptr);

/// BatchNormalization with training_mode = 1 (opset 14+): normalises with
/// the batch's own statistics (over every dim but C, the variance without
/// Bessel's correction) and returns the updated running statistics,
/// running * momentum + batch * (1 - momentum).
LogicalResult batchNormTraining(NodeBinder &b, Value x, Value scale, Value bias, Value mean,
                                Value var, float eps) {
  float momentum;
  int64_t rank;
  if (b.attr("momentum", momentum, 0.9f) || b.rank(x, rank))
    return failure();
  if (rank < 2)
    return b.error("input must have rank 2 or more (N, C, ...)"), failure();
  Type elem = NodeBinder::elementType(x);
  if (!isa<FloatType>(elem))
    return b.error("input must be a float tensor"), failure();
  SmallVector<int64_t> axes = range(2, rank);
  axes.insert(axes.begin(), 0);
  Value batchMean, batchVar;
  Value normalized = standardize(b, x, axes, eps, &batchMean, &batchVar);
  auto perChannel = [&](Value v) { return b.unsqueeze(v, range(1, rank - 1)); };
  Value y = b.create<AddOp>(b.create<MulOp>(normalized, perChannel(scale)), perChannel(bias));
  auto running = [&](Value old, Value batch) {
    Type t = NodeBinder::elementType(old);
    return b.create<AddOp>(b.create<MulOp>(old, b.scalar(t, momentum)),
                           b.create<MulOp>(b.cast(b.reshape(batch, {-1}), t),
                                           b.scalar(t, 1.0f - momentum)));
  };
  b.setResults({y, running(mean, batchMean), running(var, batchVar)});
  return success();
}

/// MaxUnpool: the values go back to the flat positions MaxPool's indices
/// name (over the whole N x C x spatial tensor) of the shape the window
/// attributes imply, zeros elsewhere; an output_shape input (possibly
/// run-time) pads that with zeros at the end of each dim, as the reference
/// does.
LogicalResult maxUnpool(NodeBinder &b) {
  Value x, indices, outShape;
  int64_t rank;
  SmallVector<int64_t> kernel, strides, pads;
  if (b.tensors(x, indices) || b.optTensor(2, outShape) || b.rank(x, rank) ||
      b.attr("kernel_shape", kernel))
    return failure();
  int64_t spatial = rank - 2;
  if (spatial < 1)
    return b.error("input must have rank 3 or more (N, C, spatial...)"), failure();
  if (b.attr("strides", strides, SmallVector<int64_t>(spatial, 1)) ||
      b.attr("pads", pads, SmallVector<int64_t>(2 * spatial, 0)))
    return failure();
  if ((int64_t)kernel.size() != spatial || (int64_t)strides.size() != spatial ||
      (int64_t)pads.size() != 2 * spatial)
    return b.error("window attributes do not match the input rank"), failure();
  auto t = cast<RankedTensorType>(x.getType());
  SmallVector<int64_t> dims(t.getShape().take_front(2));
  for (int64_t i = 0; i < spatial; ++i) {
    int64_t in = t.getDimSize(2 + i);
    if (in < 0 || kernel[i] <= 0 || strides[i] <= 0 || kernel[i] > kMaxWindowAttr ||
        strides[i] > kMaxWindowAttr || pads[i] < 0 || pads[i + spatial] < 0)
      return b.error("needs static spatial dims, kernel_shape and strides > 0, pads >= 0"),
             failure();
    dims.push_back((in - 1) * strides[i] + kernel[i] - pads[i] - pads[i + spatial]);
    if (dims.back() <= 0)
      return b.error("the window attributes give an empty output"), failure();
  }
  if (dims[0] < 0 || dims[1] < 0)
    return b.error("needs static N and C"), failure();
  auto &B = b.builder;
  Value zeros = b.create<ExpandOp>(b.scalar(NodeBinder::elementType(x), 0), b.i64s(dims));
  Value flat = b.create<ScatterElementsOp>(
      b.reshape(zeros, {-1}), b.reshape(indices, {-1}), b.reshape(x, {-1}),
      B.getI64IntegerAttr(0), B.getStringAttr("none"));
  Value y = b.reshape(flat, dims);
  if (outShape) {
    Value grow = b.create<SubOp>(outShape, b.i64s(dims));
    Value padding = b.create<ConcatOp>(ValueRange{b.i64s(SmallVector<int64_t>(rank, 0)), grow},
                                       B.getI64IntegerAttr(0));
    y = b.create<PadOp>(y, padding, Value(), B.getDenseI64ArrayAttr(range(0, rank)),
                        PadModeAttr::get(B.getContext(), PadMode::Constant));
  }
  b.setResults({y});
  return success();
}

LogicalResult batchNorm(NodeBinder &b) {
  Value x, scale, bias, mean, var;
  float eps;
  int64_t training;
  if (b.tensors(x, scale, bias, mean, var) || b.attr("epsilon", eps, 1e-5f) ||
      b.attr("training_mode", training, 0) || b.expect("spatial", 1) ||
      b.expect("is_test", b.opset < 7 ? 1 : 0))
    return failure();
  b.ignore("consumed_inputs");
  if (training)
    return batchNormTraining(b, x, scale, bias, mean, var, eps);
  b.ignore("momentum"); // only used in training
  b.setResults({b.create<BatchNormOp>(x, scale, bias, mean, var,
                                      b.builder.getF32FloatAttr(eps))});
  return success();
}

SmallVector<int64_t> range(int64_t from, int64_t to) {
  SmallVector<int64_t> r;
  for (int64_t i = from; i < to; ++i)
    r.push_back(i);
  return r;
}

Value reduceOver(NodeBinder &b, Value x, ArrayRef<int64_t> axes, const char *kind) {
  auto &B = b.builder;
  return b.create<ReduceOp>(x, Value(), B.getDenseI64ArrayAttr(axes), B.getBoolAttr(true),
                            B.getStringAttr(kind), B.getBoolAttr(false));
}

LogicalResult globalMaxPool(NodeBinder &b) {
  Value x;
  int64_t rank;
  if (b.tensors(x) || b.rank(x, rank))
    return failure();
  if (rank < 3)
    return b.error("input must have rank 3 or more (N, C, spatial...)"), failure();
  b.setResults({reduceOver(b, x, range(2, rank), "max")});
  return success();
}

/// (x - mean) / sqrt(var + eps) with the statistics over `axes` (kept as
/// unit dims; returned through meanOut/varOut when asked).
Value standardize(NodeBinder &b, Value x, ArrayRef<int64_t> axes, float eps, Value *meanOut,
                  Value *varOut) {
  Type elem = NodeBinder::elementType(x);
  Value mean = reduceOver(b, x, axes, "mean");
  Value centred = b.create<SubOp>(x, mean);
  Value var = reduceOver(b, b.create<MulOp>(centred, centred), axes, "mean");
  if (meanOut)
    *meanOut = mean;
  if (varOut)
    *varOut = var;
  Value rstd = b.create<ReciprocalOp>(b.create<SqrtOp>(b.create<AddOp>(var, b.scalar(elem, eps))));
  return b.create<MulOp>(centred, rstd);
}

/// InstanceNormalization: per (n, c) statistics over the spatial dims.
LogicalResult instanceNorm(NodeBinder &b) {
  Value x, scale, bias;
  int64_t rank;
  float eps;
  if (b.tensors(x, scale, bias) || b.rank(x, rank) || b.attr("epsilon", eps, 1e-5f))
    return failure();
  if (rank < 3)
    return b.error("input must have rank 3 or more (N, C, spatial...)"), failure();
  if (!isa<FloatType>(NodeBinder::elementType(x)))
    return b.error("input must be a float tensor"), failure();
  // scale and bias (C) broadcast as (C, 1, ..., 1)
  auto perChannel = [&](Value v) { return b.unsqueeze(v, range(1, rank - 1)); };
  Value y = b.create<AddOp>(
      b.create<MulOp>(standardize(b, x, range(2, rank), eps), perChannel(scale)),
      perChannel(bias));
  b.setResults({y});
  return success();
}

/// GroupNormalization: statistics per (n, group of C / G channels), in f32
/// unless stash_type says otherwise; scale and bias per channel (opset 21)
/// or per group (opset 18).
LogicalResult groupNorm(NodeBinder &b) {
  Value x, scale, bias;
  int64_t rank, groups, stash;
  float eps;
  if (b.tensors(x, scale, bias) || b.rank(x, rank) || b.attr("epsilon", eps, 1e-5f) ||
      b.attr("num_groups", groups) || b.attr("stash_type", stash, 1))
    return failure();
  if (rank < 3)
    return b.error("input must have rank 3 or more (N, C, spatial...)"), failure();
  Type elem = NodeBinder::elementType(x);
  if (!isa<FloatType>(elem))
    return b.error("input must be a float tensor"), failure();
  int64_t c = cast<RankedTensorType>(x.getType()).getDimSize(1);
  if (groups <= 0 || (c >= 0 && c % groups))
    return b.error("num_groups must be positive and divide the channels"), failure();
  Type calc = stash == 1 ? b.builder.getF32Type() : elem;
  Value xg = b.reshape(b.cast(x, calc), {0, groups, -1});
  Value y = standardize(b, xg, {2}, eps);
  bool perGroup = b.opset < 21;
  if (perGroup)
    y = b.create<AddOp>(b.create<MulOp>(y, b.unsqueeze(b.cast(scale, calc), {1})),
                        b.unsqueeze(b.cast(bias, calc), {1}));
  Value shape = b.create<ShapeOp>(x, b.builder.getI64IntegerAttr(0),
                                  b.builder.getI64IntegerAttr(rank));
  y = b.cast(b.create<ReshapeOp>(y, shape, b.builder.getBoolAttr(false)), elem);
  if (!perGroup) {
    auto perChannel = [&](Value v) { return b.unsqueeze(v, range(1, rank - 1)); };
    y = b.create<AddOp>(b.create<MulOp>(y, perChannel(scale)), perChannel(bias));
  }
  b.setResults({y});
  return success();
}

/// ConvTranspose (2-D, static shapes) as a Conv: the input with s-1 zeros
/// inserted between elements (unsqueeze, pad, reshape) and padded by
/// d(k-1) - pad on each side (a negative amount crops), convolved at stride
/// 1 with the weight transposed per group and flipped in space.
LogicalResult convTranspose(NodeBinder &b) {
  Value x, w, bias;
  int64_t group;
  std::string autoPad;
  SmallVector<int64_t> kernel, strides, pads, dilations, outPad, outShape;
  if (b.tensors(x, w) || b.optTensor(2, bias) || b.attr("group", group, 1) ||
      b.attr("auto_pad", autoPad, std::string("NOTSET")))
    return failure();
  auto xt = dyn_cast<RankedTensorType>(x.getType());
  auto wt = dyn_cast<RankedTensorType>(w.getType());
  if (!xt || !wt || (xt.getRank() != 3 && xt.getRank() != 4) || wt.getRank() != xt.getRank())
    return b.error("only 1-D and 2-D ConvTranspose (3-D NCL or 4-D NCHW input) is supported"),
           failure();
  size_t spatial = xt.getRank() - 2;
  if (!wt.hasStaticShape() || llvm::any_of(xt.getShape().drop_front(), ShapedType::isDynamic))
    return b.error("the weight and the input's C and spatial dims must be static"), failure();
  SmallVector<int64_t> k(wt.getShape().drop_front(2));
  if (b.attr("kernel_shape", kernel, k) ||
      b.attr("strides", strides, SmallVector<int64_t>(spatial, 1)) ||
      b.attr("dilations", dilations, SmallVector<int64_t>(spatial, 1)) ||
      b.attr("output_padding", outPad, SmallVector<int64_t>(spatial, 0)) ||
      b.attr("pads", pads, SmallVector<int64_t>(2 * spatial, 0)) ||
      b.attr("output_shape", outShape, SmallVector<int64_t>{}))
    return failure();
  if (ArrayRef<int64_t>(kernel) != ArrayRef<int64_t>(k) || strides.size() != spatial ||
      dilations.size() != spatial || outPad.size() != spatial || pads.size() != 2 * spatial ||
      (outShape.size() != 0 && outShape.size() != spatial))
    return b.error("inconsistent kernel_shape, strides, pads or output_shape"), failure();
  bool lifted = spatial == 1;
  if (lifted) { // as a 2-D ConvTranspose over (N, C, 1, L)
    liftWindow(k, strides, pads, dilations);
    outPad.insert(outPad.begin(), 0);
    if (!outShape.empty())
      outShape.insert(outShape.begin(), 1);
    x = liftInput(b, x);
    w = liftInput(b, w);
    xt = cast<RankedTensorType>(x.getType());
    wt = cast<RankedTensorType>(w.getType());
  }
  int64_t cin = wt.getDimSize(0), coutG = wt.getDimSize(1);
  SmallVector<int64_t> in = {xt.getDimSize(2), xt.getDimSize(3)};
  if (group <= 0 || cin % group || xt.getDimSize(1) != cin)
    return b.error("inconsistent groups or channels"), failure();
  // Window attributes beyond 2^20 are no real model's, and would overflow
  // the size arithmetic below.
  auto sane = [](ArrayRef<int64_t> v, int64_t lo) {
    return llvm::all_of(v, [&](int64_t x) { return x >= lo && x <= kMaxWindowAttr; });
  };
  if (!sane(strides, 1) || !sane(dilations, 1) || !sane(outPad, 0) || !sane(pads, 0) ||
      !sane(outShape, 0))
    return b.error("strides and dilations must be in [1, 2^20], pads and output_padding "
                   "in [0, 2^20]"),
           failure();
  if (!sane(k, 1))
    return b.error("the weight's kernel dims must be in [1, 2^20]"), failure();
  // With every factor bounded, the size arithmetic below stays below 2^62.
  if (in[0] > (int64_t(1) << 30) || in[1] > (int64_t(1) << 30))
    return b.error("input spatial dims above 2^30 are not supported"), failure();
  if (!outShape.empty() || (autoPad != "NOTSET" && autoPad != "VALID")) {
    for (int i = 0; i < 2; ++i) {
      int64_t out = outShape.empty() ? in[i] * strides[i] : outShape[i];
      int64_t total = strides[i] * (in[i] - 1) + outPad[i] + (k[i] - 1) * dilations[i] + 1 - out;
      int64_t small = total / 2, large = total - small;
      pads[i] = autoPad == "SAME_LOWER" ? large : small;
      pads[i + 2] = autoPad == "SAME_LOWER" ? small : large;
    }
  } else if (autoPad == "VALID") {
    pads = {0, 0, 0, 0};
  }
  auto &B = b.builder;
  auto consts = [&](ArrayRef<int64_t> v) { return b.i64s(v); };
  auto padOp = [&](Value v, ArrayRef<int64_t> p, ArrayRef<int64_t> axes) -> Value {
    return b.create<PadOp>(v, consts(p), Value(), B.getDenseI64ArrayAttr(axes),
                           PadModeAttr::get(B.getContext(), PadMode::Constant));
  };
  int64_t n = xt.isDynamicDim(0) ? 0 : xt.getDimSize(0); // 0: copy the dim
  Value up = x;
  if (strides[0] > 1 || strides[1] > 1) {
    up = b.unsqueeze(x, {3, 5});
    up = padOp(up, {0, 0, strides[0] - 1, strides[1] - 1}, {3, 5});
    up = b.reshape(up, {n, cin, in[0] * strides[0], in[1] * strides[1]});
  }
  SmallVector<int64_t> p2;
  for (int i = 0; i < 2; ++i)
    p2.push_back(dilations[i] * (k[i] - 1) - pads[i]);
  for (int i = 0; i < 2; ++i)
    p2.push_back(dilations[i] * (k[i] - 1) - pads[i + 2] + outPad[i] - (strides[i] - 1));
  up = padOp(up, p2, {2, 3});
  // weight (Cin, Cout/g, kh, kw) -> (Cout, Cin/g, kh, kw), flipped in space
  Value wf = b.reshape(w, {group, cin / group, coutG, k[0], k[1]});
  wf = b.transpose(wf, {0, 2, 1, 3, 4});
  wf = b.reshape(wf, {group * coutG, cin / group, k[0], k[1]});
  for (int i = 0; i < 2; ++i) {
    SmallVector<int64_t> rev;
    for (int64_t j = k[i] - 1; j >= 0; --j)
      rev.push_back(j);
    wf = b.create<GatherOp>(wf, consts(rev), B.getI64IntegerAttr(2 + i));
  }
  Value y = b.create<ConvOp>(up, wf, bias, B.getDenseI64ArrayAttr({1, 1}),
                             B.getDenseI64ArrayAttr({0, 0, 0, 0}),
                             B.getDenseI64ArrayAttr(dilations), B.getI64IntegerAttr(group));
  b.setResults({lifted ? dropLifted(b, y) : y});
  return success();
}

/// DepthToSpace / SpaceToDepth on NCHW with static C, H, W: reshape,
/// transpose, reshape.
template <bool ToSpace> LogicalResult depthSpace(NodeBinder &b) {
  Value x;
  int64_t bs;
  std::string mode;
  if (b.tensors(x) || b.attr("blocksize", bs) || b.attr("mode", mode, std::string("DCR")))
    return failure();
  auto t = dyn_cast<RankedTensorType>(x.getType());
  if (!t || t.getRank() != 4)
    return b.error("input must be a 4-D NCHW tensor"), failure();
  int64_t n = t.getDimSize(0), c = t.getDimSize(1), h = t.getDimSize(2), w = t.getDimSize(3);
  if (c < 0 || h < 0 || w < 0 || bs <= 0)
    return b.error("C, H and W must be static (give --shape)"), failure();
  if (mode != "DCR" && mode != "CRD")
    return b.error("mode must be DCR or CRD"), failure();
  auto reshape = [&](Value v, ArrayRef<int64_t> dims) { return b.reshape(v, dims); };
  auto transpose = [&](Value v, ArrayRef<int64_t> perm) { return b.transpose(v, perm); };
  int64_t nn = n < 0 ? -1 : n;
  Value y;
  if (ToSpace) {
    if (c % (bs * bs))
      return b.error("C must be divisible by blocksize^2"), failure();
    int64_t co = c / (bs * bs);
    if (mode == "DCR")
      y = transpose(reshape(x, {nn, bs, bs, co, h, w}), {0, 3, 4, 1, 5, 2});
    else
      y = transpose(reshape(x, {nn, co, bs, bs, h, w}), {0, 1, 4, 2, 5, 3});
    y = reshape(y, {nn, co, h * bs, w * bs});
  } else {
    if (h % bs || w % bs)
      return b.error("H and W must be divisible by blocksize"), failure();
    y = transpose(reshape(x, {nn, c, h / bs, bs, w / bs, bs}),
                  mode == "DCR" ? SmallVector<int64_t>{0, 3, 5, 1, 2, 4}
                                : SmallVector<int64_t>{0, 1, 3, 5, 2, 4});
    y = reshape(y, {nn, c * bs * bs, h / bs, w / bs});
  }
  b.setResults({y});
  return success();
}

} // namespace

void registerNNConverters() {
  registerConverter("GlobalMaxPool", 1, globalMaxPool);
  registerConverter("ConvTranspose", 1, convTranspose);
  registerConverter("InstanceNormalization", 1, instanceNorm);
  registerConverter("GroupNormalization", 18, groupNorm);
  registerConverter("DepthToSpace", 1, depthSpace<true>);
  registerConverter("SpaceToDepth", 1, depthSpace<false>);
  registerConverter("Conv", 1, conv);
  registerConverter("MaxPool", 1, maxPool);
  registerConverter("AveragePool", 1, averagePool);
  registerConverter("GlobalAveragePool", 1, globalAveragePool);
  registerConverter("LpPool", 2, lpPool);
  registerConverter("LRN", 1, lrn);
  registerConverter("BatchNormalization", 1, batchNorm);
  registerConverter("MaxUnpool", 9, maxUnpool);
}
