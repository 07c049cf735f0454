//===- GpuMapping.cpp - top-level work of each function into gpu.launch --===//
//
// After bufferisation and linalg-to-parallel-loops, a function (the host
// schedule or a kernel) holds host work (buffer allocation and views, shape
// arithmetic, kernel calls) and device work (parallel loops, and the odd
// scalar loop, load or store). Host ops stay; each top-level scf.parallel
// becomes one launch over its linearised iteration space; every other run
// of consecutive device ops becomes a one-thread launch, so that all memory
// the model touches is touched on the device.
//
//===----------------------------------------------------------------------===//
#include "codegen/cuda/CudaCodegen.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "llvm/ADT/SetVector.h"

#include <limits>
#include <optional>

#include <cstdlib>

using namespace mlir;
using namespace mlc;

namespace {

/// Ops that stay on the host: they allocate, view or describe buffers, do
/// shape arithmetic, or call kernels; none reads or writes tensor data.
bool isHostOp(Operation *op) {
  if (isa<func::ReturnOp, func::CallOp, memref::AllocOp, memref::AllocaOp, memref::DeallocOp, memref::DimOp,
          memref::SubViewOp, memref::ViewOp, memref::CastOp, memref::ReinterpretCastOp,
          memref::ExpandShapeOp, memref::CollapseShapeOp, memref::GetGlobalOp,
          memref::ExtractStridedMetadataOp, memref::ExtractAlignedPointerAsIndexOp,
          memref::AssumeAlignmentOp, memref::RankOp>(op))
    return true;
  if (op->getDialect() && isa<gpu::GPUDialect, LLVM::LLVMDialect>(op->getDialect()))
    return true;
  // The host's own temporaries (copyToHost).
  if (auto load = dyn_cast<memref::LoadOp>(op))
    return load.getMemRef().getDefiningOp<memref::AllocaOp>() != nullptr;
  return op->getNumRegions() == 0 && isMemoryEffectFree(op);
}

Value cst(OpBuilder &b, Location loc, int64_t v) {
  return b.create<arith::ConstantIndexOp>(loc, v);
}

void promoteAccumulators(Operation *root);

/// A parallel loop whose body reduces a long run of float32 values into
/// one output (LayerNorm and softmax statistics, pooling, a reduce op):
/// loads and arithmetic, one scf.for carrying the accumulator through an
/// associative combiner, then the result's stores.
struct WarpReduction {
  scf::ForOp loop;
  Operation *combiner = nullptr;
  TypedAttr neutral;
};

std::optional<WarpReduction> matchWarpReduction(scf::ParallelOp par) {
  Block *body = par.getBody();
  scf::ForOp red;
  for (Operation &op : body->without_terminator()) {
    if (auto f = dyn_cast<scf::ForOp>(&op)) {
      if (red)
        return std::nullopt;
      red = f;
      continue;
    }
    bool before = !red;
    if (op.getNumRegions() || (before && !isMemoryEffectFree(&op) && !isa<memref::LoadOp>(op)) ||
        (!before && !isMemoryEffectFree(&op) && !isa<memref::StoreOp>(op)))
      return std::nullopt;
  }
  if (!red || red.getNumRegionIterArgs() != 1 || !red.getResult(0).getType().isF32())
    return std::nullopt;
  // Short constant trips (a 3x3 window) stay one thread per output.
  auto lb = getConstantIntValue(red.getLowerBound()), ub = getConstantIntValue(red.getUpperBound());
  auto st = getConstantIntValue(red.getStep());
  if (lb && ub && st && *st > 0 && (*ub - *lb) / *st < 64)
    return std::nullopt;
  // Inside: reads and arithmetic only, and the accumulator used once, by
  // the combiner that is yielded.
  bool pure = true;
  red.getBody()->walk([&](Operation *op) {
    if (!isMemoryEffectFree(op) && !isa<memref::LoadOp>(op))
      pure = false;
  });
  if (!pure)
    return std::nullopt;
  BlockArgument acc = red.getRegionIterArgs()[0];
  Operation *comb = red.getBody()->getTerminator()->getOperand(0).getDefiningOp();
  if (!comb || !acc.hasOneUse() || *acc.getUsers().begin() != comb || comb->getNumOperands() != 2)
    return std::nullopt;
  Builder b(par.getContext());
  float inf = std::numeric_limits<float>::infinity();
  TypedAttr neutral;
  if (isa<arith::AddFOp>(comb))
    neutral = b.getF32FloatAttr(0.0f);
  else if (isa<arith::MulFOp>(comb))
    neutral = b.getF32FloatAttr(1.0f);
  else if (isa<arith::MaximumFOp, arith::MaxNumFOp>(comb))
    neutral = b.getF32FloatAttr(-inf);
  else if (isa<arith::MinimumFOp, arith::MinNumFOp>(comb))
    neutral = b.getF32FloatAttr(inf);
  else
    return std::nullopt;
  return WarpReduction{red, comb, neutral};
}

/// One launch of kBlockSize-thread blocks over the loop's iterations, the
/// thread of linear index i running iteration i (when the loop has any);
/// for a long reduction, a warp per iteration instead: each lane reduces
/// every 32nd element, the lanes combine by shuffles, lane 0 stores.
LogicalResult mapParallel(scf::ParallelOp loop) {
  if (loop.getNumResults() != 0)
    return loop.emitError("a parallel loop with reductions cannot be mapped to the GPU yet");
  Location loc = loop.getLoc();
  OpBuilder b(loop);
  SmallVector<Value> counts;
  Value total = cst(b, loc, 1);
  for (auto [lb, ub, step] : llvm::zip(loop.getLowerBound(), loop.getUpperBound(),
                                       loop.getStep())) {
    Value count = b.create<arith::CeilDivSIOp>(loc, b.create<arith::SubIOp>(loc, ub, lb), step);
    count = b.create<arith::MaxSIOp>(loc, count, cst(b, loc, 0));
    counts.push_back(count);
    total = b.create<arith::MulIOp>(loc, total, count);
  }
  promoteAccumulators(loop);
  std::optional<WarpReduction> red = matchWarpReduction(loop);
  constexpr int64_t kWarp = 32;
  int64_t perBlock = red ? cuda::kBlockSize / kWarp : cuda::kBlockSize;
  Value block = cst(b, loc, cuda::kBlockSize), one = cst(b, loc, 1);
  Value any = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::sgt, total, cst(b, loc, 0));
  auto guard = b.create<scf::IfOp>(loc, any, /*withElseRegion=*/false);
  b.setInsertionPointToStart(&guard.getThenRegion().front());
  Value grid = b.create<arith::CeilDivSIOp>(loc, total, cst(b, loc, perBlock));
  auto launch = b.create<gpu::LaunchOp>(loc, grid, one, one, block, one, one);
  b.setInsertionPointToStart(&launch.getBody().front());
  Value tid = launch.getThreadIds().x;
  Value slot = red ? b.create<arith::DivUIOp>(loc, tid, cst(b, loc, kWarp)).getResult() : tid;
  Value linear = b.create<arith::AddIOp>(
      loc, b.create<arith::MulIOp>(loc, launch.getBlockIds().x, cst(b, loc, perBlock)), slot);
  Value inRange = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::slt, linear, total);
  auto body = b.create<scf::IfOp>(loc, inRange, false);
  b.create<gpu::TerminatorOp>(loc);
  b.setInsertionPointToStart(&body.getThenRegion().front());
  IRMapping map;
  Value rem = linear;
  unsigned rank = counts.size();
  for (int d = rank - 1; d >= 0; --d) {
    Value pos = d == 0 ? rem : b.create<arith::RemSIOp>(loc, rem, counts[d]).getResult();
    if (d > 0)
      rem = b.create<arith::DivSIOp>(loc, rem, counts[d]);
    Value iv = b.create<arith::AddIOp>(
        loc, loop.getLowerBound()[d], b.create<arith::MulIOp>(loc, pos, loop.getStep()[d]));
    map.map(loop.getInductionVars()[d], iv);
  }
  if (!red) {
    for (Operation &op : loop.getBody()->without_terminator())
      b.clone(op, map);
    loop.erase();
    return success();
  }
  // Warp per output: the ops before the reduction in every lane (reads),
  // the reduction strided over the lanes, a shuffle tree, then lane 0.
  Value lane = b.create<arith::RemUIOp>(loc, tid, cst(b, loc, kWarp));
  Block *parBody = loop.getBody();
  auto it = parBody->begin();
  for (; &*it != red->loop.getOperation(); ++it)
    b.clone(*it, map);
  scf::ForOp old = red->loop;
  Value step = map.lookupOrDefault(old.getStep());
  Value start = b.create<arith::AddIOp>(loc, map.lookupOrDefault(old.getLowerBound()),
                                        b.create<arith::MulIOp>(loc, lane, step));
  Value stride = b.create<arith::MulIOp>(loc, step, cst(b, loc, kWarp));
  Value neutral = b.create<arith::ConstantOp>(loc, red->neutral);
  auto strided = b.create<scf::ForOp>(loc, start, map.lookupOrDefault(old.getUpperBound()),
                                      stride, ValueRange{neutral});
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(strided.getBody());
    map.map(old.getInductionVar(), strided.getInductionVar());
    map.map(old.getRegionIterArgs()[0], strided.getRegionIterArgs()[0]);
    for (Operation &op : old.getBody()->without_terminator())
      b.clone(op, map);
    b.create<scf::YieldOp>(loc, map.lookup(old.getBody()->getTerminator()->getOperand(0)));
  }
  auto combine = [&](Value x, Value y) {
    Operation *c = b.clone(*red->combiner);
    c->setOperands({x, y});
    return c->getResult(0);
  };
  Value partial = strided.getResult(0);
  Value width = b.create<arith::ConstantIntOp>(loc, kWarp, 32);
  for (int64_t off = kWarp / 2; off >= 1; off /= 2) {
    auto shuf = b.create<gpu::ShuffleOp>(loc, partial,
                                         b.create<arith::ConstantIntOp>(loc, off, 32), width,
                                         gpu::ShuffleMode::XOR);
    partial = combine(partial, shuf.getShuffleResult());
  }
  map.map(old.getResult(0), combine(map.lookupOrDefault(old.getInitArgs()[0]), partial));
  Value first = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, lane, cst(b, loc, 0));
  auto store = b.create<scf::IfOp>(loc, first, false);
  b.setInsertionPointToStart(&store.getThenRegion().front());
  for (++it; it != parBody->end() && !it->hasTrait<OpTrait::IsTerminator>(); ++it)
    b.clone(*it, map);
  loop.erase();
  return success();
}

