//===- Common.cpp - code generation steps every target shares -------------===//
#include "codegen/TargetBackend.h"
#include "passes/Decisions.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Pass/Pass.h"

using namespace mlir;
using namespace mlc;

namespace {

/// The kernels of the host schedule, in the order of the artifact's list
/// (kernel i is @mlc_k<i>), recorded before LLVM lowering drops attributes.
constexpr const char *kKernelListAttr = "mlc.kernel_list";

struct RecordKernelsPass : PassWrapper<RecordKernelsPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(RecordKernelsPass)
  StringRef getArgument() const override { return "mlc-record-kernels"; }
  StringRef getDescription() const override {
    return "Record the kernel list (symbol, name, FLOPs) on the module";
  }
  void runOnOperation() override {
    ModuleOp m = getOperation();
    Builder b(m.getContext());
    SmallVector<Attribute> list;
    for (auto f : m.getOps<func::FuncOp>()) {
      if (!f->hasAttr(attr::kKernel))
        continue;
      auto name = f->getAttrOfType<StringAttr>(attr::kKernelName);
      auto flops = f->getAttrOfType<IntegerAttr>(attr::kFlops);
      list.push_back(b.getArrayAttr({b.getStringAttr(f.getName()),
                                     name ? name : b.getStringAttr(f.getName()),
                                     flops ? flops : b.getI64IntegerAttr(-1)}));
    }
    m->setAttr(kKernelListAttr, b.getArrayAttr(list));
  }
};

} // namespace

std::unique_ptr<Pass> mlc::createRecordKernelsPass() {
  return std::make_unique<RecordKernelsPass>();
}

void mlc::readKernelList(ModuleOp m, ModelSignature &sig, std::vector<std::string> &symbols) {
  if (auto list = m->getAttrOfType<ArrayAttr>(kKernelListAttr))
    for (Attribute a : list) {
      auto entry = cast<ArrayAttr>(a);
      symbols.push_back(cast<StringAttr>(entry[0]).str());
      sig.kernels.push_back(
          {cast<StringAttr>(entry[1]).str(), cast<IntegerAttr>(entry[2]).getInt()});
    }
  if (auto arena = m->getAttrOfType<IntegerAttr>("mlc.arena_size"))
    sig.arenaSize = arena.getInt();
}

void mlc::passExecutionContext(ModuleOp m) {
  MLIRContext *ctx = m.getContext();
  ctx->getOrLoadDialect<LLVM::LLVMDialect>();
  auto ctxType = LLVM::LLVMPointerType::get(ctx);
  func::FuncOp host = hostFunction(m);
  SmallVector<func::FuncOp> functions;
  for (auto f : m.getOps<func::FuncOp>())
    if (!f.isExternal() && (f == host || f->hasAttr(attr::kKernel)))
      functions.push_back(f);
  llvm::SmallPtrSet<Operation *, 16> takes;
  for (func::FuncOp f : functions) {
    f.insertArgument(0, ctxType, {}, f.getLoc());
    takes.insert(f);
  }
  SymbolTable symbols(m);
  for (func::FuncOp f : functions) {
    Value fctx = f.getArgument(0);
    SmallVector<func::CallOp> calls;
    f.walk([&](func::CallOp c) { calls.push_back(c); });
    for (func::CallOp c : calls) {
      auto callee = symbols.lookup<func::FuncOp>(c.getCallee());
      if (!callee || !takes.contains(callee))
        continue;
      SmallVector<Value> args = {fctx};
      args.append(c.getOperands().begin(), c.getOperands().end());
      OpBuilder b(c);
      auto nc = b.create<func::CallOp>(c.getLoc(), callee, args);
      c.replaceAllUsesWith(nc.getResults());
      c.erase();
    }
  }
}
