//===- Tensor.cpp - converters: constants, reshapes, data movement -------===//
#include "passes/lower/Common.h"

#include "passes/Decisions.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Matchers.h"

#include <limits>

using namespace mlir;
using namespace mlc;
using namespace mlc::lower;

namespace {

struct ConstantLowering : OpConversionPattern<ConstantOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ConstantOp op, OpAdaptor,
                  ConversionPatternRewriter &rw) const override {
    rw.replaceOpWithNewOp<arith::ConstantOp>(op, cast<TypedAttr>(op.getValue()));
    return success();
  }
};

FailureOr<Value> runtimeReshape(OpBuilder &b, Location loc, ReshapeOp op,
                                Value x, Value shape, RankedTensorType type);

/// Flatten, Reshape, Squeeze, Unsqueeze: one data-preserving reshape each,
/// with dims from the shared shape rules.
template <typename OpT>
struct ReshapeLikeLowering : MlcPattern<OpT> {
  using MlcPattern<OpT>::MlcPattern;
  LogicalResult lower(OpT op, typename OpT::Adaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    Value x = a.getInput();
    ValueDims s{rw, loc};
    VDims xd = dimsOf(rw, loc, x), out;
    std::optional<shape::ShapeError> err;
    if constexpr (std::is_same_v<OpT, FlattenOp>) {
      shape::flatten(s, xd, op.getAxis(), out);
    } else if constexpr (std::is_same_v<OpT, ReshapeOp>) {
      DenseElementsAttr target;
      if (!matchPattern(a.getShape(), m_Constant(&target))) {
        auto r = runtimeReshape(rw, loc, op, x, a.getShape(), type);
        if (failed(r))
          return failure();
        rw.replaceOp(op, *r);
        return success();
      }
      SmallVector<int64_t> t;
      for (APInt v : target.getValues<APInt>())
        t.push_back(v.getSExtValue());
      err = shape::reshape(s, xd, t, op.getAllowzero(), out);
    } else if constexpr (std::is_same_v<OpT, UnsqueezeOp>) {
      err = shape::unsqueeze(s, xd, op.getAxes(), out);
    } else {
      err = shape::squeeze(s, xd, op.getAxes(), out);
    }
    if (err)
      return op->emitError(err->message);
    rw.replaceOp(op, reshapeTo(rw, loc, x, type, out));
    return success();
  }
};

/// Reshape to a shape tensor only known at run time: ONNX's 0 (copy the
/// input dim) and -1 (infer) are resolved with index arithmetic.
FailureOr<Value> runtimeReshape(OpBuilder &b, Location loc, ReshapeOp op,
                                Value x, Value shape, RankedTensorType type) {
  auto st = cast<RankedTensorType>(shape.getType());
  if (!st.hasStaticShape() || st.getRank() != 1)
    return op->emitError("the target shape must be a 1-D tensor of known length");
  VDims xd = dimsOf(b, loc, x);
  ValueDims s{b, loc};
  Value total = s.val(shape::product(s, ArrayRef<OpFoldResult>(xd)));
  auto c = [&](int64_t v) { return b.create<arith::ConstantIndexOp>(loc, v); };
  SmallVector<Value> dims;
  Value known = c(1);
  for (int64_t i = 0; i < st.getDimSize(0); ++i) {
    Value raw = b.create<tensor::ExtractOp>(loc, shape, ValueRange{c(i)});
    Value d = b.create<arith::IndexCastOp>(loc, b.getIndexType(), raw);
    if (!op.getAllowzero() && i < (int64_t)xd.size()) {
      Value isZero = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, d, c(0));
      d = b.create<arith::SelectOp>(loc, isZero, s.val(xd[i]), d);
    }
    Value isInfer = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, d, c(-1));
    known = b.create<arith::MulIOp>(loc, known, b.create<arith::SelectOp>(loc, isInfer, c(1), d));
    dims.push_back(d);
  }
  // Guard the division: a zero-sized product leaves -1 as 0.
  Value isZeroKnown = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, known, c(0));
  Value safeKnown = b.create<arith::SelectOp>(loc, isZeroKnown, c(1), known);
  Value inferred = b.create<arith::DivSIOp>(loc, total, safeKnown);
  for (Value &d : dims) {
    Value isInfer = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, d, c(-1));
    d = b.create<arith::SelectOp>(loc, isInfer, inferred, d);
  }
  SmallVector<OpFoldResult> ofr(dims.begin(), dims.end());
  // The result type may know some dims statically; reshape to the dynamic
  // form and cast.
  auto dynType = RankedTensorType::get(SmallVector<int64_t>(dims.size(), ShapedType::kDynamic),
                                       type.getElementType());
  Value r = reshapeTo(b, loc, x, dynType, ofr);
  return castTo(b, loc, r, type);
}

struct TransposeLowering : MlcPattern<TransposeOp> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(TransposeOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    VDims xd = dimsOf(rw, loc, a.getInput());
    SmallVector<OpFoldResult> od;
    for (int64_t p : op.getPerm())
      od.push_back(xd[p]);
    Value init = emptyTensor(rw, loc, od, type.getElementType());
    auto t = rw.create<linalg::TransposeOp>(loc, a.getInput(), init, op.getPerm());
    rw.replaceOp(op, t->getResult(0));
    return success();
  }
};

struct ConcatLowering : MlcPattern<ConcatOp> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(ConcatOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    ValueDims s{rw, loc};
    SmallVector<VDims> ins;
    for (Value v : a.getInputs())
      ins.push_back(dimsOf(rw, loc, v));
    VDims out;
    int64_t axis = op.getAxis();
    if (auto err = shape::concat<ValueDims>(s, ins, axis, out))
      return op->emitError(err->message);
    Value acc = emptyTensor(rw, loc, out, type.getElementType());
    OpFoldResult offset = s.cst(0);
    unsigned rank = type.getRank();
    for (auto [v, d] : llvm::zip(a.getInputs(), ins)) {
      SmallVector<OpFoldResult> offs(rank, rw.getIndexAttr(0)),
          strides(rank, rw.getIndexAttr(1));
      offs[axis] = offset;
      acc = rw.create<tensor::InsertSliceOp>(loc, v, acc, offs, d, strides);
      offset = s.add(offset, d[axis]);
    }
    rw.replaceOp(op, acc);
    return success();
  }
};

struct ShapeLowering : MlcPattern<ShapeOp> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(ShapeOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    VDims xd = dimsOf(rw, loc, a.getInput());
    SmallVector<Value> elems;
    for (int64_t i = op.getStart(); i < (int64_t)op.getEnd(); ++i)
      elems.push_back(rw.create<arith::IndexCastOp>(
          loc, rw.getI64Type(), getValueOrCreateConstantIndexOp(rw, loc, xd[i])));
    rw.replaceOpWithNewOp<tensor::FromElementsOp>(op, type, elems);
    return success();
  }
};

/// An index read from an indices tensor: negative ones wrap, and the result
/// is clamped into [0, size) so that a bad index never reads out of bounds.
Value wrapIndex(OpBuilder &b, Location l, Value v, Value size) {
  Value i = b.create<arith::IndexCastOp>(l, b.getIndexType(), v);
  Value zero = b.create<arith::ConstantIndexOp>(l, 0);
  Value neg = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::slt, i, zero);
  i = b.create<arith::SelectOp>(l, neg, b.create<arith::AddIOp>(l, i, size), i);
  Value hi = b.create<arith::SubIOp>(l, size, b.create<arith::ConstantIndexOp>(l, 1));
  return b.create<arith::MaxSIOp>(l, b.create<arith::MinSIOp>(l, i, hi), zero);
}

/// out[o.., i.., r..] = data[o.., idx[i..], r..]; indices wrap once for
/// negatives and are clamped so a bad index never reads out of bounds.
struct GatherLowering : MlcPattern<GatherOp> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(GatherOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rw.getContext();
    Value data = a.getData(), idx = a.getIndices();
    auto dt = cast<RankedTensorType>(data.getType());
    auto it = cast<RankedTensorType>(idx.getType());
    if (!isa<IntegerType>(it.getElementType()))
      return op->emitError("indices must be integers");
    int64_t axis = op.getAxis(), ir = it.getRank(), rank = type.getRank();
    VDims dd = dimsOf(rw, loc, data), id = dimsOf(rw, loc, idx), od;
    ValueDims s{rw, loc};
    if (auto e = shape::gather(s, dd, id, axis, od))
      return op->emitError(e->message);
    Value axisSize = getValueOrCreateConstantIndexOp(rw, loc, dd[axis]);
    SmallVector<AffineExpr> ie;
    for (int64_t i = 0; i < ir; ++i)
      ie.push_back(getAffineDimExpr(axis + i, ctx));
    auto imap = AffineMap::get(rank, 0, ie, ctx);
    Value init = emptyTensor(rw, loc, od, type.getElementType());
    SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
    auto g = rw.create<linalg::GenericOp>(
        loc, init.getType(), idx, init,
        ArrayRef<AffineMap>{imap, AffineMap::getMultiDimIdentityMap(rank, ctx)},
        iters, [&](OpBuilder &b, Location l, ValueRange v) {
          Value i = wrapIndex(b, l, v[0], axisSize);
          SmallVector<Value> coords;
          for (int64_t d = 0; d < axis; ++d)
            coords.push_back(b.create<linalg::IndexOp>(l, d));
          coords.push_back(i);
          for (int64_t d = axis + 1; d < dt.getRank(); ++d)
            coords.push_back(b.create<linalg::IndexOp>(l, d - 1 + ir));
          b.create<linalg::YieldOp>(l, b.create<tensor::ExtractOp>(l, data, coords).getResult());
        });
    rw.replaceOp(op, g.getResult(0));
    return success();
  }
};

struct GatherElementsLowering : MlcPattern<GatherElementsOp> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(GatherElementsOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rw.getContext();
    Value data = a.getData(), idx = a.getIndices();
    auto it = cast<RankedTensorType>(idx.getType());
    if (!isa<IntegerType>(it.getElementType()))
      return op->emitError("indices must be integers");
    if (cast<RankedTensorType>(data.getType()).getRank() != it.getRank())
      return op->emitError("data and indices must have the same rank");
    int64_t axis = op.getAxis(), rank = it.getRank();
    Value axisSize = rw.create<tensor::DimOp>(loc, data, axis);
    Value init = emptyTensor(rw, loc, dimsOf(rw, loc, idx), type.getElementType());
    auto id = AffineMap::getMultiDimIdentityMap(rank, ctx);
    auto g = rw.create<linalg::GenericOp>(
        loc, init.getType(), idx, init, ArrayRef<AffineMap>{id, id},
        SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
        [&](OpBuilder &b, Location l, ValueRange v) {
          SmallVector<Value> coords;
          for (int64_t d = 0; d < rank; ++d)
            coords.push_back(d == axis ? wrapIndex(b, l, v[0], axisSize)
                                       : b.create<linalg::IndexOp>(l, d).getResult());
          b.create<linalg::YieldOp>(l, b.create<tensor::ExtractOp>(l, data, coords).getResult());
        });
    rw.replaceOp(op, g.getResult(0));
    return success();
  }
};


