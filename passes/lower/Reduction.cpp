//===- Reduction.cpp - converters: ReduceX, LayerNormalization -----------===//
#include "passes/lower/Common.h"

using namespace mlir;
using namespace mlc;
using namespace mlc::lower;

namespace {

using utils::IteratorType;

/// The start value of a sum/max/min/prod (bool max/min: or/and; umax/umin:
/// max/min of unsigned integers).
TypedAttr identityOf(OpBuilder &b, Type elem, StringRef kind) {
  if (elem.isInteger(1) && (kind == "max" || kind == "min"))
    return b.getBoolAttr(kind == "min");
  if (kind == "umax" || kind == "umin")
    return lowerAttr(b, elem, kind == "umin", /*isUnsigned=*/true);
  if (kind == "max")
    return lowerAttr(b, elem, false);
  if (kind == "min")
    return lowerAttr(b, elem, true);
  if (kind == "prod")
    return isa<FloatType>(elem) ? TypedAttr(b.getFloatAttr(elem, 1.0))
                                : TypedAttr(b.getIntegerAttr(elem, 1));
  return zeroAttr(b, elem);
}

/// One step of a sum/max/min/prod.
Value combine(OpBuilder &b, Location l, StringRef kind, Value in, Value acc) {
  bool f = isa<FloatType>(in.getType());
  if (in.getType().isInteger(1) && (kind == "max" || kind == "min"))
    return kind == "max" ? b.create<arith::OrIOp>(l, in, acc).getResult()
                         : b.create<arith::AndIOp>(l, in, acc).getResult();
  if (kind == "umax")
    return b.create<arith::MaxUIOp>(l, in, acc);
  if (kind == "umin")
    return b.create<arith::MinUIOp>(l, in, acc);
  if (kind == "max")
    return f ? b.create<arith::MaximumFOp>(l, in, acc).getResult()
             : b.create<arith::MaxSIOp>(l, in, acc).getResult();
  if (kind == "min")
    return f ? b.create<arith::MinimumFOp>(l, in, acc).getResult()
             : b.create<arith::MinSIOp>(l, in, acc).getResult();
  if (kind == "prod")
    return f ? b.create<arith::MulFOp>(l, in, acc).getResult()
             : b.create<arith::MulIOp>(l, in, acc).getResult();
  return f ? b.create<arith::AddFOp>(l, in, acc).getResult()
           : b.create<arith::AddIOp>(l, in, acc).getResult();
}

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
  TypedAttr init = identityOf(b, elem, kind);
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
                nb.create<linalg::YieldOp>(l, combine(nb, l, kind, in, v.back()));
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

/// A reduction over axes known only at run time: `masked[d]` (i1) says
/// whether dim d is reduced. One generic over (i_0..i_r-1, r_0..r_r-1)
/// reads x[i_d + r_d]: a reduced dim has i_d in [0, 1) and r_d in [0, n_d),
/// a kept one i_d in [0, n_d) and r_d in [0, 1). The result keeps every dim
/// (size 1 where reduced).
Value reduceMasked(OpBuilder &b, Location loc, Value x, ArrayRef<Value> masked,
                   StringRef kind, Value extra = nullptr,
                   function_ref<Value(OpBuilder &, Location, Value, Value)> pre = nullptr) {
  MLIRContext *ctx = b.getContext();
  auto t = cast<RankedTensorType>(x.getType());
  Type elem = t.getElementType();
  unsigned rank = t.getRank();
  VDims xd = dimsOf(b, loc, x);
  Value one = b.create<arith::ConstantIndexOp>(loc, 1);
  SmallVector<OpFoldResult> outDims, redDims;
  SmallVector<AffineExpr> xExprs, outExprs, redExprs;
  for (unsigned d = 0; d < rank; ++d) {
    Value n = getValueOrCreateConstantIndexOp(b, loc, xd[d]);
    outDims.push_back(b.create<arith::SelectOp>(loc, masked[d], one, n).getResult());
    redDims.push_back(b.create<arith::SelectOp>(loc, masked[d], n, one).getResult());
    outExprs.push_back(getAffineDimExpr(d, ctx));
    redExprs.push_back(getAffineDimExpr(rank + d, ctx));
    xExprs.push_back(getAffineDimExpr(d, ctx) + getAffineDimExpr(rank + d, ctx));
  }
  TypedAttr init = identityOf(b, elem, kind);
  Value acc = filledTensor(b, loc, outDims, elem, init);
  // Carries the reduced loops' sizes; its contents are never read.
  Value sizes = emptyTensor(b, loc, redDims, b.getI8Type());
  auto outMap = AffineMap::get(2 * rank, 0, outExprs, ctx);
  SmallVector<Value> ins = {x, sizes};
  SmallVector<AffineMap> maps = {AffineMap::get(2 * rank, 0, xExprs, ctx),
                                 AffineMap::get(2 * rank, 0, redExprs, ctx)};
  if (extra) {
    ins.push_back(extra);
    maps.push_back(outMap);
  }
  maps.push_back(outMap);
  SmallVector<IteratorType> iters(rank, IteratorType::parallel);
  iters.append(rank, IteratorType::reduction);
  return b.create<linalg::GenericOp>(
              loc, acc.getType(), ins, acc, maps, iters,
              [&](OpBuilder &nb, Location l, ValueRange v) {
                Value in = pre ? pre(nb, l, v[0], extra ? v[2] : Value()) : v[0];
                nb.create<linalg::YieldOp>(l, combine(nb, l, kind, in, v.back()));
              })
      .getResult(0);
}

/// Which dims a run-time axes tensor reduces (negative axes wrap; an empty
/// tensor reduces every dim unless `noopEmpty`).
SmallVector<Value> axesMask(OpBuilder &b, Location loc, Value axes, unsigned rank,
                            bool noopEmpty) {
  MLIRContext *ctx = b.getContext();
  Value mask = filledTensor(b, loc, {b.getIndexAttr(rank)}, b.getI1Type(), b.getBoolAttr(false));
  auto g = b.create<linalg::GenericOp>(
      loc, mask.getType(), axes, mask,
      ArrayRef<AffineMap>{AffineMap::get(2, 0, getAffineDimExpr(1, ctx)),
                          AffineMap::get(2, 0, getAffineDimExpr(0, ctx))},
      ArrayRef<IteratorType>{IteratorType::parallel, IteratorType::reduction},
      [&](OpBuilder &nb, Location l, ValueRange v) {
        Value d = nb.create<arith::IndexCastOp>(l, nb.getI64Type(),
                                                nb.create<linalg::IndexOp>(l, 0));
        Value a = v[0];
        if (a.getType() != nb.getI64Type())
          a = nb.create<arith::ExtSIOp>(l, nb.getI64Type(), a);
        Value r = nb.create<arith::ConstantOp>(l, nb.getI64IntegerAttr(rank));
        Value hit = nb.create<arith::OrIOp>(
            l, nb.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq, a, d),
            nb.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq, a,
                                     nb.create<arith::SubIOp>(l, d, r)));
        nb.create<linalg::YieldOp>(l, nb.create<arith::OrIOp>(l, v[1], hit).getResult());
      });
  Value k = b.create<tensor::DimOp>(loc, axes, 0);
  Value zero = b.create<arith::ConstantIndexOp>(loc, 0);
  Value all = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, k, zero);
  if (noopEmpty)
    all = b.create<arith::ConstantOp>(loc, b.getBoolAttr(false));
  SmallVector<Value> out;
  for (unsigned d = 0; d < rank; ++d) {
    Value i = b.create<arith::ConstantIndexOp>(loc, d);
    Value m = b.create<tensor::ExtractOp>(loc, g.getResult(0), ValueRange{i});
    out.push_back(b.create<arith::OrIOp>(loc, m, all));
  }
  return out;
}

