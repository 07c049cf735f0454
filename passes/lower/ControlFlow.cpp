//===- ControlFlow.cpp - mlc.if / mlc.loop -> scf ------------------------===//
//
// mlc.if becomes scf.if on the extracted condition; its regions move
// over unchanged and their mlc.yield becomes scf.yield. mlc.loop becomes an
// scf.while whose state is the iteration number (i64), the condition (i1),
// the carried tensors and one buffer per scan output: [trip count, element
// dims], into which each iteration inserts its element; after the loop each
// is sliced to the iterations that ran. The ops in the regions are lowered
// like any other; fusion and kernel outlining then work block by block, so
// a loop body's kernels are called from the host schedule's loop.
//
//===----------------------------------------------------------------------===//
#include "passes/lower/Common.h"

#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlc;
using namespace mlc::lower;

namespace {

Value extractScalar(OpBuilder &b, Location loc, Value t) {
  return b.create<tensor::ExtractOp>(loc, t, ValueRange{});
}

Value toTensor(OpBuilder &b, Location loc, Value scalar) {
  return b.create<tensor::FromElementsOp>(loc, RankedTensorType::get({}, scalar.getType()),
                                          scalar);
}

LogicalResult rankedResults(Operation *op, SmallVectorImpl<Type> &types) {
  for (Type t : op->getResultTypes()) {
    if (!isa<RankedTensorType>(t))
      return op->emitError("the shape of a result of this node is not known");
    types.push_back(t);
  }
  return success();
}

struct IfLowering : OpConversionPattern<IfOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(IfOp op, OpAdaptor a,
                                ConversionPatternRewriter &rw) const override {
    SmallVector<Type> types;
    if (failed(rankedResults(op, types)))
      return failure();
    Location loc = op.getLoc();
    Value cond = extractScalar(rw, loc, a.getCond());
    auto sif = rw.create<scf::IfOp>(loc, types, cond, /*addThenBlock=*/false,
                                    /*addElseBlock=*/false);
    rw.inlineRegionBefore(op.getThenRegion(), sif.getThenRegion(), sif.getThenRegion().end());
    rw.inlineRegionBefore(op.getElseRegion(), sif.getElseRegion(), sif.getElseRegion().end());
    rw.replaceOp(op, sif.getResults());
    return success();
  }
};

/// The yield of an If's branch (a Loop's is rewritten with its loop).
struct YieldLowering : OpConversionPattern<YieldOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(YieldOp op, OpAdaptor a,
                                ConversionPatternRewriter &rw) const override {
    auto parent = dyn_cast<scf::IfOp>(op->getParentOp());
    if (!parent)
      return failure();
    SmallVector<Value> values;
    for (auto [v, t] : llvm::zip(a.getValues(), parent.getResultTypes()))
      values.push_back(castTo(rw, op.getLoc(), v, cast<RankedTensorType>(t)));
    rw.replaceOpWithNewOp<scf::YieldOp>(op, values);
    return success();
  }
};