/// GatherND: each output element reads its K data coordinates from the
/// indices (wrapped and clamped like Gather's).
struct GatherNDLowering : MlcPattern<GatherNDOp> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(GatherNDOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    Value data = a.getData(), idx = a.getIndices();
    auto it = cast<RankedTensorType>(idx.getType());
    if (!isa<IntegerType>(it.getElementType()))
      return op->emitError("indices must be integers");
    VDims dd = dimsOf(rw, loc, data), id = dimsOf(rw, loc, idx), od;
    ValueDims s{rw, loc};
    int64_t bd = op.getBatchDims();
    if (auto e = shape::gatherND(s, dd, id, bd, od))
      return op->emitError(e->message);
    int64_t ir = it.getRank(), k = it.getDimSize(ir - 1), dr = dd.size();
    SmallVector<Value> sizes;
    for (int64_t j = 0; j < k; ++j)
      sizes.push_back(getValueOrCreateConstantIndexOp(rw, loc, dd[bd + j]));
    Value gen = generate(rw, loc, od, type.getElementType(),
                         [&](OpBuilder &b, Location l) -> Value {
          SmallVector<Value> at, coords;
          for (int64_t d = 0; d < ir - 1; ++d)
            at.push_back(b.create<linalg::IndexOp>(l, d));
          for (int64_t d = 0; d < bd; ++d)
            coords.push_back(at[d]);
          for (int64_t j = 0; j < k; ++j) {
            SmallVector<Value> ic = at;
            ic.push_back(b.create<arith::ConstantIndexOp>(l, j));
            coords.push_back(wrapIndex(b, l, b.create<tensor::ExtractOp>(l, idx, ic), sizes[j]));
          }
          for (int64_t d = bd + k; d < dr; ++d)
            coords.push_back(b.create<linalg::IndexOp>(l, ir - 1 + d - bd - k));
          return b.create<tensor::ExtractOp>(l, data, coords);
        });
    rw.replaceOp(op, gen);
    return success();
  }
};

/// `old` combined with `upd` by a scatter's reduction.
Value combine(OpBuilder &b, Location l, StringRef reduction, Value old, Value upd,
              bool isUnsigned) {
  bool f = isa<FloatType>(upd.getType());
  if (reduction == "add")
    return f ? b.create<arith::AddFOp>(l, old, upd).getResult()
             : b.create<arith::AddIOp>(l, old, upd).getResult();
  if (reduction == "mul")
    return f ? b.create<arith::MulFOp>(l, old, upd).getResult()
             : b.create<arith::MulIOp>(l, old, upd).getResult();
  if (reduction == "max")
    return f ? b.create<arith::MaximumFOp>(l, old, upd).getResult()
           : isUnsigned ? b.create<arith::MaxUIOp>(l, old, upd).getResult()
                        : b.create<arith::MaxSIOp>(l, old, upd).getResult();
  if (reduction == "min")
    return f ? b.create<arith::MinimumFOp>(l, old, upd).getResult()
           : isUnsigned ? b.create<arith::MinUIOp>(l, old, upd).getResult()
                        : b.create<arith::MinSIOp>(l, old, upd).getResult();
  return upd;
}

/// One sequential loop over the positions of `extent` (flattened, then
/// split into coordinates for `body`), threading `inits`. The loop is
/// marked so that fusion makes it a kernel of its own (with the op that
/// fills its first tensor). `body` returns the next iteration values.
scf::ForOp sequentialLoop(
    OpBuilder &b, Location loc, ArrayRef<OpFoldResult> extent, ValueRange inits,
    function_ref<SmallVector<Value>(OpBuilder &, Location, ArrayRef<Value>, ValueRange)> body) {
  Value n = b.create<arith::ConstantIndexOp>(loc, 1);
  SmallVector<Value> sizes;
  for (OpFoldResult e : extent) {
    sizes.push_back(getValueOrCreateConstantIndexOp(b, loc, e));
    n = b.create<arith::MulIOp>(loc, n, sizes.back());
  }
  Value zero = b.create<arith::ConstantIndexOp>(loc, 0), one = b.create<arith::ConstantIndexOp>(loc, 1);
  auto loop = b.create<scf::ForOp>(
      loc, zero, n, one, inits, [&](OpBuilder &nb, Location l, Value i, ValueRange iter) {
        SmallVector<Value> coords(sizes.size());
        Value rest = i;
        for (int64_t d = sizes.size() - 1; d >= 0; --d) {
          coords[d] = nb.create<arith::RemUIOp>(l, rest, sizes[d]);
          rest = nb.create<arith::DivUIOp>(l, rest, sizes[d]);
        }
        nb.create<scf::YieldOp>(l, body(nb, l, coords, iter));
      });
  loop->setAttr(attr::kSequentialLoop, b.getUnitAttr());
  return loop;
}

/// A scatter: a sequential loop over the update positions `extent`,
/// threading a copy of `data`; `write(b, l, coords, t)` returns `t` with the
/// update at `coords` applied.
Value scatterLoop(OpBuilder &b, Location loc, Value data, ArrayRef<OpFoldResult> extent,
                  function_ref<Value(OpBuilder &, Location, ArrayRef<Value>, Value)> write) {
  VDims dd = dimsOf(b, loc, data);
  Value empty = emptyTensor(b, loc, dd, cast<RankedTensorType>(data.getType()).getElementType());
  Value init = b.create<linalg::CopyOp>(loc, data, empty).getResult(0);
  auto loop = sequentialLoop(b, loc, extent, init,
                             [&](OpBuilder &nb, Location l, ArrayRef<Value> u, ValueRange t) {
                               return SmallVector<Value>{write(nb, l, u, t[0])};
                             });
  return loop.getResult(0);
}

/// x != 0 (NaN counts as non-zero, as in numpy).
Value isNonZero(OpBuilder &b, Location l, Value v) {
  Value zero = b.create<arith::ConstantOp>(l, b.getZeroAttr(v.getType()));
  if (isa<FloatType>(v.getType()))
    return b.create<arith::CmpFOp>(l, arith::CmpFPredicate::UNE, v, zero);
  return b.create<arith::CmpIOp>(l, arith::CmpIPredicate::ne, v, zero);
}

/// NonZero: the count (a reduction), then a sequential loop writing the
/// coordinates of each non-zero element into its column.
struct NonZeroLowering : MlcPattern<NonZeroOp> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(NonZeroOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rw.getContext();
    Value x = a.getInput();
    int64_t r = cast<RankedTensorType>(x.getType()).getRank();
    Type i64 = rw.getI64Type();
    Value zero64 = filledTensor(rw, loc, {}, i64, rw.getI64IntegerAttr(0));
    auto count = rw.create<linalg::GenericOp>(
        loc, zero64.getType(), x, zero64,
        ArrayRef<AffineMap>{AffineMap::getMultiDimIdentityMap(r, ctx), AffineMap::get(r, 0, ctx)},
        SmallVector<utils::IteratorType>(r, utils::IteratorType::reduction),
        [&](OpBuilder &b, Location l, ValueRange v) {
          Value one = b.create<arith::ExtUIOp>(l, i64, isNonZero(b, l, v[0]));
          b.create<linalg::YieldOp>(l, b.create<arith::AddIOp>(l, v[1], one).getResult());
        });
    Value n = rw.create<arith::IndexCastOp>(
        loc, rw.getIndexType(), rw.create<tensor::ExtractOp>(loc, count.getResult(0), ValueRange{}));
    Value out = rw.create<tensor::EmptyOp>(loc, type, ValueRange{n});
    Value start = rw.create<arith::ConstantIndexOp>(loc, 0);
    auto loop = sequentialLoop(
        rw, loc, dimsOf(rw, loc, x), ValueRange{out, start},
        [&](OpBuilder &b, Location l, ArrayRef<Value> c, ValueRange it) {
          Value hit = isNonZero(b, l, b.create<tensor::ExtractOp>(l, x, c));
          auto branch = b.create<scf::IfOp>(
              l, hit,
              [&](OpBuilder &tb, Location tl) {
                Value t = it[0];
                for (int64_t d = 0; d < r; ++d) {
                  Value row = tb.create<arith::ConstantIndexOp>(tl, d);
                  Value v = tb.create<arith::IndexCastOp>(tl, i64, c[d]);
                  t = tb.create<tensor::InsertOp>(tl, v, t, ValueRange{row, it[1]});
                }
                Value next = tb.create<arith::AddIOp>(tl, it[1], tb.create<arith::ConstantIndexOp>(tl, 1));
                tb.create<scf::YieldOp>(tl, ValueRange{t, next});
              },
              [&](OpBuilder &eb, Location el) { eb.create<scf::YieldOp>(el, it); });
          return SmallVector<Value>(branch.getResults());
        });
    rw.replaceOp(op, loop.getResult(0));
    return success();
  }
};

/// TopK: per row (every position but `axis`), k passes over the axis, each
/// taking the best element that ranks after the previous one (by value,
/// then index): O(k * n) per row, no scratch memory.
struct TopKLowering : OpConversionPattern<TopKOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(TopKOp op, OpAdaptor a,
                                ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    Value x = a.getInput();
    auto vt = dyn_cast<RankedTensorType>(op.getValues().getType());
    auto it = dyn_cast<RankedTensorType>(op.getIndices().getType());
    if (!vt || !it)
      return op->emitError("the result types are not known");
    Type elem = vt.getElementType();
    if (!elem.isIntOrFloat() || elem.isInteger(1))
      return op->emitError("element type ") << elem << " is not supported";
    int64_t axis = op.getAxis();
    Value kt = a.getK();
    if (!isa<IntegerType>(cast<ShapedType>(kt.getType()).getElementType()))
      return op->emitError("k must be an integer");
    SmallVector<Value> kAt(cast<RankedTensorType>(kt.getType()).getRank(),
                           rw.create<arith::ConstantIndexOp>(loc, 0));
    // k clamped into [0, n]: a bad k never writes out of bounds.
    Value kv = rw.create<arith::IndexCastOp>(loc, rw.getIndexType(),
                                             rw.create<tensor::ExtractOp>(loc, kt, kAt));
    bool largest = op.getLargest(), isFloat = isa<FloatType>(elem), uns = readsUnsigned(op);
    VDims xd = dimsOf(rw, loc, x), od = xd;
    Value n = getValueOrCreateConstantIndexOp(rw, loc, xd[axis]);
    kv = rw.create<arith::MinSIOp>(loc, rw.create<arith::MaxSIOp>(loc, kv, rw.create<arith::ConstantIndexOp>(loc, 0)), n);
    od[axis] = vt.isDynamicDim(axis) ? OpFoldResult(kv) : rw.getIndexAttr(vt.getDimSize(axis));
    Value vals = emptyTensor(rw, loc, od, elem), idxs = emptyTensor(rw, loc, od, rw.getI64Type());
    SmallVector<OpFoldResult> rows(xd);
    rows[axis] = rw.getIndexAttr(1);
    auto cmp = [&](OpBuilder &b, Location l, bool greater, Value p, Value q) -> Value {
      if (isFloat)
        return b.create<arith::CmpFOp>(l, greater ? arith::CmpFPredicate::OGT
                                                  : arith::CmpFPredicate::OLT, p, q);
      auto pred = greater ? (uns ? arith::CmpIPredicate::ugt : arith::CmpIPredicate::sgt)
                          : (uns ? arith::CmpIPredicate::ult : arith::CmpIPredicate::slt);
      return b.create<arith::CmpIOp>(l, pred, p, q);
    };
    auto eq = [&](OpBuilder &b, Location l, Value p, Value q) -> Value {
      if (isFloat)
        return b.create<arith::CmpFOp>(l, arith::CmpFPredicate::OEQ, p, q);
      return b.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq, p, q);
    };
    auto loop = sequentialLoop(
        rw, loc, rows, ValueRange{vals, idxs},
        [&](OpBuilder &b, Location l, ArrayRef<Value> row, ValueRange it) {
          Value c0 = b.create<arith::ConstantIndexOp>(l, 0), c1 = b.create<arith::ConstantIndexOp>(l, 1);
          Value none = b.create<arith::ConstantIndexOp>(l, -1);
          Value zeroV = b.create<arith::ConstantOp>(l, b.getZeroAttr(elem));
          auto at = [&](Value j) {
            SmallVector<Value> c(row);
            c[axis] = j;
            return c;
          };
          auto picks = b.create<scf::ForOp>(
              l, c0, vt.isDynamicDim(axis) ? kv : b.create<arith::ConstantIndexOp>(l, vt.getDimSize(axis)).getResult(), c1,
              ValueRange{it[0], it[1], zeroV, none},
              [&](OpBuilder &pb, Location pl, Value j, ValueRange st) {
                Value prevV = st[2], prevI = st[3];
                Value first = pb.create<arith::CmpIOp>(pl, arith::CmpIPredicate::slt, prevI, c0);
                auto scan = pb.create<scf::ForOp>(
                    pl, c0, n, c1, ValueRange{zeroV, none},
                    [&](OpBuilder &sb, Location sl, Value e, ValueRange best) {
                      Value v = sb.create<tensor::ExtractOp>(sl, x, at(e));
                      // ranks after the previous pick: worse value, or equal with a later index
                      Value worse = cmp(sb, sl, !largest, v, prevV);
                      Value tieAfter = sb.create<arith::AndIOp>(
                          sl, eq(sb, sl, v, prevV),
                          sb.create<arith::CmpIOp>(sl, arith::CmpIPredicate::sgt, e, prevI));
                      Value eligible = sb.create<arith::OrIOp>(
                          sl, first, sb.create<arith::OrIOp>(sl, worse, tieAfter));
                      Value unset = sb.create<arith::CmpIOp>(sl, arith::CmpIPredicate::slt, best[1], c0);
                      Value better = sb.create<arith::OrIOp>(sl, unset, cmp(sb, sl, largest, v, best[0]));
                      Value take = sb.create<arith::AndIOp>(sl, eligible, better);
                      sb.create<scf::YieldOp>(
                          sl, ValueRange{sb.create<arith::SelectOp>(sl, take, v, best[0]),
                                         sb.create<arith::SelectOp>(sl, take, e, best[1])});
                    });
                Value bv = scan.getResult(0), bi = scan.getResult(1);
                Value vs = pb.create<tensor::InsertOp>(pl, bv, st[0], at(j));
                Value is = pb.create<tensor::InsertOp>(
                    pl, pb.create<arith::IndexCastOp>(pl, pb.getI64Type(), bi), st[1], at(j));
                pb.create<scf::YieldOp>(pl, ValueRange{vs, is, bv, bi});
              });
          return SmallVector<Value>{picks.getResult(0), picks.getResult(1)};
        });
    rw.replaceOp(op, loop.getResults());
    return success();
  }
};