using PreFn = function_ref<Value(OpBuilder &, Location, Value, Value)>;
/// One sum/max/min/prod over the reduced dims, with an optional map of each
/// element first (`pre`, which also sees `extra`, read like the result).
using ReduceFn = function_ref<Value(StringRef kind, Value extra, PreFn pre)>;

/// A ReduceOp kind from the primitive `reduce`: l1 / sum_square / l2 /
/// log_sum / log_sum_exp / mean are maps before and after a sum (max first
/// for log_sum_exp); `count` gives a mean's divisor. Results of `reduce`
/// all have one shape, so the maps are elementwise on it.
Value reduceOfKind(OpBuilder &b, Location loc, Type elem, StringRef kind, ReduceFn reduce,
                   function_ref<Value()> count) {
  bool isFloat = isa<FloatType>(elem);
  auto post = [&](Value r, function_ref<Value(OpBuilder &, Location, Value)> fn) {
    return mapTensor(b, loc, r, elem, fn);
  };
  if (kind == "l1")
    return reduce("sum", nullptr, [&](OpBuilder &nb, Location l, Value v, Value) -> Value {
      return isFloat ? nb.create<math::AbsFOp>(l, v).getResult()
                     : nb.create<math::AbsIOp>(l, v).getResult();
    });
  if (kind == "l2" || kind == "sum_square") {
    Value r = reduce("sum", nullptr, [&](OpBuilder &nb, Location l, Value v, Value) -> Value {
      return isFloat ? nb.create<arith::MulFOp>(l, v, v).getResult()
                     : nb.create<arith::MulIOp>(l, v, v).getResult();
    });
    if (kind == "sum_square")
      return r;
    return post(r, [](OpBuilder &nb, Location l, Value v) {
      return nb.create<math::SqrtOp>(l, v).getResult();
    });
  }
  if (kind == "log_sum_exp") {
    // max + log(sum(exp(x - max))), with a max of -inf (no or only -inf
    // elements) taken as 0 inside the exp.
    Value mx = post(reduce("max", nullptr, nullptr), [&](OpBuilder &nb, Location l, Value v) {
      Value inf = nb.create<arith::ConstantOp>(l, lowestAttr(nb, elem));
      Value zero = nb.create<arith::ConstantOp>(l, zeroAttr(nb, elem));
      Value isInf = nb.create<arith::CmpFOp>(l, arith::CmpFPredicate::OEQ, v, inf);
      return nb.create<arith::SelectOp>(l, isInf, zero, v).getResult();
    });
    Value s = reduce("sum", mx, [](OpBuilder &nb, Location l, Value v, Value m) {
      return nb.create<math::ExpOp>(l, nb.create<arith::SubFOp>(l, v, m)).getResult();
    });
    unsigned rank = cast<RankedTensorType>(s.getType()).getRank();
    auto id = AffineMap::getMultiDimIdentityMap(rank, b.getContext());
    Value out = emptyTensor(b, loc, dimsOf(b, loc, s), elem);
    return b.create<linalg::GenericOp>(
                loc, out.getType(), ValueRange{s, mx}, out, ArrayRef<AffineMap>{id, id, id},
                SmallVector<IteratorType>(rank, IteratorType::parallel),
                [](OpBuilder &nb, Location l, ValueRange v) {
                  Value lg = nb.create<math::LogOp>(l, v[0]);
                  nb.create<linalg::YieldOp>(l, nb.create<arith::AddFOp>(l, lg, v[1]).getResult());
                })
        .getResult(0);
  }
  Value r = reduce(kind == "mean" || kind == "log_sum" ? StringRef("sum") : kind, nullptr,
                   nullptr);
  if (kind == "mean") {
    Value n = count();
    return post(r, [&](OpBuilder &nb, Location l, Value v) {
      return nb.create<arith::DivFOp>(l, v, n).getResult();
    });
  }
  if (kind == "log_sum")
    return post(r, [](OpBuilder &nb, Location l, Value v) {
      return nb.create<math::LogOp>(l, v).getResult();
    });
  return r;
}