/// The ops of `segment`, in order, into a one-thread launch. Their results
/// must not be used after it.
LogicalResult wrapSerial(ArrayRef<Operation *> segment) {
  llvm::SmallPtrSet<Operation *, 16> inside(segment.begin(), segment.end());
  for (Operation *op : segment)
    for (Value r : op->getResults())
      for (Operation *user : r.getUsers()) {
        Operation *top = user;
        while (top && !inside.count(top))
          top = top->getParentOp();
        if (!top) {
          if (std::getenv("MLC_DEBUG_CUDA_MAP"))
            for (Operation *o : segment)
              llvm::errs() << "segment op: " << *o << "\n";
          return user->emitError("this op needs, on the host, a value that the CUDA target "
                                 "computes on the device (")
                 << op->getName() << "); such models cannot be compiled for cuda yet";
        }
      }
  Location loc = segment.front()->getLoc();
  OpBuilder b(segment.front());
  Value one = cst(b, loc, 1);
  auto launch = b.create<gpu::LaunchOp>(loc, one, one, one, one, one, one);
  b.setInsertionPointToStart(&launch.getBody().front());
  auto term = b.create<gpu::TerminatorOp>(loc);
  for (Operation *op : segment)
    op->moveBefore(term);
  return success();
}

/// A host copy of `count` elements of `src` starting at `indices`: a
/// one-thread launch gathers them into a fresh device buffer (no view, so
/// its address is its allocation), which @mlc_cuda_read(host, device,
/// bytes) copies into a host temporary.
Value copyToHost(OpBuilder &b, Location loc, Value src, ValueRange indices, int64_t count,
                 func::FuncOp read) {
  auto srcType = cast<MemRefType>(src.getType());
  Type elem = srcType.getElementType();
  // Bytes per element in memory (i1 takes a byte).
  int64_t elemBytes = elem.isIndex() ? 8 : (elem.getIntOrFloatBitWidth() + 7) / 8;
  auto flat = MemRefType::get({count}, elem);
  Value scratch = b.create<memref::AllocOp>(loc, flat);
  Value one = cst(b, loc, 1);
  auto launch = b.create<gpu::LaunchOp>(loc, one, one, one, one, one, one);
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(&launch.getBody().front());
    auto loop = b.create<scf::ForOp>(loc, cst(b, loc, 0), cst(b, loc, count), one);
    b.create<gpu::TerminatorOp>(loc);
    b.setInsertionPointToStart(loop.getBody());
    SmallVector<Value> at(indices.begin(), indices.end());
    if (at.empty() && srcType.getRank() == 1)
      at.push_back(loop.getInductionVar()); // the whole (1-D) buffer
    else if (!at.empty())
      at.back() = b.create<arith::AddIOp>(loc, at.back(), loop.getInductionVar());
    Value v = b.create<memref::LoadOp>(loc, src, at);
    b.create<memref::StoreOp>(loc, v, scratch, ValueRange{loop.getInductionVar()});
  }
  Value host = b.create<memref::AllocaOp>(loc, flat);
  Type i64 = b.getI64Type();
  auto addr = [&](Value m) {
    return b.create<arith::IndexCastOp>(loc, i64,
                                        b.create<memref::ExtractAlignedPointerAsIndexOp>(loc, m))
        .getResult();
  };
  b.create<func::CallOp>(loc, read,
                         ValueRange{addr(host), addr(scratch),
                                    b.create<arith::ConstantIntOp>(loc, count * elemBytes, 64)});
  b.create<memref::DeallocOp>(loc, scratch);
  return host;
}