/// ScatterND: for each index tuple m and each trailing position r,
/// out[idx[m], r] (op)= updates[m, r].
struct ScatterNDLowering : MlcPattern<ScatterNDOp> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(ScatterNDOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    Value data = a.getData(), idx = a.getIndices(), upd = a.getUpdates();
    auto it = cast<RankedTensorType>(idx.getType());
    auto ut = cast<RankedTensorType>(upd.getType());
    if (!isa<IntegerType>(it.getElementType()))
      return op->emitError("indices must be integers");
    int64_t q = it.getRank(), r = type.getRank(), k = q ? it.getDimSize(q - 1) : -1;
    if (q < 1 || k < 1 || k > r)
      return op->emitError("the last dim of indices must be static, between 1 and the data's rank");
    if (ut.getRank() != q - 1 + r - k)
      return op->emitError("updates must have rank ") << (q - 1 + r - k);
    VDims dd = dimsOf(rw, loc, data), ud = dimsOf(rw, loc, upd);
    StringRef red = op.getReduction();
    bool uns = readsUnsigned(op);
    Value out = scatterLoop(
        rw, loc, data, ud, [&](OpBuilder &b, Location l, ArrayRef<Value> u, Value t) {
          SmallVector<Value> at;
          for (int64_t d = 0; d < r; ++d) {
            Value size = getValueOrCreateConstantIndexOp(b, l, dd[d]);
            if (d < k) {
              SmallVector<Value> ic(u.begin(), u.begin() + q - 1);
              ic.push_back(b.create<arith::ConstantIndexOp>(l, d));
              at.push_back(wrapIndex(b, l, b.create<tensor::ExtractOp>(l, idx, ic), size));
            } else {
              // clamped: a bad update shape never writes out of bounds
              Value hi = b.create<arith::SubIOp>(l, size, b.create<arith::ConstantIndexOp>(l, 1));
              at.push_back(b.create<arith::MinUIOp>(l, u[q - 1 + d - k], hi));
            }
          }
          Value old = b.create<tensor::ExtractOp>(l, t, at);
          Value v = combine(b, l, red, old, b.create<tensor::ExtractOp>(l, upd, u), uns);
          return b.create<tensor::InsertOp>(l, v, t, at).getResult();
        });
    rw.replaceOp(op, out);
    return success();
  }
};

/// ScatterElements: each update position u writes out[u with u[axis] =
/// indices[u]] (op)= updates[u].
struct ScatterElementsLowering : MlcPattern<ScatterElementsOp> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(ScatterElementsOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    Value data = a.getData(), idx = a.getIndices(), upd = a.getUpdates();
    auto it = cast<RankedTensorType>(idx.getType());
    if (!isa<IntegerType>(it.getElementType()))
      return op->emitError("indices must be integers");
    int64_t r = type.getRank(), axis = op.getAxis();
    if (it.getRank() != r || cast<RankedTensorType>(upd.getType()).getRank() != r)
      return op->emitError("data, indices and updates must have the same rank");
    VDims dd = dimsOf(rw, loc, data), id = dimsOf(rw, loc, idx);
    StringRef red = op.getReduction();
    bool uns = readsUnsigned(op);
    Value out = scatterLoop(
        rw, loc, data, id, [&](OpBuilder &b, Location l, ArrayRef<Value> u, Value t) {
          SmallVector<Value> at;
          for (int64_t d = 0; d < r; ++d) {
            Value size = getValueOrCreateConstantIndexOp(b, l, dd[d]);
            if (d == axis) {
              at.push_back(wrapIndex(b, l, b.create<tensor::ExtractOp>(l, idx, u), size));
            } else {
              Value hi = b.create<arith::SubIOp>(l, size, b.create<arith::ConstantIndexOp>(l, 1));
              at.push_back(b.create<arith::MinUIOp>(l, u[d], hi));
            }
          }
          Value old = b.create<tensor::ExtractOp>(l, t, at);
          Value v = combine(b, l, red, old, b.create<tensor::ExtractOp>(l, upd, u), uns);
          return b.create<tensor::InsertOp>(l, v, t, at).getResult();
        });
    rw.replaceOp(op, out);
    return success();
  }
};

/// Element `i` of a 1-D integer tensor as an index value.
Value indexAt(OpBuilder &b, Location loc, Value t, int64_t i) {
  Value c = b.create<arith::ConstantIndexOp>(loc, i);
  Value e = b.create<tensor::ExtractOp>(loc, t, ValueRange{c});
  return b.create<arith::IndexCastOp>(loc, b.getIndexType(), e);
}

