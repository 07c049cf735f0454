//===- Elementwise.cpp - converters: arithmetic, activations, BatchNorm --===//
#include "passes/lower/Common.h"

#include <cmath>

using namespace mlir;
using namespace mlc;
using namespace mlc::lower;

namespace {

using BodyFn = function_ref<Value(OpBuilder &, Location, ValueRange)>;

/// Converts a scalar between ONNX element types (bool, ints, floats).
Value convertScalar(OpBuilder &b, Location l, Value v, Type to) {
  Type from = v.getType();
  if (from == to)
    return v;
  bool fromF = isa<FloatType>(from), toF = isa<FloatType>(to);
  if (fromF && toF)
    return from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth()
               ? b.create<arith::ExtFOp>(l, to, v).getResult()
               : b.create<arith::TruncFOp>(l, to, v).getResult();
  if (toF)
    return from.isInteger(1) || from.isUnsignedInteger()
               ? b.create<arith::UIToFPOp>(l, to, v).getResult()
               : b.create<arith::SIToFPOp>(l, to, v).getResult();
  if (to.isInteger(1)) {
    Value zero = b.create<arith::ConstantOp>(l, b.getZeroAttr(from));
    if (fromF)
      return b.create<arith::CmpFOp>(l, arith::CmpFPredicate::UNE, v, zero);
    return b.create<arith::CmpIOp>(l, arith::CmpIPredicate::ne, v, zero);
  }
  if (fromF)
    return b.create<arith::FPToSIOp>(l, to, v);
  unsigned fw = from.getIntOrFloatBitWidth(), tw = to.getIntOrFloatBitWidth();
  if (fw < tw)
    return from.isInteger(1) ? b.create<arith::ExtUIOp>(l, to, v).getResult()
                             : b.create<arith::ExtSIOp>(l, to, v).getResult();
  if (fw > tw)
    return b.create<arith::TruncIOp>(l, to, v);
  return v;
}

/// A parallel linalg.generic over `dims` reading each input broadcast.
Value elementwise(OpBuilder &b, Location loc, ValueRange inputs,
                  ArrayRef<OpFoldResult> dims, Type elem, BodyFn body) {
  unsigned rank = dims.size();
  MLIRContext *ctx = b.getContext();
  SmallVector<AffineMap> maps;
  for (Value in : inputs)
    maps.push_back(broadcastMap(ctx, in, rank, dims));
  maps.push_back(AffineMap::getMultiDimIdentityMap(rank, ctx));
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  Value init = emptyTensor(b, loc, dims, elem);
  auto g = b.create<linalg::GenericOp>(
      loc, init.getType(), inputs, init, maps, iters,
      [&](OpBuilder &nb, Location l, ValueRange args) {
        nb.create<linalg::YieldOp>(l, body(nb, l, args.drop_back()));
      });
  return g.getResult(0);
}

/// Output dims of a broadcasting op, from the shared shape rule.
FailureOr<VDims> broadcastDims(OpBuilder &b, Location loc, Operation *op,
                               ValueRange inputs) {
  ValueDims s{b, loc};
  SmallVector<VDims> shapes;
  for (Value v : inputs)
    shapes.push_back(dimsOf(b, loc, v));
  VDims out;
  if (auto err = shape::broadcast<ValueDims>(s, shapes, out)) {
    op->emitError(err->message);
    return failure();
  }
  return out;
}

template <typename OpT>
struct BinaryLowering : MlcPattern<OpT> {
  using MlcPattern<OpT>::MlcPattern;
  LogicalResult lower(OpT op, typename OpT::Adaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Type elem = type.getElementType();
    bool logical = std::is_same_v<OpT, AndOp> || std::is_same_v<OpT, OrOp>;
    if (!elem.isIntOrFloat() || elem.isInteger(1) != logical)
      return op->emitError("element type ") << elem << " is not supported";
    Location loc = op.getLoc();
    SmallVector<Value> ins = {a.getLhs(), a.getRhs()};
    Type rhsElem = cast<ShapedType>(a.getRhs().getType()).getElementType();
    if (rhsElem != elem && !std::is_same_v<OpT, PowOp>)
      return op->emitError("operands have different element types");
    auto dims = broadcastDims(rw, loc, op, ins);
    if (failed(dims))
      return failure();
    bool isFloat = isa<FloatType>(elem);
    Value r = elementwise(rw, loc, ins, *dims, elem,
                          [&](OpBuilder &b, Location l, ValueRange v) -> Value {
                            Value y = v[1];
                            if (y.getType() != elem) // Pow with an exponent of another type
                              y = convertScalar(b, l, y, elem);
                            return makeOp(b, l, isFloat, v[0], y);
                          });
    rw.replaceOp(op, r);
    return success();
  }
  static Value makeOp(OpBuilder &b, Location l, bool f, Value x, Value y) {
    if constexpr (std::is_same_v<OpT, AddOp>)
      return f ? b.create<arith::AddFOp>(l, x, y).getResult()
               : b.create<arith::AddIOp>(l, x, y).getResult();
    if constexpr (std::is_same_v<OpT, SubOp>)
      return f ? b.create<arith::SubFOp>(l, x, y).getResult()
               : b.create<arith::SubIOp>(l, x, y).getResult();
    if constexpr (std::is_same_v<OpT, MulOp>)
      return f ? b.create<arith::MulFOp>(l, x, y).getResult()
               : b.create<arith::MulIOp>(l, x, y).getResult();
    if constexpr (std::is_same_v<OpT, PowOp>) {
      if (f)
        return b.create<math::PowFOp>(l, x, y);
      return b.create<math::IPowIOp>(l, x, y);
    }
    if constexpr (std::is_same_v<OpT, MaxOp>)
      return f ? b.create<arith::MaximumFOp>(l, x, y).getResult()
               : b.create<arith::MaxSIOp>(l, x, y).getResult();
    if constexpr (std::is_same_v<OpT, MinOp>)
      return f ? b.create<arith::MinimumFOp>(l, x, y).getResult()
               : b.create<arith::MinSIOp>(l, x, y).getResult();
    if constexpr (std::is_same_v<OpT, AndOp>)
      return b.create<arith::AndIOp>(l, x, y);
    if constexpr (std::is_same_v<OpT, OrOp>)
      return b.create<arith::OrIOp>(l, x, y);
    if constexpr (std::is_same_v<OpT, DivOp>) {
      if (f)
        return b.create<arith::DivFOp>(l, x, y);
      // Integer division by zero is undefined in ONNX; never trap on it.
      Value zero = b.create<arith::ConstantOp>(l, b.getZeroAttr(y.getType()));
      Value one = b.create<arith::ConstantOp>(l, b.getIntegerAttr(y.getType(), 1));
      Value isZero = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq, y, zero);
      Value safe = b.create<arith::SelectOp>(l, isZero, one, y);
      return b.create<arith::DivSIOp>(l, x, safe);
    }
  }
};

