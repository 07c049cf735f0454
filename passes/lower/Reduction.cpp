//===- Reduction.cpp - converters: ReduceX, LayerNormalization -----------===//
#include "passes/lower/Common.h"

using namespace mlir;
using namespace mlc;
using namespace mlc::lower;

namespace {

using utils::IteratorType;

/// Sums (or max/min/prod) `x` over the dims where `reduced` is true into a
/// tensor of the kept dims.
Value reduceInto(OpBuilder &b, Location loc, Value x, ArrayRef<bool> reduced,
                 StringRef kind, Value extra = nullptr,
                 function_ref<Value(OpBuilder &, Location, Value, Value)> pre = nullptr) {
  MLIRContext *ctx = b.getContext();
  auto t = cast<RankedTensorType>(x.getType());
  Type elem = t.getElementType();
  unsigned rank = t.getRank();
  VDims xd = dimsOf(b, loc, x);
  SmallVector<OpFoldResult> kept;
  SmallVector<AffineExpr> keptExprs;
  SmallVector<IteratorType> iters;
  for (unsigned d = 0; d < rank; ++d) {
    iters.push_back(reduced[d] ? IteratorType::reduction : IteratorType::parallel);
    if (!reduced[d]) {
      kept.push_back(xd[d]);
      keptExprs.push_back(getAffineDimExpr(d, ctx));
    }
  }
  bool isFloat = isa<FloatType>(elem);
  TypedAttr init = kind == "max"   ? lowerAttr(b, elem, false)
                   : kind == "min" ? lowerAttr(b, elem, true)
                   : kind == "prod" ? (isFloat ? TypedAttr(b.getFloatAttr(elem, 1.0))
                                               : TypedAttr(b.getIntegerAttr(elem, 1)))
                                    : zeroAttr(b, elem);
  Value acc = filledTensor(b, loc, kept, elem, init);
  auto id = AffineMap::getMultiDimIdentityMap(rank, ctx);
  auto red = AffineMap::get(rank, 0, keptExprs, ctx);
  SmallVector<Value> ins = {x};
  SmallVector<AffineMap> maps = {id};
  if (extra) {
    ins.push_back(extra);
    maps.push_back(red);
  }
  maps.push_back(red);
  return b.create<linalg::GenericOp>(
              loc, acc.getType(), ins, acc, maps, iters,
              [&](OpBuilder &nb, Location l, ValueRange v) {
                Value in = pre ? pre(nb, l, v[0], extra ? v[1] : Value()) : v[0];
                Value a = v.back(), r;
                if (kind == "max")
                  r = isFloat ? nb.create<arith::MaximumFOp>(l, in, a).getResult()
                              : nb.create<arith::MaxSIOp>(l, in, a).getResult();
                else if (kind == "min")
                  r = isFloat ? nb.create<arith::MinimumFOp>(l, in, a).getResult()
                              : nb.create<arith::MinSIOp>(l, in, a).getResult();
                else if (kind == "prod")
                  r = isFloat ? nb.create<arith::MulFOp>(l, in, a).getResult()
                              : nb.create<arith::MulIOp>(l, in, a).getResult();
                else
                  r = isFloat ? nb.create<arith::AddFOp>(l, in, a).getResult()
                              : nb.create<arith::AddIOp>(l, in, a).getResult();
                nb.create<linalg::YieldOp>(l, r);
              })
      .getResult(0);
}

/// The number of elements reduced, as a float of `elem`.
Value countOf(OpBuilder &b, Location loc, Value x, ArrayRef<bool> reduced, Type elem) {
  ValueDims s{b, loc};
  VDims xd = dimsOf(b, loc, x);
  OpFoldResult n = s.cst(1);
  for (size_t d = 0; d < reduced.size(); ++d)
    if (reduced[d])
      n = s.mul(n, xd[d]);
  Value i = b.create<arith::IndexCastOp>(loc, b.getI64Type(), s.val(n));
  return b.create<arith::SIToFPOp>(loc, elem, i);
}

Value mapTensor(OpBuilder &b, Location loc, Value in, Type elem,
                function_ref<Value(OpBuilder &, Location, Value)> fn) {
  auto t = cast<RankedTensorType>(in.getType());
  unsigned rank = t.getRank();
  MLIRContext *ctx = b.getContext();
  Value out = emptyTensor(b, loc, dimsOf(b, loc, in), elem);
  auto id = AffineMap::getMultiDimIdentityMap(rank, ctx);
  SmallVector<IteratorType> par(rank, IteratorType::parallel);
  return b.create<linalg::GenericOp>(loc, out.getType(), in, out, ArrayRef<AffineMap>{id, id},
                                     par,
                                     [&](OpBuilder &nb, Location l, ValueRange v) {
                                       nb.create<linalg::YieldOp>(l, fn(nb, l, v[0]));
                                     })
      .getResult(0);
}

struct ReduceLowering : MlcPattern<ReduceOp> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(ReduceOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    Value x = a.getInput();
    auto xt = cast<RankedTensorType>(x.getType());
    Type elem = xt.getElementType();
    StringRef kind = op.getKind();
    if (kind == "mean" && !isa<FloatType>(elem))
      return op->emitError("ReduceMean needs a float input");
    SmallVector<bool> reduced(xt.getRank(), false);
    for (int64_t ax : op.getAxes())
      reduced[ax] = true;
    Value r = reduceInto(rw, loc, x, reduced, kind == "mean" ? "sum" : kind);
    if (kind == "mean") {
      Value n = countOf(rw, loc, x, reduced, elem);
      r = mapTensor(rw, loc, r, elem, [&](OpBuilder &b, Location l, Value v) {
        return b.create<arith::DivFOp>(l, v, n).getResult();
      });
    }
    if (op.getKeepdims()) {
      ValueDims s{rw, loc};
      VDims xd = dimsOf(rw, loc, x);
      SmallVector<OpFoldResult> dims;
      for (size_t d = 0; d < reduced.size(); ++d)
        dims.push_back(reduced[d] ? s.cst(1) : xd[d]);
      r = reshapeTo(rw, loc, r, type, dims);
    }
    rw.replaceOp(op, r);
    return success();
  }
};

