//===- GraphPasses.cpp - shape propagation, constant and BN folding ------===//
#include "dialects/MlcDialect.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlc;

namespace {

/// Refines result types in program order, then the function's signature.
struct ShapePropagationPass
    : PassWrapper<ShapePropagationPass, OperationPass<func::FuncOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(ShapePropagationPass)
  StringRef getArgument() const override { return "mlc-propagate-shapes"; }
  StringRef getDescription() const override {
    return "Infer the result types of mlc ops";
  }
  void runOnOperation() override {
    func::FuncOp f = getOperation();
    WalkResult r = f.walk([](Operation *op) {
      if (op->getDialect() && isa<MlcDialect>(op->getDialect()))
        if (failed(inferShapes(op)))
          return WalkResult::interrupt();
      return WalkResult::advance();
    });
    if (r.wasInterrupted())
      return signalPassFailure();
    auto ret = cast<func::ReturnOp>(f.getBody().front().getTerminator());
    f.setType(FunctionType::get(f.getContext(), f.getArgumentTypes(),
                                ret.getOperandTypes()));
  }
};

//===----------------------------------------------------------------------===//
// Constant folding of shape computations
//===----------------------------------------------------------------------===//

constexpr int64_t kMaxFoldElements = 1 << 16;

DenseElementsAttr constantOf(Value v) {
  DenseElementsAttr a;
  return matchPattern(v, m_Constant(&a)) ? a : DenseElementsAttr();
}

/// Folds ops whose result can be computed at compile time: shape queries on
/// static tensors, and data movement / integer math on constants.
std::optional<DenseElementsAttr> foldOp(Operation *op) {
  auto resultType = dyn_cast<RankedTensorType>(op->getResult(0).getType());
  if (!resultType || !resultType.hasStaticShape())
    return std::nullopt;
  if (auto s = dyn_cast<ShapeOp>(op)) {
    auto in = dyn_cast<RankedTensorType>(s.getInput().getType());
    if (!in || !in.hasStaticShape())
      return std::nullopt;
    auto dims = in.getShape().slice(s.getStart(), s.getEnd() - s.getStart());
    return DenseElementsAttr::get(resultType, dims);
  }
  // Everything else needs constant operands.
  SmallVector<DenseElementsAttr> cs;
  for (Value v : op->getOperands()) {
    auto c = constantOf(v);
    if (!c)
      return std::nullopt;
    cs.push_back(c);
  }
  if (resultType.getNumElements() > kMaxFoldElements)
    return std::nullopt;
  return llvm::TypeSwitch<Operation *, std::optional<DenseElementsAttr>>(op)
      .Case<IdentityOp, ReshapeOp, FlattenOp, UnsqueezeOp, SqueezeOp>(
          [&](Operation *) { return cs[0].reshape(resultType); })
      .Case([&](GatherOp g) -> std::optional<DenseElementsAttr> {
        auto data = cs[0], idx = cs[1];
        auto dshape = data.getType().getShape();
        if (!isa<IntegerType>(data.getElementType()))
          return std::nullopt;
        int64_t axis = g.getAxis(), outer = 1, inner = 1;
        for (int64_t i = 0; i < axis; ++i)
          outer *= dshape[i];
        for (size_t i = axis + 1; i < dshape.size(); ++i)
          inner *= dshape[i];
        auto vals = llvm::to_vector(data.getValues<APInt>());
        SmallVector<APInt> out;
        for (int64_t o = 0; o < outer; ++o)
          for (APInt iv : idx.getValues<APInt>()) {
            int64_t i = iv.getSExtValue();
            if (i < 0)
              i += dshape[axis];
            if (i < 0 || i >= dshape[axis])
              return std::nullopt; // left for the run-time error path
            for (int64_t k = 0; k < inner; ++k)
              out.push_back(vals[(o * dshape[axis] + i) * inner + k]);
          }
        return DenseElementsAttr::get(resultType, out);
      })
      .Case([&](ConcatOp c) -> std::optional<DenseElementsAttr> {
        if (c.getAxis() != 0 || resultType.getRank() != 1 ||
            !isa<IntegerType>(resultType.getElementType()))
          return std::nullopt;
        SmallVector<APInt> out;
        for (auto a : cs)
          llvm::append_range(out, a.getValues<APInt>());
        return DenseElementsAttr::get(resultType, out);
      })
      .Case([&](ExpandOp) -> std::optional<DenseElementsAttr> {
        // ConstantOfShape with a shape computed from constants.
        if (!cs[0].isSplat())
          return std::nullopt;
        return DenseElementsAttr::get(resultType, cs[0].getSplatValue<Attribute>());
      })
      .Case([&](NegOp) -> std::optional<DenseElementsAttr> {
        if (!isa<IntegerType>(resultType.getElementType()))
          return std::nullopt;
        SmallVector<APInt> out;
        for (APInt v : cs[0].getValues<APInt>())
          out.push_back(-v);
        return DenseElementsAttr::get(resultType, out);
      })
      .Case([&](RangeOp) -> std::optional<DenseElementsAttr> {
        Type elem = resultType.getElementType();
        int64_t n = resultType.getNumElements();
        if (isa<IntegerType>(elem)) {
          APInt v = *cs[0].getValues<APInt>().begin(), d = *cs[2].getValues<APInt>().begin();
          SmallVector<APInt> out;
          for (int64_t i = 0; i < n; ++i, v += d)
            out.push_back(v);
          return DenseElementsAttr::get(resultType, out);
        }
        if (!elem.isF32() && !elem.isF64())
          return std::nullopt;
        double v = (*cs[0].getValues<APFloat>().begin()).convertToDouble();
        double d = (*cs[2].getValues<APFloat>().begin()).convertToDouble();
        SmallVector<Attribute> out;
        for (int64_t i = 0; i < n; ++i)
          out.push_back(FloatAttr::get(elem, v + i * d));
        return DenseElementsAttr::get(resultType, out);
      })
      .Case<AddOp, SubOp, MulOp, DivOp>([&](Operation *o) -> std::optional<DenseElementsAttr> {
        // Integer scalar/vector math as found in shape computations.
        if (!isa<IntegerType>(resultType.getElementType()) ||
            cs[0].getType() != cs[1].getType() &&
                !(cs[0].isSplat() || cs[1].isSplat()))
          return std::nullopt;
        auto a = llvm::to_vector(cs[0].getValues<APInt>());
        auto b = llvm::to_vector(cs[1].getValues<APInt>());
        SmallVector<APInt> out;
        for (int64_t i = 0; i < resultType.getNumElements(); ++i) {
          APInt x = a[a.size() == 1 ? 0 : i], y = b[b.size() == 1 ? 0 : i];
          if (isa<DivOp>(o) && y.isZero())
            return std::nullopt;
          out.push_back(isa<AddOp>(o)   ? x + y
                        : isa<SubOp>(o) ? x - y
                        : isa<MulOp>(o) ? x * y
                                        : x.sdiv(y));
        }
        return DenseElementsAttr::get(resultType, out);
      })
      .Default([](Operation *) { return std::nullopt; });
}