/// Resize as a gather: each output element maps its coordinate back into
/// the input (the coordinate transformation), then reads the nearest
/// element or blends the 2^k neighbours of the k interpolated dims.
struct ResizeLowering : MlcPattern<ResizeOp> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(ResizeOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rw.getContext();
    Value x = a.getInput();
    auto xt = cast<RankedTensorType>(x.getType());
    Type elem = xt.getElementType();
    int64_t rank = xt.getRank();
    StringRef mode = op.getMode(), coord = op.getCoord(), nearest = op.getNearest();
    bool linear = mode == "linear", cubic = mode == "cubic";
    if ((linear || cubic) && !elem.isF32())
      return op->emitError("linear and cubic Resize support float32 only");
    double A = op.getCubicA().convertToDouble();
    bool excludeOutside = op.getExcludeOutside();
    auto axes = op.getAxes();
    Type f32 = rw.getF32Type(), f64 = rw.getF64Type();
    VDims xd = dimsOf(rw, loc, x);
    auto toF = [&](OpBuilder &b, Location l, Value idx, Type t) {
      return b.create<arith::SIToFPOp>(l, t, b.create<arith::IndexCastOp>(l, b.getI64Type(), idx))
          .getResult();
    };
    auto readF = [&](Value t, int64_t k) -> Value { // element k of a 1-D float tensor
      Value e = rw.create<tensor::ExtractOp>(loc, t, ValueRange{rw.create<arith::ConstantIndexOp>(loc, k)});
      return e.getType() == f32 ? e : rw.create<arith::TruncFOp>(loc, f32, e).getResult();
    };
    DenseElementsAttr constScales, constSizes;
    if (a.getScales())
      matchPattern(a.getScales(), m_Constant(&constScales));
    if (a.getSizes())
      matchPattern(a.getSizes(), m_Constant(&constSizes));
    SmallVector<Value> in(rank), out(rank), scale(rank), roiS(rank), roiE(rank);
    SmallVector<bool> resized(rank, false);
    SmallVector<OpFoldResult> outDims;
    for (int64_t d = 0; d < rank; ++d) {
      in[d] = getValueOrCreateConstantIndexOp(rw, loc, xd[d]);
      out[d] = in[d];
    }
    for (size_t k = 0; k < axes.size(); ++k) {
      int64_t d = axes[k];
      if (a.getSizes()) {
        out[d] = indexAt(rw, loc, a.getSizes(), k);
        // Both given (keep_aspect_ratio_policy): the scales map coordinates.
        scale[d] = a.getScales() ? readF(a.getScales(), k)
                                 : rw.create<arith::DivFOp>(loc, toF(rw, loc, out[d], f32),
                                                            toF(rw, loc, in[d], f32))
                                       .getResult();
        resized[d] = !(constSizes && xt.getDimSize(d) >= 0 &&
                       constSizes.getValues<APInt>()[k].getSExtValue() == xt.getDimSize(d));
      } else {
        scale[d] = readF(a.getScales(), k);
        Value prod = rw.create<arith::MulFOp>(loc, toF(rw, loc, in[d], f64),
                                              rw.create<arith::ExtFOp>(loc, f64, scale[d]));
        out[d] = rw.create<arith::IndexCastOp>(
            loc, rw.getIndexType(),
            rw.create<arith::FPToSIOp>(loc, rw.getI64Type(), rw.create<math::FloorOp>(loc, prod)));
        resized[d] = !(constScales && constScales.getValues<APFloat>()[k].convertToDouble() == 1.0);
      }
      if (coord == "tf_crop_and_resize") {
        if (!a.getRoi())
          return op->emitError("tf_crop_and_resize needs roi");
        roiS[d] = readF(a.getRoi(), k);
        roiE[d] = readF(a.getRoi(), k + axes.size());
        resized[d] = true;
      }
    }
    for (int64_t d = 0; d < rank; ++d)
      outDims.push_back(type.getDimSize(d) >= 0 ? OpFoldResult(rw.getIndexAttr(type.getDimSize(d)))
                                                : OpFoldResult(out[d]));
    double extrap = op.getExtrapolation().convertToDouble();
    bool tooManyDims = false;
    Value gen = generate(rw, loc, outDims, elem,
                         [&](OpBuilder &b, Location l) -> Value {
          ScalarOps o{b, l, b.getF32Type()};
          Value zeroI = b.create<arith::ConstantIndexOp>(l, 0), oneI = b.create<arith::ConstantIndexOp>(l, 1);
          Value inside = b.create<arith::ConstantOp>(l, b.getBoolAttr(true));
          SmallVector<Value> base(rank), next(rank), w(rank);
          SmallVector<int64_t> interp;
          // cubic: four taps per interpolated dim, their indices and weights
          SmallVector<std::array<Value, 4>> tapIdx(rank), tapW(rank);
          for (int64_t d = 0; d < rank; ++d) {
            Value i = b.create<linalg::IndexOp>(l, d);
            if (!resized[d]) {
              base[d] = i;
              continue;
            }
            // The coordinate maps use the unrounded output width (scale *
            // input width), as ONNX's reference does; half_pixel_symmetric
            // also the integer one.
            Value fi = toF(b, l, i, f32), fin = toF(b, l, in[d], f32);
            Value fout = o.mul(scale[d], fin), foutInt = toF(b, l, out[d], f32);
            Value last = b.create<arith::SubIOp>(l, in[d], oneI);
            Value xo;
            if (coord == "asymmetric") {
              xo = o.div(fi, scale[d]);
            } else if (coord == "align_corners") {
              Value one = b.create<arith::CmpFOp>(l, arith::CmpFPredicate::OEQ, fout, o.c(1));
              xo = b.create<arith::SelectOp>(l, one, o.c(0), o.div(o.mul(fi, o.sub(fin, o.c(1))), o.sub(fout, o.c(1))));
            } else if (coord == "tf_crop_and_resize") {
              Value span = o.sub(fin, o.c(1));
              Value one = b.create<arith::CmpFOp>(l, arith::CmpFPredicate::OEQ, fout, o.c(1));
              Value many = o.add(o.mul(roiS[d], span), o.div(o.mul(o.mul(fi, o.sub(roiE[d], roiS[d])), span), o.sub(fout, o.c(1))));
              Value single = o.mul(o.mul(o.c(0.5), o.add(roiS[d], roiE[d])), span);
              xo = b.create<arith::SelectOp>(l, one, single, many);
              Value lo = b.create<arith::CmpFOp>(l, arith::CmpFPredicate::OGE, xo, o.c(0));
              Value hi = b.create<arith::CmpFOp>(l, arith::CmpFPredicate::OLE, xo, span);
              inside = b.create<arith::AndIOp>(l, inside, b.create<arith::AndIOp>(l, lo, hi));
            } else if (coord == "half_pixel_symmetric") {
              Value adj = o.div(foutInt, fout);
              Value off = o.mul(o.mul(fin, o.c(0.5)), o.sub(o.c(1), adj));
              xo = o.add(off, o.sub(o.div(o.add(fi, o.c(0.5)), scale[d]), o.c(0.5)));
            } else if (coord == "tf_half_pixel_for_nn") {
              xo = o.div(o.add(fi, o.c(0.5)), scale[d]);
            } else { // half_pixel, pytorch_half_pixel
              xo = o.sub(o.div(o.add(fi, o.c(0.5)), scale[d]), o.c(0.5));
              if (coord == "pytorch_half_pixel") {
                Value one = b.create<arith::CmpFOp>(l, arith::CmpFPredicate::OEQ, fout, o.c(1));
                xo = b.create<arith::SelectOp>(l, one, o.c(-0.5), xo);
              }
            }
            auto toIdx = [&](Value f) {
              return b.create<arith::IndexCastOp>(
                  l, b.getIndexType(), b.create<arith::FPToSIOp>(l, b.getI64Type(), f)).getResult();
            };
            auto clampI = [&](Value v) {
              return b.create<arith::MaxSIOp>(l, b.create<arith::MinSIOp>(l, v, last), zeroI).getResult();
            };
            if (cubic) {
              // Taps at b - 1 .. b + 2 with b = ceil(x) - 1, so that the
              // ratio x - b is in (0, 1] (ONNX's reference); indices clamp
              // to the edge, or with exclude_outside weigh 0 and the rest
              // is renormalised.
              Value bf = o.sub(b.create<math::CeilOp>(l, xo), o.c(1));
              Value t = o.sub(xo, bf), u = o.sub(o.c(1), t);
              auto far = [&](Value r) { // A |r|^3 - 5A r^2 + 8A |r| - 4A for r in [1, 2]
                return o.sub(o.mul(o.add(o.mul(o.sub(o.mul(o.c(A), r), o.c(5 * A)), r), o.c(8 * A)), r), o.c(4 * A));
              };
              auto near = [&](Value r) { // (A + 2) r^3 - (A + 3) r^2 + 1 for r in [0, 1]
                return o.add(o.mul(o.mul(o.sub(o.mul(o.c(A + 2), r), o.c(A + 3)), r), r), o.c(1));
              };
              Value ws[4] = {far(o.add(t, o.c(1))), near(t), near(u), far(o.add(u, o.c(1)))};
              Value bi = toIdx(bf), sum = o.c(0);
              for (int k = 0; k < 4; ++k) {
                Value ik = b.create<arith::AddIOp>(l, bi, b.create<arith::ConstantIndexOp>(l, k - 1));
                if (excludeOutside) {
                  Value lo = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::sge, ik, zeroI);
                  Value hi = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::slt, ik, in[d]);
                  ws[k] = b.create<arith::SelectOp>(l, b.create<arith::AndIOp>(l, lo, hi), ws[k], o.c(0));
                  sum = o.add(sum, ws[k]);
                }
                tapIdx[d][k] = clampI(ik);
                tapW[d][k] = ws[k];
              }
              if (excludeOutside)
                for (int k = 0; k < 4; ++k)
                  tapW[d][k] = o.div(tapW[d][k], sum);
              interp.push_back(d);
              continue;
            }
            if (!linear) {
              Value r;
              if (nearest == "floor")
                r = b.create<math::FloorOp>(l, xo);
              else if (nearest == "ceil")
                r = b.create<math::CeilOp>(l, xo);
              else if (nearest == "round_prefer_ceil")
                r = b.create<math::FloorOp>(l, o.add(xo, o.c(0.5)));
              else // round_prefer_floor
                r = b.create<math::CeilOp>(l, o.sub(xo, o.c(0.5)));
              base[d] = clampI(toIdx(r));
              continue;
            }
            Value xc = b.create<arith::MaximumFOp>(l, b.create<arith::MinimumFOp>(l, xo, o.sub(fin, o.c(1))), o.c(0));
            Value x0 = b.create<math::FloorOp>(l, xc);
            w[d] = o.sub(xc, x0);
            base[d] = clampI(toIdx(x0));
            next[d] = clampI(b.create<arith::AddIOp>(l, base[d], oneI));
            interp.push_back(d);
          }
          Value v;
          if (interp.size() > 4) {
            // 2^k or 4^k taps: refused before the body grows without bound
            tooManyDims = true;
            v = b.create<arith::ConstantOp>(l, b.getZeroAttr(elem));
          } else if (interp.empty()) {
            v = b.create<tensor::ExtractOp>(l, x, base);
          } else if (cubic) {
            v = o.c(0);
            unsigned taps = 1;
            for (size_t k = 0; k < interp.size(); ++k)
              taps *= 4;
            for (unsigned tap = 0; tap < taps; ++tap) {
              SmallVector<Value> coords = base;
              Value wt = o.c(1);
              unsigned rest = tap;
              for (int64_t d : interp) {
                coords[d] = tapIdx[d][rest % 4];
                wt = o.mul(wt, tapW[d][rest % 4]);
                rest /= 4;
              }
              v = o.add(v, o.mul(wt, b.create<tensor::ExtractOp>(l, x, coords)));
            }
          } else {
            v = o.c(0);
            for (unsigned corner = 0; corner < (1u << interp.size()); ++corner) {
              SmallVector<Value> coords = base;
              Value wt = o.c(1);
              for (size_t k = 0; k < interp.size(); ++k) {
                int64_t d = interp[k];
                bool hi = corner >> k & 1;
                if (hi)
                  coords[d] = next[d];
                wt = o.mul(wt, hi ? w[d] : o.sub(o.c(1), w[d]));
              }
              v = o.add(v, o.mul(wt, b.create<tensor::ExtractOp>(l, x, coords)));
            }
          }
          if (coord == "tf_crop_and_resize") {
            Value e = isa<FloatType>(elem) ? b.create<arith::ConstantOp>(l, b.getFloatAttr(elem, extrap)).getResult()
                                           : b.create<arith::ConstantOp>(l, b.getIntegerAttr(elem, (int64_t)extrap)).getResult();
            v = b.create<arith::SelectOp>(l, inside, v, e);
          }
          return v;
        });
    if (tooManyDims)
      return op->emitError("linear and cubic Resize interpolate at most 4 dims");
    rw.replaceOp(op, castTo(rw, loc, gen, type));
    return success();
  }
};

