//===- Math.cpp - converters: elementwise math, MatMul, Gemm, Softmax ----===//
#include "compiler/import/NarrowTypes.h"
#include "compiler/import/NodeBinder.h"

#include "mlir/IR/Matchers.h"

#include <cmath>

using namespace mlir;
using namespace mlc;

namespace {

template <typename OpT> LogicalResult binary(NodeBinder &b) {
  Value x, y;
  if (b.tensors(x, y))
    return failure();
  if (b.opset < 7 && (b.has("broadcast") || b.has("axis")))
    return b.error("legacy broadcast attributes are not supported"), failure();
  b.setResults({b.create<OpT>(x, y)});
  return success();
}

template <typename OpT> LogicalResult unary(NodeBinder &b) {
  Value x;
  if (b.tensors(x))
    return failure();
  b.ignore("consumed_inputs"); // opset 1 legacy, no effect
  b.setResults({b.create<OpT>(x)});
  return success();
}

/// The mlc.math family; `params` names the attributes that fill alpha and
/// beta, with their defaults.
template <MathKind Kind> LogicalResult math(NodeBinder &b) {
  Value x;
  if (b.tensors(x))
    return failure();
  float alpha = 0, beta = 0;
  int64_t pos = 1, neg = 1;
  std::string approx;
  bool bad = false;
  switch (Kind) {
  case MathKind::Elu: bad = b.attr("alpha", alpha, 1.0f); break;
  case MathKind::Celu: bad = b.attr("alpha", alpha, 1.0f); break;
  case MathKind::Selu:
    bad = b.attr("alpha", alpha, 1.67326319217681884765625f) ||
          b.attr("gamma", beta, 1.05070102214813232421875f);
    break;
  case MathKind::LeakyRelu: bad = b.attr("alpha", alpha, 0.01f); break;
  case MathKind::ThresholdedRelu: bad = b.attr("alpha", alpha, 1.0f); break;
  case MathKind::Swish: bad = b.attr("alpha", alpha, 1.0f); break;
  case MathKind::Shrink: bad = b.attr("lambd", alpha, 0.5f) || b.attr("bias", beta, 0.0f); break;
  case MathKind::IsInf:
    bad = b.attr("detect_positive", pos, 1) || b.attr("detect_negative", neg, 1);
    alpha = pos != 0;
    beta = neg != 0;
    break;
  case MathKind::Gelu:
    bad = b.attr("approximate", approx, std::string("none"));
    if (!bad && approx != "none" && approx != "tanh")
      return b.error("approximate must be 'none' or 'tanh'"), failure();
    beta = approx == "tanh";
    break;
  default: break;
  }
  if (bad)
    return failure();
  b.ignore("consumed_inputs");
  auto &B = b.builder;
  b.setResults({b.create<MathOp>(x, MathKindAttr::get(B.getContext(), Kind),
                                 B.getF64FloatAttr(alpha), B.getF64FloatAttr(beta))});
  return success();
}

/// Swish_alpha(a) * b: the gated activation of Llama-style MLPs.
LogicalResult swiglu(NodeBinder &b) {
  Value gate, value;
  float alpha;
  if (b.tensors(gate, value) || b.attr("alpha", alpha, 1.0f))
    return failure();
  auto &B = b.builder;
  Value g = b.create<MathOp>(gate, MathKindAttr::get(B.getContext(), MathKind::Swish),
                             B.getF64FloatAttr(alpha), B.getF64FloatAttr(0));
  b.setResults({b.create<MulOp>(g, value)});
  return success();
}

LogicalResult castLike(NodeBinder &b) {
  Value x, like;
  int64_t saturate;
  std::string roundMode;
  if (b.tensors(x, like) || b.attr("saturate", saturate, 1) ||
      b.attr("round_mode", roundMode, std::string("up")))
    return failure();
  auto t = dyn_cast<ShapedType>(like.getType());
  if (!t)
    return b.error("the type of input #1 is not known"), failure();
  Value r;
  if (int to = b.narrowType(like)) {
    if (!(r = castToOnnx(b, x, to, saturate, roundMode)))
      return failure();
    b.setNarrowResult(0, to);
  } else {
    int from = b.narrowType(x);
    r = b.cast(from ? decodeNarrow(b, x, from) : x, t.getElementType());
    if (from && r == x) // another tensor, though the same bytes (int4 -> int8)
      r = b.create<IdentityOp>(x);
  }
  b.setResults({r});
  return success();
}

LogicalResult mod(NodeBinder &b) {
  Value x, y;
  int64_t fmod;
  if (b.tensors(x, y) || b.attr("fmod", fmod, 0))
    return failure();
  Type elem = NodeBinder::elementType(x);
  if (isa<FloatType>(elem) && !fmod) {
    // numpy.mod: the truncated remainder moved into the divisor's sign.
    auto &B = b.builder;
    Value r = b.create<FModOp>(x, y), zero = b.scalar(elem, 0);
    auto cmp = [&](Value l, Value r, const char *p) -> Value {
      return b.create<CompareOp>(l, r, B.getStringAttr(p));
    };
    Value opposite = b.create<XorOp>(cmp(r, zero, "lt"), cmp(y, zero, "lt"));
    Value fix = b.create<AndOp>(opposite, b.create<NotOp>(cmp(r, zero, "eq")));
    b.setResults({b.create<WhereOp>(fix, b.create<AddOp>(r, y), r)});
    return success();
  }
  b.setResults({fmod ? b.create<FModOp>(x, y).getResult() : b.create<ModOp>(x, y).getResult()});
  return success();
}

LogicalResult bitShift(NodeBinder &b) {
  Value x, y;
  std::string dir;
  if (b.tensors(x, y) || b.attr("direction", dir))
    return failure();
  if (dir != "LEFT" && dir != "RIGHT")
    return b.error("direction must be LEFT or RIGHT"), failure();
  b.setResults({dir == "LEFT" ? b.create<ShlOp>(x, y).getResult()
                              : b.create<ShrOp>(x, y).getResult()});
  return success();
}

/// Size: the product of the input's dims, as an int64 scalar.
LogicalResult size(NodeBinder &b) {
  Value x;
  if (b.tensors(x))
    return failure();
  auto &B = b.builder;
  auto t = dyn_cast<RankedTensorType>(x.getType());
  if (t && t.hasStaticShape()) {
    auto st = RankedTensorType::get({}, B.getI64Type());
    b.setResults({b.constant(DenseElementsAttr::get(st, B.getI64IntegerAttr(t.getNumElements())))});
    return success();
  }
  int64_t rank;
  if (b.rank(x, rank))
    return failure();
  Value shape = b.create<ShapeOp>(x, B.getI64IntegerAttr(0), B.getI64IntegerAttr(rank));
  b.setResults({b.create<ReduceOp>(shape, Value(), B.getDenseI64ArrayAttr({0}),
                                   B.getBoolAttr(false), B.getStringAttr("prod"),
                                   B.getBoolAttr(false))});
  return success();
}

LogicalResult matmul(NodeBinder &b) {
  Value x, y;
  if (b.tensors(x, y))
    return failure();
  b.setResults({b.create<MatMulOp>(x, y)});
  return success();
}

LogicalResult gemm(NodeBinder &b) {
  Value x, y, c;
  float alpha, beta;
  int64_t transA, transB;
  if (b.tensors(x, y) || b.optTensor(2, c) || b.attr("alpha", alpha, 1.0f) ||
      b.attr("beta", beta, 1.0f) || b.attr("transA", transA, 0) ||
      b.attr("transB", transB, 0))
    return failure();
  b.ignore("broadcast"); // opset < 7: C always broadcasts in our lowering
  auto &B = b.builder;
  b.setResults({b.create<GemmOp>(x, y, c, B.getF32FloatAttr(alpha),
                                 B.getF32FloatAttr(beta),
                                 B.getBoolAttr(transA != 0),
                                 B.getBoolAttr(transB != 0))});
  return success();
}

template <bool Log> LogicalResult softmax(NodeBinder &b) {
  Value x;
  int64_t axis, rank;
  bool legacy = b.opset < 13;
  if (b.tensors(x) || b.attr("axis", axis, legacy ? 1 : -1) || b.rank(x, rank) ||
      b.axis(axis, rank))
    return failure();
  auto &B = b.builder;
  b.setResults({b.create<SoftmaxOp>(x, B.getI64IntegerAttr(axis), B.getBoolAttr(legacy),
                                    B.getBoolAttr(Log))});
  return success();
}

/// Clip with bounds known only at run time: max(x, min) then min(., max).
static LogicalResult clipRuntime(NodeBinder &b, Value x) {
  Value lo, hi;
  b.optTensor(1, lo);
  b.optTensor(2, hi);
  Value r = x;
  if (lo)
    r = b.create<MaxOp>(r, lo);
  if (hi)
    r = b.create<MinOp>(r, hi);
  b.setResults({r});
  return success();
}

/// Clip: bounds from attributes (opset < 11) or constant inputs.
LogicalResult clip(NodeBinder &b) {
  Value x;
  double lo = -INFINITY, hi = INFINITY;
  if (b.tensors(x))
    return failure();
  if (b.opset < 11) {
    float mn, mx;
    if (b.attr("min", mn, -INFINITY) || b.attr("max", mx, INFINITY))
      return failure();
    lo = mn;
    hi = mx;
  } else {
    if (!isa<FloatType>(mlir::cast<ShapedType>(x.getType()).getElementType()))
      return clipRuntime(b, x); // integer bounds: Max/Min keep the type
    for (size_t i = 1; i < 3; ++i) {
      Value v;
      b.optTensor(i, v);
      if (!v)
        continue;
      DenseElementsAttr c;
      if (!matchPattern(v, m_Constant(&c)) || c.getNumElements() != 1)
        return clipRuntime(b, x);
      double d = isa<FloatType>(c.getElementType())
                     ? (*c.getValues<APFloat>().begin()).convertToDouble()
                     : (double)(*c.getValues<APInt>().begin()).getSExtValue();
      (i == 1 ? lo : hi) = d;
    }
  }
  auto &B = b.builder;
  b.setResults({b.create<ClipOp>(x, B.getF64FloatAttr(lo), B.getF64FloatAttr(hi))});
  return success();
}

LogicalResult hardSigmoid(NodeBinder &b) {
  Value x;
  float alpha, beta;
  if (b.tensors(x) || b.attr("alpha", alpha, 0.2f) || b.attr("beta", beta, 0.5f))
    return failure();
  auto &B = b.builder;
  b.setResults({b.create<HardSigmoidOp>(x, B.getF64FloatAttr(alpha), B.getF64FloatAttr(beta))});
  return success();
}

LogicalResult cast(NodeBinder &b) {
  Value x;
  int64_t to, saturate;
  std::string roundMode;
  if (b.tensors(x) || b.attr("to", to) || b.attr("saturate", saturate, 1) ||
      b.attr("round_mode", roundMode, std::string("up")))
    return failure();
  if (to != int(to))
    return b.error("attribute 'to' is not an ONNX type"), failure();
  Value r = castToOnnx(b, x, to, saturate, roundMode);
  if (!r)
    return failure();
  b.setResults({r});
  if (narrow::bits(to))
    b.setNarrowResult(0, to);
  return success();
}

LogicalResult bitCast(NodeBinder &b) {
  Value x;
  int64_t to;
  if (b.tensors(x) || b.attr("to", to))
    return failure();
  Type t = onnxElementType(b.builder.getContext(), to);
  if (!t)
    return b.error(std::string("bitcast to ") + onnxTypeName(to) + " is not supported"), failure();
  b.setResults({b.create<BitCastOp>(x, TypeAttr::get(t))});
  return success();
}

/// Max/Min/Sum/Mean are variadic in ONNX: folded pairwise.
template <typename OpT> LogicalResult variadic(NodeBinder &b) {
  Value acc;
  if (b.tensorAt(0, acc))
    return failure();
  for (size_t i = 1; i < b.numInputs(); ++i) {
    Value v;
    if (b.tensorAt(i, v))
      return failure();
    acc = b.create<OpT>(acc, v);
  }
  b.setResults({acc});
  return success();
}

/// Mean: a pairwise sum divided by the number of inputs.
LogicalResult mean(NodeBinder &b) {
  if (failed(variadic<AddOp>(b)))
    return failure();
  Value sum = b.results[0];
  auto t = mlir::cast<ShapedType>(sum.getType());
  auto st = RankedTensorType::get({}, t.getElementType());
  Value n = b.constant(DenseElementsAttr::get(
      st, b.builder.getFloatAttr(t.getElementType(), (double)b.numInputs())));
  b.setResults({b.create<DivOp>(sum, n)});
  return success();
}

template <const char *Pred> LogicalResult compare(NodeBinder &b) {
  Value x, y;
  if (b.tensors(x, y))
    return failure();
  b.setResults({b.create<CompareOp>(x, y, b.builder.getStringAttr(Pred))});
  return success();
}
constexpr char kEq[] = "eq", kLt[] = "lt", kLe[] = "le", kGt[] = "gt", kGe[] = "ge";

LogicalResult where(NodeBinder &b) {
  Value c, x, y;
  if (b.tensors(c, x, y))
    return failure();
  b.setResults({b.create<WhereOp>(c, x, y)});
  return success();
}

/// Reductions: axes from the attribute, or (ReduceSum from 13, the others
/// from 18) from a constant input.
template <const char *Kind> LogicalResult reduce(NodeBinder &b) {
  Value x;
  int64_t rank, keep, noopEmpty;
  SmallVector<int64_t> axes;
  if (b.tensors(x) || b.rank(x, rank) || b.attr("keepdims", keep, 1) ||
      b.attr("noop_with_empty_axes", noopEmpty, 0))
    return failure();
  bool axesInput = (std::string(Kind) == "sum" && b.opset >= 13) || b.opset >= 18;
  auto &B = b.builder;
  if (axesInput) {
    Value given;
    b.optTensor(1, given);
    DenseElementsAttr c;
    if (given && !matchPattern(given, m_Constant(&c))) {
      // Axes known only at run time.
      b.setResults({b.create<ReduceOp>(x, given, B.getDenseI64ArrayAttr({}),
                                       B.getBoolAttr(keep != 0), B.getStringAttr(Kind),
                                       B.getBoolAttr(noopEmpty != 0))});
      return success();
    }
    if (given && b.constInts(1, axes))
      return failure();
  } else if (b.attr("axes", axes, SmallVector<int64_t>{})) {
    return failure();
  }
  if (axes.empty()) {
    if (noopEmpty) {
      b.setResults({x});
      return success();
    }
    for (int64_t i = 0; i < rank; ++i)
      axes.push_back(i);
  }
  for (int64_t &a : axes)
    if (b.axis(a, rank))
      return failure();
  llvm::sort(axes);
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  b.setResults({b.create<ReduceOp>(x, Value(), B.getDenseI64ArrayAttr(axes),
                                   B.getBoolAttr(keep != 0), B.getStringAttr(Kind),
                                   B.getBoolAttr(false))});
  return success();
}
constexpr char kSum[] = "sum", kMean[] = "mean", kMax[] = "max", kMin[] = "min",
               kProd[] = "prod", kL1[] = "l1", kL2[] = "l2", kSumSquare[] = "sum_square",
               kLogSum[] = "log_sum", kLogSumExp[] = "log_sum_exp";

template <bool Max> LogicalResult argReduce(NodeBinder &b) {
  Value x;
  int64_t axis, keep, last, rank;
  if (b.tensors(x) || b.rank(x, rank) || b.attr("axis", axis, 0) || b.axis(axis, rank) ||
      b.attr("keepdims", keep, 1) || b.attr("select_last_index", last, 0))
    return failure();
  auto &B = b.builder;
  b.setResults({b.create<ArgReduceOp>(x, B.getI64IntegerAttr(axis), B.getBoolAttr(keep != 0),
                                      B.getBoolAttr(last != 0), B.getBoolAttr(Max))});
  return success();
}

/// LayerNormalization and RMSNormalization from mlc ops, for the forms the
/// fused op does not cover: the Mean/InvStdDev outputs, RMS, and a stash
/// type wider than the input. Statistics keep the reduced dims as 1s.
static LogicalResult normalization(NodeBinder &b, bool rms) {
  Value x, scale, bias;
  int64_t axis, rank, stash;
  float eps;
  if (b.tensors(x, scale) || (!rms && b.optTensor(2, bias)) || b.rank(x, rank) ||
      b.attr("axis", axis, -1) || b.axis(axis, rank) || b.attr("epsilon", eps, 1e-5f) ||
      b.attr("stash_type", stash, 1))
    return failure();
  auto &B = b.builder;
  Type elem = mlir::cast<ShapedType>(x.getType()).getElementType();
  if (!isa<FloatType>(elem))
    return b.error("the input must be a float tensor"), failure();
  Type calc = stash == 1 ? B.getF32Type() : elem;
  auto to = [&](Value v, Type t) { return v ? b.cast(v, t) : v; };
  bool fused = !rms && b.numOutputs() <= 1 && calc == elem;
  if (fused) {
    b.setResults({b.create<LayerNormOp>(x, scale, bias, B.getI64IntegerAttr(axis),
                                        B.getF32FloatAttr(eps))});
    return success();
  }
  SmallVector<int64_t> axes;
  for (int64_t i = axis; i < rank; ++i)
    axes.push_back(i);
  auto mean = [&](Value v) -> Value {
    return b.create<ReduceOp>(v, Value(), B.getDenseI64ArrayAttr(axes), B.getBoolAttr(true),
                              B.getStringAttr("mean"), B.getBoolAttr(false));
  };
  Value xc = to(x, calc), centred = xc, mu;
  if (!rms) {
    mu = mean(xc);
    centred = b.create<SubOp>(xc, mu);
  }
  Value var = mean(b.create<MulOp>(centred, centred));
  Value rstd = b.create<ReciprocalOp>(b.create<SqrtOp>(b.create<AddOp>(var, b.scalar(calc, eps))));
  Value y = b.create<MulOp>(to(b.create<MulOp>(centred, rstd), elem), scale);
  if (bias)
    y = b.create<AddOp>(y, bias);
  if (rms)
    b.setResults({y});
  else
    b.setResults({y, mu, rstd});
  return success();
}

/// NegativeLogLikelihoodLoss from mlc ops: the target class's score picked
/// by GatherElements along dim 1, weighted, ignore_index masked, reduced.
/// `scores` is the input (N, C, d1..dk); `target` (N, d1..dk).
static LogicalResult nllLoss(NodeBinder &b, Value scores, Value target, Value weight) {
  std::string reduction;
  int64_t ignore = 0, rank;
  bool hasIgnore = b.has("ignore_index");
  if (b.attr("reduction", reduction, std::string("mean")) ||
      (hasIgnore && b.attr("ignore_index", ignore)) || b.rank(scores, rank))
    return failure();
  if (reduction != "none" && reduction != "sum" && reduction != "mean")
    return b.error("reduction must be none, sum or mean"), failure();
  auto &B = b.builder;
  Type elem = mlir::cast<ShapedType>(scores.getType()).getElementType();
  Type ielem = mlir::cast<ShapedType>(target.getType()).getElementType();
  if (!isa<FloatType>(elem) || !isa<IntegerType>(ielem))
    return b.error("needs float scores and integer targets"), failure();
  auto scalarInt = [&](int64_t v) { return b.scalar(ielem, v); };
  Value safe = target, keep;
  if (hasIgnore) {
    Value ign = b.create<CompareOp>(target, scalarInt(ignore), B.getStringAttr("eq"));
    safe = b.create<WhereOp>(ign, scalarInt(0), target);
    keep = b.create<CastOp>(b.create<NotOp>(ign), TypeAttr::get(elem));
  }
  Value picked = b.create<GatherElementsOp>(
      scores, b.create<UnsqueezeOp>(safe, B.getDenseI64ArrayAttr({1})), B.getI64IntegerAttr(1));
  Value loss = b.create<NegOp>(b.create<SqueezeOp>(picked, B.getDenseI64ArrayAttr({1})));
  Value w;
  if (weight)
    w = b.create<GatherOp>(weight, safe, B.getI64IntegerAttr(0));
  if (keep)
    w = w ? b.create<MulOp>(w, keep).getResult() : keep;
  if (w)
    loss = b.create<MulOp>(loss, w);
  if (reduction == "none") {
    b.setResults({loss});
    return success();
  }
  SmallVector<int64_t> all;
  for (int64_t i = 0; i < rank - 1; ++i)
    all.push_back(i);
  auto reduce = [&](Value v, const char *kind) -> Value {
    return b.create<ReduceOp>(v, Value(), B.getDenseI64ArrayAttr(all), B.getBoolAttr(false),
                              B.getStringAttr(kind), B.getBoolAttr(false));
  };
  if (reduction == "sum")
    loss = reduce(loss, "sum");
  else if (w)
    loss = b.create<DivOp>(reduce(loss, "sum"), reduce(w, "sum"));
  else
    loss = reduce(loss, "mean");
  b.setResults({loss});
  return success();
}

LogicalResult negativeLogLikelihood(NodeBinder &b) {
  Value scores, target, weight;
  if (b.tensors(scores, target) || b.optTensor(2, weight))
    return failure();
  return nllLoss(b, scores, target, weight);
}

/// SoftmaxCrossEntropyLoss: LogSoftmax over dim 1, then the NLL loss; the
/// second output is the log-probabilities.
LogicalResult softmaxCrossEntropy(NodeBinder &b) {
  Value scores, target, weight;
  int64_t rank;
  if (b.tensors(scores, target) || b.optTensor(2, weight) || b.rank(scores, rank))
    return failure();
  auto &B = b.builder;
  Value logp = b.create<SoftmaxOp>(scores, B.getI64IntegerAttr(1), B.getBoolAttr(false),
                                   B.getBoolAttr(true));
  if (failed(nllLoss(b, logp, target, weight)))
    return failure();
  b.setResults({b.results[0], logp});
  return success();
}

/// x / ||x||_p along `axis` (p = 1 or 2), 0 where the norm is 0.
LogicalResult lpNormalization(NodeBinder &b) {
  Value x;
  int64_t axis, p, rank;
  if (b.tensors(x) || b.attr("axis", axis, -1) || b.attr("p", p, 2) || b.rank(x, rank) ||
      b.axis(axis, rank))
    return failure();
  if (p != 1 && p != 2)
    return b.error("p must be 1 or 2"), failure();
  Type elem = NodeBinder::elementType(x);
  if (!isa<FloatType>(elem))
    return b.error("the input must be a float tensor"), failure();
  auto &B = b.builder;
  Value norm = b.create<ReduceOp>(x, Value(), B.getDenseI64ArrayAttr({axis}), B.getBoolAttr(true),
                                  B.getStringAttr(p == 1 ? kL1 : kL2), B.getBoolAttr(false));
  Value zero = b.scalar(elem, 0);
  Value isZero = b.create<CompareOp>(norm, zero, B.getStringAttr(kEq));
  b.setResults({b.create<WhereOp>(isZero, zero, b.create<DivOp>(x, norm))});
  return success();
}

/// (x - E[x]) / (sqrt(E[x^2] - E[x]^2) + 1e-9) over `axes` (default
/// [0, 2, 3]), as ONNX's function body computes it.
LogicalResult meanVarianceNormalization(NodeBinder &b) {
  Value x;
  SmallVector<int64_t> axes;
  int64_t rank;
  if (b.tensors(x) || b.rank(x, rank))
    return failure();
  if (b.has("axes") ? b.attr("axes", axes) : (axes.assign({0, 2, 3}), false))
    return failure();
  for (int64_t &a : axes)
    if (b.axis(a, rank))
      return failure();
  Type elem = NodeBinder::elementType(x);
  if (!isa<FloatType>(elem))
    return b.error("the input must be a float tensor"), failure();
  auto &B = b.builder;
  auto mean = [&](Value v) -> Value {
    return b.create<ReduceOp>(v, Value(), B.getDenseI64ArrayAttr(axes), B.getBoolAttr(true),
                              B.getStringAttr(kMean), B.getBoolAttr(false));
  };
  Value ex = mean(x);
  Value var = b.create<SubOp>(mean(b.create<MulOp>(x, x)), b.create<MulOp>(ex, ex));
  Value std = b.create<AddOp>(b.create<SqrtOp>(var), b.scalar(elem, 1e-9));
  b.setResults({b.create<DivOp>(b.create<SubOp>(x, ex), std)});
  return success();
}

LogicalResult layerNorm(NodeBinder &b) { return normalization(b, false); }
LogicalResult rmsNorm(NodeBinder &b) { return normalization(b, true); }

/// Dropout at inference is the identity; a training_mode that is not a
/// constant false is refused.
LogicalResult dropout(NodeBinder &b) {
  Value x, ratio, mode;
  int64_t rank;
  if (b.tensors(x) || b.optTensor(1, ratio) || b.optTensor(2, mode) || b.rank(x, rank))
    return failure();
  b.ignore("seed");
  b.ignore("ratio");
  b.ignore("is_test");
  auto constantIs = [](Value v, double want) {
    DenseElementsAttr c;
    if (!v || !matchPattern(v, m_Constant(&c)) || c.getNumElements() != 1)
      return false;
    if (isa<FloatType>(c.getElementType()))
      return (*c.getValues<APFloat>().begin()).convertToDouble() == want;
    return double((*c.getValues<APInt>().begin()).getSExtValue()) == want;
  };
  // Training mode drops nothing when the ratio is a constant 0; a random
  // mask is not supported.
  if (mode && !constantIs(mode, 0) && !constantIs(ratio, 0))
    return b.error("training mode with a ratio other than a constant 0 is not supported"),
           failure();
  // The mask keeps every element.
  Value shape = b.create<ShapeOp>(x, b.builder.getI64IntegerAttr(0), b.builder.getI64IntegerAttr(rank));
  Value keep = b.create<ExpandOp>(b.scalar(b.builder.getI1Type(), 1), shape);
  b.setResults({x, keep});
  return success();
}

} // namespace

