//===- OutlineKernels.cpp - one function per fusion group ----------------===//
//
// After fusion and tiling decisions, every fusion group of @main becomes a
// private kernel function and @main becomes the host schedule: it keeps
// shape arithmetic, views, large constants and the buffers the kernels
// write into, and calls kernels in order. Kernels are in destination-
// passing style: a result that leaves the kernel is written into a buffer
// (a tensor.empty of @main) passed in as an argument, so the memory plan of
// @main sees every buffer that crosses a kernel boundary, and bufferization
// turns the result into an alias of that argument.
//
//===----------------------------------------------------------------------===//
#include "dialects/MlcDialect.h"
#include "passes/Decisions.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlc;

namespace {

/// The op of `home` that contains `op` (or `op` itself).
Operation *topLevel(Block *home, Operation *op) {
  return home->findAncestorOpInBlock(*op);
}

/// Constants that are cheaper to rematerialise in a kernel than to pass:
/// scalars and splats. Dense weights are passed, so they stay one global.
bool isClonedConstant(Operation *op) {
  auto c = dyn_cast_or_null<arith::ConstantOp>(op);
  if (!c)
    return false;
  auto dense = dyn_cast<DenseElementsAttr>(c.getValue());
  return !dense || dense.isSplat();
}

/// Static FLOP count of a linalg op: iterations times arithmetic ops in its
/// body (a multiply-accumulate counts 2). -1 when a loop range is dynamic.
int64_t flopsOf(linalg::LinalgOp op) {
  int64_t iterations = 1;
  for (int64_t r : op.getStaticLoopRanges()) {
    if (ShapedType::isDynamic(r))
      return -1;
    iterations *= r;
  }
  int64_t perIteration = 0;
  for (Operation &inner : op->getRegion(0).front()) {
    if (inner.getNumResults() != 1 || inner.getResult(0).getType().isIndex())
      continue;
    StringRef dialect = inner.getDialect()->getNamespace();
    if ((dialect == "arith" || dialect == "math") && !isa<arith::ConstantOp>(inner) &&
        !isa<arith::IndexCastOp, arith::SIToFPOp, arith::ExtFOp, arith::TruncFOp>(inner))
      ++perIteration;
  }
  return iterations * perIteration;
}

/// A readable kernel name for profiles: the ONNX node of the group's root,
/// its op type, the root's kind and how many ops were fused with it:
/// "fc1 (MatMul, reduction+2)".
std::string displayNameOf(ArrayRef<Operation *> ops) {
  Operation *root = ops.back();
  for (Operation *op : ops)
    if (auto role = op->getAttrOfType<StringAttr>(attr::kFusionRole))
      if (role.getValue() == "root" || role.getValue() == "single") {
        root = op;
        break;
      }
  std::string node = nodeNameOf(root->getLoc());
  std::string kind = root->getName().stripDialect().str();
  if (auto g = dyn_cast<linalg::GenericOp>(root))
    kind = g.getNumReductionLoops() ? "reduction" : "elementwise";
  if (ops.size() > 1)
    kind += "+" + std::to_string(ops.size() - 1);
  if (std::string opType = nodeOpTypeOf(root->getLoc()); !opType.empty())
    kind = opType + ", " + kind;
  return node.empty() ? kind : node + " (" + kind + ")";
}

class KernelOutliner {
public:
  KernelOutliner(ModuleOp module, func::FuncOp host) : module(module), host(host) {}