/// NonMaxSuppression as one sequential kernel over (batch, class): the
/// candidates are visited in descending score without sorting (each step
/// takes the best box ranking after the previous one, as TopK does), a
/// candidate is kept unless it overlaps a box kept before in its class,
/// and rows go into a buffer of batch * class * max_output rows that the
/// result is the filled prefix of.
struct NonMaxSuppressionLowering : MlcPattern<NonMaxSuppressionOp> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(NonMaxSuppressionOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    Value boxes = a.getBoxes(), scores = a.getScores();
    auto bt = cast<RankedTensorType>(boxes.getType());
    auto st = cast<RankedTensorType>(scores.getType());
    Type f = bt.getElementType();
    if (!isa<FloatType>(f) || st.getElementType() != f || bt.getRank() != 3 || st.getRank() != 3)
      return op->emitError("boxes [B, N, 4] and scores [B, C, N] must be float tensors");
    bool centre = op.getCenterPointBox();
    Type i64 = rw.getI64Type(), idxT = rw.getIndexType();
    auto scalarOf = [&](Value t) -> Value {
      auto tt = cast<RankedTensorType>(t.getType());
      SmallVector<Value> at(tt.getRank(), rw.create<arith::ConstantIndexOp>(loc, 0));
      return rw.create<tensor::ExtractOp>(loc, t, at);
    };
    auto asF = [&](Value v) -> Value {
      if (v.getType() == f)
        return v;
      return v.getType().getIntOrFloatBitWidth() > f.getIntOrFloatBitWidth()
                 ? rw.create<arith::TruncFOp>(loc, f, v).getResult()
                 : rw.create<arith::ExtFOp>(loc, f, v).getResult();
    };
    Value zeroI = rw.create<arith::ConstantIndexOp>(loc, 0);
    Value B = rw.create<tensor::DimOp>(loc, boxes, 0), N = rw.create<tensor::DimOp>(loc, boxes, 1);
    Value C = rw.create<tensor::DimOp>(loc, scores, 1);
    Value maxOut = scalarOf(a.getMaxOutput());
    if (!isa<IntegerType>(maxOut.getType()))
      return op->emitError("max_output_boxes_per_class must be an integer");
    maxOut = rw.create<arith::IndexCastOp>(loc, idxT, maxOut);
    maxOut = rw.create<arith::MinSIOp>(loc, rw.create<arith::MaxSIOp>(loc, maxOut, zeroI), N);
    Value iouT = asF(scalarOf(a.getIouThreshold())), scoreT = asF(scalarOf(a.getScoreThreshold()));
    // The buffer's row count is static when every factor is: its type must
    // not change under canonicalisation, or the loop's results would be
    // cast and no longer seen as the kernel's destination.
    OpFoldResult cap = rw.create<arith::MulIOp>(loc, rw.create<arith::MulIOp>(loc, B, C), maxOut).getResult();
    DenseElementsAttr maxC;
    if (bt.hasStaticShape() && !st.isDynamicDim(1) && matchPattern(a.getMaxOutput(), m_Constant(&maxC)) &&
        isa<IntegerType>(maxC.getElementType()) && maxC.getNumElements() == 1) {
      int64_t m = std::clamp<int64_t>((*maxC.getValues<APInt>().begin()).getSExtValue(), 0, bt.getDimSize(1));
      cap = rw.getIndexAttr(bt.getDimSize(0) * st.getDimSize(1) * m);
    }
    Value buf = rw.create<tensor::EmptyOp>(loc, ArrayRef<OpFoldResult>{cap, rw.getIndexAttr(3)}, i64);
    Value cnt = filledTensor(rw, loc, {rw.getIndexAttr(1)}, i64, rw.getI64IntegerAttr(0));
    auto loop = sequentialLoop(
        rw, loc, {OpFoldResult(B), OpFoldResult(C)}, ValueRange{buf, cnt},
        [&](OpBuilder &b, Location l, ArrayRef<Value> bc, ValueRange it) {
          Value bi = bc[0], ci = bc[1];
          Value c0 = b.create<arith::ConstantIndexOp>(l, 0), c1 = b.create<arith::ConstantIndexOp>(l, 1);
          Value none = b.create<arith::ConstantIndexOp>(l, -1);
          Value fz = b.create<arith::ConstantOp>(l, b.getZeroAttr(f));
          auto fc = [&](double v) { return b.create<arith::ConstantOp>(l, b.getFloatAttr(f, v)).getResult(); };
          auto cmpF = [&](arith::CmpFPredicate p, Value x, Value y) {
            return b.create<arith::CmpFOp>(l, p, x, y).getResult();
          };
          auto cmpI = [&](arith::CmpIPredicate p, Value x, Value y) {
            return b.create<arith::CmpIOp>(l, p, x, y).getResult();
          };
          auto andB = [&](Value x, Value y) { return b.create<arith::AndIOp>(l, x, y).getResult(); };
          auto orB = [&](Value x, Value y) { return b.create<arith::OrIOp>(l, x, y).getResult(); };
          // A box's corners (x1, y1, x2, y2).
          auto corners = [&](Value box) {
            SmallVector<Value> v;
            for (int k = 0; k < 4; ++k)
              v.push_back(b.create<tensor::ExtractOp>(
                  l, boxes, ValueRange{bi, box, b.create<arith::ConstantIndexOp>(l, k)}));
            if (centre) {
              Value hw = b.create<arith::MulFOp>(l, v[2], fc(0.5)), hh = b.create<arith::MulFOp>(l, v[3], fc(0.5));
              return SmallVector<Value>{b.create<arith::SubFOp>(l, v[0], hw), b.create<arith::SubFOp>(l, v[1], hh),
                                        b.create<arith::AddFOp>(l, v[0], hw), b.create<arith::AddFOp>(l, v[1], hh)};
            }
            return SmallVector<Value>{b.create<arith::MinimumFOp>(l, v[1], v[3]), b.create<arith::MinimumFOp>(l, v[0], v[2]),
                                      b.create<arith::MaximumFOp>(l, v[1], v[3]), b.create<arith::MaximumFOp>(l, v[0], v[2])};
          };
          auto overlaps = [&](Value p, Value q) { // IoU(p, q) > threshold
            SmallVector<Value> u = corners(p), w = corners(q);
            Value ix1 = b.create<arith::MaximumFOp>(l, u[0], w[0]), iy1 = b.create<arith::MaximumFOp>(l, u[1], w[1]);
            Value ix2 = b.create<arith::MinimumFOp>(l, u[2], w[2]), iy2 = b.create<arith::MinimumFOp>(l, u[3], w[3]);
            Value inter = b.create<arith::MulFOp>(l, b.create<arith::SubFOp>(l, ix2, ix1), b.create<arith::SubFOp>(l, iy2, iy1));
            auto area = [&](ArrayRef<Value> r) {
              return b.create<arith::MulFOp>(l, b.create<arith::SubFOp>(l, r[2], r[0]), b.create<arith::SubFOp>(l, r[3], r[1])).getResult();
            };
            Value au = area(u), aw = area(w);
            Value uni = b.create<arith::SubFOp>(l, b.create<arith::AddFOp>(l, au, aw), inter);
            Value ok = andB(cmpF(arith::CmpFPredicate::OGT, ix2, ix1), cmpF(arith::CmpFPredicate::OGT, iy2, iy1));
            ok = andB(ok, andB(cmpF(arith::CmpFPredicate::OGT, au, fz), cmpF(arith::CmpFPredicate::OGT, aw, fz)));
            ok = andB(ok, andB(cmpF(arith::CmpFPredicate::OGT, inter, fz), cmpF(arith::CmpFPredicate::OGT, uni, fz)));
            Value iou = b.create<arith::DivFOp>(l, inter, b.create<arith::SelectOp>(l, ok, uni, fc(1)));
            return andB(ok, cmpF(arith::CmpFPredicate::OGT, iou, iouT));
          };
          Value total0 = b.create<arith::IndexCastOp>(l, idxT, b.create<tensor::ExtractOp>(l, it[1], ValueRange{c0}));
          Value done0 = cmpI(arith::CmpIPredicate::eq, maxOut, c0);
          auto steps = b.create<scf::ForOp>(
              l, c0, N, c1, ValueRange{it[0], total0, c0, fz, none, done0},
              [&](OpBuilder &sb, Location sl, Value, ValueRange st) {
                auto step = sb.create<scf::IfOp>(
                    sl, st[5],
                    [&](OpBuilder &tb, Location tl) { tb.create<scf::YieldOp>(tl, st); },
                    [&](OpBuilder &eb, Location el) {
                      Value prevS = st[3], prevI = st[4];
                      Value first = cmpI(arith::CmpIPredicate::slt, prevI, c0);
                      auto scan = eb.create<scf::ForOp>(
                          el, c0, N, c1, ValueRange{fz, none},
                          [&](OpBuilder &cb, Location cl, Value e, ValueRange best) {
                            Value sc = cb.create<tensor::ExtractOp>(cl, scores, ValueRange{bi, ci, e});
                            Value pass = cmpF(arith::CmpFPredicate::OGT, sc, scoreT);
                            Value after = orB(first, orB(cmpF(arith::CmpFPredicate::OLT, sc, prevS),
                                                         andB(cmpF(arith::CmpFPredicate::OEQ, sc, prevS),
                                                              cmpI(arith::CmpIPredicate::sgt, e, prevI))));
                            Value better = orB(cmpI(arith::CmpIPredicate::slt, best[1], c0),
                                               cmpF(arith::CmpFPredicate::OGT, sc, best[0]));
                            Value take = andB(pass, andB(after, better));
                            cb.create<scf::YieldOp>(cl, ValueRange{cb.create<arith::SelectOp>(cl, take, sc, best[0]),
                                                                   cb.create<arith::SelectOp>(cl, take, e, best[1])});
                          });
                      Value cand = scan.getResult(1);
                      Value found = cmpI(arith::CmpIPredicate::sge, cand, c0);
                      auto keepIt = eb.create<scf::IfOp>(
                          el, found,
                          [&](OpBuilder &kb, Location kl) {
                            auto sup = kb.create<scf::ForOp>(
                                kl, c0, st[2], c1, ValueRange{kb.create<arith::ConstantOp>(kl, kb.getBoolAttr(false)).getResult()},
                                [&](OpBuilder &rb, Location rl, Value r, ValueRange acc) {
                                  Value row = rb.create<arith::AddIOp>(rl, total0, r);
                                  Value kv = rb.create<tensor::ExtractOp>(
                                      rl, st[0], ValueRange{row, rb.create<arith::ConstantIndexOp>(rl, 2)});
                                  Value k = rb.create<arith::IndexCastOp>(rl, idxT, kv);
                                  rb.create<scf::YieldOp>(rl, ValueRange{orB(acc[0], overlaps(cand, k))});
                                });
                            Value kept = sup.getResult(0);
                            auto write = kb.create<scf::IfOp>(
                                kl, kept,
                                [&](OpBuilder &yb, Location yl) {
                                  yb.create<scf::YieldOp>(yl, ValueRange{st[0], st[1], st[2]});
                                },
                                [&](OpBuilder &wb, Location wl) {
                                  Value t = st[0];
                                  Value vals[3] = {bi, ci, cand};
                                  for (int k = 0; k < 3; ++k)
                                    t = wb.create<tensor::InsertOp>(
                                        wl, wb.create<arith::IndexCastOp>(wl, i64, vals[k]), t,
                                        ValueRange{st[1], wb.create<arith::ConstantIndexOp>(wl, k)});
                                  Value one = wb.create<arith::ConstantIndexOp>(wl, 1);
                                  wb.create<scf::YieldOp>(wl, ValueRange{t, wb.create<arith::AddIOp>(wl, st[1], one),
                                                                         wb.create<arith::AddIOp>(wl, st[2], one)});
                                });
                            Value full = kb.create<arith::CmpIOp>(kl, arith::CmpIPredicate::sge, write.getResult(2), maxOut);
                            kb.create<scf::YieldOp>(kl, ValueRange{write.getResult(0), write.getResult(1), write.getResult(2),
                                                                   scan.getResult(0), cand, full});
                          },
                          [&](OpBuilder &nb, Location nl) {
                            Value yes = nb.create<arith::ConstantOp>(nl, nb.getBoolAttr(true));
                            nb.create<scf::YieldOp>(nl, ValueRange{st[0], st[1], st[2], st[3], st[4], yes});
                          });
                      eb.create<scf::YieldOp>(el, keepIt.getResults());
                    });
                sb.create<scf::YieldOp>(sl, step.getResults());
              });
          Value total = b.create<arith::IndexCastOp>(l, i64, steps.getResult(1));
          Value c = b.create<tensor::InsertOp>(l, total, it[1], ValueRange{c0});
          return SmallVector<Value>{steps.getResult(0), c};
        });
    Value n = rw.create<arith::IndexCastOp>(
        loc, idxT, rw.create<tensor::ExtractOp>(loc, loop.getResult(1), ValueRange{zeroI}));
    Value out = rw.create<tensor::ExtractSliceOp>(
        loc, loop.getResult(0), ArrayRef<OpFoldResult>{rw.getIndexAttr(0), rw.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{n, rw.getIndexAttr(3)},
        ArrayRef<OpFoldResult>{rw.getIndexAttr(1), rw.getIndexAttr(1)});
    rw.replaceOp(op, out);
    return success();
  }
};