void registerMathConverters() {
  registerConverter("Sqrt", 1, unary<SqrtOp>);
  registerConverter("Erf", 1, unary<ErfOp>);
  registerConverter("Exp", 1, unary<ExpOp>);
  registerConverter("Log", 1, unary<LogOp>);
  registerConverter("Neg", 1, unary<NegOp>);
  registerConverter("Abs", 1, unary<AbsOp>);
  registerConverter("Reciprocal", 1, unary<ReciprocalOp>);
  registerConverter("Not", 1, unary<NotOp>);
  registerConverter("HardSwish", 14, unary<HardSwishOp>);
  registerConverter("HardSigmoid", 1, hardSigmoid);
  registerConverter("Clip", 1, clip);
  registerConverter("Cast", 1, cast);
  registerConverter("BitCast", 26, bitCast);
  registerConverter("Pow", 1, binary<PowOp>);
  registerConverter("Max", 1, variadic<MaxOp>);
  registerConverter("Min", 1, variadic<MinOp>);
  registerConverter("Sum", 1, variadic<AddOp>);
  registerConverter("And", 1, binary<AndOp>);
  registerConverter("Or", 1, binary<OrOp>);
  registerConverter("Equal", 1, compare<kEq>);
  registerConverter("Less", 1, compare<kLt>);
  registerConverter("LessOrEqual", 12, compare<kLe>);
  registerConverter("Greater", 1, compare<kGt>);
  registerConverter("GreaterOrEqual", 12, compare<kGe>);
  registerConverter("Where", 9, where);
  registerConverter("ReduceSum", 1, reduce<kSum>);
  registerConverter("ReduceMean", 1, reduce<kMean>);
  registerConverter("ReduceMax", 1, reduce<kMax>);
  registerConverter("ReduceMin", 1, reduce<kMin>);
  registerConverter("ReduceProd", 1, reduce<kProd>);
  registerConverter("ReduceL1", 1, reduce<kL1>);
  registerConverter("ReduceL2", 1, reduce<kL2>);
  registerConverter("ReduceSumSquare", 1, reduce<kSumSquare>);
  registerConverter("ReduceLogSum", 1, reduce<kLogSum>);
  registerConverter("ReduceLogSumExp", 1, reduce<kLogSumExp>);
  registerConverter("ArgMax", 1, argReduce<true>);
  registerConverter("ArgMin", 1, argReduce<false>);
  registerConverter("LayerNormalization", 17, layerNorm);
  registerConverter("LpNormalization", 1, lpNormalization);
  registerConverter("MeanVarianceNormalization", 9, meanVarianceNormalization);
  registerConverter("RMSNormalization", 23, rmsNorm);
  registerConverter("NegativeLogLikelihoodLoss", 12, negativeLogLikelihood);
  registerConverter("SoftmaxCrossEntropyLoss", 12, softmaxCrossEntropy);
  registerConverter("Dropout", 1, dropout);
  registerConverter("Add", 1, binary<AddOp>);
  registerConverter("Sub", 1, binary<SubOp>);
  registerConverter("Mul", 1, binary<MulOp>);
  registerConverter("Div", 1, binary<DivOp>);
  registerConverter("Relu", 1, unary<ReluOp>);
  registerConverter("Sigmoid", 1, unary<SigmoidOp>);
  registerConverter("Tanh", 1, unary<TanhOp>);
  registerConverter("Identity", 1, unary<IdentityOp>);
  registerConverter("MatMul", 1, matmul);
  registerConverter("Gemm", 1, gemm);
  registerConverter("Softmax", 1, softmax<false>);
  registerConverter("Sin", 7, math<MathKind::Sin>);
  registerConverter("Cos", 7, math<MathKind::Cos>);
  registerConverter("Tan", 7, math<MathKind::Tan>);
  registerConverter("Asin", 7, math<MathKind::Asin>);
  registerConverter("Acos", 7, math<MathKind::Acos>);
  registerConverter("Atan", 7, math<MathKind::Atan>);
  registerConverter("Sinh", 9, math<MathKind::Sinh>);
  registerConverter("Cosh", 9, math<MathKind::Cosh>);
  registerConverter("Asinh", 9, math<MathKind::Asinh>);
  registerConverter("Acosh", 9, math<MathKind::Acosh>);
  registerConverter("Atanh", 9, math<MathKind::Atanh>);
  registerConverter("Floor", 1, math<MathKind::Floor>);
  registerConverter("Ceil", 1, math<MathKind::Ceil>);
  registerConverter("Round", 11, math<MathKind::Round>);
  registerConverter("Sign", 9, math<MathKind::Sign>);
  registerConverter("Softplus", 1, math<MathKind::Softplus>);
  registerConverter("Softsign", 1, math<MathKind::Softsign>);
  registerConverter("IsNaN", 9, math<MathKind::IsNaN>);
  registerConverter("IsInf", 10, math<MathKind::IsInf>);
  registerConverter("Elu", 1, math<MathKind::Elu>);
  registerConverter("Selu", 1, math<MathKind::Selu>);
  registerConverter("LeakyRelu", 1, math<MathKind::LeakyRelu>);
  registerConverter("ThresholdedRelu", 10, math<MathKind::ThresholdedRelu>);
  registerConverter("Celu", 12, math<MathKind::Celu>);
  registerConverter("Mish", 18, math<MathKind::Mish>);
  registerConverter("Gelu", 20, math<MathKind::Gelu>);
  registerConverter("Swish", 24, math<MathKind::Swish>);
  registerConverter("SwiGLU", 28, swiglu);
  registerConverter("Shrink", 9, math<MathKind::Shrink>);
  registerConverter("CastLike", 15, castLike);
  registerConverter("Mod", 10, mod);
  registerConverter("BitShift", 11, bitShift);
  registerConverter("Xor", 1, binary<XorOp>);
  registerConverter("BitwiseAnd", 18, binary<AndOp>);
  registerConverter("BitwiseOr", 18, binary<OrOp>);
  registerConverter("BitwiseXor", 18, binary<XorOp>);
  registerConverter("BitwiseNot", 18, unary<NotOp>);
  registerConverter("PRelu", 1, binary<PReluOp>);
  registerConverter("Size", 1, size);
  registerConverter("Mean", 1, mean);
  registerConverter("LogSoftmax", 1, softmax<true>);
}
