//===- Dispatch.cpp - distribution loops become runtime parallel_for -----===//
//
// Kernels and the host schedule take the runtime's execution context as
// their first argument. Each kernel's distribution loop (the scf.forall the
// tiling policy asked for) is outlined into a tile function that runs the
// iterations [begin, end) of the linearised loop, and replaced by a call to
// a dispatch stub: @mlc_dispatch__<tile>(ctx, n, captures...). After LLVM
// translation, expandRuntimeCalls turns each stub into ctx->parallel_for
// with a closure holding the captures (see RuntimeCalls.cpp).
//
//===----------------------------------------------------------------------===//
#include "codegen/cpu/CpuCodegen.h"
#include "passes/Decisions.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/SetVector.h"

using namespace mlir;
using namespace mlc;

namespace {

/// Values cheaper to rematerialise in the tile function than to capture.
bool isRematerialised(Operation *op) {
  return op && (isa<arith::ConstantOp, memref::GetGlobalOp>(op));
}

LogicalResult outlineForall(scf::ForallOp loop, func::FuncOp kernel, Value ctxArg,
                            unsigned index) {
  if (loop.getNumResults() != 0)
    return loop.emitError("distribution loop still carries tensors after bufferization");
  Location loc = loop.getLoc();
  OpBuilder b(loop);
  SmallVector<Value> lbs = getValueOrCreateConstantIndexOp(b, loc, loop.getMixedLowerBound());
  SmallVector<Value> ubs = getValueOrCreateConstantIndexOp(b, loc, loop.getMixedUpperBound());
  SmallVector<Value> steps = getValueOrCreateConstantIndexOp(b, loc, loop.getMixedStep());
  SmallVector<Value> counts;
  Value total = b.create<arith::ConstantIndexOp>(loc, 1);
  for (auto [lb, ub, step] : llvm::zip(lbs, ubs, steps)) {
    Value extent = b.create<arith::SubIOp>(loc, ub, lb);
    Value count = b.create<arith::CeilDivSIOp>(loc, extent, step);
    // An empty range gives a non-positive count: no iterations at all.
    count = b.create<arith::MaxSIOp>(loc, count, b.create<arith::ConstantIndexOp>(loc, 0));
    counts.push_back(count);
    total = b.create<arith::MulIOp>(loc, total, count);
  }

  // Captures: what the body reads from above, plus the loop's geometry.
  llvm::SetVector<Value> above;
  getUsedValuesDefinedAbove(loop.getRegion(), above);
  llvm::SetVector<Value> captured;
  llvm::SetVector<Operation *> remat;
  SmallVector<Value> work(above.begin(), above.end());
  work.append(lbs);
  work.append(steps);
  work.append(counts);
  for (Value v : work) {
    if (isRematerialised(v.getDefiningOp()))
      remat.insert(v.getDefiningOp());
    else
      captured.insert(v);
  }

  MLIRContext *ctx = loop.getContext();
  Type indexTy = b.getIndexType();
  SmallVector<Type> argTypes = {indexTy, indexTy};
  for (Value v : captured)
    argTypes.push_back(v.getType());
  std::string tileName = (kernel.getName() + "_tile" + Twine(index)).str();
  OpBuilder mb(ctx);
  mb.setInsertionPointAfter(kernel);
  auto tileFn = mb.create<func::FuncOp>(loc, tileName, mb.getFunctionType(argTypes, {}));
  tileFn.setPrivate();
  Block *entry = tileFn.addEntryBlock();
  IRMapping map;
  for (auto [i, v] : llvm::enumerate(captured))
    map.map(v, entry->getArgument(i + 2));
  OpBuilder tb = OpBuilder::atBlockBegin(entry);
  for (Operation *op : remat)
    tb.clone(*op, map);
  Value one = tb.create<arith::ConstantIndexOp>(loc, 1);
  auto outer = tb.create<scf::ForOp>(loc, entry->getArgument(0), entry->getArgument(1), one);
  tb.create<func::ReturnOp>(loc);
  tb.setInsertionPointToStart(outer.getBody());
  Value rem = outer.getInductionVar();
  unsigned rank = lbs.size();
  SmallVector<Value> ivs(rank);
  for (int d = rank - 1; d >= 0; --d) {
    Value count = map.lookupOrDefault(counts[d]);
    Value pos = d == 0 ? rem : tb.create<arith::RemSIOp>(loc, rem, count).getResult();
    if (d > 0)
      rem = tb.create<arith::DivSIOp>(loc, rem, count);
    Value scaled = tb.create<arith::MulIOp>(loc, pos, map.lookupOrDefault(steps[d]));
    ivs[d] = tb.create<arith::AddIOp>(loc, map.lookupOrDefault(lbs[d]), scaled);
  }
  for (auto [iv, v] : llvm::zip(loop.getInductionVars(), ivs))
    map.map(iv, v);
  if (!loop.getTerminator().getYieldingOps().empty())
    return loop.emitError("distribution loop still inserts slices after bufferization");
  for (Operation &op : loop.getBody()->without_terminator())
    tb.clone(op, map);

  // The stub the LLVM-level expansion replaces with ctx->parallel_for.
  SmallVector<Type> stubTypes = {ctxArg.getType(), indexTy};
  SmallVector<Value> stubArgs = {ctxArg, total};
  for (Value v : captured) {
    stubTypes.push_back(v.getType());
    stubArgs.push_back(v);
  }
  std::string stubName = std::string(cpu::kDispatchPrefix) + tileName;
  auto stub = mb.create<func::FuncOp>(loc, stubName, mb.getFunctionType(stubTypes, {}));
  stub.setPrivate();
  b.create<func::CallOp>(loc, stub, stubArgs);
  loop.erase();
  return success();
}

/// The host's large fills and copies (a Pad's fill and its copy into the
/// padded buffer) as distribution loops over their two outer dims, so that
/// they run on every thread like kernels instead of on the caller alone.
/// Only static ones at the top of the host, of at least kMinElements.
void distributeHostCopies(func::FuncOp host) {
  constexpr int64_t kMinElements = 65536;
  SmallVector<linalg::LinalgOp> ops;
  for (Operation &op : host.getBody().front()) {
    auto l = dyn_cast<linalg::LinalgOp>(&op);
    if (!l || op.getNumResults() != 0 || !isa<linalg::CopyOp, linalg::MapOp, linalg::FillOp>(&op) ||
        l.getNumReductionLoops() != 0 || l.getNumLoops() < 2 || l.hasDynamicShape())
      continue;
    // A map that reads something may read what it writes in another place.
    if (auto map = dyn_cast<linalg::MapOp>(&op); map && !map.getInputs().empty())
      continue;
    SmallVector<int64_t> ranges = l.getStaticLoopRanges();
    int64_t elems = 1;
    for (int64_t r : ranges)
      elems *= r;
    if (elems >= kMinElements)
      ops.push_back(l);
  }
  for (linalg::LinalgOp l : ops) {
    Location loc = l.getLoc();
    OpBuilder b(l);
    SmallVector<int64_t> ranges = l.getStaticLoopRanges();
    unsigned outer = ranges.size() >= 3 ? 2 : 1;
    SmallVector<OpFoldResult> ubs;
    for (unsigned d = 0; d < outer; ++d)
      ubs.push_back(b.getIndexAttr(ranges[d]));
    auto forall = b.create<scf::ForallOp>(loc, ubs, ValueRange{}, std::nullopt);
    OpBuilder ib = OpBuilder::atBlockBegin(forall.getBody());
    IRMapping map;
    // Every operand of these ops is indexed by the loops in order (copy,
    // map and fill maps are identities): one slice per outer iteration.
    for (Value v : l->getOperands()) {
      auto t = dyn_cast<MemRefType>(v.getType());
      if (!t)
        continue;
      SmallVector<OpFoldResult> offsets, sizes, strides;
      for (int64_t d = 0; d < t.getRank(); ++d) {
        offsets.push_back(d < (int64_t)outer ? OpFoldResult(forall.getInductionVar(d))
                                             : ib.getIndexAttr(0));
        sizes.push_back(ib.getIndexAttr(d < (int64_t)outer ? 1 : t.getDimSize(d)));
        strides.push_back(ib.getIndexAttr(1));
      }
      map.map(v, ib.create<memref::SubViewOp>(loc, v, offsets, sizes, strides).getResult());
    }
    ib.setInsertionPoint(forall.getBody()->getTerminator());
    ib.clone(*l, map);
    l->erase();
  }
}

} // namespace

