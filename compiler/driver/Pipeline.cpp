//===- Pipeline.cpp - the compiler driver --------------------------------===//
#include "compiler/driver/Pipeline.h"
#include "compiler/driver/Cache.h"

#include "codegen/TargetBackend.h"
#include "compiler/import/Importer.h"
#include "compiler/package/Package.h"
#include "dialects/CurrentNode.h"
#include "dialects/MlcDialect.h"
#include "passes/Passes.h"
#include "mlc/runtime.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/ToolOutputFile.h"

#include <chrono>
#include <cstdio>
#include <thread>

using namespace mlir;
using namespace mlc;

const char *mlc::compilerVersion() { return "mlc " MLC_VERSION; }

std::string mlc::describeOptions(const CompileOptions &o) {
  std::string s = absl::StrCat("target=", o.target, " O", o.optLevel);
  if (!o.cpu.empty())
    absl::StrAppend(&s, " cpu=", o.cpu);
  for (const auto &[name, dims] : o.shapes)
    absl::StrAppend(&s, " shape:", name, "=", absl::StrJoin(dims, "x"));
  return s;
}

namespace {

int dtypeOf(Type t) {
  auto is = [&](char kind, unsigned bits) {
    switch (kind) {
    case 'f': return (bits == 16 && t.isF16()) || (bits == 32 && t.isF32()) || (bits == 64 && t.isF64());
    case 'i': return t.isSignlessInteger(bits) || t.isSignedInteger(bits);
    case 'u': return t.isUnsignedInteger(bits);
    case 'b': return t.isInteger(1);
    case 'V': return bits == 16 && t.isBF16();
    default: return false;
    }
  };
#define MLC_DTYPE(ENUM, VALUE, NAME, SIZE, KIND, BITS, ONNX, STORE)                              \
  if (is(KIND, BITS)) /* a narrow type's holder is ambiguous (mlc.onnx_type) */                \
    return MLC_DTYPE_##ENUM;
#include "mlc/dtypes.def"
  return 0;
}

/// Collects diagnostics so they can be returned as one status message.
struct DiagnosticCollector {
  std::vector<std::string> messages;
  ScopedDiagnosticHandler handler;
  explicit DiagnosticCollector(MLIRContext *ctx)
      : handler(ctx, [this](Diagnostic &d) {
          std::string loc;
          if (std::string n = nodeNameOf(d.getLocation()); !n.empty())
            loc = "node '" + n + "': ";
          messages.push_back(loc + d.str());
          return success();
        }) {}
  std::string text() const { return absl::StrJoin(messages, "\n  "); }
};

absl::Status fail(bool user, const std::string &what, const DiagnosticCollector &d) {
  std::string msg = d.messages.empty() ? what : what + ":\n  " + d.text();
  return user ? absl::InvalidArgumentError(msg) : absl::InternalError(msg);
}

/// The mlc dtype of an ONNX type, 0 if the table lacks it.
int dtypeOfOnnx(int64_t onnx) {
#define MLC_DTYPE(ENUM, VALUE, NAME, SIZE, KIND, BITS, ONNX, STORE)                              \
  if (onnx == ONNX)                                                                              \
    return MLC_DTYPE_##ENUM;
#include "mlc/dtypes.def"
  return 0;
}

/// `onnxType` (mlc.onnx_type, set on narrow tensors) names the ONNX type
/// when the element type only holds it.
TensorSignature signatureOf(Type t, StringAttr name, ArrayAttr dimNames, IntegerAttr onnxType) {
  TensorSignature s;
  auto rt = cast<RankedTensorType>(t);
  s.name = name ? name.str() : "";
  s.dtype = onnxType ? dtypeOfOnnx(onnxType.getInt()) : dtypeOf(rt.getElementType());
  for (int64_t i = 0; i < rt.getRank(); ++i) {
    bool dyn = rt.isDynamicDim(i);
    s.dims.push_back(dyn ? -1 : rt.getDimSize(i));
    std::string n;
    if (dyn && dimNames && i < (int64_t)dimNames.size())
      n = cast<StringAttr>(dimNames[i]).str();
    s.dimNames.push_back(n);
  }
  return s;
}

absl::Status writeFile(const std::string &path, StringRef data) {
  std::error_code ec;
  llvm::ToolOutputFile out(path, ec, llvm::sys::fs::OF_None);
  if (ec)
    return absl::InvalidArgumentError("cannot write '" + path + "': " + ec.message());
  out.os() << data;
  out.keep();
  return absl::OkStatus();
}

/// Prints each stage and its time to stderr when asked (-v).
class StageTimer {
public:
  StageTimer(bool enabled, bool progress, const std::string &model)
      : enabled(enabled), progress(progress && !enabled), model(model), start(Clock::now()),
        last(start) {}
  ~StageTimer() { clearProgress(); }
  /// Shows the stage that starts now (progress mode only).
  void begin(const char *stage) {
    if (!progress)
      return;
    std::fprintf(stderr, "\r\033[Kmlc: compiling %s: %s (%.1f s)", model.c_str(), stage,
                 std::chrono::duration<double>(Clock::now() - start).count());
    std::fflush(stderr);
    shown = true;
  }
  void done(const char *stage) {
    if (!enabled)
      return;
    auto now = Clock::now();
    std::fprintf(stderr, "mlc: %-28s %8.3f s\n", stage,
                 std::chrono::duration<double>(now - last).count());
    last = now;
  }
  void clearProgress() {
    if (shown)
      std::fprintf(stderr, "\r\033[K");
    shown = false;
  }
  void total() {
    if (!enabled)
      return;
    std::fprintf(stderr, "mlc: %-28s %8.3f s\n", "total",
                 std::chrono::duration<double>(Clock::now() - start).count());
    if (long kb = peakResidentKiB(); kb > 0)
      std::fprintf(stderr, "mlc: %-28s %8.0f MB\n", "peak memory", kb / 1024.0);
  }

private:
  /// VmHWM of this process image: unlike getrusage's ru_maxrss it does not
  /// include the image of the parent that forked the compiler.
  static long peakResidentKiB() {
    std::FILE *f = std::fopen("/proc/self/status", "r");
    if (!f)
      return 0;
    char line[256];
    long kb = 0;
    while (std::fgets(line, sizeof line, f))
      if (std::sscanf(line, "VmHWM: %ld kB", &kb) == 1)
        break;
    std::fclose(f);
    return kb;
  }

