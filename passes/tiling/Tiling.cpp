//===- Tiling.cpp - choose tile sizes per target ------------------------===//
//
// Reads the fusion groups and writes tile sizes as attributes (see
// Decisions.h). Nothing is transformed here: codegen applies the sizes.
//
//===----------------------------------------------------------------------===//
#include "dialects/MlcDialect.h"
#include "passes/Decisions.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"

using namespace mlir;
using namespace mlc;

namespace {

/// A contraction with one reduction loop, innermost, and an identity output
/// map over the parallel loops: every matmul and im2col convolution.
bool isMatmulLike(linalg::LinalgOp op) {
  unsigned n = op.getNumLoops();
  if (op.getNumReductionLoops() != 1 || n < 3 || op.getNumDpsInits() != 1)
    return false;
  auto iters = op.getIteratorTypesArray();
  if (iters.back() != utils::IteratorType::reduction)
    return false;
  AffineMap out = op.getIndexingMapsArray().back();
  return out == AffineMap::getMinorIdentityMap(n, n - 1, op.getContext()) ||
         out.isProjectedPermutation() && out.getNumResults() == n - 1 &&
             llvm::all_of(llvm::seq<unsigned>(0, n - 1),
                          [&](unsigned i) { return out.getDimPosition(i) == i; });
}

/// Whether `op` only broadcasts (or fills) a value into its init: a
/// linalg.fill, or a parallel generic whose body yields its one input or a
/// value from outside it.
bool isBroadcastLike(Operation *op) {
  if (isa_and_nonnull<linalg::FillOp>(op))
    return true;
  auto g = dyn_cast_or_null<linalg::GenericOp>(op);
  if (!g || g.getNumDpsInputs() > 1 || g.getNumDpsInits() != 1 ||
      g.getNumReductionLoops() != 0)
    return false;
  Block &body = g.getRegion().front();
  Value v = cast<linalg::YieldOp>(body.getTerminator()).getValues()[0];
  return body.getOperations().size() == 1 &&
         ((g.getNumDpsInputs() == 1 && v == body.getArgument(0)) ||
          v.getParentRegion() != &g.getRegion());
}

/// Whether the body of `op` is out + a * b (a contraction's).
bool isMultiplyAccumulate(linalg::LinalgOp op) {
  Block *body = op.getBlock();
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  Operation *add = yield.getValues()[0].getDefiningOp();
  if (!add || !isa<arith::AddFOp, arith::AddIOp>(add))
    return false;
  for (Value v : add->getOperands())
    if (Operation *mul = v.getDefiningOp(); mul && isa<arith::MulFOp, arith::MulIOp>(mul))
      return true;
  return false;
}

struct MatmulTiles {
  int64_t mr, nr, mc, nc, kc;
};

/// Register block: as many accumulators as leave room for the operands.
MatmulTiles chooseMatmulTiles(const TargetInfo &t) {
  int64_t lanes = t.vectorBits / 32;
  MatmulTiles m;
  m.nr = 2 * lanes;
  m.mr = t.numVectorRegisters >= 32 ? 8 : 6;
  m.mc = 64;
  m.nc = 256;
  m.kc = 256;
  return m;
}

/// Distribution tiles of a group that is not a matmul: its anchor's
/// parallel loops are cut into iterations of the kernel's scf.forall, which
/// the runtime splits into one contiguous chunk per thread. Outer parallel
/// loops are tiled by 1 and the innermost parallel loop is kept whole (it
/// is the vectorised one), so a chunk walks contiguous rows; a lone
/// parallel loop is cut into blocks. Small static kernels (in iterations,
/// reductions included) are not distributed: waking threads would cost
/// more than the work (empty).
SmallVector<int64_t> chooseDistributionTiles(linalg::LinalgOp anchor,
                                             const TargetInfo &t) {
  constexpr int64_t kMinParallelElements = 16384, kBlock = 4096;
  SmallVector<int64_t> ranges = anchor.getStaticLoopRanges();
  auto iters = anchor.getIteratorTypesArray();
  SmallVector<unsigned> parallel;
  int64_t elements = 1;
  bool dynamic = false;
  // The work counted is every iteration, reductions included: 1,536 rows
  // of 128-element softmax sums are worth two threads.
  for (unsigned i = 0; i < ranges.size(); ++i) {
    if (ShapedType::isDynamic(ranges[i]))
      dynamic = true;
    else
      elements *= ranges[i];
    if (iters[i] == utils::IteratorType::parallel)
      parallel.push_back(i);
  }
  if (parallel.empty() || (!dynamic && elements < kMinParallelElements))
    return {};
  SmallVector<int64_t> tiles(ranges.size(), 0);
  if (parallel.size() == 1) {
    tiles[parallel[0]] = kBlock;
    return tiles;
  }
  for (unsigned i : ArrayRef<unsigned>(parallel).drop_back())
    tiles[i] = 1;
  return tiles;
}

/// A cache/distribution tile of at most about `maxTile` that cuts a static
/// `extent` into near-equal tiles (rounded up to the register tile
/// `multiple`): the runtime gives each thread an equal number of tiles, so
/// equal tiles are equal work. With maxTile 256 and 16-wide register
/// tiles, 784 (a 28x28 map) becomes 208+208+208+160 instead of
/// 256+256+256+16, a 2-thread split of 416/368 instead of 512/272.
int64_t balancedTile(int64_t extent, int64_t maxTile, int64_t multiple) {
  if (ShapedType::isDynamic(extent) || extent <= maxTile || extent % maxTile == 0)
    return maxTile;
  int64_t count = llvm::divideCeil(extent, maxTile);
  return llvm::alignTo(llvm::divideCeil(extent, count), multiple);
}

SmallVector<int64_t> elementwiseVectorTile(unsigned rank, const TargetInfo &t) {
  SmallVector<int64_t> tile(rank, 1);
  if (rank)
    tile.back() = 2 * t.vectorBits / 32;
  return tile;
}

struct TilingPass : PassWrapper<TilingPass, OperationPass<func::FuncOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(TilingPass)
  TilingPass() = default;
  TilingPass(const TilingPass &o) : PassWrapper(o) { target = o.target; }
  explicit TilingPass(const TargetInfo &t) : target(t) {}
  StringRef getArgument() const override { return "mlc-tile"; }
  StringRef getDescription() const override {
    return "Choose tile sizes per fusion group and record them";
  }
  Option<int> vectorBits{*this, "vector-bits",
                         llvm::cl::desc("Vector register width (mlc-opt)"),
                         llvm::cl::init(0)};
  TargetInfo target;