template <typename OpT>
struct UnaryLowering : MlcPattern<OpT> {
  using MlcPattern<OpT>::MlcPattern;
  LogicalResult lower(OpT op, typename OpT::Adaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType) const override {
    if (std::is_same_v<OpT, IdentityOp>) {
      rw.replaceOp(op, a.getInput());
      return success();
    }
    if (failed(requireFloat(op, a.getInput())))
      return failure();
    Location loc = op.getLoc();
    Type elem = cast<ShapedType>(a.getInput().getType()).getElementType();
    VDims dims = dimsOf(rw, loc, a.getInput());
    Value r = elementwise(rw, loc, a.getInput(), dims, elem,
                          [&](OpBuilder &b, Location l, ValueRange v) {
                            return body(b, l, v[0]);
                          });
    rw.replaceOp(op, r);
    return success();
  }
  static Value body(OpBuilder &b, Location l, Value x) {
    Type t = x.getType();
    if constexpr (std::is_same_v<OpT, ReluOp>) {
      Value zero = b.create<arith::ConstantOp>(l, b.getZeroAttr(t));
      return b.create<arith::MaximumFOp>(l, x, zero);
    }
    if constexpr (std::is_same_v<OpT, SigmoidOp>) {
      Value one = b.create<arith::ConstantOp>(l, b.getFloatAttr(t, 1.0));
      Value e = b.create<math::ExpOp>(l, b.create<arith::NegFOp>(l, x));
      return b.create<arith::DivFOp>(l, one, b.create<arith::AddFOp>(l, one, e));
    }
    if constexpr (std::is_same_v<OpT, TanhOp>)
      return b.create<math::TanhOp>(l, x);
    if constexpr (std::is_same_v<OpT, SqrtOp>)
      return b.create<math::SqrtOp>(l, x);
    if constexpr (std::is_same_v<OpT, ErfOp>)
      return b.create<math::ErfOp>(l, x);
    if constexpr (std::is_same_v<OpT, ExpOp>)
      return b.create<math::ExpOp>(l, x);
    if constexpr (std::is_same_v<OpT, LogOp>)
      return b.create<math::LogOp>(l, x);
    if constexpr (std::is_same_v<OpT, NegOp>)
      return b.create<arith::NegFOp>(l, x);
    if constexpr (std::is_same_v<OpT, AbsOp>)
      return b.create<math::AbsFOp>(l, x);
    if constexpr (std::is_same_v<OpT, ReciprocalOp>) {
      Value one = b.create<arith::ConstantOp>(l, b.getFloatAttr(t, 1.0));
      return b.create<arith::DivFOp>(l, one, x);
    }
    if constexpr (std::is_same_v<OpT, HardSwishOp>) {
      // x * clamp(x / 6 + 0.5, 0, 1)
      auto c = [&](double v) { return b.create<arith::ConstantOp>(l, b.getFloatAttr(t, v)); };
      Value h = b.create<arith::AddFOp>(l, b.create<arith::MulFOp>(l, x, c(1.0 / 6)), c(0.5));
      h = b.create<arith::MinimumFOp>(l, b.create<arith::MaximumFOp>(l, h, c(0.0)), c(1.0));
      return b.create<arith::MulFOp>(l, x, h);
    }
    return x;
  }
};

