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
};

/// Compiles `opts.input` as asked. User errors (bad model, unsupported
/// node, bad option) come back as InvalidArgument/NotFound; failures of the
/// compiler itself as Internal.
absl::Status compileModel(const CompileOptions &opts);

/// The options as recorded in the artifact (deterministic text).
std::string describeOptions(const CompileOptions &opts);

const char *compilerVersion();

} // namespace mlc

#endif