  using Clock = std::chrono::steady_clock;
  bool enabled, progress, shown = false;
  std::string model;
  Clock::time_point start, last;
};

} // namespace

static absl::Status compileUncached(const CompileOptions &opts, const TargetBackend *backend,
                                    TargetOptions topts, const TargetInfo &targetInfo);

absl::Status mlc::compileModel(const CompileOptions &opts, CompileReport *report) {
  registerBuiltinTargetBackends();
  // NAME or NAME:ARCH (cuda:sm_80).
  llvm::StringRef targetName = opts.target, targetArch;
  std::tie(targetName, targetArch) = targetName.split(':');
  const TargetBackend *backend = lookupTargetBackend(targetName);
  if (!backend)
    return absl::InvalidArgumentError(
        "target '" + targetName.str() + "' is not available in this build (available: " +
        absl::StrJoin(targetBackendNames(), ", ") + ")");
  if (targetName == "cpu" && !targetArch.empty())
    return absl::InvalidArgumentError("the cpu target takes no ':ARCH'; use --cpu NAME");
  // An output that cannot be written is the user's to fix: say so (with
  // the system's reason) before compiling, not as a failure of the link.
  if (opts.output != "-") {
    if (llvm::sys::fs::is_directory(opts.output))
      return absl::InvalidArgumentError("cannot write '" + opts.output + "': it is a folder");
    llvm::SmallString<256> probe(llvm::sys::path::parent_path(opts.output));
    if (probe.empty())
      probe = ".";
    llvm::sys::path::append(probe, ".mlc-write-test-%%%%%%");
    int fd = -1;
    llvm::SmallString<256> created;
    if (auto ec = llvm::sys::fs::createUniqueFile(probe, fd, created))
      return absl::InvalidArgumentError("cannot write '" + opts.output + "': " + ec.message());
    llvm::sys::Process::SafelyCloseFileDescriptor(fd);
    llvm::sys::fs::remove(created);
  }
  TargetOptions topts;
  topts.cpu = opts.cpu;
  topts.arch = targetArch.str();
  topts.optLevel = opts.optLevel;
  topts.threads = opts.jobs ? opts.jobs : std::max(1u, std::thread::hardware_concurrency());
  std::string err;
  auto target = backend->resolve(topts, err);
  if (failed(target))
    return absl::InvalidArgumentError(err);
  if (opts.cacheDir.empty() || opts.emit != EmitKind::SharedLibrary)
    return compileUncached(opts, backend, topts, *target);

  std::string settings = describeOptions(opts) + "\nresolved " + target->name + " " +
                         target->cpu + " " + target->features + " " +
                         absl::StrJoin(backend->recordedFeatures(*target), ",");
  auto key = cacheKey(opts.input, settings);
  if (key && cacheFetch(opts.cacheDir, *key, opts.output)) {
    if (report)
      report->cacheHit = true;
    return absl::OkStatus();
  }
  absl::Status s = compileUncached(opts, backend, topts, *target);
  if (s.ok() && key)
    cacheStore(opts.cacheDir, *key, opts.output);
  return s;
}