LogicalResult cpu::outlineDistributionLoops(ModuleOp m) {
  if (!hostFunction(m))
    return m.emitError("no entry function");
  // Every function with a body takes the context first; calls pass it on.
  passExecutionContext(m);
  distributeHostCopies(hostFunction(m));
  SmallVector<func::FuncOp> functions;
  for (auto f : m.getOps<func::FuncOp>())
    if (!f.isExternal())
      functions.push_back(f);
  for (func::FuncOp f : functions) {
    SmallVector<scf::ForallOp> loops;
    f.walk([&](scf::ForallOp l) {
      if (!l->getParentOfType<scf::ForallOp>())
        loops.push_back(l);
    });
    for (auto [i, l] : llvm::enumerate(loops))
      if (failed(outlineForall(l, f, f.getArgument(0), i)))
        return failure();
  }
  // Stack buffers of static size (a tile's scratch, see MemoryPlan.cpp) at
  // their function's entry: one frame slot each, not one per iteration of
  // the loops they were made in. Each task runs a tile function in a frame
  // of its own, so no two threads share one.
  for (auto f : m.getOps<func::FuncOp>()) {
    if (f.isExternal())
      continue;
    Block &entry = f.getBody().front();
    SmallVector<memref::AllocaOp> hoist;
    f.walk([&](memref::AllocaOp a) {
      if (a->getBlock() != &entry && a.getDynamicSizes().empty() && a.getSymbolOperands().empty())
        hoist.push_back(a);
    });
    for (memref::AllocaOp a : hoist)
      a->moveBefore(&entry, entry.begin());
  }
  return success();
}