struct NotLowering : MlcPattern<NotOp> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(NotOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    if (!type.getElementType().isInteger(1))
      return op->emitError("Not takes a bool tensor");
    Location loc = op.getLoc();
    Value r = elementwise(rw, loc, a.getInput(), dimsOf(rw, loc, a.getInput()),
                          type.getElementType(), [](OpBuilder &b, Location l, ValueRange v) {
                            Value t = b.create<arith::ConstantOp>(l, b.getBoolAttr(true));
                            return b.create<arith::XOrIOp>(l, v[0], t).getResult();
                          });
    rw.replaceOp(op, r);
    return success();
  }
};

/// Clip and HardSigmoid: an affine map then a clamp, in one elementwise op.
template <typename OpT>
struct ClampLowering : MlcPattern<OpT, /*FloatOnly=*/true> {
  using MlcPattern<OpT, true>::MlcPattern;
  LogicalResult lower(OpT op, typename OpT::Adaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    double lo, hi, alpha = 1, beta = 0;
    if constexpr (std::is_same_v<OpT, ClipOp>) {
      lo = op.getMin().convertToDouble();
      hi = op.getMax().convertToDouble();
    } else {
      lo = 0;
      hi = 1;
      alpha = op.getAlpha().convertToDouble();
      beta = op.getBeta().convertToDouble();
    }
    Type elem = type.getElementType();
    Value r = elementwise(rw, loc, a.getInput(), dimsOf(rw, loc, a.getInput()), elem,
                          [&](OpBuilder &b, Location l, ValueRange v) {
                            auto c = [&](double x) {
                              return b.create<arith::ConstantOp>(l, b.getFloatAttr(elem, x));
                            };
                            Value x = v[0];
                            if (alpha != 1 || beta != 0)
                              x = b.create<arith::AddFOp>(
                                  l, b.create<arith::MulFOp>(l, x, c(alpha)), c(beta));
                            if (!std::isinf(lo))
                              x = b.create<arith::MaximumFOp>(l, x, c(lo));
                            if (!std::isinf(hi))
                              x = b.create<arith::MinimumFOp>(l, x, c(hi));
                            return x;
                          });
    rw.replaceOp(op, r);
    return success();
  }
};