  void runOnOperation() override {
    func::FuncOp f = getOperation();
    // The module's target wins over the one the pass was built with.
    if (auto module = f->getParentOfType<ModuleOp>())
      if (auto t = getTargetAttr(module); succeeded(t))
        target = *t;
    if (vectorBits > 0) {
      target.vectorBits = vectorBits;
      target.numVectorRegisters = vectorBits >= 512 ? 32 : 16;
    }
    Builder b(f.getContext());
    // Anchor of each group = its last op in program order.
    llvm::DenseMap<int64_t, Operation *> anchor, root;
    f.walk([&](linalg::LinalgOp op) {
      auto g = op->getAttrOfType<IntegerAttr>(attr::kFusionGroup);
      if (!g)
        return;
      anchor[g.getInt()] = op;
      auto role = op->getAttrOfType<StringAttr>(attr::kFusionRole);
      if (role && (role.getValue() == "root" || role.getValue() == "single"))
        root[g.getInt()] = op;
    });
    MatmulTiles mt = chooseMatmulTiles(target);
    for (auto [g, r] : root) {
      auto rootOp = cast<linalg::LinalgOp>(r);
      auto anchorOp = cast<linalg::LinalgOp>(anchor[g]);
      if (isMatmulLike(rootOp) && isMultiplyAccumulate(rootOp)) {
        unsigned n = rootOp.getNumLoops();
        // Parallel loops: (batch..., m, n); reduction k last.
        SmallVector<int64_t> outer(n - 1, 1), reg(n, 1), red(n, 0);
        SmallVector<int64_t> ranges = rootOp.getStaticLoopRanges();
        outer[n - 3] = balancedTile(ranges[n - 3], mt.mc, mt.mr);
        outer[n - 2] = balancedTile(ranges[n - 2], mt.nc, mt.nr);
        reg[n - 3] = mt.mr;
        reg[n - 2] = mt.nr;
        red[n - 1] = mt.kc;
        setLoweringConfig(anchorOp, outer, {}, {});
        setLoweringConfig(rootOp, {}, red, reg);
      } else if (isRowReduction(rootOp)) {
        // One row per register tile, the reduction whole: the row
        // vectoriser walks it in vectors with a vector accumulator.
        SmallVector<int64_t> reg(rootOp.getNumLoops(), 1);
        reg.back() = 0;
        setLoweringConfig(rootOp, {}, {}, reg);
        if (auto tiles = chooseDistributionTiles(anchorOp, target); !tiles.empty())
          setLoweringConfig(anchorOp, tiles, {}, {});
      } else if (isWindowContraction(rootOp)) {
        // Register tile: kRows output rows by one vector of columns, and
        // the reductions whole, innermost first (the window: kw, kh, then
        // a group's input channels) while they unroll to at most
        // kMaxWindow products per output vector; the rest one at a time.
        constexpr int64_t kRows = 4, kMaxWindow = 64;
        unsigned n = rootOp.getNumLoops(), p = rootOp.getNumParallelLoops();
        SmallVector<int64_t> reg(n, 1), ranges = rootOp.getStaticLoopRanges();
        reg[p - 2] = kRows;
        reg[p - 1] = target.vectorBits / 32;
        int64_t window = 1;
        for (unsigned r = n; r-- > p;) {
          if (ShapedType::isDynamic(ranges[r]) || window * ranges[r] > kMaxWindow)
            break;
          window *= ranges[r];
          reg[r] = 0;
        }
        setLoweringConfig(rootOp, {}, {}, reg);
        Operation *init = rootOp.getDpsInits()[0].getDefiningOp();
        if (isBroadcastLike(init) && init->hasOneUse() &&
            init->getAttr(attr::kFusionGroup) == rootOp->getAttr(attr::kFusionGroup))
          init->setAttr(attr::kRegisterFused, b.getUnitAttr());
        // Distribution, on the anchor (the root, or an elementwise epilogue
        // over its result): rows of one channel per iteration, a multiple
        // of kRows giving about kStepOutputs outputs (a whole 14x14 map,
        // 20 rows of a 112-wide one), so that each step's fixed cost is
        // spread over enough work.
        constexpr int64_t kStepOutputs = 2048;
        int64_t rows = kRows, oh = ranges[p - 2], ow = ranges[p - 1];
        if (!ShapedType::isDynamic(oh) && !ShapedType::isDynamic(ow))
          rows = std::min<int64_t>(oh, llvm::alignTo(llvm::divideCeil(kStepOutputs, ow), kRows));
        auto tiles = chooseDistributionTiles(anchorOp, target);
        if (!tiles.empty() && anchorOp.getNumParallelLoops() >= p &&
            (anchorOp == rootOp || anchorOp.getNumLoops() == p)) {
          for (unsigned i = 0; i < p; ++i)
            tiles[i] = i + 2 < p ? 1 : i + 2 == p ? rows : 0;
          setLoweringConfig(anchorOp, tiles, {}, {});
        }
      } else if (auto tiles = chooseDistributionTiles(anchorOp, target); !tiles.empty()) {
        setLoweringConfig(anchorOp, tiles, {}, {});
      }
    }
    // Every elementwise op (alone or consuming a root) is vectorised in
    // register-sized tiles.
    f.walk([&](linalg::LinalgOp op) {
      if (op.getNumReductionLoops() == 0 && !op->hasAttr("mlc.im2col") &&
          !op->hasAttr(attr::kRegisterFused) &&
          (!getLoweringConfig(op) || getLoweringConfig(op).vectorTiles().empty()) &&
          op.getNumLoops() > 0 &&
          (isa<linalg::GenericOp, linalg::FillOp>(op)))
        setLoweringConfig(op, {}, {}, elementwiseVectorTile(op.getNumLoops(), target));
    });
  }
};

} // namespace