/// mean and variance over [axis, rank), then one normalising map.
struct LayerNormLowering : MlcPattern<LayerNormOp, /*FloatOnly=*/true> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(LayerNormOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rw.getContext();
    Value x = a.getInput();
    unsigned rank = type.getRank();
    int64_t axis = op.getAxis();
    Type elem = type.getElementType();
    SmallVector<bool> reduced(rank, false);
    for (unsigned d = axis; d < rank; ++d)
      reduced[d] = true;
    Value n = countOf(rw, loc, x, reduced, elem);
    Value sum = reduceInto(rw, loc, x, reduced, "sum");
    Value mean = mapTensor(rw, loc, sum, elem, [&](OpBuilder &b, Location l, Value v) {
      return b.create<arith::DivFOp>(l, v, n).getResult();
    });
    Value sq = reduceInto(rw, loc, x, reduced, "sum", mean,
                          [](OpBuilder &b, Location l, Value v, Value m) {
                            Value c = b.create<arith::SubFOp>(l, v, m);
                            return b.create<arith::MulFOp>(l, c, c).getResult();
                          });
    double eps = op.getEpsilon().convertToDouble();
    Value rstd = mapTensor(rw, loc, sq, elem, [&](OpBuilder &b, Location l, Value v) {
      Value var = b.create<arith::DivFOp>(l, v, n);
      Value e = b.create<arith::ConstantOp>(l, b.getFloatAttr(elem, eps));
      return b.create<math::RsqrtOp>(l, b.create<arith::AddFOp>(l, var, e)).getResult();
    });
    SmallVector<AffineExpr> keptExprs, normExprs;
    for (unsigned d = 0; d < rank; ++d)
      (reduced[d] ? normExprs : keptExprs).push_back(getAffineDimExpr(d, ctx));
    auto id = AffineMap::getMultiDimIdentityMap(rank, ctx);
    auto keptMap = AffineMap::get(rank, 0, keptExprs, ctx);
    // Scale and bias broadcast numpy-style against the normalised dims.
    auto paramMap = [&](Value p) {
      auto pt = cast<RankedTensorType>(p.getType());
      SmallVector<AffineExpr> e;
      for (int64_t i = 0; i < pt.getRank(); ++i) {
        unsigned d = rank - pt.getRank() + i;
        e.push_back(pt.getDimSize(i) == 1 && type.getDimSize(d) != 1
                        ? getAffineConstantExpr(0, ctx)
                        : getAffineDimExpr(d, ctx));
      }
      return AffineMap::get(rank, 0, e, ctx);
    };
    SmallVector<Value> ins = {x, mean, rstd, a.getScale()};
    SmallVector<AffineMap> maps = {id, keptMap, keptMap, paramMap(a.getScale())};
    if (a.getBias()) {
      ins.push_back(a.getBias());
      maps.push_back(paramMap(a.getBias()));
    }
    maps.push_back(id);
    Value out = emptyTensor(rw, loc, dimsOf(rw, loc, x), elem);
    SmallVector<IteratorType> par(rank, IteratorType::parallel);
    bool hasBias = (bool)a.getBias();
    Value r = rw.create<linalg::GenericOp>(
                    loc, out.getType(), ins, out, maps, par,
                    [&](OpBuilder &b, Location l, ValueRange v) {
                      Value c = b.create<arith::SubFOp>(l, v[0], v[1]);
                      Value y = b.create<arith::MulFOp>(
                          l, b.create<arith::MulFOp>(l, c, v[2]), v[3]);
                      if (hasBias)
                        y = b.create<arith::AddFOp>(l, y, v[4]);
                      b.create<linalg::YieldOp>(l, y);
                    })
                  .getResult(0);
    rw.replaceOp(op, r);
    return success();
  }
};

} // namespace

void lower::populateReductionPatterns(RewritePatternSet &p) {
  p.add<ReduceLowering, LayerNormLowering>(p.getContext());
}