/// A Slice with run-time axes and steps as a gather: per dim, the (start,
/// step, size) its entry of axes asks for (the whole dim otherwise), then
/// out[i] = x[start + i * step].
struct SliceDynamicLowering : MlcPattern<SliceDynamicOp> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(SliceDynamicOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    Value x = a.getInput();
    int64_t rank = type.getRank();
    auto st = cast<RankedTensorType>(a.getStarts().getType());
    for (Value v : {a.getStarts(), a.getEnds(), a.getAxes(), a.getSteps()}) {
      auto t = dyn_cast<RankedTensorType>(v.getType());
      if (!t || t.getRank() != 1 || t.isDynamicDim(0) || t.getDimSize(0) != st.getDimSize(0) ||
          !isa<IntegerType>(t.getElementType()))
        return op->emitError("starts, ends, axes and steps must be 1-D integer tensors of one static length");
    }
    int64_t n = st.getDimSize(0);
    VDims xd = dimsOf(rw, loc, x);
    auto c = [&](int64_t v) { return rw.create<arith::ConstantIndexOp>(loc, v).getResult(); };
    auto sel = [&](Value p, Value t, Value f) { return rw.create<arith::SelectOp>(loc, p, t, f).getResult(); };
    auto cmp = [&](arith::CmpIPredicate p, Value l, Value r) {
      return rw.create<arith::CmpIOp>(loc, p, l, r).getResult();
    };
    auto clamp = [&](Value v, Value lo, Value hi) {
      return rw.create<arith::MinSIOp>(loc, rw.create<arith::MaxSIOp>(loc, v, lo), hi).getResult();
    };
    Value big = c(std::numeric_limits<int32_t>::max());
    SmallVector<Value> starts(rank), steps(rank);
    SmallVector<OpFoldResult> sizes(rank);
    for (int64_t d = 0; d < rank; ++d) {
      Value dim = getValueOrCreateConstantIndexOp(rw, loc, xd[d]);
      Value s0 = c(0), e0 = big, step = c(1);
      for (int64_t k = 0; k < n; ++k) {
        Value ax = indexAt(rw, loc, a.getAxes(), k);
        ax = sel(cmp(arith::CmpIPredicate::slt, ax, c(0)), rw.create<arith::AddIOp>(loc, ax, c(rank)), ax);
        Value hit = cmp(arith::CmpIPredicate::eq, ax, c(d));
        s0 = sel(hit, indexAt(rw, loc, a.getStarts(), k), s0);
        e0 = sel(hit, indexAt(rw, loc, a.getEnds(), k), e0);
        step = sel(hit, indexAt(rw, loc, a.getSteps(), k), step);
      }
      auto wrap = [&](Value v) {
        return sel(cmp(arith::CmpIPredicate::slt, v, c(0)), rw.create<arith::AddIOp>(loc, v, dim), v);
      };
      Value up = cmp(arith::CmpIPredicate::sgt, step, c(0));
      Value last = rw.create<arith::SubIOp>(loc, dim, c(1));
      Value s = sel(up, clamp(wrap(s0), c(0), dim), clamp(wrap(s0), c(0), last));
      Value e = sel(up, clamp(wrap(e0), c(0), dim), clamp(wrap(e0), c(-1), last));
      Value zero = cmp(arith::CmpIPredicate::eq, step, c(0));
      Value safe = sel(zero, c(1), step);
      // elements: ceil((e - s) / step), never negative; 0 for a zero step
      Value span = sel(up, rw.create<arith::SubIOp>(loc, e, s), rw.create<arith::SubIOp>(loc, s, e));
      Value mag = sel(up, safe, rw.create<arith::SubIOp>(loc, c(0), safe));
      Value len = rw.create<arith::CeilDivSIOp>(loc, rw.create<arith::MaxSIOp>(loc, span, c(0)), mag);
      sizes[d] = sel(zero, c(0), len);
      starts[d] = s;
      steps[d] = step;
    }
    Value gen = generate(rw, loc, sizes, type.getElementType(),
                         [&](OpBuilder &b, Location l) -> Value {
          SmallVector<Value> at;
          for (int64_t d = 0; d < rank; ++d)
            at.push_back(b.create<arith::AddIOp>(
                l, starts[d], b.create<arith::MulIOp>(l, b.create<linalg::IndexOp>(l, d), steps[d])));
          return b.create<tensor::ExtractOp>(l, x, at);
        });
    rw.replaceOp(op, castTo(rw, loc, gen, type));
    return success();
  }
};

/// GridSample as a gather: each output element denormalises its grid
/// position, applies the padding mode to the coordinate (border clamps,
/// reflection folds it back), and reads 1 (nearest), 2^s (linear) or 4^s
/// (cubic, A = -0.75) taps, each tap's index again under the padding mode
/// (zeros: a tap outside reads 0). As ONNX's reference does.
struct GridSampleLowering : MlcPattern<GridSampleOp> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(GridSampleOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rw.getContext();
    Value x = a.getInput(), grid = a.getGrid();
    Type elem = type.getElementType();
    if (!elem.isF32() || !cast<ShapedType>(grid.getType()).getElementType().isF32())
      return op->emitError("GridSample supports float32 only");
    int64_t rank = type.getRank(), s = rank - 2;
    StringRef mode = op.getMode(), pad = op.getPadding();
    bool align = op.getAlignCorners();
    VDims xd = dimsOf(rw, loc, x), gd = dimsOf(rw, loc, grid);
    SmallVector<OpFoldResult> od = {xd[0], xd[1]};
    od.append(gd.begin() + 1, gd.end() - 1);
    SmallVector<Value> len;
    for (int64_t i = 0; i < s; ++i)
      len.push_back(getValueOrCreateConstantIndexOp(rw, loc, xd[2 + i]));
    Value gen = generate(rw, loc, od, elem,
                         [&](OpBuilder &b, Location l) -> Value {
          ScalarOps o{b, l, b.getF32Type()};
          auto toF = [&](Value idx) {
            return b.create<arith::SIToFPOp>(l, b.getF32Type(),
                                             b.create<arith::IndexCastOp>(l, b.getI64Type(), idx))
                .getResult();
          };
          auto toI = [&](Value f) { // truncation toward zero, as C's int()
            return b.create<arith::IndexCastOp>(l, b.getIndexType(),
                                                b.create<arith::FPToSIOp>(l, b.getI64Type(), f))
                .getResult();
          };
          // Folds v into [lo, hi] by reflections at the nearer border.
          auto reflect = [&](Value v, Value lo, Value hi) {
            Value span = o.sub(hi, lo);
            auto fold = [&](Value dx, Value near, Value farB, bool below) {
              Value n = b.create<math::FloorOp>(l, o.div(dx, span));
              Value r = o.sub(dx, o.mul(n, span));
              Value half = o.mul(n, o.c(0.5));
              Value even = b.create<arith::CmpFOp>(l, arith::CmpFPredicate::OEQ,
                                                   b.create<math::FloorOp>(l, half), half);
              Value towards = below ? o.add(near, r) : o.sub(near, r);
              Value back = below ? o.sub(farB, r) : o.add(farB, r);
              return o.sel(even, towards, back);
            };
            Value below = fold(o.sub(lo, v), lo, hi, true), above = fold(o.sub(v, hi), hi, lo, false);
            return o.sel(o.lt(v, lo), below, o.sel(o.lt(hi, v), above, v));
          };
          Value n = b.create<linalg::IndexOp>(l, 0), ch = b.create<linalg::IndexOp>(l, 1);
          SmallVector<Value> gAt = {n};
          for (int64_t i = 0; i < s; ++i)
            gAt.push_back(b.create<linalg::IndexOp>(l, 2 + i));
          SmallVector<Value> pos(s), lo(s), hi(s), fl(s);
          for (int64_t i = 0; i < s; ++i) {
            SmallVector<Value> at = gAt;
            at.push_back(b.create<arith::ConstantIndexOp>(l, s - 1 - i)); // (x, y, z) reversed
            Value gv = b.create<tensor::ExtractOp>(l, grid, at);
            fl[i] = toF(len[i]);
            Value v = align ? o.mul(o.div(o.add(gv, o.c(1)), o.c(2)), o.sub(fl[i], o.c(1)))
                            : o.div(o.sub(o.mul(o.add(gv, o.c(1)), fl[i]), o.c(1)), o.c(2));
            if (mode == "nearest")
              v = b.create<math::RoundEvenOp>(l, v);
            lo[i] = align ? o.c(0) : o.c(-0.5);
            hi[i] = align ? o.sub(fl[i], o.c(1)) : o.sub(fl[i], o.c(0.5));
            // Cubic applies the padding to each tap only (as PyTorch and
            // onnxruntime do; ONNX's reference also moves the centre, which
            // differs for centres outside the border).
            if (pad == "border" && mode != "cubic")
              v = b.create<arith::MaximumFOp>(l, b.create<arith::MinimumFOp>(l, v, o.sub(fl[i], o.c(1))),
                                              o.c(0));
            else if (pad == "reflection" && mode != "cubic")
              v = reflect(v, lo[i], hi[i]);
            pos[i] = v;
          }
          // One tap: the padding mode applied to each integer index.
          auto tap = [&](ArrayRef<Value> idx) -> Value {
            SmallVector<Value> at = {n, ch};
            Value inside = b.create<arith::ConstantOp>(l, b.getBoolAttr(true));
            Value zeroI = b.create<arith::ConstantIndexOp>(l, 0);
            for (int64_t i = 0; i < s; ++i) {
              Value last = b.create<arith::SubIOp>(l, len[i], b.create<arith::ConstantIndexOp>(l, 1));
              Value j = idx[i];
              if (pad == "reflection")
                j = toI(reflect(toF(j), lo[i], hi[i]));
              if (pad == "zeros") {
                Value ge = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::sge, j, zeroI);
                Value le = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::sle, j, last);
                inside = b.create<arith::AndIOp>(l, inside, b.create<arith::AndIOp>(l, ge, le));
              }
              at.push_back(b.create<arith::MaxSIOp>(l, b.create<arith::MinSIOp>(l, j, last), zeroI));
            }
            Value v = b.create<tensor::ExtractOp>(l, x, at);
            return pad == "zeros" ? o.sel(inside, v, o.c(0)) : v;
          };
          Value out;
          if (mode == "nearest") {
            SmallVector<Value> idx;
            for (int64_t i = 0; i < s; ++i)
              idx.push_back(toI(pos[i]));
            out = tap(idx);
          } else {
            bool cubic = mode == "cubic";
            int taps = cubic ? 4 : 2;
            SmallVector<SmallVector<Value>> ti(s), tw(s);
            for (int64_t i = 0; i < s; ++i) {
              Value f0 = b.create<math::FloorOp>(l, pos[i]);
              Value t = o.sub(pos[i], f0), i0 = toI(f0);
              SmallVector<Value> w;
              if (cubic) {
                double A = -0.75;
                auto far = [&](Value r) {
                  return o.sub(o.mul(o.add(o.mul(o.sub(o.mul(o.c(A), r), o.c(5 * A)), r), o.c(8 * A)), r), o.c(4 * A));
                };
                auto near = [&](Value r) { return o.add(o.mul(o.mul(o.sub(o.mul(o.c(A + 2), r), o.c(A + 3)), r), r), o.c(1)); };
                Value u = o.sub(o.c(1), t);
                w = {far(o.add(t, o.c(1))), near(t), near(u), far(o.add(u, o.c(1)))};
              } else {
                w = {o.sub(o.c(1), t), t};
              }
              for (int k = 0; k < taps; ++k) {
                ti[i].push_back(b.create<arith::AddIOp>(
                    l, i0, b.create<arith::ConstantIndexOp>(l, cubic ? k - 1 : k)));
                tw[i].push_back(w[k]);
              }
            }
            out = o.c(0);
            int total = 1;
            for (int64_t i = 0; i < s; ++i)
              total *= taps;
            for (int tIdx = 0; tIdx < total; ++tIdx) {
              SmallVector<Value> idx(s);
              Value wt = o.c(1);
              int rest = tIdx;
              for (int64_t i = 0; i < s; ++i) {
                idx[i] = ti[i][rest % taps];
                wt = o.mul(wt, tw[i][rest % taps]);
                rest /= taps;
              }
              out = o.add(out, o.mul(wt, tap(idx)));
            }
          }
          return out;
        });
    rw.replaceOp(op, gen);
    return success();
  }
};