/// A load at the top of a function reads a scalar the host needs (a shape,
/// an axis, a count): it reads a host copy of that element.
void readOnHost(memref::LoadOp load, func::FuncOp read) {
  Location loc = load.getLoc();
  OpBuilder b(load);
  Value host = copyToHost(b, loc, load.getMemRef(), load.getIndices(), 1, read);
  Value v = b.create<memref::LoadOp>(loc, host, ValueRange{cst(b, loc, 0)});
  load.replaceAllUsesWith(v);
  load.erase();
}

/// memref.reshape reads its shape operand on the host. A static result
/// needs no read (a reinterpret_cast); otherwise it reads a host copy.
void reshapeOnHost(memref::ReshapeOp reshape, func::FuncOp read) {
  Location loc = reshape.getLoc();
  OpBuilder b(reshape);
  auto type = cast<MemRefType>(reshape.getType());
  if (type.hasStaticShape() && type.getLayout().isIdentity()) {
    SmallVector<int64_t> strides(type.getRank(), 1);
    for (int64_t d = type.getRank() - 2; d >= 0; --d)
      strides[d] = strides[d + 1] * type.getDimSize(d + 1);
    Value v = b.create<memref::ReinterpretCastOp>(loc, type, reshape.getSource(), 0,
                                                  type.getShape(), strides);
    reshape.replaceAllUsesWith(v);
    reshape.erase();
    return;
  }
  auto shapeType = cast<MemRefType>(reshape.getShape().getType());
  Value host = copyToHost(b, loc, reshape.getShape(), {}, shapeType.getNumElements(), read);
  reshape.getShapeMutable().assign(host);
}

