//===- Window.cpp - converters: MaxPool, AveragePool, GlobalAveragePool --===//
#include "passes/lower/Common.h"

using namespace mlir;
using namespace mlc;
using namespace mlc::lower;

namespace {

/// Pads `x` with `value`: explicit pads plus, in ceil mode, what the last
/// window reaches past the padded input.
FailureOr<Value> padForWindow(OpBuilder &b, Location loc, Operation *op,
                              Value x, ArrayRef<int64_t> pads,
                              ArrayRef<int64_t> kernel, ArrayRef<int64_t> strides,
                              ArrayRef<int64_t> dil, RankedTensorType outType,
                              TypedAttr value) {
  auto xt = cast<RankedTensorType>(x.getType());
  SmallVector<OpFoldResult> low(2, b.getIndexAttr(0)), high(2, b.getIndexAttr(0));
  bool any = false;
  for (int i = 0; i < 2; ++i) {
    int64_t extra = 0;
    int64_t in = xt.getDimSize(2 + i), out = outType.getDimSize(2 + i);
    if (!ShapedType::isDynamic(in) && !ShapedType::isDynamic(out)) {
      int64_t span = (dil.empty() ? 1 : dil[i]) * (kernel[i] - 1) + 1;
      int64_t need = (out - 1) * strides[i] + span;
      extra = std::max<int64_t>(0, need - (in + pads[i] + pads[i + 2]));
    }
    low.push_back(b.getIndexAttr(pads[i]));
    high.push_back(b.getIndexAttr(pads[i + 2] + extra));
    any |= pads[i] || pads[i + 2] || extra;
  }
  if (!any)
    return x;
  Value v = b.create<arith::ConstantOp>(loc, value);
  return b.create<tensor::PadOp>(loc, Type(), x, low, high, v).getResult();
}

FailureOr<VDims> windowOutDims(OpBuilder &b, Location loc, Operation *op,
                               Value x, ArrayRef<int64_t> kernel,
                               ArrayRef<int64_t> strides, ArrayRef<int64_t> pads,
                               ArrayRef<int64_t> dil, bool ceil) {
  ValueDims s{b, loc};
  VDims xd = dimsOf(b, loc, x), out;
  if (auto err = shape::window2d(s, xd, xd[1], kernel, strides, pads, dil, ceil, out)) {
    op->emitError(err->message);
    return failure();
  }
  return out;
}

/// `x` with the sign bit of each element flipped: unsigned order becomes
/// signed order (and back).
Value flipSignBit(OpBuilder &b, Location loc, Value x) {
  Type e = cast<RankedTensorType>(x.getType()).getElementType();
  return mapTensor(b, loc, x, e, [&](OpBuilder &nb, Location l, Value v) -> Value {
    Value bit = nb.create<arith::ConstantOp>(
        l, nb.getIntegerAttr(e, APInt::getSignMask(e.getIntOrFloatBitWidth())));
    return nb.create<arith::XOrIOp>(l, v, bit);
  });
}

/// MaxPool; integer inputs too (unsigned ones through flipSignBit, as
/// linalg's NCHW max pool compares signed).
struct MaxPoolLowering : MlcPattern<MaxPoolOp> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(MaxPoolOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    Type elem = type.getElementType();
    if (!elem.isIntOrFloat() || elem.isInteger(1))
      return op->emitError("MaxPool takes float or integer inputs");
    bool flip = isa<IntegerType>(elem) && readsUnsigned(op);
    auto od = windowOutDims(rw, loc, op, a.getX(), op.getKernel(), op.getStrides(),
                            op.getPads(), op.getDilations(), op.getCeilMode());
    if (failed(od))
      return failure();
    auto x = padForWindow(rw, loc, op, flip ? flipSignBit(rw, loc, a.getX()) : a.getX(),
                          op.getPads(), op.getKernel(),
                          op.getStrides(), op.getDilations(), type,
                          lowestAttr(rw, elem));
    if (failed(x))
      return failure();
    Value init = filledTensor(rw, loc, *od, elem, lowestAttr(rw, elem));
    Value window = rw.create<tensor::EmptyOp>(loc, op.getKernel(), elem);
    auto pool = rw.create<linalg::PoolingNchwMaxOp>(
        loc, TypeRange{init.getType()}, ValueRange{*x, window}, ValueRange{init},
        rw.getI64VectorAttr(op.getStrides()), rw.getI64VectorAttr(op.getDilations()));
    rw.replaceOp(op, flip ? flipSignBit(rw, loc, pool.getResult(0)) : pool.getResult(0));
    return success();
  }
};