bool mlc::isWindowContraction(Operation *o, int *slidingInput, int64_t *columnStride) {
  auto op = dyn_cast<linalg::GenericOp>(o);
  if (!op)
    return false;
  unsigned n = op.getNumLoops(), p = op.getNumParallelLoops();
  if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 || op.getNumReductionLoops() == 0 ||
      p < 2 || isMatmulLike(op) || op.hasDynamicShape())
    return false;
  if (!isMultiplyAccumulateBody(*op.getBlock())) // out + x * w
    return false;
  auto iters = op.getIteratorTypesArray();
  for (unsigned i = 0; i < n; ++i)
    if ((iters[i] == utils::IteratorType::parallel) != (i < p))
      return false;
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  if (maps[2] != AffineMap::getMultiDimIdentityMap(n, op.getContext()).getMajorSubMap(p))
    return false;
  unsigned col = p - 1;
  int sliding = -1;
  int64_t stride = 0;
  for (int i = 0; i < 2; ++i) {
    if (!maps[i].isFunctionOfDim(col))
      continue;
    if (sliding >= 0 || maps[i].getNumResults() == 0)
      return false;
    sliding = i;
    ArrayRef<AffineExpr> res = maps[i].getResults();
    for (AffineExpr e : res.drop_back())
      if (e.isFunctionOfDim(col))
        return false;
    // Stride: the column's coefficient in the last result.
    SmallVector<int64_t> at0(n, 0), at1(n, 0);
    at1[col] = 1;
    stride = maps[i].compose(at1).back() - maps[i].compose(at0).back();
    if (stride != 1 && stride != 2)
      return false;
  }
  if (sliding < 0)
    return false;
  if (slidingInput)
    *slidingInput = sliding;
  if (columnStride)
    *columnStride = stride;
  return true;
}