LogicalResult mapBlock(Block &block, func::FuncOp read) {
  for (auto load : llvm::make_early_inc_range(block.getOps<memref::LoadOp>()))
    readOnHost(load, read);
  for (auto reshape : llvm::make_early_inc_range(block.getOps<memref::ReshapeOp>()))
    reshapeOnHost(reshape, read);
  SmallVector<Operation *> ops;
  for (Operation &op : block)
    ops.push_back(&op);
  SmallVector<Operation *> segment;
  llvm::SmallPtrSet<Value, 16> deviceValues;
  auto flush = [&]() -> LogicalResult {
    if (segment.empty())
      return success();
    LogicalResult r = wrapSerial(segment);
    segment.clear();
    deviceValues.clear();
    return r;
  };
  for (Operation *op : ops) {
    bool usesDevice = llvm::any_of(op->getOperands(),
                                   [&](Value v) { return deviceValues.contains(v); });
    bool device = !isHostOp(op) && !isa<scf::ParallelOp>(op);
    if (device || (usesDevice && op->getNumRegions() == 0 && isMemoryEffectFree(op))) {
      segment.push_back(op);
      deviceValues.insert(op->result_begin(), op->result_end());
      continue;
    }
    if (failed(flush()))
      return failure();
    if (auto loop = dyn_cast<scf::ParallelOp>(op))
      if (failed(mapParallel(loop)))
        return failure();
  }
  return flush();
}