  /// Outlines one group (ops of one block, `home`); leaves it in @main
  /// (still correct, not a kernel) when a result is read between the
  /// group's ops.
  LogicalResult outline(ArrayRef<Operation *> ops, int64_t index) {
    home = ops.front()->getBlock();
    llvm::SetVector<Operation *> members(ops.begin(), ops.end());
    Operation *last = ops.back();
    auto inGroup = [&](Operation *user) {
      return members.contains(topLevel(home, user));
    };

    // Results read outside the group, in order.
    SmallVector<Value> results;
    for (Operation *op : ops)
      for (Value r : op->getResults()) {
        bool escapes = false;
        for (Operation *user : r.getUsers()) {
          if (inGroup(user))
            continue;
          if (!last->isBeforeInBlock(topLevel(home, user)))
            return failure();
          escapes = true;
        }
        if (escapes)
          results.push_back(r);
      }

    // The buffers escaping results are written into: follow each result
    // through its group's destination operands to a tensor.empty.
    llvm::DenseSet<Value> destinations;
    for (Value r : results) {
      Value v = writtenInto(r, [&](Operation *op) { return members.contains(op); });
      if (v.getDefiningOp<tensor::EmptyOp>())
        destinations.insert(v);
    }

    // Values the group reads from outside: passed as arguments, or cloned
    // into the kernel (scalar constants, slices, and buffers only the group
    // uses).
    llvm::SetVector<Value> arguments;
    llvm::SetVector<Operation *> cloned;
    SmallVector<Value> work;
    for (Operation *op : ops) {
      for (Value v : op->getOperands())
        work.push_back(v);
      llvm::SetVector<Value> above;
      getUsedValuesDefinedAbove(op->getRegions(), above);
      work.append(above.begin(), above.end());
    }
    // In order of first use, so kernel signatures read like the group.
    for (size_t next = 0; next < work.size(); ++next) {
      Value v = work[next];
      Operation *def = v.getDefiningOp();
      if (def && (members.contains(def) || cloned.contains(def)))
        continue;
      bool onlyGroup = def && llvm::all_of(v.getUsers(), [&](Operation *u) {
                         return inGroup(u) || cloned.contains(u);
                       });
      // A slice is taken inside the kernel, from its source: passed in, it
      // would be a strided view that the kernel's identity-layout buffer
      // arguments cannot take (a causal mask sliced from a larger one).
      if (def && (isClonedConstant(def) || isa<tensor::ExtractSliceOp>(def) ||
                  (isa<tensor::EmptyOp>(def) && !destinations.contains(v) && onlyGroup))) {
        cloned.insert(def);
        work.append(def->getOperands().begin(), def->getOperands().end());
        continue;
      }
      arguments.insert(v);
    }

    // The kernel function.
    MLIRContext *ctx = module.getContext();
    SmallVector<Type> argTypes, resultTypes;
    for (Value v : arguments)
      argTypes.push_back(v.getType());
    for (Value v : results)
      resultTypes.push_back(v.getType());
    OpBuilder b(ctx);
    b.setInsertionPoint(host);
    auto fn = b.create<func::FuncOp>(last->getLoc(), "mlc_k" + std::to_string(index),
                                     b.getFunctionType(argTypes, resultTypes));
    fn.setPrivate();
    fn->setAttr(attr::kKernel, b.getUnitAttr());
    fn->setAttr(attr::kKernelName, b.getStringAttr(displayNameOf(ops)));
    int64_t flops = 0;
    for (Operation *op : ops) {
      int64_t f = isa<linalg::LinalgOp>(op) ? flopsOf(cast<linalg::LinalgOp>(op)) : 0;
      flops = (f < 0 || flops < 0) ? -1 : flops + f;
    }
    fn->setAttr(attr::kFlops, b.getI64IntegerAttr(flops));
    Block *entry = fn.addEntryBlock();
    IRMapping map;
    for (auto [i, v] : llvm::enumerate(arguments)) {
      map.map(v, entry->getArgument(i));
      if (isa<TensorType>(v.getType()))
        fn.setArgAttr(i, bufferization::BufferizationDialect::kWritableAttrName,
                      b.getBoolAttr(destinations.contains(v)));
    }
    b.setInsertionPointToStart(entry);
    SmallVector<Operation *> body(cloned.begin(), cloned.end());
    body.append(ops.begin(), ops.end());
    // Program order: ops cloned from enclosing blocks (a loop body's kernel
    // may clone the host's constants) before those of the group's block.
    auto depth = [](Operation *op) {
      int d = 0;
      for (Operation *p = op->getParentOp(); p; p = p->getParentOp())
        ++d;
      return d;
    };
    llvm::stable_sort(body, [&](Operation *x, Operation *y) {
      if (x->getBlock() != y->getBlock())
        return depth(x) < depth(y);
      return x->isBeforeInBlock(y);
    });
    // A kernel holds one group: its ops say group 0, so that kernels of
    // identical layers are identical (deduplicateKernels).
    for (Operation *op : body) {
      Operation *copy = b.clone(*op, map);
      if (copy->hasAttr(attr::kFusionGroup))
        copy->setAttr(attr::kFusionGroup, b.getI64IntegerAttr(0));
    }
    SmallVector<Value> returned;
    for (Value v : results)
      returned.push_back(map.lookup(v));
    b.create<func::ReturnOp>(last->getLoc(), returned);

    // The call replaces the group in the host schedule.
    b.setInsertionPoint(last);
    auto call = b.create<func::CallOp>(last->getLoc(), fn, arguments.getArrayRef());
    for (auto [r, v] : llvm::zip(call.getResults(), results))
      v.replaceAllUsesWith(r);
    for (Operation *op : llvm::reverse(ops))
      op->erase();
    for (Operation *op : llvm::reverse(body))
      if (cloned.contains(op) && op->use_empty())
        op->erase();
    return success();
  }

private:
  ModuleOp module;
  func::FuncOp host;
  Block *home = nullptr;
};

/// A kernel's identity: its signature and body as text (group ids are 0
/// in every kernel, see outline()).
std::string fingerprintOf(func::FuncOp fn) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << fn.getFunctionType();
  if (ArrayAttr args = fn.getAllArgAttrs())
    os << args;
  OpPrintingFlags flags;
  flags.useLocalScope();
  for (Operation &op : fn.getBody().front()) {
    op.print(os, flags);
    os << "\n";
  }
  return text;
}