/// The kind of `op` as reduceOfKind takes it: max/min of unsigned integers
/// are umax/umin, and their l1 is their sum.
StringRef unsignedKind(ReduceOp op, Type elem) {
  StringRef kind = op.getKind();
  if (!isa<IntegerType>(elem) || elem.isInteger(1) || !readsUnsigned(op))
    return kind;
  return kind == "max" ? "umax" : kind == "min" ? "umin" : kind == "l1" ? "sum" : kind;
}

struct ReduceLowering : MlcPattern<ReduceOp> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(ReduceOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    Value x = a.getInput();
    auto xt = cast<RankedTensorType>(x.getType());
    Type elem = xt.getElementType();
    StringRef kind = unsignedKind(op, elem);
    bool isFloat = isa<FloatType>(elem);
    bool floatOnly = kind == "mean" || kind == "l2" || kind == "log_sum" ||
                     kind == "log_sum_exp";
    if (floatOnly && !isFloat)
      return op->emitError("this reduction needs a float input");
    if (a.getAxesInput())
      return lowerRuntimeAxes(op, a, rw, type);
    SmallVector<bool> reduced(xt.getRank(), false);
    for (int64_t ax : op.getAxes())
      reduced[ax] = true;
    Value r = reduceOfKind(rw, loc, elem, kind,
                           [&](StringRef k, Value extra, PreFn pre) {
                             return reduceInto(rw, loc, x, reduced, k, extra, pre);
                           },
                           [&] { return countOf(rw, loc, x, reduced, elem); });
    if (op.getKeepdims()) {
      ValueDims s{rw, loc};
      VDims dims;
      shape::reduce(s, dimsOf(rw, loc, x), op.getAxes(), true, dims);
      r = reshapeTo(rw, loc, r, type, dims);
    }
    rw.replaceOp(op, r);
    return success();
  }
  LogicalResult lowerRuntimeAxes(ReduceOp op, ReduceOp::Adaptor a, ConversionPatternRewriter &rw,
                                 RankedTensorType type) const;
};