static absl::Status compileUncached(const CompileOptions &opts, const TargetBackend *backend,
                                    TargetOptions topts, const TargetInfo &targetInfo) {
  const TargetInfo *target = &targetInfo;
  std::string err;
  StageTimer timer(opts.verbose, opts.progress, llvm::sys::path::filename(opts.input).str());
  timer.begin("import");
  topts.stepDone = [&timer](const char *step) { timer.done(step); };

  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registry.insert<MlcDialect>();
  MLIRContext ctx(registry, MLIRContext::Threading::DISABLED);
  ctx.loadAllAvailableDialects();
  trackCurrentNode(ctx);
  DiagnosticCollector diags(&ctx);

  ImportOptions io;
  io.shapes = opts.shapes;
  auto imported = importOnnxFile(ctx, opts.input, io);
  if (!imported.ok())
    return imported.status();
  ModuleOp m = imported->get();
  timer.done("import");
  timer.begin("graph passes");

  // Graph level.
  {
    PassManager pm(&ctx);
    pm.addNestedPass<func::FuncOp>(createShapePropagationPass());
    pm.addNestedPass<func::FuncOp>(createFoldConstantsPass());
    pm.addNestedPass<func::FuncOp>(createFoldBatchNormPass());
    pm.addNestedPass<func::FuncOp>(createShapePropagationPass());
    pm.addNestedPass<func::FuncOp>(createFoldConstantsPass());
    if (failed(pm.run(m)))
      return fail(true, "shape inference failed", diags);
  }
  timer.done("graph passes");
  timer.begin("lowering, fusion, kernels");
  if (opts.emit == EmitKind::Mlir) {
    std::string s;
    llvm::raw_string_ostream os(s);
    OpPrintingFlags flags;
    if (opts.elideConstants > 0)
      flags.elideLargeElementsAttrs(opts.elideConstants);
    m.print(os, flags);
    return writeFile(opts.output, s);
  }

  // The signature, before code generation changes the function.
  auto mainFn = hostFunction(m);
  ModelSignature sig;
  for (unsigned i = 0; i < mainFn.getNumArguments(); ++i)
    sig.inputs.push_back(signatureOf(mainFn.getArgumentTypes()[i],
                                     mainFn.getArgAttrOfType<StringAttr>(i, "mlc.name"),
                                     mainFn.getArgAttrOfType<ArrayAttr>(i, "mlc.dim_names"),
                                     mainFn.getArgAttrOfType<IntegerAttr>(i, "mlc.onnx_type")));
  for (unsigned i = 0; i < mainFn.getNumResults(); ++i) {
    if (!isa<RankedTensorType>(mainFn.getResultTypes()[i]))
      return absl::InvalidArgumentError(
          "the shape of output #" + std::to_string(i) + " could not be inferred");
    sig.outputs.push_back(signatureOf(mainFn.getResultTypes()[i],
                                      mainFn.getResultAttrOfType<StringAttr>(i, "mlc.name"),
                                      mainFn.getResultAttrOfType<ArrayAttr>(i, "mlc.dim_names"),
                                      mainFn.getResultAttrOfType<IntegerAttr>(i, "mlc.onnx_type")));
  }
  for (auto *list : {&sig.inputs, &sig.outputs})
    for (const auto &t : *list)
      if (t.dtype == 0)
        return absl::InvalidArgumentError("input/output '" + t.name +
                                          "' has an unsupported element type");

  // Lowering, fusion and tiling decisions (for the module's target),
  // kernel outlining.
  setTargetAttr(m, *target);
  {
    PassManager pm(&ctx);
    pm.addPass(createLowerToLinalgPass());
    pm.addPass(createCanonicalizerPass());
    pm.addPass(createCSEPass());
    pm.addNestedPass<func::FuncOp>(createFusionPass());
    pm.addNestedPass<func::FuncOp>(createTilingPass(*target));
    pm.addPass(createOutlineKernelsPass());
    if (failed(pm.run(m)))
      return fail(true, "lowering failed", diags);
  }
  if (!backend->supportsHostControlFlow()) {
    Operation *flow = nullptr;
    hostFunction(m).walk([&](Operation *op) {
      if (flow || !isa<scf::IfOp, scf::WhileOp>(op))
        return;
      // Only ONNX control flow: other lowerings' host-side ifs (on
      // run-time sizes) are the backends' to handle.
      std::string type = nodeOpTypeOf(op->getLoc());
      if (type == "If" || type == "Loop" || type == "Scan")
        flow = op;
    });
    if (flow)
      return absl::InvalidArgumentError(
          "node '" + nodeNameOf(flow->getLoc()) + "' (" + nodeOpTypeOf(flow->getLoc()) +
          "): the " + backend->name().str() +
          " target does not run control flow decided at run time (If, Loop, Scan) yet; "
          "compile for --target cpu");
  }
  timer.done("lowering, fusion, kernels");
  timer.begin("kernel code generation");
  if (opts.emit == EmitKind::Linalg) {
    std::string s;
    llvm::raw_string_ostream os(s);
    OpPrintingFlags flags;
    if (opts.elideConstants > 0)
      flags.elideLargeElementsAttrs(opts.elideConstants);
    m.print(os, flags);
    return writeFile(opts.output, s);
  }

  // Code generation: the signature is recorded above; the names on the
  // arguments would only confuse the LLVM translation. Kernels are
  // independent functions, so the kernel pipeline runs on every core.
  mainFn = hostFunction(m);
  mainFn->removeAttr(mainFn.getArgAttrsAttrName());
  mainFn->removeAttr(mainFn.getResAttrsAttrName());
  ctx.enableMultithreading(true);
  {
    PassManager pm(&ctx);
    if (std::getenv("MLC_PASS_TIMING"))
      pm.enableTiming();
    backend->buildKernelPipeline(pm, *target);
    if (failed(pm.run(m)))
      return fail(false, "code generation failed", diags);
  }
  timer.done("kernel code generation");
  timer.begin("serialise");

  sig.compilerVersion = compilerVersion();
  sig.compileOptions = describeOptions(opts);
  sig.target = backend->name().str();
  SerializeKind kind = opts.emit == EmitKind::LLVM       ? SerializeKind::LLVMIR
                       : opts.emit == EmitKind::Asm      ? SerializeKind::Assembly
                       : opts.emit == EmitKind::Object   ? SerializeKind::Object
                                                         : SerializeKind::Objects;
  std::vector<std::string> parts;
  if (auto s = backend->serialize(m, *target, topts, kind, sig, parts); !s.ok())
    return fail(false, std::string(s.message()), diags);
  timer.done("serialise");
  timer.begin("link");
  if (kind != SerializeKind::Objects)
    return writeFile(opts.output, parts.front());

  std::vector<std::string> objects;
  auto cleanup = [&] {
    for (const std::string &o : objects)
      llvm::sys::fs::remove(o);
  };
  for (const std::string &code : parts) {
    llvm::SmallString<128> obj;
    if (auto ec = llvm::sys::fs::createTemporaryFile("mlc-model", "o", obj)) {
      cleanup();
      return absl::InternalError("cannot create a temporary file: " + ec.message());
    }
    objects.push_back(obj.str().str());
    if (auto s = writeFile(objects.back(), code); !s.ok()) {
      cleanup();
      return s;
    }
  }
  bool linked = linkSharedLibrary(objects, opts.output, err);
  cleanup();
  if (!linked)
    return absl::InternalError(err);
  timer.done("link");
  timer.total();
  return absl::OkStatus();
}
