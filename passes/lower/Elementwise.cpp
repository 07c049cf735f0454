//===- Elementwise.cpp - converters: arithmetic, activations, BatchNorm --===//
#include "passes/lower/Common.h"

using namespace mlir;
using namespace mlc;
using namespace mlc::lower;

namespace {

using BodyFn = function_ref<Value(OpBuilder &, Location, ValueRange)>;

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
    if (!elem.isIntOrFloat() || elem.isInteger(1))
      return op->emitError("element type ") << elem << " is not supported";
    Location loc = op.getLoc();
    SmallVector<Value> ins = {a.getLhs(), a.getRhs()};
    auto dims = broadcastDims(rw, loc, op, ins);
    if (failed(dims))
      return failure();
    bool isFloat = isa<FloatType>(elem);
    Value r = elementwise(rw, loc, ins, *dims, elem,
                          [&](OpBuilder &b, Location l, ValueRange v) -> Value {
                            return makeOp(b, l, isFloat, v[0], v[1]);
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
    return x;
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
        BinaryLowering<DivOp>, UnaryLowering<ReluOp>, UnaryLowering<SigmoidOp>,
        UnaryLowering<TanhOp>, UnaryLowering<IdentityOp>, BatchNormLowering,
        SoftmaxLowering>(p.getContext());
}
