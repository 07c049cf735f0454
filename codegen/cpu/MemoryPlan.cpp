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
#include "mlir/Dialect/Linalg/IR/Linalg.h"
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
  bool carried = false;         // reaches a yield or a loop's state
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
      if (isa<scf::ForOp, scf::WhileOp, scf::YieldOp, scf::ConditionOp>(user))
        info.carried = true;
      if (auto loop = dyn_cast<scf::ForOp>(user)) {
        if (OpResult r = loop.getTiedLoopResult(&use))
          work.push_back(r);
        if (BlockArgument a = loop.getTiedLoopRegionIterArg(&use))
          work.push_back(a);
      }
      // A while loop's state: init k and the after region's yield k are
      // before-argument k; condition argument j is after-argument j and
      // result j (canonicalisation may have dropped some).
      if (auto yield = dyn_cast<scf::YieldOp>(user)) {
        if (auto loop = dyn_cast<scf::WhileOp>(yield->getParentOp()))
          work.push_back(loop.getBeforeArguments()[use.getOperandNumber()]);
        else
          work.push_back(yield->getParentOp()->getResult(use.getOperandNumber()));
      }
      if (auto loop = dyn_cast<scf::WhileOp>(user))
        work.push_back(loop.getBeforeArguments()[use.getOperandNumber()]);
      if (auto c = dyn_cast<scf::ConditionOp>(user); c && use.getOperandNumber() > 0) {
        auto loop = cast<scf::WhileOp>(c->getParentOp());
        work.push_back(loop.getAfterArguments()[use.getOperandNumber() - 1]);
        work.push_back(loop->getResult(use.getOperandNumber() - 1));
      }
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

/// A kernel's scratch buffer of at most this many bytes lives on the stack.
constexpr int64_t kMaxStackBytes = 32 * 1024;