struct LoopLowering : OpConversionPattern<LoopOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(LoopOp op, OpAdaptor a,
                                ConversionPatternRewriter &rw) const override {
    SmallVector<Type> types;
    if (failed(rankedResults(op, types)))
      return failure();
    Location loc = op.getLoc();
    Block &body = op.getBody().front();
    auto yield = cast<YieldOp>(body.getTerminator());
    size_t nc = op.getCarried().size(), scans = op.getNumResults() - nc;
    Type i64 = rw.getI64Type(), i1 = rw.getI1Type();

    Value maxTrip = extractScalar(rw, loc, a.getMaxTrip());
    Value cond = extractScalar(rw, loc, a.getCond());
    Value zero = rw.create<arith::ConstantIntOp>(loc, 0, 64);
    Value one = rw.create<arith::ConstantIntOp>(loc, 1, 64);

    // State: iteration, condition, carried values, scan buffers.
    SmallVector<Value> init = {zero, cond};
    for (auto [v, arg] : llvm::zip(a.getCarried(), body.getArguments().drop_front(2)))
      init.push_back(castTo(rw, loc, v, cast<RankedTensorType>(arg.getType())));
    SmallVector<RankedTensorType> elems;
    if (scans) {
      if (auto c = getConstantIntValue(maxTrip);
          c && *c == std::numeric_limits<int64_t>::max())
        return op.emitError("a Loop with scan outputs needs a trip count (input M): the "
                            "outputs are sized by it");
      Value rows = rw.create<arith::IndexCastOp>(
          loc, rw.getIndexType(), rw.create<arith::MaxSIOp>(loc, maxTrip, zero));
      for (size_t k = 0; k < scans; ++k) {
        auto elem = dyn_cast<RankedTensorType>(yield.getOperand(1 + nc + k).getType());
        if (!elem)
          return op.emitError("the shape of scan output #") << k << " is not known";
        elems.push_back(elem);
        // Elements of a run-time shape: the buffer grows by a row per
        // iteration (it starts empty); static ones fill a buffer of M rows.
        SmallVector<OpFoldResult> dims = {elem.hasStaticShape() ? OpFoldResult(rows)
                                                                : rw.getIndexAttr(0)};
        for (int64_t d : elem.getShape())
          dims.push_back(rw.getIndexAttr(ShapedType::isDynamic(d) ? 0 : d));
        Value buffer = emptyTensor(rw, loc, dims, elem.getElementType());
        if (!elem.hasStaticShape()) {
          SmallVector<int64_t> dyn(elem.getRank() + 1, ShapedType::kDynamic);
          buffer = rw.create<tensor::CastOp>(
              loc, RankedTensorType::get(dyn, elem.getElementType()), buffer);
        }
        init.push_back(buffer);
      }
    }
    SmallVector<Type> stateTypes;
    for (Value v : init)
      stateTypes.push_back(v.getType());
    auto loop = rw.create<scf::WhileOp>(loc, stateTypes, init);

    // Before: run while the iteration is below the trip count and the
    // condition holds.
    SmallVector<Location> locs(stateTypes.size(), loc);
    Block *before = rw.createBlock(&loop.getBefore(), {}, stateTypes, locs);
    {
      Value below = rw.create<arith::CmpIOp>(loc, arith::CmpIPredicate::slt,
                                             before->getArgument(0), maxTrip);
      Value go = rw.create<arith::AndIOp>(loc, below, before->getArgument(1));
      rw.create<scf::ConditionOp>(loc, go, before->getArguments());
    }

    // After: the body, on tensors made from the state.
    Block *after = rw.createBlock(&loop.getAfter(), {}, stateTypes, locs);
    SmallVector<Value> bodyArgs = {toTensor(rw, loc, after->getArgument(0)),
                                   toTensor(rw, loc, after->getArgument(1))};
    for (size_t k = 0; k < nc; ++k)
      bodyArgs.push_back(after->getArgument(2 + k));
    rw.mergeBlocks(&body, after, bodyArgs);
    rw.setInsertionPoint(yield);
    SmallVector<Value> next = {rw.create<arith::AddIOp>(loc, after->getArgument(0), one),
                               extractScalar(rw, loc, yield.getOperand(0))};
    for (size_t k = 0; k < nc; ++k)
      next.push_back(castTo(rw, loc, yield.getOperand(1 + k),
                            cast<RankedTensorType>(stateTypes[2 + k])));
    Value row = rw.create<arith::IndexCastOp>(loc, rw.getIndexType(), after->getArgument(0));
    for (size_t k = 0; k < scans; ++k) {
      RankedTensorType elem = elems[k];
      Value element = yield.getOperand(1 + nc + k);
      Value buffer = after->getArgument(2 + nc + k);
      VDims elemDims = dimsOf(rw, loc, element);
      SmallVector<OpFoldResult> offsets = {row}, sizes = {rw.getIndexAttr(1)},
                                strides(elem.getRank() + 1, rw.getIndexAttr(1)),
                                zeros(elem.getRank() + 1, rw.getIndexAttr(0));
      for (OpFoldResult d : elemDims) {
        offsets.push_back(rw.getIndexAttr(0));
        sizes.push_back(d);
      }
      if (!elem.hasStaticShape()) {
        // A buffer one row longer, holding the rows so far.
        Value rows = rw.create<arith::AddIOp>(loc, row, rw.create<arith::ConstantIndexOp>(loc, 1));
        SmallVector<OpFoldResult> grown = {rows}, kept = {row};
        llvm::append_range(grown, elemDims);
        llvm::append_range(kept, elemDims);
        Value larger = emptyTensor(rw, loc, grown, elem.getElementType());
        Value before = rw.create<tensor::ExtractSliceOp>(loc, buffer, zeros, kept, strides);
        larger = rw.create<tensor::InsertSliceOp>(loc, before, larger, zeros, kept, strides);
        buffer = castTo(rw, loc, larger, cast<RankedTensorType>(buffer.getType()));
      }
      next.push_back(
          rw.create<tensor::InsertSliceOp>(loc, element, buffer, offsets, sizes, strides));
    }
    rw.create<scf::YieldOp>(loc, next);
    rw.eraseOp(yield);

    // Results: the carried values; the scan buffers cut to the iterations run.
    rw.setInsertionPointAfter(loop);
    SmallVector<Value> results;
    for (size_t k = 0; k < nc; ++k)
      results.push_back(castTo(rw, loc, loop.getResult(2 + k), cast<RankedTensorType>(types[k])));
    Value ran = rw.create<arith::IndexCastOp>(loc, rw.getIndexType(), loop.getResult(0));
    for (size_t k = 0; k < scans; ++k) {
      RankedTensorType elem = elems[k];
      Value sliced = loop.getResult(2 + nc + k);
      if (elem.hasStaticShape()) {
        SmallVector<OpFoldResult> offsets(elem.getRank() + 1, rw.getIndexAttr(0)),
            sizes = {ran}, strides(elem.getRank() + 1, rw.getIndexAttr(1));
        for (int64_t d : elem.getShape())
          sizes.push_back(rw.getIndexAttr(d));
        sliced = rw.create<tensor::ExtractSliceOp>(loc, sliced, offsets, sizes, strides);
      }
      results.push_back(castTo(rw, loc, sliced, cast<RankedTensorType>(types[nc + k])));
    }
    rw.replaceOp(op, results);
    return success();
  }
};

} // namespace

void lower::populateControlFlowPatterns(RewritePatternSet &p) {
  p.add<IfLowering, YieldLowering, LoopLowering>(p.getContext());
}
