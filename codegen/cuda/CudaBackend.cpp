//===- CudaBackend.cpp - the cuda TargetBackend ---------------------------===//
#include "codegen/TargetBackend.h"
#include "codegen/cpu/CpuCodegen.h"
#include "codegen/cuda/CudaCodegen.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>

using namespace mlir;
using namespace mlc;

std::string cuda::findToolkit() {
  auto usable = [](const std::string &root) {
    llvm::SmallString<256> ptxas(root), libdevice(root);
    llvm::sys::path::append(ptxas, "bin", "ptxas");
    llvm::sys::path::append(libdevice, "nvvm", "libdevice", "libdevice.10.bc");
    return llvm::sys::fs::can_execute(ptxas) && llvm::sys::fs::exists(libdevice);
  };
  for (const char *var : {"CUDA_HOME", "CUDA_PATH"})
    if (const char *v = std::getenv(var); v && *v && usable(v))
      return v;
  if (usable("/usr/local/cuda"))
    return "/usr/local/cuda";
  if (auto ptxas = llvm::sys::findProgramByName("ptxas")) {
    llvm::SmallString<256> root(*ptxas);
    llvm::sys::fs::real_path(*ptxas, root);
    root = llvm::sys::path::parent_path(llvm::sys::path::parent_path(root));
    if (usable(root.str().str()))
      return root.str().str();
  }
  return "";
}

namespace {

/// The lowest compute capability the toolkit of CUDA 13 still targets.
constexpr int kMinArch = 75;

/// Names the host schedule, gives every function the execution context,
/// and records the constants the host reads (their index is their
/// position).
struct PrepareHostPass : PassWrapper<PrepareHostPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(PrepareHostPass)
  StringRef getArgument() const override { return "mlc-cuda-prepare-host"; }
  StringRef getDescription() const override {
    return "Name the host schedule, pass the execution context, list the constants";
  }
  void runOnOperation() override {
    ModuleOp m = getOperation();
    func::FuncOp host = hostFunction(m);
    if (!host)
      return signalPassFailure();
    passExecutionContext(m);
    host.setName(cpu::kHostSymbol);
    host->setAttr("llvm.emit_c_interface", UnitAttr::get(&getContext()));
    Builder b(&getContext());
    SmallVector<Attribute> names;
    for (auto g : m.getOps<memref::GlobalOp>())
      names.push_back(b.getStringAttr(g.getSymName()));
    m->setAttr(cuda::kConstantsAttr, b.getArrayAttr(names));
  }
};

int archNumber(llvm::StringRef chip) {
  int n = 0;
  if (!chip.consume_front("sm_") || chip.consumeInteger(10, n) || !(chip.empty() || chip == "a"))
    return 0;
  return n;
}

class CudaBackend final : public TargetBackend {
public:
  llvm::StringRef name() const override { return "cuda"; }
  // The device mapping moves the host's top-level work to the GPU; work
  // inside an If or a loop of the host is not mapped yet.
  bool supportsHostControlFlow() const override { return false; }

  FailureOr<TargetInfo> resolve(const TargetOptions &opts, std::string &err) const override {
    TargetInfo t;
    t.name = "cuda";
    t.cpu = opts.arch.empty() ? "sm_90" : opts.arch;
    int arch = archNumber(t.cpu);
    if (arch < kMinArch) {
      err = "unknown CUDA architecture '" + t.cpu + "' (try sm_75, sm_80, sm_86, sm_89, sm_90)";
      return failure();
    }
    if (cuda::findToolkit().empty()) {
      err = "the cuda target needs the CUDA toolkit (ptxas and libdevice); set CUDA_HOME to "
            "its folder";
      return failure();
    }
    // PTX ISA 8.0 covers sm_90a; the driver JIT-compiles it on newer GPUs.
    t.features = "+ptx80";
    // What the shared tiling decisions read; the cuda pipeline maps loops
    // to threads itself.
    t.vectorBits = 256;
    t.numVectorRegisters = 16;
    return t;
  }

  std::vector<std::string> recordedFeatures(const TargetInfo &) const override {
    // The host code is baseline x86-64; the device is checked by its
    // compute capability (the artifact's cpu_name, sm_XX).
    return {};
  }