/// Turns a small scratch buffer of static size, used within one iteration
/// of its loops and never handed on, into a stack allocation: a tile's
/// intermediate result is then no malloc and free per tile. (The dispatch
/// step hoists it to its function's entry, out of the loops.)
bool promoteToStack(const AllocInfo &info, OpBuilder &b) {
  auto alloc = info.buffer.getDefiningOp<memref::AllocOp>();
  if (!alloc || info.escapes || info.carried || !alloc.getType().hasStaticShape() ||
      byteSize(alloc.getType()) > kMaxStackBytes)
    return false;
  b.setInsertionPoint(alloc);
  auto alloca = b.create<memref::AllocaOp>(alloc.getLoc(), alloc.getType(),
                                           alloc.getAlignmentAttr());
  alloc.getResult().replaceAllUsesWith(alloca.getResult());
  alloc.erase();
  return true;
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

//===----------------------------------------------------------------------===//
// Control flow: one owner per buffer
//===----------------------------------------------------------------------===//
//
// An If's results and a loop's state are buffers that cross region
// boundaries. Each is made owned: a buffer allocated for it, which its
// holder frees. A branch yields a buffer it allocated, or a copy; a loop
// starts from buffers of its own (taken over or copied) and, when an
// iteration yields a new buffer for a state, frees the one it replaces. The
// results of both are then freed after their last use like allocations.

constexpr const char *kOwnedByLoop = "mlc.owned_by_loop";

Value stripCasts(Value v) {
  while (auto c = v.getDefiningOp<memref::CastOp>())
    v = c.getSource();
  return v;
}

/// The buffer `v` is a view of (through casts and views).
Value rootOf(Value v) {
  while (true) {
    v = stripCasts(v);
    auto view = v.getDefiningOp<ViewLikeOpInterface>();
    if (!view)
      return v;
    v = view.getViewSource();
  }
}

/// A buffer `block` holds and may hand on: allocated there, or the result
/// of control flow there (owned after normalisation).
bool isOwnedIn(Value v, Block *block) {
  Operation *def = stripCasts(v).getDefiningOp();
  return def && def->getBlock() == block &&
         (isa<memref::AllocOp>(def) || isa<scf::IfOp, scf::WhileOp>(def));
}

/// A fresh identity-layout copy of `v`, cast to `type`.
Value ownedCopy(OpBuilder &b, Location loc, Value v, Type type) {
  auto t = cast<MemRefType>(v.getType());
  SmallVector<Value> sizes;
  for (int64_t i = 0; i < t.getRank(); ++i)
    if (t.isDynamicDim(i))
      sizes.push_back(b.create<memref::DimOp>(loc, v, i));
  auto fresh = MemRefType::get(t.getShape(), t.getElementType());
  Value alloc = b.create<memref::AllocOp>(loc, fresh, sizes, b.getI64IntegerAttr(64));
  b.create<linalg::CopyOp>(loc, v, alloc);
  return alloc.getType() == type ? alloc : b.create<memref::CastOp>(loc, type, alloc).getResult();
}

/// Makes every buffer `yield` hands on one its block owns, once: a buffer
/// `owned` accepts (stripped of casts) that no other operand hands on, or
/// a copy. Returns the buffers handed on as they are.
llvm::SmallPtrSet<Value, 4> handOnOwned(scf::YieldOp yield, OpBuilder &b,
                                         function_ref<bool(Value)> owned) {
  llvm::SmallPtrSet<Value, 4> handed;
  b.setInsertionPoint(yield);
  for (OpOperand &o : yield->getOpOperands()) {
    if (!isa<MemRefType>(o.get().getType()))
      continue;
    Value root = stripCasts(o.get());
    if (owned(root) && handed.insert(root).second)
      continue;
    o.set(ownedCopy(b, yield.getLoc(), o.get(), o.get().getType()));
  }
  return handed;
}

void ownBranchResults(scf::IfOp op, OpBuilder &b) {
  for (Region *r : {&op.getThenRegion(), &op.getElseRegion()}) {
    if (r->empty())
      continue;
    Block *block = &r->front();
    handOnOwned(cast<scf::YieldOp>(block->getTerminator()), b,
                [&](Value root) { return isOwnedIn(root, block); });
  }
}

void ownLoopState(scf::WhileOp loop, OpBuilder &b) {
  // The initial buffers: taken over when nothing else uses them later,
  // copied otherwise.
  Block *home = loop->getBlock();
  llvm::SmallPtrSet<Value, 4> taken;
  b.setInsertionPoint(loop);
  for (OpOperand &o : loop->getOpOperands()) {
    if (!isa<MemRefType>(o.get().getType()))
      continue;
    Value root = stripCasts(o.get());
    auto alloc = root.getDefiningOp<memref::AllocOp>();
    bool takeable = alloc && alloc->getBlock() == home && taken.insert(root).second;
    if (takeable)
      for (Operation *user : root.getUsers()) {
        Operation *anc = home->findAncestorOpInBlock(*user);
        if (!anc || (anc != loop && !anc->isBeforeInBlock(loop) &&
                     !isa<memref::CastOp>(user)))
          takeable = false;
      }
    if (takeable) {
      alloc->setAttr(kOwnedByLoop, b.getUnitAttr());
      continue;
    }
    Value copy = ownedCopy(b, loop.getLoc(), o.get(), o.get().getType());
    stripCasts(copy).getDefiningOp()->setAttr(kOwnedByLoop, b.getUnitAttr());
    o.set(copy);
  }
  // Bufferization may have the condition forward fresh copies of the
  // state: a before-argument it does not forward is then dead there.
  scf::ConditionOp cond = loop.getConditionOp();
  for (BlockArgument arg : loop.getBeforeArguments()) {
    if (!isa<MemRefType>(arg.getType()))
      continue;
    bool forwarded =
        llvm::any_of(cond.getArgs(), [&](Value v) { return rootOf(v) == arg; });
    if (!forwarded) {
      b.setInsertionPoint(cond);
      b.create<memref::DeallocOp>(cond.getLoc(), arg);
    }
  }
  // Each iteration hands on one owned buffer per state (the one it was
  // given, updated in place, or a new one: allocated here, or a copy) and
  // frees the buffers it was given and did not hand on. What the condition
  // forwarded is owned: a state's buffer, or a fresh copy of it.
  Block *after = &loop.getAfter().front();
  auto yield = cast<scf::YieldOp>(after->getTerminator());
  llvm::SmallPtrSet<Value, 4> given;
  for (auto [j, forwarded] : llvm::enumerate(cond.getArgs())) {
    Value root = rootOf(forwarded);
    bool owned = llvm::is_contained(loop.getBeforeArguments(), root) ||
                 (root.getDefiningOp<memref::AllocOp>() &&
                  root.getParentBlock() == &loop.getBefore().front());
    if (isa<MemRefType>(forwarded.getType()) && owned)
      given.insert(after->getArgument(j));
  }
  auto handed = handOnOwned(yield, b, [&](Value root) {
    return given.contains(root) || isOwnedIn(root, after);
  });
  for (BlockArgument a : after->getArguments())
    if (given.contains(a) && !handed.contains(a))
      b.create<memref::DeallocOp>(yield.getLoc(), a);
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
      if (!promoteToStack(i, b))
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

  // Control flow first (inner before outer): it decides who owns what.
  f.walk([&](Operation *op) {
    if (auto i = dyn_cast<scf::IfOp>(op))
      ownBranchResults(i, b);
    else if (auto w = dyn_cast<scf::WhileOp>(op))
      ownLoopState(w, b);
  });

  SmallVector<AllocInfo> infos;
  f.walk([&](Operation *op) {
    if (op->hasAttr(kOwnedByLoop))
      return;
    if (isa<memref::AllocOp, func::CallOp, scf::IfOp, scf::WhileOp>(op))
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