/// A reduction loop that reads and writes one element of its output on
/// every iteration (what linalg-to-loops gives a contraction) keeps it in a
/// register instead: the load moves before the loop, the store after it.
/// Only when the element's indices are fixed in the loop and nothing else
/// in the loop touches that buffer.
void promoteAccumulators(Operation *root) {
  SmallVector<scf::ForOp> loops;
  root->walk([&](scf::ForOp f) { loops.push_back(f); }); // innermost first
  for (scf::ForOp loop : loops) {
    Block *body = loop.getBody();
    SmallVector<std::pair<memref::LoadOp, memref::StoreOp>> pairs;
    for (auto load : body->getOps<memref::LoadOp>()) {
      Value buf = load.getMemRef();
      if (!llvm::all_of(load.getIndices(),
                        [&](Value v) { return loop.isDefinedOutsideOfLoop(v); }) ||
          !loop.isDefinedOutsideOfLoop(buf))
        continue;
      memref::StoreOp store;
      bool other = false;
      for (Operation *user : buf.getUsers()) {
        if (user == load || !loop->isAncestor(user))
          continue;
        auto st = dyn_cast<memref::StoreOp>(user);
        if (st && st->getBlock() == body && !store && st.getIndices() == load.getIndices() &&
            load->isBeforeInBlock(st))
          store = st;
        else
          other = true;
      }
      if (store && !other)
        pairs.push_back({load, store});
    }
    for (auto [load, store] : pairs) {
      OpBuilder b(loop);
      auto init = b.create<memref::LoadOp>(load.getLoc(), load.getMemRef(), load.getIndices());
      IRRewriter rw(loop.getContext());
      auto grown = cast<scf::ForOp>(*loop.replaceWithAdditionalYields(
          rw, ValueRange{init.getResult()}, /*replaceInitOperandUsesInLoop=*/false,
          [&](OpBuilder &, Location, ArrayRef<BlockArgument>) {
            return SmallVector<Value>{store.getValueToStore()};
          }));
      load.replaceAllUsesWith(grown.getRegionIterArgs().back());
      b.setInsertionPointAfter(grown);
      b.create<memref::StoreOp>(store.getLoc(), grown.getResults().back(), store.getMemRef(),
                                store.getIndices());
      load.erase();
      store.erase();
      loop = grown;
    }
  }
}