/// Tile as a gather: out[i] = x[i mod dim].
struct TileLowering : MlcPattern<TileOp> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(TileOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    Value x = a.getInput();
    int64_t rank = type.getRank();
    VDims xd = dimsOf(rw, loc, x);
    SmallVector<OpFoldResult> outDims;
    SmallVector<Value> n(rank);
    for (int64_t d = 0; d < rank; ++d) {
      n[d] = getValueOrCreateConstantIndexOp(rw, loc, xd[d]);
      if (type.getDimSize(d) >= 0)
        outDims.push_back(rw.getIndexAttr(type.getDimSize(d)));
      else
        outDims.push_back(rw.create<arith::MulIOp>(loc, n[d], indexAt(rw, loc, a.getRepeats(), d))
                              .getResult());
    }
    Value gen = generate(rw, loc, outDims, type.getElementType(),
                         [&](OpBuilder &b, Location l) -> Value {
          SmallVector<Value> coords;
          for (int64_t d = 0; d < rank; ++d) {
            Value one = b.create<arith::ConstantIndexOp>(l, 1);
            Value safe = b.create<arith::MaxSIOp>(l, n[d], one);
            coords.push_back(b.create<arith::RemSIOp>(l, b.create<linalg::IndexOp>(l, d), safe));
          }
          return b.create<tensor::ExtractOp>(l, x, coords);
        });
    rw.replaceOp(op, castTo(rw, loc, gen, type));
    return success();
  }
};

struct TriluLowering : MlcPattern<TriluOp> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(TriluOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rw.getContext();
    Value x = a.getInput();
    int64_t rank = type.getRank();
    if (rank < 2)
      return op->emitError("Trilu needs a tensor of rank 2 or more");
    Value k;
    if (a.getK()) {
      auto kt = cast<RankedTensorType>(a.getK().getType());
      Value zero = rw.create<arith::ConstantIndexOp>(loc, 0);
      k = rw.create<tensor::ExtractOp>(loc, a.getK(), SmallVector<Value>(kt.getRank(), zero));
      if (k.getType() != rw.getI64Type())
        k = rw.create<arith::ExtSIOp>(loc, rw.getI64Type(), k);
    } else {
      k = rw.create<arith::ConstantOp>(loc, rw.getI64IntegerAttr(0));
    }
    bool upper = op.getUpper();
    Type elem = type.getElementType();
    Value init = emptyTensor(rw, loc, dimsOf(rw, loc, x), elem);
    auto id = AffineMap::getMultiDimIdentityMap(rank, ctx);
    auto g = rw.create<linalg::GenericOp>(
        loc, init.getType(), x, init, ArrayRef<AffineMap>{id, id},
        SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
        [&](OpBuilder &b, Location l, ValueRange v) {
          auto idx = [&](int64_t d) {
            return b.create<arith::IndexCastOp>(l, b.getI64Type(), b.create<linalg::IndexOp>(l, d));
          };
          Value diff = b.create<arith::SubIOp>(l, idx(rank - 1), idx(rank - 2));
          Value keep = b.create<arith::CmpIOp>(
              l, upper ? arith::CmpIPredicate::sge : arith::CmpIPredicate::sle, diff, k);
          Value zero = b.create<arith::ConstantOp>(l, zeroAttr(b, elem));
          b.create<linalg::YieldOp>(l, b.create<arith::SelectOp>(l, keep, v[0], zero).getResult());
        });
    rw.replaceOp(op, g.getResult(0));
    return success();
  }
};

/// CumSum/CumProd as a masked reduction over a second copy of the axis:
/// out[j] sums (multiplies) x[k] for k <= j (k < j exclusive; k >= j / k > j
/// reversed).
struct CumSumLowering : MlcPattern<CumSumOp> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(CumSumOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rw.getContext();
    Value x = a.getInput();
    int64_t rank = type.getRank(), axis = op.getAxis();
    Type elem = type.getElementType();
    if (!elem.isIntOrFloat() || elem.isInteger(1))
      return op->emitError("element type ") << elem << " is not supported";
    bool isFloat = isa<FloatType>(elem), excl = op.getExclusive(), rev = op.getReverse(),
         prod = op.getProduct();
    TypedAttr identity = prod ? (isFloat ? TypedAttr(rw.getFloatAttr(elem, 1.0))
                                         : TypedAttr(rw.getIntegerAttr(elem, 1)))
                              : zeroAttr(rw, elem);
    Value init = filledTensor(rw, loc, dimsOf(rw, loc, x), elem, identity);
    auto pred = rev ? (excl ? arith::CmpIPredicate::sgt : arith::CmpIPredicate::sge)
                    : (excl ? arith::CmpIPredicate::slt : arith::CmpIPredicate::sle);
    auto add = [&](OpBuilder &b, Location l, Value take, Value v, Value acc) -> Value {
      Value none = b.create<arith::ConstantOp>(l, identity);
      Value in = b.create<arith::SelectOp>(l, take, v, none);
      if (prod)
        return isFloat ? b.create<arith::MulFOp>(l, in, acc).getResult()
                       : b.create<arith::MulIOp>(l, in, acc).getResult();
      return isFloat ? b.create<arith::AddFOp>(l, in, acc).getResult()
                     : b.create<arith::AddIOp>(l, in, acc).getResult();
    };
    if (Value axisIn = a.getAxisInput()) {
      // The axis is known at run time only: a gather per element, with the
      // reduced loop as long as the axis (a tensor.dim with a run-time index).
      auto at = cast<RankedTensorType>(axisIn.getType());
      Value zero = rw.create<arith::ConstantIndexOp>(loc, 0);
      Value ax = rw.create<arith::IndexCastOp>(
          loc, rw.getIndexType(),
          rw.create<tensor::ExtractOp>(loc, axisIn, SmallVector<Value>(at.getRank(), zero)));
      Value r = rw.create<arith::ConstantIndexOp>(loc, rank);
      Value neg = rw.create<arith::CmpIOp>(loc, arith::CmpIPredicate::slt, ax, zero);
      ax = rw.create<arith::SelectOp>(loc, neg, rw.create<arith::AddIOp>(loc, ax, r), ax);
      Value len = rw.create<tensor::DimOp>(loc, x, ax);
      Value sizes = emptyTensor(rw, loc, {OpFoldResult(len)}, rw.getI8Type());
      SmallVector<AffineExpr> oe;
      for (int64_t d = 0; d < rank; ++d)
        oe.push_back(getAffineDimExpr(d, ctx));
      SmallVector<utils::IteratorType> its(rank, utils::IteratorType::parallel);
      its.push_back(utils::IteratorType::reduction);
      auto g = rw.create<linalg::GenericOp>(
          loc, init.getType(), sizes, init,
          ArrayRef<AffineMap>{AffineMap::get(rank + 1, 0, getAffineDimExpr(rank, ctx)),
                              AffineMap::get(rank + 1, 0, oe, ctx)},
          its, [&](OpBuilder &b, Location l, ValueRange v) {
            Value k = b.create<linalg::IndexOp>(l, rank);
            SmallVector<Value> coords;
            Value j = b.create<arith::ConstantIndexOp>(l, 0);
            for (int64_t d = 0; d < rank; ++d) {
              Value i = b.create<linalg::IndexOp>(l, d);
              Value here = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq, ax,
                                                   b.create<arith::ConstantIndexOp>(l, d));
              coords.push_back(b.create<arith::SelectOp>(l, here, k, i));
              j = b.create<arith::SelectOp>(l, here, i, j);
            }
            Value take = b.create<arith::CmpIOp>(l, pred, k, j);
            Value e = b.create<tensor::ExtractOp>(l, x, coords);
            b.create<linalg::YieldOp>(l, add(b, l, take, e, v[1]));
          });
      rw.replaceOp(op, g.getResult(0));
      return success();
    }
    SmallVector<AffineExpr> xe, oe;
    for (int64_t d = 0; d < rank; ++d) {
      xe.push_back(getAffineDimExpr(d == axis ? rank : d, ctx));
      oe.push_back(getAffineDimExpr(d, ctx));
    }
    SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
    iters.push_back(utils::IteratorType::reduction);
    auto g = rw.create<linalg::GenericOp>(
        loc, init.getType(), x, init,
        ArrayRef<AffineMap>{AffineMap::get(rank + 1, 0, xe, ctx),
                            AffineMap::get(rank + 1, 0, oe, ctx)},
        iters, [&](OpBuilder &b, Location l, ValueRange v) {
          Value take = b.create<arith::CmpIOp>(l, pred, b.create<linalg::IndexOp>(l, rank),
                                               b.create<linalg::IndexOp>(l, axis));
          b.create<linalg::YieldOp>(l, add(b, l, take, v[0], v[1]));
        });
    rw.replaceOp(op, g.getResult(0));
    return success();
  }
};

/// Pad as a gather: each output element reads the input element its mode
/// maps it to (or the constant, outside the input in constant mode).
struct PadLowering : MlcPattern<PadOp> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(PadOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rw.getContext();
    Value x = a.getInput(), pads = a.getPads();
    auto xt = cast<RankedTensorType>(x.getType());
    Type elem = xt.getElementType();
    int64_t rank = xt.getRank();
    auto axes = op.getAxes();
    VDims xd = dimsOf(rw, loc, x);
    SmallVector<Value> begin(rank), n(rank);
    SmallVector<OpFoldResult> outDims;
    Value zero = rw.create<arith::ConstantIndexOp>(loc, 0);
    for (int64_t d = 0; d < rank; ++d) {
      n[d] = getValueOrCreateConstantIndexOp(rw, loc, xd[d]);
      begin[d] = zero;
      outDims.push_back(xd[d]);
    }
    for (size_t k = 0; k < axes.size(); ++k) {
      int64_t d = axes[k];
      begin[d] = indexAt(rw, loc, pads, k);
      Value end = indexAt(rw, loc, pads, k + axes.size());
      outDims[d] = rw.create<arith::AddIOp>(loc, rw.create<arith::AddIOp>(loc, n[d], begin[d]), end)
                       .getResult();
    }
    for (int64_t d = 0; d < rank; ++d)
      if (type.getDimSize(d) >= 0)
        outDims[d] = rw.getIndexAttr(type.getDimSize(d));
    Value cval;
    if (a.getValue() && cast<RankedTensorType>(a.getValue().getType()).getNumElements() != 0) {
      auto vt = cast<RankedTensorType>(a.getValue().getType());
      SmallVector<Value> at(vt.getRank(), zero);
      cval = rw.create<tensor::ExtractOp>(loc, a.getValue(), at);
    } else {
      cval = rw.create<arith::ConstantOp>(loc, zeroAttr(rw, elem));
    }
    PadMode mode = op.getMode();
    Value gen = generate(rw, loc, outDims, elem,
                         [&](OpBuilder &b, Location l) -> Value {
          Value inside = b.create<arith::ConstantOp>(l, b.getBoolAttr(true));
          Value one = b.create<arith::ConstantIndexOp>(l, 1), z = b.create<arith::ConstantIndexOp>(l, 0);
          SmallVector<Value> coords;
          for (int64_t d = 0; d < rank; ++d) {
            Value i = b.create<arith::SubIOp>(l, b.create<linalg::IndexOp>(l, d), begin[d]);
            Value last = b.create<arith::SubIOp>(l, n[d], one);
            auto clamp = [&](Value v) {
              return b.create<arith::MaxSIOp>(l, b.create<arith::MinSIOp>(l, v, last), z).getResult();
            };
            auto posMod = [&](Value v, Value m) { // v mod m in [0, m), m > 0
              Value safe = b.create<arith::MaxSIOp>(l, m, one);
              Value r = b.create<arith::RemSIOp>(l, v, safe);
              Value neg = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::slt, r, z);
              return b.create<arith::SelectOp>(l, neg, b.create<arith::AddIOp>(l, r, safe), r)
                  .getResult();
            };
            switch (mode) {
            case PadMode::Constant: {
              Value ge = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::sge, i, z);
              Value lt = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::slt, i, n[d]);
              inside = b.create<arith::AndIOp>(l, inside, b.create<arith::AndIOp>(l, ge, lt));
              i = clamp(i);
              break;
            }
            case PadMode::Edge: i = clamp(i); break;
            case PadMode::Wrap: i = posMod(i, n[d]); break;
            case PadMode::Reflect: {
              // period 2(n-1); the second half of a period runs back.
              Value period = b.create<arith::MulIOp>(l, last, b.create<arith::ConstantIndexOp>(l, 2));
              Value m = posMod(i, period);
              Value back = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::sge, m, n[d]);
              i = clamp(b.create<arith::SelectOp>(l, back, b.create<arith::SubIOp>(l, period, m), m));
              break;
            }
            }
            coords.push_back(i);
          }
          Value v = b.create<tensor::ExtractOp>(l, x, coords);
          if (mode == PadMode::Constant)
            v = b.create<arith::SelectOp>(l, inside, v, cval);
          return v;
        });
    rw.replaceOp(op, castTo(rw, loc, gen, type));
    return success();
  }
};


