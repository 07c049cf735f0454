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
#include "dialects/CurrentNode.h"
#include "tools/mlc/Common.h"

#include "llvm/Support/ErrorHandling.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>

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

/// Whatever goes wrong inside the compiler ends as an internal error (exit
/// 2) with a message, never as an abort or an uncaught exception.
[[noreturn]] static void internalError(const char *what) {
  std::fflush(stdout);
  std::string node = mlc::describeCurrentNode();
  std::fprintf(stderr,
               "mlc: internal error: %s%s%s\n(this is a bug in mlc; please report it with the model)\n",
               what, node.empty() ? "" : ", while compiling ", node.c_str());
  std::fflush(stderr);
  std::_Exit(kInternalError);
}

static void installErrorHandlers() {
  llvm::install_fatal_error_handler(
      [](void *, const char *reason, bool) { internalError(reason); });
  llvm::install_bad_alloc_error_handler(
      [](void *, const char *, bool) { internalError("out of memory"); });
  std::set_terminate([] {
    std::exception_ptr e = std::current_exception();
    try {
      if (e)
        std::rethrow_exception(e);
    } catch (const std::bad_alloc &) {
      internalError("out of memory");
    } catch (const std::exception &x) {
      internalError(x.what());
    } catch (...) {
    }
    internalError("terminated");
  });
}

static int dispatch(const std::string &cmd, const Args &args);

int main(int argc, char **argv) {
  installErrorHandlers();
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
  try {
    return dispatch(cmd, args);
  } catch (const std::bad_alloc &) {
    internalError("out of memory");
  } catch (const std::exception &e) {
    internalError(e.what());
  }
}

static int dispatch(const std::string &cmd, const Args &args) {
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
