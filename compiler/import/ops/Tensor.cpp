//===- Tensor.cpp - converters: constants, shapes and data movement ------===//
#include "compiler/import/NarrowTypes.h"
#include "compiler/import/NodeBinder.h"

#include "mlir/IR/Matchers.h"

#include <cmath>
#include <limits>

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
  if (int t = b.tensorAttrType("value"); narrow::bits(t))
    b.setNarrowResult(0, t);
  return success();
}

/// ConstantOfShape whose shape is known at import (an initializer or a
/// constant: what exporters write for weights and masks of fixed size)
/// becomes a splat constant; a shape computed at run time is reported.
LogicalResult constantOfShape(NodeBinder &b) {
  SmallVector<int64_t> dims;
  DenseElementsAttr value;
  Value shape;
  if (b.tensors(shape))
    return failure();
  if (b.has("value")) {
    if (b.attr("value", value))
      return failure();
    if (value.getNumElements() != 1)
      return b.error("'value' must hold exactly one element"), failure();
  }
  DenseElementsAttr known;
  if (!matchPattern(shape, m_Constant(&known))) {
    // A shape known only at run time: the scalar expanded to it.
    Type elem = value ? value.getElementType() : b.builder.getF32Type();
    auto st = RankedTensorType::get({}, elem);
    Attribute scalar = value ? *value.getValues<Attribute>().begin()
                             : b.builder.getZeroAttr(elem);
    Value c = b.constant(DenseElementsAttr::get(st, scalar));
    b.setResults({b.create<ExpandOp>(c, shape)});
    return success();
  }
  if (b.constInts(0, dims))
    return failure();
  for (int64_t d : dims)
    if (d < 0)
      return b.error("the shape has a negative dim"), failure();
  Type elem = value ? value.getElementType() : b.builder.getF32Type();
  auto type = RankedTensorType::get(dims, elem);
  Attribute scalar = value ? *value.getValues<Attribute>().begin()
                           : b.builder.getZeroAttr(elem);
  b.setResults({b.constant(DenseElementsAttr::get(type, scalar))});
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

LogicalResult pad(NodeBinder &b) {
  Value x, pads, value;
  int64_t rank;
  std::string modeName;
  if (b.tensors(x) || b.rank(x, rank) || b.attr("mode", modeName, std::string("constant")))
    return failure();
  auto mode = symbolizePadMode(modeName);
  if (!mode)
    return b.error("mode must be constant, reflect, edge or wrap"), failure();
  auto &B = b.builder;
  SmallVector<int64_t> axes;
  if (b.opset < 11) {
    SmallVector<int64_t> p;
    float v;
    if (b.attr(b.opset < 2 ? "paddings" : "pads", p) || b.attr("value", v, 0.0f))
      return failure();
    auto pt = RankedTensorType::get({(int64_t)p.size()}, B.getI64Type());
    pads = b.constant(DenseElementsAttr::get(pt, ArrayRef<int64_t>(p)));
    Type elem = mlir::cast<ShapedType>(x.getType()).getElementType();
    value = b.constant(DenseElementsAttr::get(RankedTensorType::get({}, elem),
                                              B.getFloatAttr(elem, v)));
  } else {
    Value axesIn;
    if (b.tensorAt(1, pads) || b.optTensor(2, value) || b.optTensor(3, axesIn))
      return failure();
    if (axesIn && b.constInts(3, axes))
      return failure();
  }
  if (axes.empty())
    for (int64_t i = 0; i < rank; ++i)
      axes.push_back(i);
  for (int64_t &a : axes)
    if (b.axis(a, rank))
      return failure();
  b.setResults({b.create<PadOp>(x, pads, value, B.getDenseI64ArrayAttr(axes),
                                PadModeAttr::get(B.getContext(), *mode))});
  return success();
}

/// Resize (opset 10-19) and Upsample (7-9).
template <bool Upsample> LogicalResult resize(NodeBinder &b) {
  Value x, roi, scales, sizes;
  int64_t rank, excludeOutside = 0, antialias;
  std::string mode, coord, nearest, policy;
  float cubicA = -0.75f, extrap = 0;
  if (b.tensors(x) || b.rank(x, rank) || b.attr("mode", mode, std::string("nearest")))
    return failure();
  auto &B = b.builder;
  if (Upsample || b.opset < 11) {
    // scales as an attribute (Upsample 7) or input #1; asymmetric, floor.
    coord = "asymmetric";
    nearest = "floor";
    if (b.has("scales"))
      return b.error("Upsample with a scales attribute (opset 7) is not supported"), failure();
    if (b.tensorAt(1, scales))
      return failure();
    if (mode == "bilinear")
      mode = "linear";
  } else {
    SmallVector<int64_t> axes;
    if (b.optTensor(1, roi) || b.optTensor(2, scales) || b.optTensor(3, sizes) ||
        b.attr("coordinate_transformation_mode", coord, std::string("half_pixel")) ||
        b.attr("nearest_mode", nearest, std::string("round_prefer_floor")) ||
        b.attr("cubic_coeff_a", cubicA, -0.75f) ||
        b.attr("exclude_outside", excludeOutside, 0) ||
        b.attr("extrapolation_value", extrap, 0.0f) || b.attr("antialias", antialias, 0) ||
        b.attr("keep_aspect_ratio_policy", policy, std::string("stretch")))
      return failure();
    if (antialias)
      return b.error("antialias is not supported"), failure();
    if (policy != "stretch" && policy != "not_larger" && policy != "not_smaller")
      return b.error("keep_aspect_ratio_policy '" + policy + "' is not supported"), failure();
    if (sizes) {
      if (auto t = dyn_cast<RankedTensorType>(sizes.getType()); t && t.hasStaticShape() && t.getNumElements() == 0)
        sizes = nullptr;
    }
    if (scales) {
      if (auto t = dyn_cast<RankedTensorType>(scales.getType()); t && t.hasStaticShape() && t.getNumElements() == 0)
        scales = nullptr;
    }
  }
  if (mode != "nearest" && mode != "linear" && mode != "cubic")
    return b.error("mode '" + mode + "' is not supported"), failure();
  if (!scales && !sizes)
    return b.error("neither scales nor sizes is given"), failure();
  SmallVector<int64_t> axes;
  if (b.has("axes")) {
    if (b.attr("axes", axes))
      return failure();
    for (int64_t &a : axes)
      if (b.axis(a, rank))
        return failure();
  } else {
    for (int64_t i = 0; i < rank; ++i)
      axes.push_back(i);
  }
  if (sizes && scales)
    scales = nullptr; // sizes win (only one may be given by the spec)
  if (sizes && policy != "stretch") { // sizes and a policy: opset >= 11 only
    // One scale for every axis, the largest that fits in sizes
    // (not_larger) or the smallest that covers it (not_smaller); the
    // output is that scale times the input, rounded half up. ResizeOp
    // takes both: sizes for the output, scales for the coordinates.
    // Run-time sizes or dims fold to constants when they are known.
    auto st = dyn_cast<RankedTensorType>(sizes.getType());
    if (!st || st.getRank() != 1 || st.getDimSize(0) != int64_t(axes.size()))
      return b.error("sizes must have one entry per axis"), failure();
    Type f64 = B.getF64Type(), i64 = B.getI64Type();
    Value shape = b.create<ShapeOp>(x, B.getI64IntegerAttr(0), B.getI64IntegerAttr(rank));
    Value in = b.cast(b.create<GatherOp>(shape, b.i64s(axes), B.getI64IntegerAttr(0)), f64);
    Value ratio = b.create<DivOp>(b.cast(sizes, f64), in);
    Value scale = b.create<ReduceOp>(ratio, Value(), B.getDenseI64ArrayAttr({0}),
                                     B.getBoolAttr(true),
                                     B.getStringAttr(policy == "not_larger" ? "min" : "max"),
                                     B.getBoolAttr(false)); // [1], broadcasts
    Value scaled = b.create<AddOp>(b.create<MulOp>(in, scale), b.scalar(f64, 0.5));
    sizes = b.cast(b.create<MathOp>(scaled, MathKindAttr::get(B.getContext(), MathKind::Floor),
                                    B.getF64FloatAttr(0),
                                    B.getF64FloatAttr(0)),
                   i64);
    scales = b.cast(b.create<ExpandOp>(scale, b.i64s({int64_t(axes.size())})), B.getF32Type());
  }
  b.setResults({b.create<ResizeOp>(x, roi, scales, sizes, B.getDenseI64ArrayAttr(axes),
                                   B.getStringAttr(mode), B.getStringAttr(coord),
                                   B.getStringAttr(nearest), B.getF64FloatAttr(extrap),
                                   B.getF64FloatAttr(cubicA), B.getBoolAttr(excludeOutside != 0))});
  return success();
}

/// OneHot: where(unsqueeze(indices, axis) == iota(depth), on, off); negative
/// indices count from the end.
LogicalResult oneHot(NodeBinder &b) {
  Value idx, depth, values;
  int64_t axis, rank;
  if (b.tensors(idx, depth, values) || b.rank(idx, rank) || b.attr("axis", axis, -1))
    return failure();
  if (b.axis(axis, rank + 1))
    return failure();
  auto &B = b.builder;
  auto i64 = TypeAttr::get(B.getI64Type());
  auto dt = dyn_cast<RankedTensorType>(depth.getType());
  if (!dt || !dt.hasStaticShape() || dt.getNumElements() != 1)
    return b.error("depth must hold one element"), failure();
  Value d = b.create<CastOp>(depth, i64);
  if (dt.getRank() > 0) {
    SmallVector<int64_t> all;
    for (int64_t i = 0; i < dt.getRank(); ++i)
      all.push_back(i);
    d = b.create<SqueezeOp>(d, B.getDenseI64ArrayAttr(all));
  }
  Value ind = b.create<CastOp>(idx, i64);
  auto st = RankedTensorType::get({}, B.getI64Type());
  Value zero = b.constant(DenseElementsAttr::get(st, B.getI64IntegerAttr(0)));
  Value neg = b.create<CompareOp>(ind, zero, B.getStringAttr("lt"));
  ind = b.create<WhereOp>(neg, b.create<AddOp>(ind, d), ind);
  ind = b.create<UnsqueezeOp>(ind, B.getDenseI64ArrayAttr({axis}));
  Value hit = b.create<CompareOp>(ind, b.iota(d, rank - axis), B.getStringAttr("eq"));
  auto pick = [&](int64_t k) -> Value {
    Value i = b.constant(DenseElementsAttr::get(st, B.getI64IntegerAttr(k)));
    return b.create<GatherOp>(values, i, B.getI64IntegerAttr(0));
  };
  b.setResults({b.create<WhereOp>(hit, pick(1), pick(0))});
  return success();
}

/// Hardmax: 1 where ArgMax (first index) along the axis, 0 elsewhere; before
/// opset 13 the input is coerced to 2-D at the axis.
LogicalResult hardmax(NodeBinder &b) {
  Value x;
  int64_t axis, rank;
  bool legacy = b.opset < 13;
  if (b.tensors(x) || b.rank(x, rank) || b.attr("axis", axis, legacy ? 1 : -1) ||
      b.axis(axis, rank))
    return failure();
  auto &B = b.builder;
  Value in = x, shape;
  if (legacy) {
    shape = b.create<ShapeOp>(x, B.getI64IntegerAttr(0), B.getI64IntegerAttr(rank));
    in = b.create<FlattenOp>(x, B.getI64IntegerAttr(axis));
    axis = 1;
  }
  int64_t r = legacy ? 2 : rank;
  Value am = b.create<ArgReduceOp>(in, B.getI64IntegerAttr(axis), B.getBoolAttr(true),
                                   B.getBoolAttr(false), B.getBoolAttr(true));
  Value n = b.create<ShapeOp>(in, B.getI64IntegerAttr(axis), B.getI64IntegerAttr(axis + 1));
  n = b.create<SqueezeOp>(n, B.getDenseI64ArrayAttr({0}));
  Value hit = b.create<CompareOp>(am, b.iota(n, r - 1 - axis), B.getStringAttr("eq"));
  Type elem = mlir::cast<ShapedType>(x.getType()).getElementType();
  Value y = b.create<CastOp>(hit, TypeAttr::get(elem));
  if (legacy)
    y = b.create<ReshapeOp>(y, shape, B.getBoolAttr(false));
  b.setResults({y});
  return success();
}

LogicalResult tile(NodeBinder &b) {
  Value x, reps;
  int64_t rank;
  if (b.tensors(x, reps) || b.rank(x, rank))
    return failure();
  auto rt = dyn_cast<RankedTensorType>(reps.getType());
  if (!rt || rt.getRank() != 1 || rt.getDimSize(0) != rank)
    return b.error("repeats must be a 1-D tensor with one entry per input dim"), failure();
  b.setResults({b.create<TileOp>(x, reps)});
  return success();
}

LogicalResult trilu(NodeBinder &b) {
  Value x, k;
  int64_t upper;
  if (b.tensors(x) || b.optTensor(1, k) || b.attr("upper", upper, 1))
    return failure();
  b.setResults({b.create<TriluOp>(x, k, b.builder.getBoolAttr(upper != 0))});
  return success();
}

template <bool Product> LogicalResult cumulative(NodeBinder &b) {
  Value x, axisIn;
  SmallVector<int64_t> axisV;
  int64_t excl, rev, rank;
  if (b.tensors(x, axisIn) || b.rank(x, rank) || b.attr("exclusive", excl, 0) ||
      b.attr("reverse", rev, 0))
    return failure();
  auto &B = b.builder;
  DenseElementsAttr c;
  if (!matchPattern(axisIn, m_Constant(&c))) {
    b.setResults({b.create<CumSumOp>(x, axisIn, B.getI64IntegerAttr(0), B.getBoolAttr(excl != 0),
                                     B.getBoolAttr(rev != 0), B.getBoolAttr(Product))});
    return success();
  }
  if (b.constInts(1, axisV))
    return failure();
  if (axisV.size() != 1)
    return b.error("axis must be a scalar"), failure();
  int64_t axis = axisV[0];
  if (b.axis(axis, rank))
    return failure();
  b.setResults({b.create<CumSumOp>(x, Value(), B.getI64IntegerAttr(axis), B.getBoolAttr(excl != 0),
                                   B.getBoolAttr(rev != 0), B.getBoolAttr(Product))});
  return success();
}

LogicalResult gatherElements(NodeBinder &b) {
  Value data, idx;
  int64_t axis, rank;
  if (b.tensors(data, idx) || b.rank(data, rank) || b.attr("axis", axis, 0) ||
      b.axis(axis, rank))
    return failure();
  b.setResults({b.create<GatherElementsOp>(data, idx, b.builder.getI64IntegerAttr(axis))});
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

/// The inclusive running sum of a 1-D tensor.
Value runningSum(NodeBinder &b, Value v) {
  auto &B = b.builder;
  return b.create<CumSumOp>(v, Value(), B.getI64IntegerAttr(0), B.getBoolAttr(false),
                            B.getBoolAttr(false), B.getBoolAttr(false));
}

/// Squeeze/Unsqueeze by axes known at run time only (their count is
/// static): a Reshape to a shape computed from the axes. Unsqueeze: output
/// dim j is 1 where j is an axis, else input dim j - (axes <= j). Squeeze:
/// output dim k is the input dim i whose rank among the kept dims is k.
Value reshapeByAxes(NodeBinder &b, Value x, Value axesV, int64_t rank, bool squeeze) {
  auto at = dyn_cast<RankedTensorType>(axesV.getType());
  if (!at || at.getRank() != 1 || at.isDynamicDim(0) || !isa<IntegerType>(at.getElementType()))
    return b.error("axes given at run time must be a 1-D integer tensor of static length"),
           nullptr;
  auto &B = b.builder;
  Type i64 = B.getI64Type();
  int64_t n = at.getDimSize(0);
  constexpr int64_t kMaxRank = 64; // as the shape inference's limit
  if (n > kMaxRank || rank > kMaxRank)
    return b.error("more axes than any tensor has dims"), nullptr;
  int64_t outRank = squeeze ? rank - n : rank + n, span = squeeze ? rank : outRank;
  if (outRank < 0)
    return b.error("more axes than dims"), nullptr;
  auto iotaConst = [&](int64_t m) {
    SmallVector<int64_t> v;
    for (int64_t i = 0; i < m; ++i)
      v.push_back(i);
    return b.i64s(v);
  };
  auto reduce = [&](Value v, const char *kind) -> Value {
    return b.create<ReduceOp>(v, Value(), B.getDenseI64ArrayAttr({1}), B.getBoolAttr(false),
                              B.getStringAttr(kind), B.getBoolAttr(false));
  };
  if (outRank == 0 || (!squeeze && rank == 0))
    return b.reshape(x, SmallVector<int64_t>(outRank, 1));
  Value a = b.cast(axesV, i64);
  Value neg = b.create<CompareOp>(a, b.scalar(i64, 0), B.getStringAttr("lt"));
  a = b.create<WhereOp>(neg, b.create<AddOp>(a, b.scalar(i64, double(span))), a);
  Value j = iotaConst(span);
  Value hit = b.cast(b.create<CompareOp>(b.unsqueeze(j, {1}), b.unsqueeze(a, {0}), B.getStringAttr("eq")), i64);
  Value isAxis = reduce(hit, "max"); // [span] 0/1
  Value shape = b.create<ShapeOp>(x, B.getI64IntegerAttr(0), B.getI64IntegerAttr(rank));
  Value one = b.scalar(i64, 1);
  Value target;
  if (!squeeze) {
    Value before = runningSum(b, isAxis);
    Value src = b.create<MinOp>(b.create<MaxOp>(b.create<SubOp>(j, before), b.scalar(i64, 0)),
                                b.scalar(i64, double(rank - 1)));
    Value dims = b.create<GatherOp>(shape, src, B.getI64IntegerAttr(0));
    target = b.create<WhereOp>(b.create<CompareOp>(isAxis, one, B.getStringAttr("eq")), one, dims);
  } else {
    Value keep = b.create<SubOp>(one, isAxis);
    Value pos = b.create<SubOp>(runningSum(b, keep), one);
    Value match = b.create<AndOp>(
        b.create<CompareOp>(b.unsqueeze(pos, {0}), b.unsqueeze(iotaConst(outRank), {1}),
                            B.getStringAttr("eq")),
        b.create<CompareOp>(b.unsqueeze(keep, {0}), one, B.getStringAttr("eq")));
    target = reduce(b.create<WhereOp>(match, b.unsqueeze(shape, {0}), b.scalar(i64, 0)), "sum");
  }
  return b.create<ReshapeOp>(x, target, B.getBoolAttr(false));
}

/// The axes input of Squeeze/Unsqueeze (opset 13+) when it is not a
/// constant; null otherwise.
Value runTimeAxes(NodeBinder &b) {
  Value given;
  if (b.opset < 13 || b.numInputs() < 2 || b.optTensor(1, given) || !given ||
      matchPattern(given, m_Constant()))
    return nullptr;
  return given;
}

LogicalResult unsqueeze(NodeBinder &b) {
  Value x;
  int64_t rank;
  SmallVector<int64_t> axes;
  if (b.tensors(x) || b.rank(x, rank))
    return failure();
  if (Value given = runTimeAxes(b)) {
    Value y = reshapeByAxes(b, x, given, rank, false);
    if (!y)
      return failure();
    b.setResults({y});
    return success();
  }
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
  if (b.tensors(x) || b.rank(x, rank))
    return failure();
  if (Value given = runTimeAxes(b)) {
    Value y = reshapeByAxes(b, x, given, rank, true);
    if (!y)
      return failure();
    b.setResults({y});
    return success();
  }
  if (squeezeAxes(b, rank, axes))
    return failure();
  b.setResults({b.create<SqueezeOp>(x, b.builder.getDenseI64ArrayAttr(axes))});
  return success();
}

/// Slice: starts/ends may be computed at run time; axes and steps must be
/// constant (steps positive).
LogicalResult slice(NodeBinder &b) {
  Value x, starts, ends, axesV, stepsV;
  int64_t rank;
  if (b.tensors(x) || b.rank(x, rank))
    return failure();
  auto &B = b.builder;
  SmallVector<int64_t> axes, steps;
  if (b.opset < 10) {
    SmallVector<int64_t> s, e;
    if (b.attr("starts", s) || b.attr("ends", e) || b.attr("axes", axes, SmallVector<int64_t>{}))
      return failure();
    auto t = RankedTensorType::get({(int64_t)s.size()}, B.getI64Type());
    starts = b.constant(DenseElementsAttr::get(t, ArrayRef<int64_t>(s)));
    ends = b.constant(DenseElementsAttr::get(t, ArrayRef<int64_t>(e)));
  } else {
    if (b.tensorAt(1, starts) || b.tensorAt(2, ends) || b.optTensor(3, axesV) ||
        b.optTensor(4, stepsV))
      return failure();
    auto known = [](Value v) { return !v || matchPattern(v, m_Constant()); };
    if (!known(axesV) || !known(stepsV)) {
      // axes or steps known at run time only: a gathering slice
      auto st = dyn_cast<RankedTensorType>(starts.getType());
      if (!st || st.getRank() != 1 || st.isDynamicDim(0))
        return b.error("starts must be a 1-D tensor of known length"), failure();
      int64_t n = st.getDimSize(0);
      if (n > rank)
        return b.error("starts lists more axes than the input has"), failure();
      SmallVector<int64_t> iota, ones(n, 1);
      for (int64_t i = 0; i < n; ++i)
        iota.push_back(i);
      Type i64 = B.getI64Type();
      Value ax = axesV ? b.cast(axesV, i64) : b.i64s(iota);
      Value sp = stepsV ? b.cast(stepsV, i64) : b.i64s(ones);
      b.setResults({b.create<SliceDynamicOp>(x, b.cast(starts, i64), b.cast(ends, i64), ax, sp)});
      return success();
    }
    if ((axesV && b.constInts(3, axes)) || (stepsV && b.constInts(4, steps)))
      return failure();
  }
  auto st = dyn_cast<RankedTensorType>(starts.getType());
  if (!st || !st.hasStaticShape() || st.getRank() != 1)
    return b.error("starts must be a 1-D tensor of known length"), failure();
  int64_t n = st.getDimSize(0);
  if (n > rank)
    return b.error("starts lists more axes than the input has"), failure();
  if (axes.empty())
    for (int64_t i = 0; i < n; ++i)
      axes.push_back(i);
  if (steps.empty())
    steps.assign(n, 1);
  if ((int64_t)axes.size() != n || (int64_t)steps.size() != n)
    return b.error("starts, ends, axes and steps differ in length"), failure();
  for (int64_t &a : axes)
    if (b.axis(a, rank))
      return failure();
  for (int64_t s : steps)
    if (s == 0)
      return b.error("a step of 0 is not allowed"), failure();
  b.setResults({b.create<SliceOp>(x, starts, ends, B.getDenseI64ArrayAttr(axes),
                                  B.getDenseI64ArrayAttr(steps))});
  return success();
}

/// Split into slices along `axis`. Sizes known at compile time give
/// constant bounds; sizes given at run time (a computed `split` input) or
/// equal chunks of a dim known only at run time give bounds computed by mlc
/// ops (the slices clamp a last chunk that runs past the dim).
LogicalResult split(NodeBinder &b) {
  Value x, given;
  int64_t axis, rank, numOutputs = b.numOutputs();
  SmallVector<int64_t> sizes;
  if (b.tensors(x) || b.rank(x, rank) || b.attr("axis", axis, 0) || b.axis(axis, rank))
    return failure();
  b.ignore("num_outputs");
  if (b.opset >= 13) {
    b.optTensor(1, given);
    if (given && matchPattern(given, m_Constant())) {
      if (b.constInts(1, sizes))
        return failure();
      given = nullptr; // the sizes are known
    } else if (given) {
      auto gt = dyn_cast<RankedTensorType>(given.getType());
      if (!gt || gt.getRank() != 1 || !isa<IntegerType>(gt.getElementType()) ||
          gt.getDimSize(0) != numOutputs)
        return b.error("split must be a 1-D integer tensor with one size per output"), failure();
    }
  } else if (b.attr("split", sizes, SmallVector<int64_t>{})) {
    return failure();
  }
  if (numOutputs < 1)
    return b.error("Split needs at least one output"), failure();
  int64_t dim = cast<RankedTensorType>(x.getType()).getDimSize(axis);
  if (!sizes.empty()) {
    int64_t sum = 0;
    for (int64_t s : sizes)
      if (s < 0)
        return b.error("split sizes must be >= 0"), failure();
      else
        sum += s;
    if ((int64_t)sizes.size() != numOutputs)
      return b.error("split gives " + std::to_string(sizes.size()) + " sizes for " +
                     std::to_string(numOutputs) + " outputs"),
             failure();
    if (!ShapedType::isDynamic(dim) && sum != dim)
      return b.error("split sizes sum to " + std::to_string(sum) + ", the dim is " +
                     std::to_string(dim)),
             failure();
  }
  auto &B = b.builder;
  auto slice = [&](Value st, Value en) -> Value {
    return b.create<SliceOp>(x, st, en, B.getDenseI64ArrayAttr({axis}),
                             B.getDenseI64ArrayAttr({1}));
  };
  std::vector<Value> outs;
  if (given || (sizes.empty() && ShapedType::isDynamic(dim))) {
    Value starts, ends; // 1-D, one bound per output
    if (given) {
      Value n = b.create<CastOp>(given, TypeAttr::get(B.getI64Type()));
      ends = runningSum(b, n);
      starts = b.create<SubOp>(ends, n);
    } else {
      Value d = b.create<ShapeOp>(x, B.getI64IntegerAttr(axis), B.getI64IntegerAttr(axis + 1));
      Value chunk = b.create<DivOp>(b.create<AddOp>(d, b.i64s({numOutputs - 1})),
                                    b.i64s({numOutputs}));
      SmallVector<int64_t> index;
      for (int64_t i = 0; i < numOutputs; ++i)
        index.push_back(i);
      starts = b.create<MulOp>(b.i64s(index), chunk);
      ends = b.create<AddOp>(starts, chunk);
    }
    for (int64_t i = 0; i < numOutputs; ++i) {
      auto at = [&](Value v) -> Value {
        return b.create<GatherOp>(v, b.i64s({i}), B.getI64IntegerAttr(0));
      };
      outs.push_back(slice(at(starts), at(ends)));
    }
    b.setResults(outs);
    return success();
  }
  if (sizes.empty()) {
    int64_t chunk = (dim + numOutputs - 1) / numOutputs;
    for (int64_t i = 0, left = dim; i < numOutputs; ++i, left -= chunk)
      sizes.push_back(std::max<int64_t>(0, std::min(chunk, left)));
  }
  int64_t start = 0;
  for (int64_t s : sizes) {
    outs.push_back(slice(b.i64s({start}), b.i64s({start + s})));
    start += s;
  }
  b.setResults(outs);
  return success();
}

LogicalResult expand(NodeBinder &b) {
  Value x, shape;
  if (b.tensors(x, shape))
    return failure();
  b.setResults({b.create<ExpandOp>(x, shape)});
  return success();
}

/// EyeLike: ones where column - row == k, of the input's 2-D shape.
LogicalResult eyeLike(NodeBinder &b) {
  Value x;
  int64_t k, dtype, rank;
  if (b.tensors(x) || b.attr("k", k, 0) || b.attr("dtype", dtype, 0) || b.rank(x, rank))
    return failure();
  if (rank != 2)
    return b.error("the input must be 2-D"), failure();
  Type elem = dtype ? onnxElementType(b.builder.getContext(), dtype) : NodeBinder::elementType(x);
  if (!elem)
    return b.error(std::string("dtype ") + onnxTypeName(dtype) + " is not supported"), failure();
  Value rows = b.create<AddOp>(b.iota(b.dim(x, 0), 1), b.scalar(b.builder.getI64Type(), double(k)));
  Value hit = b.create<CompareOp>(rows, b.iota(b.dim(x, 1)), b.builder.getStringAttr("eq"));
  b.setResults({b.cast(hit, elem)});
  return success();
}

enum class Window { Hann, Hamming, Blackman };

/// Hann/Hamming/Blackman windows of a run-time length N: sums of cosines
/// of 2 pi k n / N' (N' = N periodic, N - 1 symmetric), computed in f64.
template <Window W> LogicalResult window(NodeBinder &b) {
  Value size;
  int64_t dtype, periodic;
  if (b.tensors(size) || b.attr("output_datatype", dtype, 1) || b.attr("periodic", periodic, 1))
    return failure();
  Type out = onnxElementType(b.builder.getContext(), dtype);
  if (!out || !isa<FloatType>(out))
    return b.error("output_datatype must be a float type"), failure();
  Type f64 = b.builder.getF64Type();
  Value n = b.cast(b.reshape(size, {}), b.builder.getI64Type());
  Value denom = b.cast(periodic ? n : b.create<SubOp>(n, b.scalar(b.builder.getI64Type(), 1)).getResult(), f64);
  Value phase = b.create<DivOp>(b.create<MulOp>(b.cast(b.iota(n), f64), b.scalar(f64, 2 * M_PI)), denom);
  auto cosine = [&](double k, double c) -> Value {
    Value arg = k == 1 ? phase : b.create<MulOp>(phase, b.scalar(f64, k)).getResult();
    Value cs = b.create<MathOp>(arg, MathKindAttr::get(b.builder.getContext(), MathKind::Cos),
                                b.builder.getF64FloatAttr(0), b.builder.getF64FloatAttr(0));
    return b.create<MulOp>(cs, b.scalar(f64, c));
  };
  Value y;
  if (W == Window::Hann)
    y = b.create<AddOp>(cosine(1, -0.5), b.scalar(f64, 0.5));
  else if (W == Window::Hamming)
    y = b.create<AddOp>(cosine(1, -21.0 / 46.0), b.scalar(f64, 25.0 / 46.0));
  else
    y = b.create<AddOp>(b.create<AddOp>(cosine(1, -0.5), cosine(2, 0.08)), b.scalar(f64, 0.42));
  b.setResults({b.cast(y, out)});
  return success();
}

/// ReverseSequence: x[t, b] <- x[len[b] - 1 - t, b] for t < len[b], as a
/// GatherElements along the time axis with computed indices.
LogicalResult reverseSequence(NodeBinder &b) {
  Value x, lens;
  int64_t timeAxis, batchAxis, rank;
  if (b.tensors(x, lens) || b.attr("time_axis", timeAxis, 0) ||
      b.attr("batch_axis", batchAxis, 1) || b.rank(x, rank))
    return failure();
  if (rank < 2 || (timeAxis != 0 && timeAxis != 1) || batchAxis != 1 - timeAxis)
    return b.error("time_axis and batch_axis must be 0 and 1 in some order"), failure();
  Type i64 = b.builder.getI64Type();
  Value t = b.iota(b.dim(x, timeAxis), timeAxis == 0 ? 1 : 0); // along the time axis
  Value len = b.cast(lens, i64);
  if (batchAxis == 0)
    len = b.unsqueeze(len, {1}); // [B, 1]
  Value rev = b.create<SubOp>(b.create<SubOp>(len, b.scalar(i64, 1)), t);
  Value inside = b.create<CompareOp>(t, len, b.builder.getStringAttr("lt"));
  Value idx = b.create<WhereOp>(inside, rev, t); // [T, B] or [B, T]
  SmallVector<int64_t> trailing;
  for (int64_t i = 2; i < rank; ++i)
    trailing.push_back(i);
  if (!trailing.empty())
    idx = b.unsqueeze(idx, trailing);
  Value shape = b.create<ShapeOp>(x, b.builder.getI64IntegerAttr(0), b.builder.getI64IntegerAttr(rank));
  idx = b.create<ExpandOp>(idx, shape);
  b.setResults({b.create<GatherElementsOp>(x, idx, b.builder.getI64IntegerAttr(timeAxis))});
  return success();
}

LogicalResult gatherND(NodeBinder &b) {
  Value data, idx;
  int64_t batchDims;
  if (b.tensors(data, idx) || b.attr("batch_dims", batchDims, 0))
    return failure();
  b.setResults({b.create<GatherNDOp>(data, idx, b.builder.getI64IntegerAttr(batchDims))});
  return success();
}

bool scatterReduction(NodeBinder &b, std::string &red) {
  if (b.attr("reduction", red, std::string("none")))
    return true;
  if (red != "none" && red != "add" && red != "mul" && red != "max" && red != "min")
    return b.error("reduction must be none, add, mul, max or min");
  return false;
}

LogicalResult scatterND(NodeBinder &b) {
  Value data, idx, upd;
  std::string red;
  if (b.tensors(data, idx, upd) || scatterReduction(b, red))
    return failure();
  b.setResults({b.create<ScatterNDOp>(data, idx, upd, b.builder.getStringAttr(red))});
  return success();
}

/// ScatterElements, and Scatter (opset 9-10), its earlier name.
LogicalResult scatterElements(NodeBinder &b) {
  Value data, idx, upd;
  std::string red;
  int64_t axis, rank;
  if (b.tensors(data, idx, upd) || scatterReduction(b, red) || b.attr("axis", axis, 0) ||
      b.rank(data, rank) || b.axis(axis, rank))
    return failure();
  b.setResults({b.create<ScatterElementsOp>(data, idx, upd, b.builder.getI64IntegerAttr(axis),
                                            b.builder.getStringAttr(red))});
  return success();
}

LogicalResult nonZero(NodeBinder &b) {
  Value x;
  if (b.tensors(x))
    return failure();
  b.setResults({b.create<NonZeroOp>(x)});
  return success();
}

/// Compress: a Gather of the positions where the 1-D condition holds
/// (along `axis`, or over the flattened input).
LogicalResult compress(NodeBinder &b) {
  Value x, cond;
  int64_t rank, axis = 0;
  if (b.tensors(x, cond) || b.rank(x, rank))
    return failure();
  bool flat = !b.has("axis");
  if (!flat && (b.attr("axis", axis) || b.axis(axis, rank)))
    return failure();
  if (flat)
    x = b.reshape(x, {-1});
  Value pos = b.squeeze(b.create<NonZeroOp>(cond), {0});
  b.setResults({b.create<GatherOp>(x, pos, b.builder.getI64IntegerAttr(flat ? 0 : axis))});
  return success();
}

/// TopK; k is an input from opset 10 (constant or known at run time), an
/// attribute before.
LogicalResult topK(NodeBinder &b) {
  Value x, k;
  int64_t axis, largest, sorted, rank;
  if (b.tensors(x) || b.attr("axis", axis, -1) || b.attr("largest", largest, 1) ||
      b.attr("sorted", sorted, 1) || b.rank(x, rank) || b.axis(axis, rank))
    return failure();
  if (b.opset < 10) {
    int64_t kv;
    if (b.attr("k", kv))
      return failure();
    k = b.i64s({kv});
  } else if (b.tensorAt(1, k)) {
    return failure();
  }
  // sorted = 0 allows any order: the sorted one is as good.
  auto &B = b.builder;
  Type ph = UnrankedTensorType::get(NodeBinder::elementType(x));
  auto op = B.create<TopKOp>(b.loc, TypeRange{ph, UnrankedTensorType::get(B.getI64Type())}, x, k,
                             B.getI64IntegerAttr(axis), B.getBoolAttr(largest != 0));
  if (failed(inferShapes(op)))
    return failure();
  b.setResults({op.getValues(), op.getIndices()});
  return success();
}

/// GridSample (opset 16: bilinear/bicubic; 20: linear/cubic, N-D).
LogicalResult gridSample(NodeBinder &b) {
  Value x, grid;
  std::string mode, pad;
  int64_t align, rank;
  if (b.tensors(x, grid) || b.attr("mode", mode, std::string(b.opset < 20 ? "bilinear" : "linear")) ||
      b.attr("padding_mode", pad, std::string("zeros")) || b.attr("align_corners", align, 0) ||
      b.rank(x, rank))
    return failure();
  if (mode == "bilinear")
    mode = "linear";
  else if (mode == "bicubic")
    mode = "cubic";
  if (mode != "nearest" && mode != "linear" && mode != "cubic")
    return b.error("mode '" + mode + "' is not supported"), failure();
  if (pad != "zeros" && pad != "border" && pad != "reflection")
    return b.error("padding_mode '" + pad + "' is not supported"), failure();
  if (rank < 3 || rank > 5)
    return b.error("the input must be [N, C, spatial...] with 1 to 3 spatial dims"), failure();
  auto &B = b.builder;
  b.setResults({b.create<GridSampleOp>(x, grid, B.getStringAttr(mode), B.getStringAttr(pad),
                                       B.getBoolAttr(align != 0))});
  return success();
}

/// AffineGrid: the normalised coordinates of each output position,
/// (x, y[, z], 1), times theta transposed; size may be known at run time.
LogicalResult affineGrid(NodeBinder &b) {
  Value theta, size;
  int64_t align;
  if (b.tensors(theta, size) || b.attr("align_corners", align, 0))
    return failure();
  auto st = dyn_cast<RankedTensorType>(size.getType());
  if (!st || st.getRank() != 1 || (st.getDimSize(0) != 4 && st.getDimSize(0) != 5))
    return b.error("size must be [N, C, H, W] or [N, C, D, H, W]"), failure();
  int64_t s = st.getDimSize(0) - 2;
  Type elem = NodeBinder::elementType(theta);
  if (!isa<FloatType>(elem))
    return b.error("theta must be a float tensor"), failure();
  auto &B = b.builder;
  Type i64 = B.getI64Type();
  size = b.cast(size, i64);
  auto part = [&](int64_t from, int64_t to) { return b.slice(size, 0, from, to); };
  Value full = part(2, 2 + s);
  SmallVector<Value> comps; // x (the last dim) first
  for (int64_t i = s - 1; i >= 0; --i) {
    Value len = b.reshape(part(2 + i, 3 + i), {});
    Value j = b.cast(b.iota(len), elem), lf = b.cast(len, elem);
    Value coord;
    if (align) {
      Value step = b.create<DivOp>(b.scalar(elem, 2), b.create<SubOp>(lf, b.scalar(elem, 1)));
      coord = b.create<SubOp>(b.create<MulOp>(j, step), b.scalar(elem, 1));
      Value single = b.create<CompareOp>(len, b.scalar(i64, 1), B.getStringAttr("eq"));
      coord = b.create<WhereOp>(single, b.scalar(elem, 0), coord);
    } else {
      coord = b.create<SubOp>(
          b.create<DivOp>(b.create<AddOp>(b.create<MulOp>(j, b.scalar(elem, 2)), b.scalar(elem, 1)), lf),
          b.scalar(elem, 1));
    }
    SmallVector<int64_t> others;
    for (int64_t k = 0; k < s; ++k)
      if (k != i)
        others.push_back(k);
    if (!others.empty())
      coord = b.unsqueeze(coord, others);
    comps.push_back(b.create<ExpandOp>(coord, full));
  }
  comps.push_back(b.create<ExpandOp>(b.scalar(elem, 1), full));
  for (Value &c : comps)
    c = b.unsqueeze(c, {s});
  Value base = b.reshape(b.create<ConcatOp>(comps, B.getI64IntegerAttr(s)), {-1, s + 1});
  // [P, s+1] x [N, s+1, s] = [N, P, s]
  Value grid = b.create<MatMulOp>(base, b.transpose(theta, {0, 2, 1}));
  Value shape = b.create<ConcatOp>(ValueRange{part(0, 1), full, b.i64s({s})}, B.getI64IntegerAttr(0));
  b.setResults({b.create<ReshapeOp>(grid, shape, B.getBoolAttr(false))});
  return success();
}

/// NonMaxSuppression; missing thresholds are 0 boxes, IoU 0 and no score
/// filter.
LogicalResult nonMaxSuppression(NodeBinder &b) {
  Value boxes, scores, maxOut, iou, score;
  int64_t centre;
  if (b.tensors(boxes, scores) || b.optTensor(2, maxOut) || b.optTensor(3, iou) ||
      b.optTensor(4, score) || b.attr("center_point_box", centre, 0))
    return failure();
  Type f = NodeBinder::elementType(boxes);
  if (!isa<FloatType>(f))
    return b.error("boxes must be a float tensor"), failure();
  auto empty = [](Value v) {
    auto t = dyn_cast<RankedTensorType>(v.getType());
    return t && t.hasStaticShape() && t.getNumElements() == 0;
  };
  if (!maxOut || empty(maxOut))
    maxOut = b.i64s({0});
  if (!iou || empty(iou))
    iou = b.scalar(f, 0);
  if (!score || empty(score))
    score = b.scalar(f, -std::numeric_limits<double>::infinity());
  b.setResults({b.create<NonMaxSuppressionOp>(boxes, scores, maxOut, iou, score,
                                              b.builder.getBoolAttr(centre != 0))});
  return success();
}

/// CenterCropPad: per axis, a centred Slice where the target is smaller and
/// a centred zero Pad where it is larger (run-time amounts).
LogicalResult centerCropPad(NodeBinder &b) {
  Value x, shape;
  int64_t rank;
  SmallVector<int64_t> axes;
  if (b.tensors(x, shape) || b.rank(x, rank))
    return failure();
  if (b.has("axes")) {
    if (b.attr("axes", axes))
      return failure();
  } else {
    for (int64_t i = 0; i < rank; ++i)
      axes.push_back(i);
  }
  for (int64_t &a : axes)
    if (b.axis(a, rank))
      return failure();
  auto st = dyn_cast<RankedTensorType>(shape.getType());
  if (!st || st.getRank() != 1 || st.getDimSize(0) != (int64_t)axes.size())
    return b.error("shape must list one size per axis"), failure();
  auto &B = b.builder;
  Type i64 = B.getI64Type();
  Value target = b.cast(shape, i64);
  SmallVector<Value> dims;
  for (int64_t a : axes)
    dims.push_back(b.unsqueeze(b.dim(x, a), {0}));
  Value have = b.create<ConcatOp>(dims, B.getI64IntegerAttr(0));
  Value zero = b.scalar(i64, 0), two = b.scalar(i64, 2);
  Value over = b.create<MaxOp>(b.create<SubOp>(have, target), zero);  // to crop
  Value under = b.create<MaxOp>(b.create<SubOp>(target, have), zero); // to pad
  Value start = b.create<DivOp>(over, two);
  Value end = b.create<AddOp>(start, b.create<MinOp>(have, target));
  Value y = b.create<SliceOp>(x, start, end, B.getDenseI64ArrayAttr(axes),
                              B.getDenseI64ArrayAttr(SmallVector<int64_t>(axes.size(), 1)));
  Value before = b.create<DivOp>(under, two);
  Value pads = b.create<ConcatOp>(ValueRange{before, b.create<SubOp>(under, before)},
                                  B.getI64IntegerAttr(0));
  y = b.create<PadOp>(y, pads, Value(), B.getDenseI64ArrayAttr(axes),
                      PadModeAttr::get(B.getContext(), PadMode::Constant));
  b.setResults({y});
  return success();
}

LogicalResult range(NodeBinder &b) {
  Value start, limit, delta;
  if (b.tensors(start, limit, delta))
    return failure();
  // Scalars by the spec; one-element tensors are read as them (numpy's
  // arange and onnxruntime do, and expanded functions pass Split pieces).
  for (Value *v : {&start, &limit, &delta}) {
    auto t = dyn_cast<RankedTensorType>(v->getType());
    if (t && t.getRank() > 0) {
      if (!t.hasStaticShape() || t.getNumElements() != 1)
        return b.error("start, limit and delta must be scalars"), failure();
      *v = b.reshape(*v, {});
    }
  }
  b.setResults({b.create<RangeOp>(start, limit, delta)});
  return success();
}

/// TfIdfVectorizer on integer tokens of a static row length: for each
/// n-gram length n of the pool within [min_gram_length, max_gram_length]
/// and each skip distance d (1 .. max_skip_count + 1; unigrams once), the
/// row's n-grams x[i], x[i+d], ..., x[i+(n-1)d] are compared with every
/// pool n-gram of that length at once ([B, positions, P_n]) and the matches
/// counted; a constant 0/1 matrix sends the counts to their output columns
/// (ngram_indexes). IDF and TFIDF weigh each pool n-gram's count first.
LogicalResult tfIdfVectorizer(NodeBinder &b) {
  Value x;
  int64_t minGram, maxGram, maxSkip, rank;
  std::string mode;
  SmallVector<int64_t> counts, indexes, pool;
  SmallVector<float> weights;
  if (b.tensors(x) || b.rank(x, rank) || b.attr("min_gram_length", minGram) ||
      b.attr("max_gram_length", maxGram) || b.attr("max_skip_count", maxSkip) ||
      b.attr("mode", mode) || b.attr("ngram_counts", counts) ||
      b.attr("ngram_indexes", indexes))
    return failure();
  if (b.has("pool_strings"))
    return b.error("string tokens (pool_strings) are not supported"), failure();
  if (b.attr("pool_int64s", pool) || (b.has("weights") && b.attr("weights", weights)))
    return failure();
  Type elem = NodeBinder::elementType(x);
  auto t = cast<RankedTensorType>(x.getType());
  if (!isa<IntegerType>(elem) || (rank != 1 && rank != 2))
    return b.error("input must be a 1-D or 2-D integer tensor"), failure();
  int64_t len = t.getDimSize(rank - 1);
  if (len < 0)
    return b.error("the row length must be static"), failure();
  if (minGram < 1 || maxGram < minGram || maxSkip < 0 || counts.empty())
    return b.error("needs 1 <= min_gram_length <= max_gram_length, max_skip_count >= 0 and "
                   "ngram_counts"),
           failure();
  if (mode != "TF" && mode != "IDF" && mode != "TFIDF")
    return b.error("mode must be TF, IDF or TFIDF"), failure();
  // The pool's n-grams of length n: `grams` of them from pool offset
  // `from`, numbered from `first` in pool order (unigrams, bigrams, ...);
  // ngram_indexes maps that number to an output column.
  struct Level {
    int64_t from, grams, first;
  };
  SmallVector<Level> levels;
  int64_t numGrams = 0;
  for (size_t k = 0; k < counts.size(); ++k) {
    int64_t n = k + 1, from = counts[k];
    int64_t to = k + 1 < counts.size() ? counts[k + 1] : (int64_t)pool.size();
    if (from < 0 || to < from || to > (int64_t)pool.size() || (to - from) % n)
      return b.error("ngram_counts do not split pool_int64s into n-grams"), failure();
    levels.push_back({from, (to - from) / n, numGrams});
    numGrams += levels.back().grams;
  }
  if ((int64_t)indexes.size() != numGrams)
    return b.error("ngram_indexes must have one entry per pool n-gram"), failure();
  int64_t outSize = 0;
  for (int64_t i : indexes) {
    if (i < 0 || i > (1 << 24))
      return b.error("ngram_indexes must be in [0, 2^24]"), failure();
    outSize = std::max(outSize, i + 1);
  }
  if (!weights.empty() && (int64_t)weights.size() != numGrams)
    return b.error("weights must have one entry per pool n-gram"), failure();

  auto &B = b.builder;
  Type f32 = B.getF32Type();
  Value rows = rank == 1 ? b.unsqueeze(x, {0}) : x;
  SmallVector<Value> gramCounts;
  SmallVector<int64_t> countedGrams; // pool n-gram index of each column
  for (int64_t n = minGram; n <= std::min<int64_t>(maxGram, levels.size()); ++n) {
    auto [from, p, first] = levels[n - 1];
    if (p == 0)
      continue;
    Value total;
    for (int64_t d = 1; d <= (n == 1 ? 1 : maxSkip + 1); ++d) {
      int64_t positions = len - d * (n - 1);
      if (positions <= 0)
        break;
      Value match;
      for (int64_t k = 0; k < n; ++k) {
        SmallVector<int64_t> tokens;
        for (int64_t g = 0; g < p; ++g)
          tokens.push_back(pool[from + g * n + k]);
        Value column = b.unsqueeze(b.slice(rows, 1, k * d, k * d + positions), {2});
        Value eq = b.create<CompareOp>(column, b.cast(b.i64s(tokens), elem), B.getStringAttr("eq"));
        match = match ? b.create<AndOp>(match, eq).getResult() : eq;
      }
      Value c = b.create<ReduceOp>(b.cast(match, f32), Value(), B.getDenseI64ArrayAttr({1}),
                                   B.getBoolAttr(false), B.getStringAttr("sum"),
                                   B.getBoolAttr(false));
      total = total ? b.create<AddOp>(total, c).getResult() : c;
    }
    if (!total)
      continue;
    gramCounts.push_back(total);
    for (int64_t g = 0; g < p; ++g)
      countedGrams.push_back(first + g);
  }
  int64_t batch = cast<RankedTensorType>(rows.getType()).getDimSize(0);
  Value y;
  if (gramCounts.empty() || outSize == 0) {
    if (batch < 0)
      return b.error("a dynamic batch with no n-gram to count is not supported"), failure();
    auto zt = RankedTensorType::get({batch, outSize}, f32);
    y = b.constant(DenseElementsAttr::get(zt, 0.0f));
  } else {
    Value all = gramCounts.size() == 1
                    ? gramCounts.front()
                    : b.create<ConcatOp>(ValueRange(gramCounts), B.getI64IntegerAttr(1)).getResult();
    // Weights belong to the pool's n-grams (the spec, and onnxruntime; the
    // reference evaluator indexes them by output column, which agrees when
    // ngram_indexes is the identity).
    if (mode != "TF") {
      SmallVector<float> w;
      for (int64_t g : countedGrams)
        w.push_back(weights.empty() ? 1.0f : weights[g]);
      Value wv = b.constant(DenseElementsAttr::get(
          RankedTensorType::get({(int64_t)w.size()}, f32), ArrayRef<float>(w)));
      all = mode == "IDF" ? b.create<WhereOp>(
                                b.create<CompareOp>(all, b.scalar(f32, 0), B.getStringAttr("gt")),
                                wv, b.scalar(f32, 0))
                                .getResult()
                          : b.create<MulOp>(all, wv).getResult();
    }
    SmallVector<float> scatter(countedGrams.size() * outSize, 0.0f);
    for (size_t r = 0; r < countedGrams.size(); ++r)
      scatter[r * outSize + indexes[countedGrams[r]]] = 1.0f;
    auto mt = RankedTensorType::get({(int64_t)countedGrams.size(), outSize}, f32);
    y = b.create<MatMulOp>(all, b.constant(DenseElementsAttr::get(mt, ArrayRef<float>(scatter))));
  }
  b.setResults({rank == 1 ? b.squeeze(y, {0}) : y});
  return success();
}

} // namespace

void registerTensorConverters() {
  registerConverter("TfIdfVectorizer", 9, tfIdfVectorizer);
  registerConverter("Slice", 1, slice);
  registerConverter("EyeLike", 9, eyeLike);
  registerConverter("HannWindow", 17, window<Window::Hann>);
  registerConverter("HammingWindow", 17, window<Window::Hamming>);
  registerConverter("BlackmanWindow", 17, window<Window::Blackman>);
  registerConverter("ReverseSequence", 10, reverseSequence);
  registerConverter("Split", 1, split);
  registerConverter("Expand", 8, expand);
  registerConverter("Range", 11, range);
  registerConverter("Constant", 1, constant);
  registerConverter("ConstantOfShape", 9, constantOfShape);
  registerConverter("Flatten", 1, flatten);
  registerConverter("Reshape", 5, reshape);
  registerConverter("Transpose", 1, transpose);
  registerConverter("Concat", 1, concat);
  registerConverter("Shape", 1, shapeOf);
  registerConverter("Gather", 1, gather);
  registerConverter("GatherElements", 11, gatherElements);
  registerConverter("GatherND", 11, gatherND);
  registerConverter("CenterCropPad", 18, centerCropPad);
  registerConverter("NonMaxSuppression", 10, nonMaxSuppression);
  registerConverter("GridSample", 16, gridSample);
  registerConverter("AffineGrid", 20, affineGrid);
  registerConverter("NonZero", 9, nonZero);
  registerConverter("Compress", 9, compress);
  registerConverter("TopK", 1, topK);
  registerConverter("ScatterND", 11, scatterND);
  registerConverter("ScatterElements", 11, scatterElements);
  registerConverter("Scatter", 9, scatterElements);
  registerConverter("Pad", 1, pad);
  registerConverter("Trilu", 14, trilu);
  registerConverter("Tile", 6, tile);
  registerConverter("OneHot", 9, oneHot);
  registerConverter("Hardmax", 1, hardmax);
  registerConverter("Resize", 10, resize<false>);
  registerConverter("Upsample", 7, resize<true>);
  registerConverter("CumSum", 11, cumulative<false>);
  registerConverter("CumProd", 26, cumulative<true>);
  registerConverter("Unsqueeze", 1, unsqueeze);
  registerConverter("Squeeze", 1, squeeze);
}
