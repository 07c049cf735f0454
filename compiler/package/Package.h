//===- Package.h - the model.so: entry table and link -----------*- C++ -*-===//
#ifndef MLC_COMPILER_PACKAGE_PACKAGE_H
#define MLC_COMPILER_PACKAGE_PACKAGE_H

#include "llvm/IR/Module.h"
#include <string>
#include <vector>

namespace mlc {

/// What the artifact table says about one input or output.
struct TensorSignature {
  std::string name;
  int dtype = 0; // mlc_dtype
  std::vector<int64_t> dims;           // -1 = known at run time
  std::vector<std::string> dimNames;   // "" = static or unnamed
};

/// One kernel of the host schedule, as the artifact lists it.
struct KernelSignature {
  std::string name;
  int64_t flops = -1; // -1 = depends on run-time dims
};

struct ModelSignature {
  std::vector<TensorSignature> inputs, outputs;
  std::vector<KernelSignature> kernels;
  uint64_t arenaSize = 0;
  std::string compilerVersion, compileOptions, target, cpuName, cpuFeatures;
};

/// Adds the exported `mlc_model_v2` table and the run trampoline around
/// `entry` (the C interface of the compiled host schedule, whose first
/// argument is the execution context) to `m`, and hides every other symbol.
void addEntryTable(llvm::Module &m, const ModelSignature &sig,
                   const std::string &entry);

/// Links objects into a shared library with the system compiler driver.
bool linkSharedLibrary(const std::vector<std::string> &objects,
                       const std::string &output, std::string &err);

} // namespace mlc

#endif
