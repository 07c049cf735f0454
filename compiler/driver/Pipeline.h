//===- Pipeline.h - the compiler driver: options, stages, targets -*- C++ -*-===//
#ifndef MLC_COMPILER_DRIVER_PIPELINE_H
#define MLC_COMPILER_DRIVER_PIPELINE_H

#include "absl/status/status.h"

#include <map>
#include <string>
#include <vector>

namespace mlc {

enum class EmitKind { SharedLibrary, Mlir, Linalg, LLVM, Asm, Object };

struct CompileOptions {
  std::string input;
  std::string output;
  std::string target = "cpu";
  std::string cpu;            // "" = host
  int optLevel = 3;
  EmitKind emit = EmitKind::SharedLibrary;
  std::map<std::string, std::vector<int64_t>> shapes;
  bool verbose = false;       // print each stage and its time to stderr
  bool progress = false;      // show the running stage on stderr (a terminal)
  unsigned jobs = 0;          // compiler threads; 0 = every core
  int64_t elideConstants = 0; // --emit mlir/linalg: print constants with more
                              // elements than this as "..."; 0 = all
  std::string cacheDir;       // compile cache folder; "" = no cache
};

/// What a compile did, for the CLI to report.
struct CompileReport {
  bool cacheHit = false;
};

/// Compiles `opts.input` as asked. User errors (bad model, unsupported
/// node, bad option) come back as InvalidArgument/NotFound; failures of the
/// compiler itself as Internal.
/// With `opts.cacheDir`, a shared library compiled before from the same
/// model, options, target and compiler is copied from the cache instead.
absl::Status compileModel(const CompileOptions &opts, CompileReport *report = nullptr);

/// The options as recorded in the artifact (deterministic text).
std::string describeOptions(const CompileOptions &opts);

const char *compilerVersion();

} // namespace mlc

#endif
