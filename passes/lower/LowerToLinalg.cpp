//===- LowerToLinalg.cpp - the mlc -> linalg/tensor full conversion ------===//
//
// One pattern per mlc op, grouped by family in the sibling files. The
// conversion is total: an mlc op left over is an error naming its node.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"
#include "passes/lower/Common.h"

#include "mlir/Dialect/SCF/IR/SCF.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Utils/ReshapeOpsUtils.h"

using namespace mlir;
using namespace mlc;
using namespace mlc::lower;

VDims lower::dimsOf(OpBuilder &b, Location loc, Value v) {
  auto t = cast<RankedTensorType>(v.getType());
  VDims out;
  for (int64_t i = 0; i < t.getRank(); ++i)
    out.push_back(t.isDynamicDim(i)
                      ? OpFoldResult(b.create<tensor::DimOp>(loc, v, i).getResult())
                      : OpFoldResult(b.getIndexAttr(t.getDimSize(i))));
  return out;
}

Value lower::emptyTensor(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> dims,
                         Type elem) {
  return b.create<tensor::EmptyOp>(loc, dims, elem);
}

Value lower::filledTensor(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> dims,
                          Type elem, TypedAttr value) {
  Value empty = emptyTensor(b, loc, dims, elem);
  Value c = b.create<arith::ConstantOp>(loc, value);
  return b.create<linalg::FillOp>(loc, c, empty).getResult(0);
}

Value lower::mapTensor(OpBuilder &b, Location loc, Value in, Type elem,
                       function_ref<Value(OpBuilder &, Location, Value)> fn) {
  unsigned rank = cast<RankedTensorType>(in.getType()).getRank();
  Value out = emptyTensor(b, loc, dimsOf(b, loc, in), elem);
  auto id = AffineMap::getMultiDimIdentityMap(rank, b.getContext());
  SmallVector<utils::IteratorType> par(rank, utils::IteratorType::parallel);
  return b
      .create<linalg::GenericOp>(loc, out.getType(), in, out, ArrayRef<AffineMap>{id, id}, par,
                                 [&](OpBuilder &nb, Location l, ValueRange v) {
                                   nb.create<linalg::YieldOp>(l, fn(nb, l, v[0]));
                                 })
      .getResult(0);
}

Value lower::generate(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> dims, Type elem,
                      function_ref<Value(OpBuilder &, Location)> body) {
  unsigned rank = dims.size();
  Value out = emptyTensor(b, loc, dims, elem);
  auto id = AffineMap::getMultiDimIdentityMap(rank, b.getContext());
  SmallVector<utils::IteratorType> par(rank, utils::IteratorType::parallel);
  return b
      .create<linalg::GenericOp>(loc, out.getType(), ValueRange{}, out, ArrayRef<AffineMap>{id},
                                 par,
                                 [&](OpBuilder &nb, Location l, ValueRange) {
                                   nb.create<linalg::YieldOp>(l, body(nb, l));
                                 })
      .getResult(0);
}

Value lower::castTo(OpBuilder &b, Location loc, Value v, RankedTensorType type) {
  return v.getType() == type ? v : b.create<tensor::CastOp>(loc, type, v).getResult();
}

TypedAttr lower::zeroAttr(OpBuilder &b, Type elem) {
  return cast<TypedAttr>(b.getZeroAttr(elem));
}

TypedAttr lower::lowestAttr(OpBuilder &b, Type elem) { return lowerAttr(b, elem, false); }

TypedAttr lower::lowerAttr(OpBuilder &b, Type elem, bool highest, bool isUnsigned) {
  if (auto f = dyn_cast<FloatType>(elem))
    return b.getFloatAttr(elem, APFloat::getInf(f.getFloatSemantics(), !highest));
  unsigned w = cast<IntegerType>(elem).getWidth();
  if (isUnsigned)
    return b.getIntegerAttr(elem, highest ? APInt::getMaxValue(w) : APInt::getMinValue(w));
  return b.getIntegerAttr(elem, highest ? APInt::getSignedMaxValue(w)
                                        : APInt::getSignedMinValue(w));
}

/// Unsigned integer tensors (uint8..uint64) become signless, as arith
/// wants; the mlc ops that read them are marked `mlc.unsigned` (a Cast that
/// writes one `mlc.unsigned_result`) so that their converters pick the
/// unsigned forms: divui, cmpi ult, uitofp, maxui. The artifact's I/O table
/// was taken before this, so the ABI still says uint.
static void makeSignless(ModuleOp m) {
  auto isUnsigned = [](Type t) {
    auto st = dyn_cast<ShapedType>(t);
    return st && st.getElementType().isUnsignedInteger();
  };
  auto signless = [&](Type t) -> Type {
    if (!isUnsigned(t))
      return t;
    auto st = cast<ShapedType>(t);
    return st.clone(IntegerType::get(t.getContext(), st.getElementTypeBitWidth()));
  };
  // Mark first, while every tensor still has its ONNX type: the second
  // walk changes the types of results that later ops read.
  m.walk([&](Operation *op) {
    if (!isa<MlcDialect>(op->getDialect()))
      return;
    bool in = llvm::any_of(op->getOperandTypes(), isUnsigned);
    bool out = llvm::any_of(op->getResultTypes(), isUnsigned);
    UnitAttr unit = UnitAttr::get(op->getContext());
    if (in || (out && !isa<CastOp>(op)))
      op->setAttr("mlc.unsigned", unit);
    if (out && isa<CastOp>(op))
      op->setAttr("mlc.unsigned_result", unit);
  });
  m.walk([&](Operation *op) {
    if (auto c = dyn_cast<ConstantOp>(op); c && isUnsigned(c.getType()))
      if (auto d = dyn_cast<DenseElementsAttr>(c.getValue()))
        c.setValueAttr(d.bitcast(cast<ShapedType>(signless(d.getType())).getElementType()));
    for (Region &r : op->getRegions())
      for (Block &b : r)
        for (BlockArgument arg : b.getArguments())
          arg.setType(signless(arg.getType()));
    for (OpResult r : op->getResults())
      r.setType(signless(r.getType()));
    if (auto f = dyn_cast<func::FuncOp>(op)) {
      auto ft = f.getFunctionType();
      SmallVector<Type> ins, outs;
      for (Type t : ft.getInputs())
        ins.push_back(signless(t));
      for (Type t : ft.getResults())
        outs.push_back(signless(t));
      f.setFunctionType(FunctionType::get(f.getContext(), ins, outs));
    }
  });
}