struct CastLowering : MlcPattern<CastOp> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(CastOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    Type to = type.getElementType();
    Value r = elementwise(rw, loc, a.getInput(), dimsOf(rw, loc, a.getInput()), to,
                          [&](OpBuilder &b, Location l, ValueRange v) {
                            return convertScalar(b, l, v[0], to);
                          });
    rw.replaceOp(op, r);
    return success();
  }
};

struct CompareLowering : MlcPattern<CompareOp> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(CompareOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    SmallVector<Value> ins = {a.getLhs(), a.getRhs()};
    auto dims = broadcastDims(rw, loc, op, ins);
    if (failed(dims))
      return failure();
    Type in = cast<ShapedType>(a.getLhs().getType()).getElementType();
    StringRef p = op.getPredicate();
    bool f = isa<FloatType>(in);
    auto fp = p == "eq" ? arith::CmpFPredicate::OEQ : p == "lt" ? arith::CmpFPredicate::OLT
              : p == "le" ? arith::CmpFPredicate::OLE : p == "gt" ? arith::CmpFPredicate::OGT
                          : arith::CmpFPredicate::OGE;
    auto ip = p == "eq" ? arith::CmpIPredicate::eq : p == "lt" ? arith::CmpIPredicate::slt
              : p == "le" ? arith::CmpIPredicate::sle : p == "gt" ? arith::CmpIPredicate::sgt
                          : arith::CmpIPredicate::sge;
    Value r = elementwise(rw, loc, ins, *dims, type.getElementType(),
                          [&](OpBuilder &b, Location l, ValueRange v) -> Value {
                            if (f)
                              return b.create<arith::CmpFOp>(l, fp, v[0], v[1]);
                            return b.create<arith::CmpIOp>(l, ip, v[0], v[1]);
                          });
    rw.replaceOp(op, r);
    return success();
  }
};

struct WhereLowering : MlcPattern<WhereOp> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(WhereOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    SmallVector<Value> ins = {a.getCondition(), a.getX(), a.getY()};
    auto dims = broadcastDims(rw, loc, op, ins);
    if (failed(dims))
      return failure();
    Value r = elementwise(rw, loc, ins, *dims, type.getElementType(),
                          [](OpBuilder &b, Location l, ValueRange v) {
                            return b.create<arith::SelectOp>(l, v[0], v[1], v[2]).getResult();
                          });
    rw.replaceOp(op, r);
    return success();
  }
};

/// y = (x - mean[c]) * scale[c] / sqrt(var[c] + eps) + bias[c], c = dim 1.
struct BatchNormLowering : MlcPattern<BatchNormOp, /*FloatOnly=*/true> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(BatchNormOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    if (type.getRank() < 2)
      return op->emitError("input must have rank >= 2");
    Location loc = op.getLoc();
    unsigned rank = type.getRank();
    MLIRContext *ctx = rw.getContext();
    VDims dims = dimsOf(rw, loc, a.getX());
    auto chan = AffineMap::get(rank, 0, getAffineDimExpr(1, ctx));
    SmallVector<AffineMap> maps = {AffineMap::getMultiDimIdentityMap(rank, ctx),
                                   chan, chan, chan, chan,
                                   AffineMap::getMultiDimIdentityMap(rank, ctx)};
    SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
    Type elem = type.getElementType();
    Value init = emptyTensor(rw, loc, dims, elem);
    double eps = op.getEpsilon().convertToDouble();
    auto g = rw.create<linalg::GenericOp>(
        loc, init.getType(),
        ValueRange{a.getX(), a.getScale(), a.getBias(), a.getMean(), a.getVar()},
        init, maps, iters, [&](OpBuilder &b, Location l, ValueRange v) {
          Value e = b.create<arith::ConstantOp>(l, b.getFloatAttr(elem, eps));
          Value d = b.create<math::SqrtOp>(l, b.create<arith::AddFOp>(l, v[4], e));
          Value k = b.create<arith::DivFOp>(l, v[1], d);
          Value c = b.create<arith::SubFOp>(l, v[0], v[3]);
          Value r = b.create<arith::AddFOp>(l, b.create<arith::MulFOp>(l, c, k), v[2]);
          b.create<linalg::YieldOp>(l, r);
        });
    rw.replaceOp(op, g.getResult(0));
    return success();
  }
};