LogicalResult ReduceLowering::lowerRuntimeAxes(ReduceOp op, ReduceOp::Adaptor a,
                                               ConversionPatternRewriter &rw,
                                               RankedTensorType type) const {
  Location loc = op.getLoc();
  Value x = a.getInput();
  auto xt = cast<RankedTensorType>(x.getType());
  Type elem = xt.getElementType();
  unsigned rank = xt.getRank();
  StringRef kind = unsignedKind(op, elem);
  SmallVector<Value> m = axesMask(rw, loc, a.getAxesInput(), rank, op.getNoopEmpty());
  // The count of a mean: the product of the reduced dims.
  auto meanCount = [&] {
    VDims xd = dimsOf(rw, loc, x);
    Value one = rw.create<arith::ConstantIndexOp>(loc, 1), n = one;
    for (unsigned d = 0; d < rank; ++d) {
      Value nd = getValueOrCreateConstantIndexOp(rw, loc, xd[d]);
      n = rw.create<arith::MulIOp>(loc, n, rw.create<arith::SelectOp>(loc, m[d], nd, one));
    }
    return rw.create<arith::SIToFPOp>(loc, elem,
                                      rw.create<arith::IndexCastOp>(loc, rw.getI64Type(), n))
        .getResult();
  };
  Value r = reduceOfKind(rw, loc, elem, kind,
                         [&](StringRef k, Value extra, PreFn pre) {
                           return reduceMasked(rw, loc, x, m, k, extra, pre);
                         },
                         meanCount);
  if (op.getKeepdims()) {
    rw.replaceOp(op, castTo(rw, loc, r, type));
    return success();
  }
  // keepdims = 0: the kept dims, in order. Output dim i is the dim d that is
  // the i-th kept one.
  VDims xd = dimsOf(rw, loc, x);
  Value zero = rw.create<arith::ConstantIndexOp>(loc, 0), one = rw.create<arith::ConstantIndexOp>(loc, 1);
  SmallVector<Value> pos; // kept dims before d
  Value count = zero;
  for (unsigned d = 0; d < rank; ++d) {
    pos.push_back(count);
    count = rw.create<arith::AddIOp>(loc, count, rw.create<arith::SelectOp>(loc, m[d], zero, one));
  }
  SmallVector<OpFoldResult> dims;
  for (int64_t i = 0; i < type.getRank(); ++i) {
    Value di = zero;
    Value ii = rw.create<arith::ConstantIndexOp>(loc, i);
    for (unsigned d = 0; d < rank; ++d) {
      Value here = rw.create<arith::AndIOp>(
          loc, rw.create<arith::XOrIOp>(loc, m[d], rw.create<arith::ConstantOp>(loc, rw.getBoolAttr(true))),
          rw.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, pos[d], ii));
      di = rw.create<arith::SelectOp>(loc, here, getValueOrCreateConstantIndexOp(rw, loc, xd[d]), di);
    }
    dims.push_back(di);
  }
  rw.replaceOp(op, reshapeTo(rw, loc, r, type, dims));
  return success();
}