/// Math ops NVVM's lowering has no libdevice call for, as ones it has.
void expandMath(Operation *root) {
  SmallVector<Operation *> ops;
  root->walk([&](Operation *op) {
    if (isa<math::SinhOp, math::CoshOp, math::AsinhOp, math::AcoshOp, math::AtanhOp,
            math::AsinOp, math::AcosOp>(op))
      ops.push_back(op);
  });
  for (Operation *op : ops) {
    OpBuilder b(op);
    Location loc = op->getLoc();
    Value x = op->getOperand(0);
    Type t = x.getType();
    auto c = [&](double v) { return b.create<arith::ConstantOp>(loc, b.getFloatAttr(t, v)); };
    Value one = c(1.0), half = c(0.5);
    Value r;
    if (isa<math::SinhOp>(op)) { // (expm1(x) - expm1(-x)) / 2
      Value nx = b.create<arith::NegFOp>(loc, x);
      r = b.create<arith::MulFOp>(loc, half,
                                  b.create<arith::SubFOp>(loc, b.create<math::ExpM1Op>(loc, x),
                                                          b.create<math::ExpM1Op>(loc, nx)));
    } else if (isa<math::CoshOp>(op)) { // (exp(x) + exp(-x)) / 2
      Value nx = b.create<arith::NegFOp>(loc, x);
      r = b.create<arith::MulFOp>(loc, half,
                                  b.create<arith::AddFOp>(loc, b.create<math::ExpOp>(loc, x),
                                                          b.create<math::ExpOp>(loc, nx)));
    } else if (isa<math::AsinhOp>(op)) { // sign(x) log1p(|x| + x^2 / (1 + sqrt(1 + x^2)))
      Value ax = b.create<math::AbsFOp>(loc, x);
      Value x2 = b.create<arith::MulFOp>(loc, x, x);
      Value den = b.create<arith::AddFOp>(
          loc, one, b.create<math::SqrtOp>(loc, b.create<arith::AddFOp>(loc, one, x2)));
      Value v = b.create<math::Log1pOp>(
          loc, b.create<arith::AddFOp>(loc, ax, b.create<arith::DivFOp>(loc, x2, den)));
      r = b.create<math::CopySignOp>(loc, v, x);
    } else if (isa<math::AcoshOp>(op)) { // log(x + sqrt(x^2 - 1))
      Value x2m1 = b.create<arith::SubFOp>(loc, b.create<arith::MulFOp>(loc, x, x), one);
      r = b.create<math::LogOp>(loc,
                                b.create<arith::AddFOp>(loc, x, b.create<math::SqrtOp>(loc, x2m1)));
    } else if (isa<math::AtanhOp>(op)) { // log1p(2x / (1 - x)) / 2
      Value q = b.create<arith::DivFOp>(loc, b.create<arith::AddFOp>(loc, x, x),
                                        b.create<arith::SubFOp>(loc, one, x));
      r = b.create<arith::MulFOp>(loc, half, b.create<math::Log1pOp>(loc, q));
    } else { // asin: atan2(x, sqrt(1 - x^2)); acos: atan2(sqrt(1 - x^2), x)
      Value s = b.create<math::SqrtOp>(
          loc, b.create<arith::SubFOp>(loc, one, b.create<arith::MulFOp>(loc, x, x)));
      r = isa<math::AsinOp>(op) ? b.create<math::Atan2Op>(loc, x, s).getResult()
                                : b.create<math::Atan2Op>(loc, s, x).getResult();
    }
    op->getResult(0).replaceAllUsesWith(r);
    op->erase();
  }
}

struct MapToGpuPass : PassWrapper<MapToGpuPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(MapToGpuPass)
  StringRef getArgument() const override { return "mlc-cuda-map-to-gpu"; }
  StringRef getDescription() const override {
    return "Move each function's top-level device work into gpu.launch regions";
  }
  void getDependentDialects(DialectRegistry &r) const override {
    r.insert<gpu::GPUDialect, scf::SCFDialect, arith::ArithDialect>();
  }
  void runOnOperation() override {
    if (failed(cuda::mapToGpu(getOperation())))
      signalPassFailure();
    if (const char *dump = std::getenv("MLC_DEBUG_CUDA_MAP"); dump && *dump == '2')
      getOperation().print(llvm::errs(), OpPrintingFlags().elideLargeElementsAttrs(8));
  }
};

