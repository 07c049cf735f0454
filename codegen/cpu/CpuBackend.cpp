//===- CpuBackend.cpp - the cpu TargetBackend -----------------------------===//
#include "codegen/TargetBackend.h"
#include "codegen/cpu/CpuCodegen.h"
#include "passes/Decisions.h"

#include "absl/strings/str_join.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/RegionUtils.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlc;

namespace {

struct DispatchPass : PassWrapper<DispatchPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(DispatchPass)
  StringRef getArgument() const override { return "mlc-cpu-dispatch"; }
  StringRef getDescription() const override {
    return "Pass the execution context; distribution loops -> parallel_for stubs";
  }
  void runOnOperation() override {
    if (failed(cpu::outlineDistributionLoops(getOperation())))
      signalPassFailure();
  }
};

/// The host is compiled without optimisation (see CpuBackend::serialize).
/// The loop nests bufferization leaves in it (a Pad's fill and the copy
/// into the padded buffer, copies of strided views) would run as -O0
/// loops: each moves into a function of its own, optimised like a kernel.
void outlineHostLoops(func::FuncOp host) {
  SmallVector<Operation *> loops;
  host.walk([&](linalg::LinalgOp op) {
    if (op->getNumResults() == 0)
      loops.push_back(op);
  });
  OpBuilder mb(host);
  unsigned next = 0;
  for (Operation *op : loops) {
    // Operands and the values the body captures become arguments;
    // constants are cloned in.
    llvm::SetVector<Value> used(op->getOperands().begin(), op->getOperands().end());
    getUsedValuesDefinedAbove(op->getRegions(), used);
    SmallVector<Value> args;
    SmallVector<Operation *> constants;
    for (Value v : used) {
      Operation *def = v.getDefiningOp();
      if (def && def->hasTrait<OpTrait::ConstantLike>())
        constants.push_back(def);
      else
        args.push_back(v);
    }
    SmallVector<Type> types;
    for (Value v : args)
      types.push_back(v.getType());
    auto fn = mb.create<func::FuncOp>(op->getLoc(), "mlc_host_loop" + std::to_string(next++),
                                      mb.getFunctionType(types, {}));
    fn.setPrivate();
    OpBuilder fb(fn.getContext());
    fb.setInsertionPointToStart(fn.addEntryBlock());
    IRMapping map;
    map.map(args, fn.getArguments());
    for (Operation *c : constants)
      if (!map.contains(c->getResult(0)))
        fb.clone(*c, map);
    fb.clone(*op, map);
    fb.create<func::ReturnOp>(op->getLoc());
    OpBuilder(op).create<func::CallOp>(op->getLoc(), fn, args);
    op->erase();
  }
}

struct PrepareHostPass : PassWrapper<PrepareHostPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(PrepareHostPass)
  StringRef getArgument() const override { return "mlc-cpu-prepare-host"; }
  StringRef getDescription() const override {
    return "Name the host schedule and give it a C interface";
  }
  void runOnOperation() override {
    func::FuncOp host = hostFunction(getOperation());
    if (!host)
      return signalPassFailure();
    outlineHostLoops(host);
    // Named apart from C's main; only its C interface is called.
    host.setName(cpu::kHostSymbol);
    host->setAttr("llvm.emit_c_interface", UnitAttr::get(&getContext()));
  }
};

class CpuBackend final : public TargetBackend {
public:
  llvm::StringRef name() const override { return "cpu"; }

  FailureOr<TargetInfo> resolve(const TargetOptions &opts, std::string &err) const override {
    return cpu::resolveTarget(opts.cpu, err);
  }

  std::vector<std::string> recordedFeatures(const TargetInfo &t) const override {
    return cpu::requiredFeatures(t);
  }

  void buildKernelPipeline(OpPassManager &pm, const TargetInfo &t) const override {
    pm.addPass(createRecordKernelsPass());
    pm.addNestedPass<func::FuncOp>(cpu::createTileVectorizePass());
    pm.addPass(cpu::createBufferizePlanPass());
    pm.addPass(std::make_unique<DispatchPass>());
    pm.addPass(std::make_unique<PrepareHostPass>());
    cpu::addLowerToLLVMPasses(pm);
  }

  absl::Status serialize(ModuleOp m, const TargetInfo &t, const TargetOptions &opts,
                         SerializeKind kind, ModelSignature &sig,
                         std::vector<std::string> &out) const override {
    std::string err;
    auto tm = cpu::createTargetMachine(t, opts.optLevel, err);
    if (!tm)
      return absl::InternalError(err);
    std::vector<std::string> kernelSymbols;
    readKernelList(m, sig, kernelSymbols);
    auto llvmCtx = std::make_unique<llvm::LLVMContext>();
    auto module = cpu::translateToLLVMIR(m, *llvmCtx, *tm);
    if (!module)
      return absl::InternalError("translation to LLVM IR failed");
    opts.stepDone("translate to LLVM IR");
    cpu::expandRuntimeCalls(*module, cpu::kHostSymbol, kernelSymbols);
    cpu::returnResultsThroughPointer(*module, cpu::kHostSymbol);
    sig.cpuName = t.cpu;
    sig.cpuFeatures = absl::StrJoin(recordedFeatures(t), ",");
    addEntryTable(*module, sig, std::string("_mlir_ciface_") + cpu::kHostSymbol);
    // The host schedule is one long block of calls and descriptor stores
    // (thousands for a model with many outputs or kernels), on which LLVM's
    // instruction schedulers are quadratic; optimising it buys nothing, as
    // the work is in the kernels. Compile it (and its wrappers) unoptimised.
    for (const std::string &host :
         {std::string(cpu::kHostSymbol), std::string("_mlir_ciface_") + cpu::kHostSymbol,
          std::string("mlc_run")})
      if (llvm::Function *f = module->getFunction(host); f && !f->isDeclaration()) {
        f->removeFnAttr(llvm::Attribute::AlwaysInline);
        f->addFnAttr(llvm::Attribute::NoInline);
        f->addFnAttr(llvm::Attribute::OptimizeNone);
      }

    if (kind == SerializeKind::Objects) {
      if (!cpu::emitObjectsInParallel(std::move(module), t, opts, out, err))
        return absl::InternalError(err);
      return absl::OkStatus();
    }
    cpu::optimizeModule(*module, *tm, opts.optLevel);
    std::string text;
    if (kind == SerializeKind::LLVMIR) {
      llvm::raw_string_ostream os(text);
      module->print(os, nullptr);
    } else if (!cpu::emitMachineCode(*module, *tm, kind == SerializeKind::Assembly, text, err)) {
      return absl::InternalError(err);
    }
    out.push_back(std::move(text));
    return absl::OkStatus();
  }
};

} // namespace

void mlc::cpu::registerCpuBackendPasses() {
  PassRegistration<DispatchPass>();
  PassRegistration<PrepareHostPass>();
  PassPipelineRegistration<>("mlc-cpu-to-llvm", "Lower the module to the LLVM dialect",
                             [](OpPassManager &pm) { cpu::addLowerToLLVMPasses(pm); });
}

void mlc::registerBuiltinTargetBackends() {
  static bool done = [] {
    registerTargetBackend(std::make_unique<CpuBackend>());
    registerCudaTargetBackend();
    return true;
  }();
  (void)done;
}