struct AveragePoolLowering : MlcPattern<AveragePoolOp, /*FloatOnly=*/true> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(AveragePoolOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rw.getContext();
    Type elem = type.getElementType();
    auto k = op.getKernel(), st = op.getStrides(), pads = op.getPads(),
         dil = op.getDilations();
    auto od = windowOutDims(rw, loc, op, a.getX(), k, st, pads, dil, op.getCeilMode());
    if (failed(od))
      return failure();
    auto x = padForWindow(rw, loc, op, a.getX(), pads, k, st, dil, type,
                          zeroAttr(rw, elem));
    if (failed(x))
      return failure();
    Value init = filledTensor(rw, loc, *od, elem, zeroAttr(rw, elem));
    Value window = rw.create<tensor::EmptyOp>(loc, k, elem);
    Value sum = rw.create<linalg::PoolingNchwSumOp>(
                      loc, TypeRange{init.getType()}, ValueRange{*x, window},
                      ValueRange{init}, rw.getI64VectorAttr(st),
                      rw.getI64VectorAttr(dil))
                    .getResult(0);
    // Divide by the number of window positions in [lo, hi): the input, or
    // with count_include_pad the padded input. Along a dim, position j of
    // the window is at start + j * dilation; j runs over
    // [max(0, ceil((lo - start) / d)), min(k, ceil((hi - start) / d))).
    VDims xd = dimsOf(rw, loc, a.getX());
    Value H = getValueOrCreateConstantIndexOp(rw, loc, xd[2]);
    Value W = getValueOrCreateConstantIndexOp(rw, loc, xd[3]);
    bool include = op.getCountIncludePad();
    Value out = emptyTensor(rw, loc, *od, elem);
    auto id = AffineMap::getMultiDimIdentityMap(4, ctx);
    SmallVector<utils::IteratorType> iters(4, utils::IteratorType::parallel);
    auto g = rw.create<linalg::GenericOp>(
        loc, out.getType(), sum, out, ArrayRef<AffineMap>{id, id}, iters,
        [&](OpBuilder &b, Location l, ValueRange v) {
          auto c = [&](int64_t i) { return b.create<arith::ConstantIndexOp>(l, i); };
          auto count = [&](unsigned dim, Value size, int i) -> Value {
            Value o = b.create<linalg::IndexOp>(l, dim);
            Value start = b.create<arith::SubIOp>(
                l, b.create<arith::MulIOp>(l, o, c(st[i])), c(pads[i]));
            Value lo = c(include ? -pads[i] : 0);
            Value hi = include ? b.create<arith::AddIOp>(l, size, c(pads[i + 2])).getResult()
                               : size;
            auto steps = [&](Value bound) -> Value {
              Value rel = b.create<arith::SubIOp>(l, bound, start);
              return dil[i] == 1 ? rel : b.create<arith::CeilDivSIOp>(l, rel, c(dil[i])).getResult();
            };
            Value first = b.create<arith::MaxSIOp>(l, steps(lo), c(0));
            Value last = b.create<arith::MinSIOp>(l, steps(hi), c(k[i]));
            return b.create<arith::MaxSIOp>(l, b.create<arith::SubIOp>(l, last, first), c(0));
          };
          Value n = b.create<arith::MulIOp>(l, count(2, H, 0), count(3, W, 1));
          Value nf = b.create<arith::SIToFPOp>(
              l, elem, b.create<arith::IndexCastOp>(l, b.getI64Type(), n));
          b.create<linalg::YieldOp>(l, b.create<arith::DivFOp>(l, v[0], nf).getResult());
        });
    rw.replaceOp(op, g.getResult(0));
    return success();
  }
};

struct GlobalAveragePoolLowering : MlcPattern<GlobalAveragePoolOp, /*FloatOnly=*/true> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(GlobalAveragePoolOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rw.getContext();
    Type elem = type.getElementType();
    unsigned rank = type.getRank();
    VDims xd = dimsOf(rw, loc, a.getX());
    ValueDims s{rw, loc};
    OpFoldResult count = s.cst(1);
    for (unsigned i = 2; i < rank; ++i)
      count = s.mul(count, xd[i]);
    SmallVector<OpFoldResult> nc = {xd[0], xd[1]};
    Value init = filledTensor(rw, loc, nc, elem, zeroAttr(rw, elem));
    SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::reduction);
    iters[0] = iters[1] = utils::IteratorType::parallel;
    auto d = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
    Value sum = rw.create<linalg::GenericOp>(
                      loc, init.getType(), a.getX(), init,
                      ArrayRef<AffineMap>{AffineMap::getMultiDimIdentityMap(rank, ctx),
                                          AffineMap::get(rank, 0, {d(0), d(1)}, ctx)},
                      iters,
                      [](OpBuilder &b, Location l, ValueRange v) {
                        b.create<linalg::YieldOp>(
                            l, b.create<arith::AddFOp>(l, v[0], v[1]).getResult());
                      })
                    .getResult(0);
    Value n = getValueOrCreateConstantIndexOp(rw, loc, count);
    Value out = emptyTensor(rw, loc, nc, elem);
    auto id = AffineMap::getMultiDimIdentityMap(2, ctx);
    SmallVector<utils::IteratorType> par(2, utils::IteratorType::parallel);
    Value mean = rw.create<linalg::GenericOp>(
                       loc, out.getType(), sum, out, ArrayRef<AffineMap>{id, id}, par,
                       [&](OpBuilder &b, Location l, ValueRange v) {
                         Value nf = b.create<arith::SIToFPOp>(
                             l, elem, b.create<arith::IndexCastOp>(l, b.getI64Type(), n));
                         b.create<linalg::YieldOp>(
                             l, b.create<arith::DivFOp>(l, v[0], nf).getResult());
                       })
                     .getResult(0);
    ReassociationIndices last = {1};
    for (unsigned i = 2; i < rank; ++i)
      last.push_back(i);
    rw.replaceOp(op, rw.create<tensor::ExpandShapeOp>(
                         loc, type, mean, SmallVector<ReassociationIndices>{{0}, last},
                         SmallVector<OpFoldResult>(dimsOfResult(rw, loc, xd, rank))));
    return success();
  }
  static SmallVector<OpFoldResult> dimsOfResult(OpBuilder &b, Location loc,
                                                const VDims &xd, unsigned rank) {
    SmallVector<OpFoldResult> r = {xd[0], xd[1]};
    for (unsigned i = 2; i < rank; ++i)
      r.push_back(b.getIndexAttr(1));
    return r;
  }
};

} // namespace

void lower::populateWindowPatterns(RewritePatternSet &p) {
  p.add<MaxPoolLowering, AveragePoolLowering, GlobalAveragePoolLowering>(
      p.getContext());
}