FailureOr<RankedTensorType> lower::resultTypeOf(Operation *op) {
  auto t = dyn_cast<RankedTensorType>(op->getResult(0).getType());
  if (!t) {
    op->emitError("the shape of this result is not known; give the model's "
                  "input shapes (--shape) or report the model");
    return failure();
  }
  return t;
}

LogicalResult lower::requireFloat(Operation *op, Value t) {
  if (!isa<FloatType>(cast<ShapedType>(t.getType()).getElementType()))
    return op->emitError("only floating-point inputs are supported");
  return success();
}

AffineMap lower::broadcastMap(MLIRContext *ctx, Value v, unsigned rank,
                              ArrayRef<OpFoldResult> outDims) {
  auto t = cast<RankedTensorType>(v.getType());
  unsigned off = rank - t.getRank();
  SmallVector<AffineExpr> exprs;
  for (unsigned i = 0; i < t.getRank(); ++i) {
    auto out = getConstantIntValue(outDims[off + i]);
    bool broadcast = t.getDimSize(i) == 1 && !(out && *out == 1);
    exprs.push_back(broadcast ? getAffineConstantExpr(0, ctx)
                              : getAffineDimExpr(off + i, ctx));
  }
  return AffineMap::get(rank, 0, exprs, ctx);
}

Value lower::reshapeTo(OpBuilder &b, Location loc, Value v,
                       RankedTensorType type, ArrayRef<OpFoldResult> dims) {
  auto src = cast<RankedTensorType>(v.getType());
  // Equal dynamic types say nothing about equal run-time shapes.
  if (src == type && src.hasStaticShape())
    return v;
  if (src.hasStaticShape() && type.hasStaticShape() && src.getRank() > 0 &&
      type.getRank() > 0) {
    if (src.getRank() > type.getRank()) {
      if (auto re = getReassociationIndicesForCollapse(src.getShape(), type.getShape()))
        return b.create<tensor::CollapseShapeOp>(loc, type, v, *re);
    } else if (src.getRank() < type.getRank()) {
      if (auto re = getReassociationIndicesForCollapse(type.getShape(), src.getShape()))
        return b.create<tensor::ExpandShapeOp>(loc, type, v, *re);
    }
  }
  // General case: a shape tensor.
  SmallVector<Value> sizes;
  for (OpFoldResult d : dims)
    sizes.push_back(getValueOrCreateConstantIndexOp(b, loc, d));
  Value shape = b.create<tensor::FromElementsOp>(
      loc, RankedTensorType::get({(int64_t)sizes.size()}, b.getIndexType()), sizes);
  return b.create<tensor::ReshapeOp>(loc, type, v, shape);
}

namespace {
struct LowerToLinalgPass
    : PassWrapper<LowerToLinalgPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(LowerToLinalgPass)
  StringRef getArgument() const override { return "mlc-lower-to-linalg"; }
  StringRef getDescription() const override {
    return "Lower every mlc op to linalg/tensor/arith/math (total)";
  }
  void getDependentDialects(DialectRegistry &r) const override {
    r.insert<linalg::LinalgDialect, tensor::TensorDialect, arith::ArithDialect,
             math::MathDialect, affine::AffineDialect, scf::SCFDialect>();
  }
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    makeSignless(getOperation());
    ConversionTarget target(*ctx);
    target.addIllegalDialect<MlcDialect>();
    target.addLegalOp<ModuleOp>();
    target.addLegalDialect<linalg::LinalgDialect, tensor::TensorDialect,
                           arith::ArithDialect, math::MathDialect,
                           affine::AffineDialect, func::FuncDialect, scf::SCFDialect>();
    RewritePatternSet patterns(ctx);
    populateElementwisePatterns(patterns);
    populateContractionPatterns(patterns);
    populateWindowPatterns(patterns);
    populateTensorPatterns(patterns);
    populateReductionPatterns(patterns);
    populateControlFlowPatterns(patterns);
    if (failed(applyFullConversion(getOperation(), target, std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace

std::unique_ptr<Pass> mlc::createLowerToLinalgPass() {
  return std::make_unique<LowerToLinalgPass>();
}
