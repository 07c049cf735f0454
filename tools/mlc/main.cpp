//===- main.cpp - the mlc command line -----------------------------------===//
//
//   mlc compile model.onnx -o model.so [options]       Compile.cpp
//   mlc run model.so --input NAME=FILE.npy ...         Run.cpp
//   mlc bench model.so [--threads N] [--profile]       Bench.cpp
//   mlc inspect model.onnx|model.so [--kernels]        Inspect.cpp
//   mlc verify model.onnx [--so model.so]              Verify.cpp
//
// Exit codes: 0 success, 1 user error, 2 internal error.
//
//===----------------------------------------------------------------------===//
#include "compiler/driver/Pipeline.h"
#include "tools/mlc/Common.h"

#include <cstdio>

using namespace mlc::tools;

static const char *kUsage =
    "usage: mlc <command> [options]\n"
    "\n"
    "commands:\n"
    "  compile   compile an ONNX model into a shared library\n"
    "  run       run a compiled model on .npy inputs\n"
    "  bench     time a compiled model\n"
    "  inspect   describe an .onnx model or a compiled .so\n"
    "  verify    compare a compiled model with onnxruntime on the same inputs\n"
    "\n"
    "Run 'mlc <command> --help' for the options of a command.\n";

int main(int argc, char **argv) {
  Args args(argv + 1, argv + argc);
  if (args.empty()) {
    std::fprintf(stderr, "%s", kUsage);
    return kUserError;
  }
  std::string cmd = args[0];
  args.erase(args.begin());
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::printf("%s", kUsage);
    return kOk;
  }
  if (cmd == "--version") {
    std::printf("%s\n", mlc::compilerVersion());
    return kOk;
  }
  if (cmd == "compile")
    return cmdCompile(args);
  if (cmd == "run")
    return cmdRun(args);
  if (cmd == "bench")
    return cmdBench(args);
  if (cmd == "inspect")
    return cmdInspect(args);
  if (cmd == "verify")
    return cmdVerify(args);
  std::fprintf(stderr, "mlc: error: unknown command '%s'\n\n%s", cmd.c_str(), kUsage);
  return kUserError;
}
