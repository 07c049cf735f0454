//===- Fusion.cpp - group roots with their elementwise neighbours --------===//
//
// A root (an op with a reduction loop: contraction, pooling, reduction)
// forms one kernel with the op that initialises its accumulator and with
// the chain of elementwise ops that consume it. Reshapes between a root and
// its consumers are moved out of the way first (collapsing the consumer),
// and elementwise chains are merged into single generics.
//
//===----------------------------------------------------------------------===//
#include "passes/Decisions.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

using namespace mlir;
using namespace mlc;

namespace {

bool isElementwise(Operation *op) {
  auto g = dyn_cast<linalg::GenericOp>(op);
  return g && g.getNumReductionLoops() == 0 && g.getNumDpsInits() == 1 &&
         g.getIndexingMapsArray().back().isIdentity() && !op->hasAttr("mlc.im2col");
}

bool isRoot(Operation *op) {
  auto l = dyn_cast<linalg::LinalgOp>(op);
  return l && l.getNumReductionLoops() > 0;
}

/// The most ops one fused elementwise body may hold. Each fusion step
/// clones both bodies into a new generic, so merging a chain of n ops
/// without a bound costs O(n^2) (a 20,000-node chain: minutes). A body of
/// this many ops already does far more arithmetic per element than the
/// memory round trip that the bound adds between two kernels costs.
constexpr size_t kMaxFusedBodyOps = 256;

size_t bodyOps(Operation *op) {
  Block &body = cast<linalg::GenericOp>(op).getRegion().front();
  size_t n = 0;
  for (auto it = body.begin(), e = body.end(); it != e && n <= kMaxFusedBodyOps; ++it)
    ++n;
  return n;
}

/// Elementwise fusion merges a producer into an all-parallel consumer; it
/// never pulls work into a root, where it would run once per reduction step.
bool shouldFuseElementwise(OpOperand *operand) {
  Operation *producer = operand->get().getDefiningOp();
  Operation *consumer = operand->getOwner();
  // Never across a region boundary: a producer outside an If or a loop
  // body would run per iteration (or in the branch not taken).
  return producer && producer->hasOneUse() && isElementwise(producer) &&
         isElementwise(consumer) && producer->getBlock() == consumer->getBlock() &&
         bodyOps(producer) + bodyOps(consumer) <= kMaxFusedBodyOps;
}

/// An elementwise consumer joins the root's kernel if it reads the root's
/// result in the same iteration space.
bool isFusableConsumer(Operation *user, Value produced) {
  if (!isElementwise(user) || !produced.hasOneUse() ||
      user->getBlock() != produced.getParentBlock())
    return false;
  auto g = cast<linalg::GenericOp>(user);
  for (OpOperand *in : g.getDpsInputOperands())
    if (in->get() == produced)
      return g.getMatchingIndexingMap(in).isIdentity();
  return false;
}

struct FusionPass : PassWrapper<FusionPass, OperationPass<func::FuncOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(FusionPass)
  StringRef getArgument() const override { return "mlc-fuse"; }
  StringRef getDescription() const override {
    return "Group roots with elementwise producers/consumers into kernels";
  }
  void getDependentDialects(DialectRegistry &r) const override {
    r.insert<linalg::LinalgDialect, tensor::TensorDialect>();
  }

  void runOnOperation() override {
    func::FuncOp f = getOperation();
    MLIRContext *ctx = &getContext();
    RewritePatternSet patterns(ctx);
    linalg::populateFoldReshapeOpsByCollapsingPatterns(
        patterns, [](OpOperand *o) { return isElementwise(o->getOwner()); });
    linalg::populateElementwiseOpsFusionPatterns(patterns, shouldFuseElementwise);
    tensor::CollapseShapeOp::getCanonicalizationPatterns(patterns, ctx);
    tensor::ExpandShapeOp::getCanonicalizationPatterns(patterns, ctx);
    linalg::GenericOp::getCanonicalizationPatterns(patterns, ctx);
    if (failed(applyPatternsAndFoldGreedily(f, std::move(patterns))))
      return signalPassFailure();
    assignGroups(f);
  }

  void assignGroups(func::FuncOp f) {
    Builder b(f.getContext());
    int64_t next = 0;
    auto tag = [&](Operation *op, int64_t g, StringRef role) {
      op->setAttr(attr::kFusionGroup, b.getI64IntegerAttr(g));
      op->setAttr(attr::kFusionRole, b.getStringAttr(role));
    };
    f.walk([&](linalg::LinalgOp op) {
      if (!isRoot(op) || op->hasAttr(attr::kFusionGroup))
        return;
      int64_t g = next++;
      tag(op, g, "root");
      for (OpOperand &init : op.getDpsInitsMutable()) {
        Operation *p = init.get().getDefiningOp();
        // A fill shared by several roots (CSE merged the zero inits of
        // equal-shaped convolutions) is cloned for each: a fill is cheaper
        // to redo inside a kernel than to store and read back.
        if (p && !p->hasOneUse() && p->getBlock() == op->getBlock() && !p->hasAttr(attr::kFusionGroup) &&
            (isa<linalg::FillOp>(p) ||
             (isElementwise(p) && cast<linalg::LinalgOp>(p).getNumDpsInputs() == 0))) {
          OpBuilder ob(op);
          p = ob.clone(*p);
          init.set(p->getResult(0));
        }
        if (p && p->hasOneUse() && p->getBlock() == op->getBlock() &&
            (isa<linalg::FillOp>(p) || isElementwise(p)) &&
            !p->hasAttr(attr::kFusionGroup))
          tag(p, g, "producer");
      }
      Value cur = op->getResult(0);
      while (cur.hasOneUse()) {
        Operation *user = *cur.getUsers().begin();
        if (!isFusableConsumer(user, cur))
          break;
        tag(user, g, "consumer");
        cur = user->getResult(0);
      }
    });
    // A sequential loop (a scatter, TopK, NMS) is a kernel with the ops
    // that fill the tensors it updates. Each of its tensors must be its own
    // (CSE merges identical empties and fills of two loops): a shared one is
    // cloned, so that every loop result is written into a tensor.empty that
    // becomes the kernel's destination.
    f.walk([&](scf::ForOp loop) {
      if (!loop->hasAttr(attr::kSequentialLoop))
        return;
      int64_t g = next++;
      tag(loop, g, "single");
      OpBuilder ob(loop);
      for (OpOperand &init : loop.getInitArgsMutable()) {
        Operation *def = init.get().getDefiningOp();
        if (!def || def->hasAttr(attr::kFusionGroup) || def->getBlock() != loop->getBlock())
          continue;
        if (auto empty = dyn_cast<tensor::EmptyOp>(def)) {
          if (!empty->hasOneUse())
            init.set(ob.clone(*empty)->getResult(0));
          continue;
        }
        if (!isa<linalg::LinalgOp>(def))
          continue;
        if (!def->hasOneUse()) {
          IRMapping map;
          for (Value d : cast<linalg::LinalgOp>(def).getDpsInits())
            if (auto e = d.getDefiningOp<tensor::EmptyOp>())
              map.map(d, ob.clone(*e)->getResult(0));
          def = ob.clone(*def, map);
          init.set(def->getResult(0));
        }
        tag(def, g, "producer");
      }
    });
    f.walk([&](linalg::LinalgOp op) {
      if (!op->hasAttr(attr::kFusionGroup))
        tag(op, next++, "single");
    });
  }
};

} // namespace

std::unique_ptr<Pass> mlc::createFusionPass() {
  return std::make_unique<FusionPass>();
}