/// A reduction whose run-time axes turned out constant gets static axes.
/// Returns the value that replaces it when it reduces nothing (an empty
/// axes tensor with noop_with_empty_axes).
Value staticAxes(ReduceOp r) {
  Value given = r.getAxesInput();
  auto t = dyn_cast<RankedTensorType>(r.getInput().getType());
  DenseElementsAttr c = given ? constantOf(given) : DenseElementsAttr();
  if (!c || !t || !isa<IntegerType>(c.getElementType()))
    return nullptr;
  int64_t rank = t.getRank();
  SmallVector<int64_t> axes;
  for (APInt v : c.getValues<APInt>()) {
    int64_t a = v.getSExtValue();
    if (a < -rank || a >= rank)
      return nullptr; // left to the run-time path
    axes.push_back(a < 0 ? a + rank : a);
  }
  if (axes.empty()) {
    if (r.getNoopEmpty())
      return r.getInput();
    for (int64_t i = 0; i < rank; ++i)
      axes.push_back(i);
  }
  llvm::sort(axes);
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  r.setAxes(axes);
  r.getAxesInputMutable().clear();
  (void)inferShapes(r);
  return nullptr;
}

/// An If whose condition is known at compile time becomes the ops of the
/// branch it takes. Inner Ifs first: inlining one erases only its other
/// branch, whose Ifs were visited already, so one walk finds them all.
void inlineConstantIfs(func::FuncOp f) {
  SmallVector<IfOp> ifs;
  f.walk([&](IfOp i) { ifs.push_back(i); });
  for (IfOp i : ifs) {
    std::optional<bool> taken = constantCondition(i.getCond());
    if (!taken)
      continue;
    Block &branch = (*taken ? i.getThenRegion() : i.getElseRegion()).front();
    Operation *yield = branch.getTerminator();
    i->getBlock()->getOperations().splice(Block::iterator(i), branch.getOperations(),
                                          branch.begin(), Block::iterator(yield));
    i->replaceAllUsesWith(yield->getOperands());
    i->erase();
  }
}

