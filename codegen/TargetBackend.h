//===- TargetBackend.h - the interface every code generation target implements -*- C++ -*-===//
//
// Targets are peers: the driver looks a backend up by name and only talks
// to it through this interface. A backend turns the outlined kernels and
// host schedule (linalg on tensors, decisions recorded as attributes) into
// target code and serialises it, with the artifact table, into objects the
// package step links into one .so.
//
//===----------------------------------------------------------------------===//
#ifndef MLC_CODEGEN_TARGETBACKEND_H
#define MLC_CODEGEN_TARGETBACKEND_H

#include "compiler/package/Package.h"
#include "passes/Passes.h"

#include "absl/status/status.h"
#include "mlir/Support/LogicalResult.h"
#include "llvm/ADT/StringRef.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace mlir {
class OpPassManager;
class Pass;
} // namespace mlir

namespace mlc {

/// What the user asked of the target.
struct TargetOptions {
  std::string cpu;        // "" = this machine
  std::string arch;       // the target's variant: --target NAME:ARCH (cuda: sm_90)
  int optLevel = 3;
  unsigned threads = 1;   // compile threads
  /// Called when a step of serialize() is done (for `mlc compile -v`).
  std::function<void(const char *step)> stepDone = [](const char *) {};
};

/// What serialize() produces.
enum class SerializeKind {
  Objects,   // object files to link into the .so (possibly several)
  LLVMIR,    // one textual LLVM module
  Assembly,  // one assembly file
  Object     // one object file
};

class TargetBackend {
public:
  virtual ~TargetBackend() = default;
  virtual llvm::StringRef name() const = 0;
  /// Resolves the options into the facts the tiling policy reads.
  virtual mlir::FailureOr<TargetInfo> resolve(const TargetOptions &opts,
                                              std::string &err) const = 0;
  /// The features the artifact records; the runtime refuses to run a model
  /// on a machine that lacks one.
  virtual std::vector<std::string> recordedFeatures(const TargetInfo &t) const = 0;
  /// Whether the host schedule may hold control flow (an If or a loop
  /// decided at run time) that calls kernels; the driver refuses such a
  /// model for a backend that cannot, naming the node.
  virtual bool supportsHostControlFlow() const { return true; }
  /// Passes from outlined kernels (tensors, decisions recorded) to the
  /// target's code (the LLVM dialect for cpu).
  virtual void buildKernelPipeline(mlir::OpPassManager &pm, const TargetInfo &t) const = 0;
  /// Serialises the lowered module plus the artifact table (`sig`, whose
  /// arena size and kernels the backend fills in) into `out`.
  virtual absl::Status serialize(mlir::ModuleOp m, const TargetInfo &t,
                                 const TargetOptions &opts, SerializeKind kind,
                                 ModelSignature &sig,
                                 std::vector<std::string> &out) const = 0;
};

// Steps every backend shares (codegen/Common.cpp).

/// A pass recording the kernel list (symbol, name, FLOPs) on the module,
/// before lowering drops the kernels' attributes.
std::unique_ptr<mlir::Pass> createRecordKernelsPass();
/// The recorded kernel list: appends each kernel to `sig.kernels` and its
/// symbol to `symbols`; the arena size to `sig.arenaSize`.
void readKernelList(mlir::ModuleOp m, ModelSignature &sig, std::vector<std::string> &symbols);
/// Gives the host schedule and every kernel the execution context
/// (!llvm.ptr) as first argument; calls between them pass it on. Other
/// functions (helpers that device code calls) are left alone.
void passExecutionContext(mlir::ModuleOp m);

/// The registry of backends, by name. Backends register themselves once
/// (registerBuiltinTargetBackends); lookups never fail silently.
void registerTargetBackend(std::unique_ptr<TargetBackend> backend);
const TargetBackend *lookupTargetBackend(llvm::StringRef name);
std::vector<std::string> targetBackendNames();
/// Registers the backends built into this binary (cpu, and cuda when the
/// toolkit was found at build time).
void registerBuiltinTargetBackends();
void registerCudaTargetBackend();

} // namespace mlc

#endif