  void buildKernelPipeline(OpPassManager &pm, const TargetInfo &t) const override {
    pm.addPass(createRecordKernelsPass());
    pm.addPass(cpu::createBufferizePlanPass());
    pm.addPass(cuda::createLibraryCallsPass());
    pm.addNestedPass<func::FuncOp>(createConvertLinalgToParallelLoopsPass());
    // Integer powers become functions, which outlining copies into the
    // device module with the kernels that call them.
    pm.addPass(createConvertMathToFuncs());
    pm.addPass(cuda::createMapToGpuPass());
    pm.addPass(std::make_unique<PrepareHostPass>());
    pm.addPass(createGpuKernelOutliningPass());
    pm.addPass(cuda::createMergeDeviceModulesPass());
    GpuNVVMAttachTargetOptions target;
    target.chip = t.cpu;
    target.features = t.features;
    target.optLevel = 3;
    pm.addPass(createGpuNVVMAttachTarget(target));
    // Device and host code alike: loops to branches, memref metadata to
    // arithmetic (the affine maps that leaves lowered again).
    auto toBranches = [](OpPassManager &p) {
      p.addPass(createLowerAffinePass());
      p.addPass(createConvertSCFToCFPass());
      p.addPass(arith::createArithExpandOpsPass());
      p.addPass(memref::createExpandStridedMetadataPass());
      p.addPass(createLowerAffinePass());
    };
    OpPassManager &dpm = pm.nest<gpu::GPUModuleOp>();
    toBranches(dpm);
    dpm.addPass(createConvertGpuOpsToNVVMOps());
    dpm.addPass(createCanonicalizerPass());
    dpm.addPass(createCSEPass());
    toBranches(pm.nest<func::FuncOp>());
    pm.addPass(createGpuToLLVMConversionPass());
    FinalizeMemRefToLLVMConversionPassOptions memrefOpts;
    memrefOpts.useGenericFunctions = true; // device allocations (the runtime's)
    pm.addPass(createFinalizeMemRefToLLVMConversionPass(memrefOpts));
    pm.addPass(createArithToLLVMConversionPass());
    pm.addPass(createConvertIndexToLLVMPass());
    pm.addPass(createConvertControlFlowToLLVMPass());
    pm.addPass(createConvertFuncToLLVMPass());
    pm.addPass(createReconcileUnrealizedCastsPass());
  }

  absl::Status serialize(ModuleOp m, const TargetInfo &t, const TargetOptions &opts,
                         SerializeKind kind, ModelSignature &sig,
                         std::vector<std::string> &out) const override {
    std::vector<std::string> kernelSymbols;
    readKernelList(m, sig, kernelSymbols);
    std::vector<std::string> constants;
    if (auto list = m->getAttrOfType<ArrayAttr>(cuda::kConstantsAttr))
      for (Attribute a : list)
        constants.push_back(cast<StringAttr>(a).str());

    // Device code: PTX for --emit asm, else a fatbin (cubin for the chip
    // plus PTX for newer GPUs).
    {
      DialectRegistry registry;
      NVVM::registerNVVMTargetInterfaceExternalModels(registry);
      registerBuiltinDialectTranslation(registry);
      registerLLVMDialectTranslation(registry);
      registerGPUDialectTranslation(registry);
      registerNVVMDialectTranslation(registry);
      gpu::registerOffloadingLLVMTranslationInterfaceExternalModels(registry);
      m->getContext()->appendDialectRegistry(registry);
      PassManager pm(m->getContext());
      GpuModuleToBinaryPassOptions bin;
      bin.toolkitPath = cuda::findToolkit();
      bin.compilationTarget = kind == SerializeKind::Assembly ? "isa" : "fatbin";
      pm.addPass(createGpuModuleToBinaryPass(bin));
      if (failed(pm.run(m)))
        return absl::InternalError("device code generation (NVVM to PTX/cubin) failed");
    }
    opts.stepDone("PTX and cubin");
    if (kind == SerializeKind::Assembly) {
      std::string ptx;
      m.walk([&](gpu::BinaryOp b) {
        for (Attribute o : b.getObjects())
          ptx += cast<gpu::ObjectAttr>(o).getObject().str();
      });
      out.push_back(std::move(ptx));
      return absl::OkStatus();
    }

    // Host code: the schedule and the launches, for any x86-64 CPU.
    TargetInfo host;
    host.cpu = "x86-64";
    std::string err;
    auto tm = cpu::createTargetMachine(host, opts.optLevel, err);
    if (!tm)
      return absl::InternalError(err);
    auto llvmCtx = std::make_unique<llvm::LLVMContext>();
    auto module = cpu::translateToLLVMIR(m, *llvmCtx, *tm);
    if (!module)
      return absl::InternalError("translation to LLVM IR failed");
    if (!cuda::expandCudaRuntimeCalls(*module, constants, err))
      return absl::InternalError(err);
    cpu::returnResultsThroughPointer(*module, cpu::kHostSymbol);
    opts.stepDone("host code");
    sig.cpuName = t.cpu;
    sig.cpuFeatures = "";
    addEntryTable(*module, sig, std::string("_mlir_ciface_") + cpu::kHostSymbol);
    cpu::optimizeModule(*module, *tm, opts.optLevel);
    std::string text;
    if (kind == SerializeKind::LLVMIR) {
      llvm::raw_string_ostream os(text);
      module->print(os, nullptr);
    } else if (!cpu::emitMachineCode(*module, *tm, false, text, err)) {
      return absl::InternalError(err);
    }
    out.push_back(std::move(text));
    return absl::OkStatus();
  }
};

} // namespace

void mlc::cuda::registerCudaBackendPasses() {
  PassRegistration<PrepareHostPass>();
  registerLibraryCallsPass();
}

void mlc::registerCudaTargetBackend() {
  registerTargetBackend(std::make_unique<CudaBackend>());
}