/// Softmax as max-reduce, exp-sum-reduce and a normalising map.
struct SoftmaxLowering : MlcPattern<SoftmaxOp, /*FloatOnly=*/true> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(SoftmaxOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rw.getContext();
    unsigned rank = type.getRank();
    int64_t axis = op.getAxis();
    auto isReduced = [&](unsigned d) {
      return op.getCoerce_2d() ? (int64_t)d >= axis : (int64_t)d == axis;
    };
    VDims dims = dimsOf(rw, loc, a.getInput());
    SmallVector<OpFoldResult> kept;
    SmallVector<AffineExpr> keptExprs;
    SmallVector<utils::IteratorType> iters;
    for (unsigned d = 0; d < rank; ++d) {
      if (isReduced(d)) {
        iters.push_back(utils::IteratorType::reduction);
      } else {
        kept.push_back(dims[d]);
        keptExprs.push_back(getAffineDimExpr(d, ctx));
        iters.push_back(utils::IteratorType::parallel);
      }
    }
    Type elem = type.getElementType();
    auto id = AffineMap::getMultiDimIdentityMap(rank, ctx);
    auto red = AffineMap::get(rank, 0, keptExprs, ctx);
    Value x = a.getInput();
    Value maxInit = filledTensor(rw, loc, kept, elem, lowestAttr(rw, elem));
    Value mx = rw.create<linalg::GenericOp>(
                     loc, maxInit.getType(), x, maxInit,
                     ArrayRef<AffineMap>{id, red}, iters,
                     [&](OpBuilder &b, Location l, ValueRange v) {
                       b.create<linalg::YieldOp>(
                           l, b.create<arith::MaximumFOp>(l, v[0], v[1]).getResult());
                     })
                   .getResult(0);
    Value sumInit = filledTensor(rw, loc, kept, elem, zeroAttr(rw, elem));
    Value sum = rw.create<linalg::GenericOp>(
                      loc, sumInit.getType(), ValueRange{x, mx}, sumInit,
                      ArrayRef<AffineMap>{id, red, red}, iters,
                      [&](OpBuilder &b, Location l, ValueRange v) {
                        Value e = b.create<math::ExpOp>(
                            l, b.create<arith::SubFOp>(l, v[0], v[1]));
                        b.create<linalg::YieldOp>(
                            l, b.create<arith::AddFOp>(l, e, v[2]).getResult());
                      })
                    .getResult(0);
    SmallVector<utils::IteratorType> par(rank, utils::IteratorType::parallel);
    Value init = emptyTensor(rw, loc, dims, elem);
    Value r = rw.create<linalg::GenericOp>(
                    loc, init.getType(), ValueRange{x, mx, sum}, init,
                    ArrayRef<AffineMap>{id, red, red, id}, par,
                    [&](OpBuilder &b, Location l, ValueRange v) {
                      Value e = b.create<math::ExpOp>(
                          l, b.create<arith::SubFOp>(l, v[0], v[1]));
                      b.create<linalg::YieldOp>(
                          l, b.create<arith::DivFOp>(l, e, v[2]).getResult());
                    })
                  .getResult(0);
    rw.replaceOp(op, r);
    return success();
  }
};

} // namespace

void lower::populateElementwisePatterns(RewritePatternSet &p) {
  p.add<BinaryLowering<AddOp>, BinaryLowering<SubOp>, BinaryLowering<MulOp>,
        BinaryLowering<DivOp>, BinaryLowering<PowOp>, BinaryLowering<MaxOp>,
        BinaryLowering<MinOp>, BinaryLowering<AndOp>, BinaryLowering<OrOp>,
        UnaryLowering<ReluOp>, UnaryLowering<SigmoidOp>, UnaryLowering<TanhOp>,
        UnaryLowering<IdentityOp>, UnaryLowering<SqrtOp>, UnaryLowering<ErfOp>,
        UnaryLowering<ExpOp>, UnaryLowering<LogOp>, UnaryLowering<NegOp>,
        UnaryLowering<AbsOp>, UnaryLowering<ReciprocalOp>, UnaryLowering<HardSwishOp>,
        NotLowering, ClampLowering<ClipOp>, ClampLowering<HardSigmoidOp>, CastLowering,
        CompareLowering, WhereLowering, BatchNormLowering, SoftmaxLowering>(p.getContext());
}