/// ONNX Slice. Positive steps: starts/ends wrap once when negative and
/// are clamped to [0, dim]; the size is ceil((end - start) / step) or 0.
struct SliceLowering : MlcPattern<SliceOp> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(SliceOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    Value x = a.getInput();
    unsigned rank = type.getRank();
    VDims xd = dimsOf(rw, loc, x);
    SmallVector<OpFoldResult> offs(rank, rw.getIndexAttr(0)), sizes(xd.begin(), xd.end()),
        strides(rank, rw.getIndexAttr(1));
    auto c = [&](int64_t v) { return rw.create<arith::ConstantIndexOp>(loc, v).getResult(); };
    SmallVector<int64_t> reversed; // axes with a negative step
    for (auto [i, axis] : llvm::enumerate(op.getAxes())) {
      int64_t step = op.getSteps()[i];
      Value dim = getValueOrCreateConstantIndexOp(rw, loc, xd[axis]);
      auto wrap = [&](Value v) {
        Value neg = rw.create<arith::CmpIOp>(loc, arith::CmpIPredicate::slt, v, c(0));
        return rw.create<arith::SelectOp>(loc, neg, rw.create<arith::AddIOp>(loc, v, dim), v)
            .getResult();
      };
      auto clamp = [&](Value v, Value lo, Value hi) {
        return rw.create<arith::MinSIOp>(loc, rw.create<arith::MaxSIOp>(loc, v, lo), hi).getResult();
      };
      // INT64_MAX-style ends overflow index arithmetic only after wrapping,
      // which the clamp above never reaches for non-negative values.
      Value b0 = wrap(indexAt(rw, loc, a.getStarts(), i));
      Value e0 = wrap(indexAt(rw, loc, a.getEnds(), i));
      if (step > 0) {
        b0 = clamp(b0, c(0), dim);
        e0 = clamp(e0, c(0), dim);
        Value len = rw.create<arith::MaxSIOp>(loc, rw.create<arith::SubIOp>(loc, e0, b0), c(0));
        offs[axis] = b0;
        sizes[axis] = rw.create<arith::CeilDivSIOp>(loc, len, c(step)).getResult();
        strides[axis] = rw.getIndexAttr(step);
        continue;
      }
      // A negative step: take the same elements in ascending order (from
      // the last one reached, stride -step), then reverse them.
      Value last = rw.create<arith::SubIOp>(loc, dim, c(1));
      b0 = clamp(b0, c(0), last);
      e0 = clamp(e0, c(-1), last);
      Value len = rw.create<arith::MaxSIOp>(loc, rw.create<arith::SubIOp>(loc, b0, e0), c(0));
      Value n = rw.create<arith::CeilDivSIOp>(loc, len, c(-step));
      Value span = rw.create<arith::MulIOp>(
          loc, rw.create<arith::MaxSIOp>(loc, rw.create<arith::SubIOp>(loc, n, c(1)), c(0)), c(-step));
      offs[axis] = rw.create<arith::SubIOp>(loc, b0, span).getResult();
      sizes[axis] = n;
      strides[axis] = rw.getIndexAttr(-step);
      reversed.push_back(axis);
    }
    if (!reversed.empty()) {
      Value fwd = rw.create<tensor::ExtractSliceOp>(loc, x, offs, sizes, strides);
      MLIRContext *ctx = rw.getContext();
      auto id = AffineMap::getMultiDimIdentityMap(rank, ctx);
      VDims fd = dimsOf(rw, loc, fwd);
      Value gen = generate(rw, loc, fd, type.getElementType(),
                           [&](OpBuilder &b, Location l) -> Value {
            SmallVector<Value> coords;
            for (unsigned d = 0; d < rank; ++d) {
              Value i = b.create<linalg::IndexOp>(l, d);
              if (llvm::is_contained(reversed, (int64_t)d)) {
                Value n = getValueOrCreateConstantIndexOp(b, l, fd[d]);
                Value one = b.create<arith::ConstantIndexOp>(l, 1);
                i = b.create<arith::SubIOp>(l, b.create<arith::SubIOp>(l, n, one), i);
              }
              coords.push_back(i);
            }
            return b.create<tensor::ExtractOp>(l, fwd, coords);
          });
      rw.replaceOp(op, castTo(rw, loc, gen, type));
      return success();
    }
    Value r = rw.create<tensor::ExtractSliceOp>(loc, x, offs, sizes, strides);
    rw.replaceOp(op, castTo(rw, loc, r, type));
    return success();
  }
};

/// Numpy broadcast to a shape tensor: out[i] = shape[i] == 1 ? in[i] : shape[i].
struct ExpandLowering : MlcPattern<ExpandOp> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(ExpandOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    Value x = a.getInput();
    auto xt = cast<RankedTensorType>(x.getType());
    unsigned rank = type.getRank(), off = rank - xt.getRank();
    auto st = cast<RankedTensorType>(a.getShape().getType());
    unsigned n = st.getDimSize(0);
    VDims xd = dimsOf(rw, loc, x);
    auto c = [&](int64_t v) { return rw.create<arith::ConstantIndexOp>(loc, v).getResult(); };
    SmallVector<OpFoldResult> out;
    for (unsigned d = 0; d < rank; ++d) {
      if (!type.isDynamicDim(d)) {
        out.push_back(rw.getIndexAttr(type.getDimSize(d)));
        continue;
      }
      Value t = d + n >= rank ? indexAt(rw, loc, a.getShape(), d - (rank - n)) : c(1);
      if (d < off) {
        out.push_back(t);
        continue;
      }
      Value in = getValueOrCreateConstantIndexOp(rw, loc, xd[d - off]);
      Value isOne = rw.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, t, c(1));
      out.push_back(rw.create<arith::SelectOp>(loc, isOne, in, t).getResult());
    }
    MLIRContext *ctx = rw.getContext();
    Value init = emptyTensor(rw, loc, out, type.getElementType());
    SmallVector<utils::IteratorType> par(rank, utils::IteratorType::parallel);
    auto g = rw.create<linalg::GenericOp>(
        loc, init.getType(), x, init,
        ArrayRef<AffineMap>{broadcastMap(ctx, x, rank, out),
                            AffineMap::getMultiDimIdentityMap(rank, ctx)},
        par, [](OpBuilder &b, Location l, ValueRange v) { b.create<linalg::YieldOp>(l, v[0]); });
    Value r = g.getResult(0);
    rw.replaceOp(op, castTo(rw, loc, r, type));
    return success();
  }
};

/// start + i * delta for i < max(0, ceil((limit - start) / delta)).
struct RangeLowering : MlcPattern<RangeOp> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(RangeOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    Type elem = type.getElementType();
    auto scalar = [&](Value t) {
      return rw.create<tensor::ExtractOp>(loc, t, ValueRange{}).getResult();
    };
    Value start = scalar(a.getStart()), limit = scalar(a.getLimit()), delta = scalar(a.getDelta());
    Value n;
    if (isa<FloatType>(elem)) {
      Value q = rw.create<arith::DivFOp>(loc, rw.create<arith::SubFOp>(loc, limit, start), delta);
      q = rw.create<math::CeilOp>(loc, q);
      // NaN (0 / 0) and infinities (a zero delta) count as no elements.
      Value huge = rw.create<arith::ConstantOp>(loc, rw.getFloatAttr(elem, 9.0e18));
      Value finite = rw.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OLT,
                                              rw.create<math::AbsFOp>(loc, q), huge);
      q = rw.create<arith::SelectOp>(loc, finite, q, rw.create<arith::ConstantOp>(
                                                         loc, rw.getFloatAttr(elem, 0.0)));
      n = rw.create<arith::FPToSIOp>(loc, rw.getI64Type(), q);
    } else {
      // A zero delta (refused at compile time when it is a constant) gives
      // an empty range rather than a trap.
      Value diff = rw.create<arith::SubIOp>(loc, limit, start);
      Value zeroDelta = rw.create<arith::CmpIOp>(
          loc, arith::CmpIPredicate::eq, delta,
          rw.create<arith::ConstantOp>(loc, rw.getZeroAttr(elem)));
      n = divSIDefined(rw, loc, diff, delta, /*ceil=*/true);
      n = rw.create<arith::SelectOp>(loc, zeroDelta,
                                     rw.create<arith::ConstantOp>(loc, rw.getZeroAttr(elem)), n);
      if (!elem.isInteger(64))
        n = rw.create<arith::ExtSIOp>(loc, rw.getI64Type(), n).getResult();
    }
    Value zero = rw.create<arith::ConstantOp>(loc, rw.getI64IntegerAttr(0));
    n = rw.create<arith::MaxSIOp>(loc, n, zero);
    Value len = rw.create<arith::IndexCastOp>(loc, rw.getIndexType(), n);
    MLIRContext *ctx = rw.getContext();
    Value init = rw.create<tensor::EmptyOp>(loc, RankedTensorType::get({ShapedType::kDynamic}, elem),
                                            ValueRange{len});
    auto id = AffineMap::getMultiDimIdentityMap(1, ctx);
    auto g = rw.create<linalg::GenericOp>(
        loc, init.getType(), ValueRange{}, init, ArrayRef<AffineMap>{id},
        utils::IteratorType::parallel, [&](OpBuilder &b, Location l, ValueRange) {
          Value i = b.create<linalg::IndexOp>(l, 0);
          Value iv = b.create<arith::IndexCastOp>(l, b.getI64Type(), i);
          Value r;
          if (isa<FloatType>(elem)) {
            Value f = b.create<arith::SIToFPOp>(l, elem, iv);
            r = b.create<arith::AddFOp>(l, start, b.create<arith::MulFOp>(l, f, delta));
          } else {
            Value k = elem.isInteger(64) ? iv : b.create<arith::TruncIOp>(l, elem, iv).getResult();
            r = b.create<arith::AddIOp>(l, start, b.create<arith::MulIOp>(l, k, delta));
          }
          b.create<linalg::YieldOp>(l, r);
        });
    Value r = g.getResult(0);
    rw.replaceOp(op, castTo(rw, loc, r, type));
    return success();
  }
};

} // namespace

void lower::populateTensorPatterns(RewritePatternSet &p) {
  p.add<SliceLowering, ExpandLowering, RangeLowering, GatherElementsLowering, GatherNDLowering,
        ScatterNDLowering, ScatterElementsLowering, NonZeroLowering, TopKLowering,
        GridSampleLowering, NonMaxSuppressionLowering, SliceDynamicLowering, PadLowering,
        TriluLowering, CumSumLowering, ResizeLowering, TileLowering>(p.getContext());
  p.add<ConstantLowering, ReshapeLikeLowering<FlattenOp>,
        ReshapeLikeLowering<ReshapeOp>, ReshapeLikeLowering<UnsqueezeOp>,
        ReshapeLikeLowering<SqueezeOp>, TransposeLowering, ConcatLowering,
        ShapeLowering, GatherLowering>(p.getContext());
}