/// ArgMax/ArgMin: one generic carrying the best value and its index.
struct ArgReduceLowering : MlcPattern<ArgReduceOp> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(ArgReduceOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rw.getContext();
    Value x = a.getInput();
    auto xt = cast<RankedTensorType>(x.getType());
    Type elem = xt.getElementType();
    if (!elem.isIntOrFloat() || elem.isInteger(1))
      return op->emitError("element type ") << elem << " is not supported";
    unsigned rank = xt.getRank();
    int64_t axis = op.getAxis();
    bool isMax = op.getMax(), last = op.getSelectLastIndex(), isFloat = isa<FloatType>(elem);
    VDims xd = dimsOf(rw, loc, x);
    SmallVector<OpFoldResult> kept;
    SmallVector<AffineExpr> keptExprs;
    SmallVector<IteratorType> iters;
    for (unsigned d = 0; d < rank; ++d) {
      iters.push_back((int64_t)d == axis ? IteratorType::reduction : IteratorType::parallel);
      if ((int64_t)d != axis) {
        kept.push_back(xd[d]);
        keptExprs.push_back(getAffineDimExpr(d, ctx));
      }
    }
    bool u = !isFloat && readsUnsigned(op);
    Value best = filledTensor(rw, loc, kept, elem, lowerAttr(rw, elem, !isMax, u));
    Value idx = filledTensor(rw, loc, kept, rw.getI64Type(), rw.getI64IntegerAttr(-1));
    auto id = AffineMap::getMultiDimIdentityMap(rank, ctx);
    auto red = AffineMap::get(rank, 0, keptExprs, ctx);
    auto g = rw.create<linalg::GenericOp>(
        loc, TypeRange{best.getType(), idx.getType()}, ValueRange{x}, ValueRange{best, idx},
        ArrayRef<AffineMap>{id, red, red}, iters, [&](OpBuilder &b, Location l, ValueRange v) {
          Value i = b.create<arith::IndexCastOp>(l, b.getI64Type(),
                                                 b.create<linalg::IndexOp>(l, axis));
          // Strictly better, or equal and (last index wanted or none taken yet).
          Value better, equal;
          if (isFloat) {
            better = b.create<arith::CmpFOp>(l, isMax ? arith::CmpFPredicate::OGT
                                                      : arith::CmpFPredicate::OLT, v[0], v[1]);
            equal = b.create<arith::CmpFOp>(l, arith::CmpFPredicate::OEQ, v[0], v[1]);
          } else {
            auto pred = isMax ? (u ? arith::CmpIPredicate::ugt : arith::CmpIPredicate::sgt)
                              : (u ? arith::CmpIPredicate::ult : arith::CmpIPredicate::slt);
            better = b.create<arith::CmpIOp>(l, pred, v[0], v[1]);
            equal = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq, v[0], v[1]);
          }
          Value none = b.create<arith::CmpIOp>(
              l, arith::CmpIPredicate::slt, v[2],
              b.create<arith::ConstantOp>(l, b.getI64IntegerAttr(0)));
          Value takeEq = last ? b.create<arith::ConstantOp>(l, b.getBoolAttr(true)).getResult()
                              : none;
          Value take = b.create<arith::OrIOp>(l, better, b.create<arith::AndIOp>(l, equal, takeEq));
          take = b.create<arith::OrIOp>(l, take, none);
          b.create<linalg::YieldOp>(
              l, ValueRange{b.create<arith::SelectOp>(l, take, v[0], v[1]),
                            b.create<arith::SelectOp>(l, take, i, v[2])});
        });
    Value r = g.getResult(1);
    if (op.getKeepdims()) {
      ValueDims s{rw, loc};
      VDims dims;
      shape::reduce(s, xd, {axis}, true, dims);
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
  p.add<ReduceLowering, ArgReduceLowering, LayerNormLowering>(p.getContext());
}