struct MergeDeviceModulesPass : PassWrapper<MergeDeviceModulesPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(MergeDeviceModulesPass)
  StringRef getArgument() const override { return "mlc-cuda-merge-modules"; }
  StringRef getDescription() const override {
    return "Move every outlined kernel into one gpu.module";
  }
  void runOnOperation() override {
    if (failed(cuda::mergeDeviceModules(getOperation())))
      signalPassFailure();
  }
};

} // namespace

LogicalResult cuda::mapToGpu(ModuleOp m) {
  MLIRContext *ctx = m->getContext();
  ctx->getOrLoadDialect<gpu::GPUDialect>();
  OpBuilder mb(ctx);
  mb.setInsertionPointToEnd(m.getBody());
  auto i64 = mb.getI64Type();
  auto read = mb.create<func::FuncOp>(m.getLoc(), kReadFunction,
                                      mb.getFunctionType({i64, i64, i64}, {}));
  read.setPrivate();
  func::FuncOp host = hostFunction(m);
  for (auto f : llvm::make_early_inc_range(m.getOps<func::FuncOp>())) {
    // Helpers (math-to-funcs' integer powers) run on the device, inside
    // the launches that call them.
    if (f.isExternal() || (f != host && !f->hasAttr("mlc.kernel")))
      continue;
    if (!f.getBody().hasOneBlock())
      return f.emitError("the CUDA target expects structured control flow");
    if (failed(mapBlock(f.getBody().front(), read)))
      return failure();
    f.walk([](gpu::LaunchOp launch) {
      promoteAccumulators(launch);
      expandMath(launch);
    });
  }
  return success();
}

LogicalResult cuda::mergeDeviceModules(ModuleOp m) {
  SmallVector<gpu::GPUModuleOp> modules(m.getOps<gpu::GPUModuleOp>());
  if (modules.empty())
    return success();
  OpBuilder b(m.getContext());
  b.setInsertionPointToEnd(m.getBody());
  auto merged = b.create<gpu::GPUModuleOp>(m.getLoc(), kDeviceModule);
  SymbolTable table(merged);
  llvm::DenseMap<Attribute, Attribute> renamed; // old @module::@fn -> new
  for (gpu::GPUModuleOp mod : modules) {
    for (Operation &op : llvm::make_early_inc_range(mod.getBody()->without_terminator())) {
      auto sym = dyn_cast<SymbolOpInterface>(&op);
      if (!sym)
        return op.emitError("unexpected op in an outlined GPU module");
      StringAttr old = sym.getNameAttr();
      op.moveBefore(merged.getBody()->getTerminator());
      if (!isa<gpu::GPUFuncOp>(op)) {
        // A global both modules cloned: keep one.
        if (table.lookup(old) && table.lookup(old) != &op) {
          op.erase();
          continue;
        }
      }
      StringAttr now = table.insert(&op); // renames on a clash
      renamed[SymbolRefAttr::get(mod.getNameAttr(), {FlatSymbolRefAttr::get(old)})] =
          SymbolRefAttr::get(merged.getNameAttr(), {FlatSymbolRefAttr::get(now)});
    }
    mod.erase();
  }
  WalkResult r = m.walk([&](gpu::LaunchFuncOp launch) {
    auto it = renamed.find(launch.getKernel());
    if (it == renamed.end()) {
      launch.emitError("launch of an unknown kernel");
      return WalkResult::interrupt();
    }
    launch.setKernelAttr(cast<SymbolRefAttr>(it->second));
    return WalkResult::advance();
  });
  return failure(r.wasInterrupted());
}

std::unique_ptr<Pass> cuda::createMapToGpuPass() { return std::make_unique<MapToGpuPass>(); }
std::unique_ptr<Pass> cuda::createMergeDeviceModulesPass() {
  return std::make_unique<MergeDeviceModulesPass>();
}
void cuda::registerCudaCodegenPasses() {
  PassRegistration<MapToGpuPass>();
  PassRegistration<MergeDeviceModulesPass>();
}