/// Repeated layers (a transformer's blocks) give kernels that differ only
/// in the weights they are passed: keep one of each, so code is generated
/// once and a profile counts its calls.
void deduplicateKernels(ModuleOp m, func::FuncOp host) {
  llvm::StringMap<func::FuncOp> first;
  llvm::DenseMap<StringAttr, func::FuncOp> replacement;
  for (auto fn : m.getOps<func::FuncOp>()) {
    if (!fn->hasAttr(attr::kKernel))
      continue;
    auto [it, fresh] = first.try_emplace(fingerprintOf(fn), fn);
    if (!fresh)
      replacement[fn.getSymNameAttr()] = it->second;
  }
  host.walk([&](func::CallOp call) {
    if (auto it = replacement.find(call.getCalleeAttr().getAttr()); it != replacement.end())
      call.setCalleeAttr(FlatSymbolRefAttr::get(it->second.getSymNameAttr()));
  });
  for (auto &[name, keep] : replacement)
    if (auto dead = m.lookupSymbol<func::FuncOp>(name))
      dead.erase();
}

struct OutlineKernelsPass : PassWrapper<OutlineKernelsPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(OutlineKernelsPass)
  StringRef getArgument() const override { return "mlc-outline-kernels"; }
  StringRef getDescription() const override {
    return "Outline each fusion group of @main into a kernel function";
  }
  void getDependentDialects(DialectRegistry &r) const override {
    r.insert<func::FuncDialect, bufferization::BufferizationDialect>();
  }

  void runOnOperation() override {
    ModuleOp m = getOperation();
    func::FuncOp host = hostFunction(m);
    if (!host)
      return;
    // Groups in order of their first op; ops of a group in program order.
    // The host's blocks: its body and the regions of its control flow (an
    // If's branches, a loop's body), whose kernels it calls there.
    llvm::MapVector<int64_t, SmallVector<Operation *>> groups;
    SmallVector<Block *> blocks = {&host.getBody().front()};
    for (size_t next = 0; next < blocks.size(); ++next)
      for (Operation &op : *blocks[next]) {
        if (auto g = op.getAttrOfType<IntegerAttr>(attr::kFusionGroup)) {
          groups[g.getInt()].push_back(&op);
          continue;
        }
        if (isa<scf::IfOp, scf::WhileOp>(op))
          for (Region &r : op.getRegions())
            for (Block &b : r)
              blocks.push_back(&b);
      }
    KernelOutliner outliner(m, host);
    int64_t index = 0;
    for (auto &[id, ops] : groups)
      if (succeeded(outliner.outline(ops, index)))
        ++index;
    deduplicateKernels(m, host);
  }
};

} // namespace

Value mlc::writtenInto(Value v, function_ref<bool(Operation *)> follow) {
  while (Operation *def = v.getDefiningOp()) {
    if (!follow(def))
      break;
    if (auto dps = dyn_cast<DestinationStyleOpInterface>(def))
      v = dps.getTiedOpOperand(cast<OpResult>(v))->get();
    else if (auto loop = dyn_cast<scf::ForOp>(def)) // a scatter: updated in place
      v = loop.getInitArgs()[cast<OpResult>(v).getResultNumber()];
    else
      break;
  }
  return v;
}

func::FuncOp mlc::hostFunction(ModuleOp m) {
  for (auto f : m.getOps<func::FuncOp>())
    if (f.isPublic() && !f.isExternal())
      return f;
  return nullptr;
}

std::unique_ptr<Pass> mlc::createOutlineKernelsPass() {
  return std::make_unique<OutlineKernelsPass>();
}