struct FoldConstantsPass
    : PassWrapper<FoldConstantsPass, OperationPass<func::FuncOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(FoldConstantsPass)
  StringRef getArgument() const override { return "mlc-fold-constants"; }
  StringRef getDescription() const override {
    return "Fold shape computations and identities at compile time";
  }
  void runOnOperation() override {
    func::FuncOp f = getOperation();
    OpBuilder b(f.getContext());
    SmallVector<Operation *> dead;
    bool failedInference = false;
    f.walk([&](Operation *op) {
      if (isa<IdentityOp>(op)) {
        op->getResult(0).replaceAllUsesWith(op->getOperand(0));
        dead.push_back(op);
        return;
      }
      if (!isa_and_nonnull<MlcDialect>(op->getDialect()) || isa<ConstantOp>(op))
        return;
      // Operands folded earlier in this walk may tell more about the type.
      if (failed(inferShapes(op))) {
        failedInference = true;
        return;
      }
      if (auto r = dyn_cast<ReduceOp>(op)) {
        if (Value replacement = staticAxes(r)) {
          op->getResult(0).replaceAllUsesWith(replacement);
          dead.push_back(op);
          return;
        }
      }
      if (isa<IfOp, LoopOp, YieldOp>(op))
        return;
      if (auto folded = foldOp(op)) {
        b.setInsertionPoint(op);
        auto c = b.create<ConstantOp>(op->getLoc(), folded->getType(), *folded);
        op->getResult(0).replaceAllUsesWith(c);
        dead.push_back(op);
      }
    });
    if (failedInference)
      return signalPassFailure();
    for (Operation *op : llvm::reverse(dead))
      op->erase();
    inlineConstantIfs(f);
    // Drop constants nobody uses any more.
    f.walk([](ConstantOp c) {
      if (c->use_empty())
        c->erase();
    });
    auto ret = cast<func::ReturnOp>(f.getBody().front().getTerminator());
    f.setType(FunctionType::get(f.getContext(), f.getArgumentTypes(), ret.getOperandTypes()));
  }
};

//===----------------------------------------------------------------------===//
// BatchNormalization folding into a preceding Conv
//===----------------------------------------------------------------------===//

SmallVector<float> floatsOf(DenseElementsAttr a) {
  SmallVector<float> out;
  for (APFloat v : a.getValues<APFloat>())
    out.push_back(v.convertToFloat());
  return out;
}

struct FoldBatchNormPass
    : PassWrapper<FoldBatchNormPass, OperationPass<func::FuncOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(FoldBatchNormPass)
  StringRef getArgument() const override { return "mlc-fold-batchnorm"; }
  StringRef getDescription() const override {
    return "Fold inference BatchNormalization into the preceding Conv";
  }
  void runOnOperation() override {
    SmallVector<BatchNormOp> bns;
    getOperation().walk([&](BatchNormOp bn) { bns.push_back(bn); });
    for (BatchNormOp bn : bns)
      foldIntoConv(bn);
  }

  void foldIntoConv(BatchNormOp bn) {
    auto conv = bn.getX().getDefiningOp<ConvOp>();
    if (!conv || !conv->hasOneUse())
      return;
    DenseElementsAttr w = constantOf(conv.getW());
    DenseElementsAttr bias = conv.getB() ? constantOf(conv.getB()) : nullptr;
    DenseElementsAttr sc = constantOf(bn.getScale()), sh = constantOf(bn.getBias()),
                      mean = constantOf(bn.getMean()), var = constantOf(bn.getVar());
    if (!w || !sc || !sh || !mean || !var || (conv.getB() && !bias) ||
        !w.getElementType().isF32())
      return;
    auto wt = w.getType();
    int64_t f = wt.getDimSize(0), per = wt.getNumElements() / f;
    auto s = floatsOf(sc), t = floatsOf(sh), m = floatsOf(mean), v = floatsOf(var);
    if ((int64_t)s.size() != f || t.size() != s.size() || m.size() != s.size() ||
        v.size() != s.size())
      return;
    SmallVector<float> nw = floatsOf(w), nb(f, 0.0f);
    if (bias)
      nb = floatsOf(bias);
    float eps = bn.getEpsilon().convertToFloat();
    for (int64_t o = 0; o < f; ++o) {
      float k = s[o] / std::sqrt(v[o] + eps);
      for (int64_t i = 0; i < per; ++i)
        nw[o * per + i] *= k;
      nb[o] = (nb[o] - m[o]) * k + t[o];
    }
    OpBuilder b(conv);
    auto wAttr = DenseElementsAttr::get(wt, ArrayRef<float>(nw));
    auto bType = RankedTensorType::get({f}, b.getF32Type());
    auto bAttr = DenseElementsAttr::get(bType, ArrayRef<float>(nb));
    Value nwV = b.create<ConstantOp>(conv.getLoc(), wt, wAttr);
    Value nbV = b.create<ConstantOp>(bn.getLoc(), bType, bAttr);
    auto fused = b.create<ConvOp>(
        FusedLoc::get(b.getContext(), {conv.getLoc(), bn.getLoc()}),
        bn.getType(), conv.getX(), nwV, nbV, conv.getStridesAttr(),
        conv.getPadsAttr(), conv.getDilationsAttr(), conv.getGroupAttr());
    bn.getResult().replaceAllUsesWith(fused.getResult());
    bn.erase();
    conv.erase();
  }
};

} // namespace

std::unique_ptr<Pass> mlc::createShapePropagationPass() {
  return std::make_unique<ShapePropagationPass>();
}
std::unique_ptr<Pass> mlc::createFoldConstantsPass() {
  return std::make_unique<FoldConstantsPass>();
}
std::unique_ptr<Pass> mlc::createFoldBatchNormPass() {
  return std::make_unique<FoldBatchNormPass>();
}