bool mlc::isMultiplyAccumulateBody(Block &body) {
  if (body.getNumArguments() != 3 || body.getOperations().size() != 3)
    return false;
  auto mul = dyn_cast<arith::MulFOp>(&body.front());
  auto add = dyn_cast_or_null<arith::AddFOp>(mul ? mul->getNextNode() : nullptr);
  auto has = [](Operation *op, Value a, Value b) {
    return (op->getOperand(0) == a && op->getOperand(1) == b) ||
           (op->getOperand(0) == b && op->getOperand(1) == a);
  };
  return mul && add && has(mul, body.getArgument(0), body.getArgument(1)) &&
         has(add, body.getArgument(2), mul.getResult()) &&
         cast<linalg::YieldOp>(body.getTerminator()).getValues()[0] == add.getResult();
}

bool mlc::isRowReduction(Operation *o) {
  auto op = dyn_cast<linalg::GenericOp>(o);
  if (!op || op.getNumDpsInits() != 1 || op.getNumReductionLoops() != 1)
    return false;
  unsigned n = op.getNumLoops(), k = n - 1;
  if (op.getIteratorTypesArray().back() != utils::IteratorType::reduction)
    return false;
  Type elem = getElementTypeOrSelf(op.getDpsInits()[0].getType());
  if (!elem.isF32() && !elem.isF64())
    return false;
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  if (maps.back() != AffineMap::getMultiDimIdentityMap(n, op.getContext()).getMajorSubMap(k))
    return false;
  for (AffineMap m : ArrayRef<AffineMap>(maps).drop_back()) {
    if (!m.isFunctionOfDim(k))
      continue;
    if (m.getNumResults() == 0 || m.getResults().back() != getAffineDimExpr(k, op.getContext()))
      return false;
    for (AffineExpr e : m.getResults().drop_back())
      if (e.isFunctionOfDim(k))
        return false;
  }
  Block *body = op.getBlock();
  BlockArgument out = body->getArguments().back();
  Operation *combine = cast<linalg::YieldOp>(body->getTerminator()).getValues()[0].getDefiningOp();
  if (!combine || combine->getBlock() != body ||
      !isa<arith::AddFOp, arith::MaximumFOp, arith::MinimumFOp, arith::MaxNumFOp,
           arith::MinNumFOp>(combine) ||
      !out.hasOneUse() || !llvm::is_contained(combine->getOperands(), out))
    return false;
  for (Operation &o : body->without_terminator())
    if (&o != combine && (!OpTrait::hasElementwiseMappableTraits(&o) || o.getNumResults() != 1 ||
                          o.getNumRegions() != 0))
      return false;
  return true;
}

std::unique_ptr<Pass> mlc::createTilingPass(const TargetInfo &target) {
  return std::make_unique<TilingPass>(target);
}
