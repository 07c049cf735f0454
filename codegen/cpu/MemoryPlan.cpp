//===- MemoryPlan.cpp - compile-time activation arena --------------------===//
//
// After bufferization every intermediate is a memref.alloc. Allocations of
// static size in the host schedule's body (the buffers kernels write into)
// get an offset in one arena, chosen so that buffers whose lifetimes
// overlap never share bytes; the runtime passes the arena as the trailing
// argument. Other allocations, in the host or inside kernels, and buffers a
// kernel hands back to the host, are freed after their last use. Buffers
// that are returned are left to the caller.
//
//===----------------------------------------------------------------------===//
#include "codegen/cpu/CpuCodegen.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

using namespace mlir;
using namespace mlc;

namespace {

constexpr int64_t kArenaAlignment = 64;

struct AllocInfo {
  Value buffer;                 // a memref.alloc or a kernel call's result
  bool escapes = false;
  Operation *lastUse = nullptr; // ancestor in the alloc's block
};

/// Follows views, loop-carried values and yields; records the last use in
/// the alloc's block and whether the buffer reaches func.return.
void analyse(AllocInfo &info) {
  Block *home = info.buffer.getParentBlock();
  SmallVector<Value> work = {info.buffer};
  llvm::SmallPtrSet<Value, 16> seen;
  while (!work.empty()) {
    Value v = work.pop_back_val();
    if (!seen.insert(v).second)
      continue;
    for (OpOperand &use : v.getUses()) {
      Operation *user = use.getOwner();
      if (isa<func::ReturnOp>(user))
        info.escapes = true;
      if (auto view = dyn_cast<ViewLikeOpInterface>(user))
        if (view.getViewSource() == v)
          work.push_back(user->getResult(0));
      if (isa<memref::CastOp, memref::CollapseShapeOp, memref::ExpandShapeOp,
              memref::ReinterpretCastOp, memref::ReshapeOp>(user))
        work.push_back(user->getResult(0));
      if (auto loop = dyn_cast<scf::ForOp>(user)) {
        if (OpResult r = loop.getTiedLoopResult(&use))
          work.push_back(r);
        if (BlockArgument a = loop.getTiedLoopRegionIterArg(&use))
          work.push_back(a);
      }
      if (auto yield = dyn_cast<scf::YieldOp>(user))
        work.push_back(yield->getParentOp()->getResult(use.getOperandNumber()));
      Operation *anc = home->findAncestorOpInBlock(*user);
      if (anc && (!info.lastUse || info.lastUse->isBeforeInBlock(anc)))
        info.lastUse = anc;
    }
  }
}

int64_t byteSize(MemRefType t) {
  int64_t bits = t.getElementTypeBitWidth();
  return t.getNumElements() * std::max<int64_t>(1, bits / 8);
}

/// Frees a buffer that is not returned after its last use in its block.
void freeAfterLastUse(const AllocInfo &info, OpBuilder &b) {
  if (info.escapes)
    return;
  Operation *after = info.lastUse ? info.lastUse : info.buffer.getDefiningOp();
  if (after->hasTrait<OpTrait::IsTerminator>())
    return; // lives to the end of its region; nothing to free
  b.setInsertionPointAfter(after);
  b.create<memref::DeallocOp>(info.buffer.getLoc(), info.buffer);
}

} // namespace

LogicalResult cpu::planMemory(ModuleOp m) {
  func::FuncOp f = hostFunction(m);
  if (!f)
    return m.emitError("no entry function");
  MLIRContext *ctx = m.getContext();
  OpBuilder b(ctx);
  // Kernels: every buffer they allocate and do not return is theirs to free.
  for (auto kernel : m.getOps<func::FuncOp>()) {
    if (kernel == f || kernel.isExternal())
      continue;
    SmallVector<AllocInfo> infos;
    kernel.walk([&](memref::AllocOp a) { infos.push_back({a.getResult()}); });
    for (AllocInfo &i : infos) {
      analyse(i);
      freeAfterLastUse(i, b);
    }
  }

  Block &body = f.getBody().front();
  auto arenaType = MemRefType::get({ShapedType::kDynamic}, IntegerType::get(ctx, 8));
  // Append the arena argument.
  SmallVector<Type> args(f.getArgumentTypes());
  args.push_back(arenaType);
  f.setType(FunctionType::get(ctx, args, f.getResultTypes()));
  Value arena = body.addArgument(arenaType, f.getLoc());

  SmallVector<AllocInfo> infos;
  f.walk([&](Operation *op) {
    if (isa<memref::AllocOp>(op) || isa<func::CallOp>(op))
      for (Value r : op->getResults())
        if (isa<MemRefType>(r.getType()))
          infos.push_back({r});
  });
  for (AllocInfo &i : infos)
    analyse(i);

  // Program order of top-level ops, for lifetimes.
  llvm::DenseMap<Operation *, int64_t> order;
  int64_t pos = 0;
  for (Operation &op : body)
    order[&op] = pos++;

  struct Slot {
    int64_t begin, end, offset, size;
  };
  SmallVector<Slot> placed;
  SmallVector<std::pair<AllocInfo *, int64_t>> candidates;
  for (AllocInfo &i : infos) {
    if (i.escapes)
      continue;
    auto alloc = i.buffer.getDefiningOp<memref::AllocOp>();
    auto t = cast<MemRefType>(i.buffer.getType());
    bool planned = alloc && alloc->getBlock() == &body && t.hasStaticShape() &&
                   t.getLayout().isIdentity() && alloc.getDynamicSizes().empty();
    if (planned)
      candidates.push_back({&i, byteSize(t)});
    else
      freeAfterLastUse(i, b);
  }
  // Largest first, lowest non-conflicting offset.
  llvm::stable_sort(candidates, [](auto &x, auto &y) { return x.second > y.second; });
  int64_t arenaSize = 0;
  for (auto [info, size] : candidates) {
    auto alloc = info->buffer.getDefiningOp<memref::AllocOp>();
    int64_t begin = order[alloc], end = info->lastUse ? order[info->lastUse] : begin;
    SmallVector<std::pair<int64_t, int64_t>> busy;
    for (const Slot &s : placed)
      if (!(s.end < begin || end < s.begin))
        busy.push_back({s.offset, s.offset + s.size});
    llvm::sort(busy);
    int64_t offset = 0;
    for (auto [lo, hi] : busy) {
      if (offset + size <= lo)
        break;
      offset = std::max(offset, (hi + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment);
    }
    placed.push_back({begin, end, offset, size});
    arenaSize = std::max(arenaSize, offset + size);
    b.setInsertionPoint(alloc);
    Value off = b.create<arith::ConstantIndexOp>(alloc.getLoc(), offset);
    Value view = b.create<memref::ViewOp>(alloc.getLoc(), alloc.getType(), arena, off,
                                          ValueRange{});
    alloc.getResult().replaceAllUsesWith(view);
    alloc.erase();
  }
  // Existing deallocs of planned buffers would free arena memory.
  f.walk([&](memref::DeallocOp d) {
    if (d.getMemref().getDefiningOp<memref::ViewOp>())
      d.erase();
  });
  m->setAttr("mlc.arena_size", b.getI64IntegerAttr(arenaSize));
  return success();
}
