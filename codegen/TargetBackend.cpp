//===- TargetBackend.cpp - the registry of targets and the target attribute ===//
#include "codegen/TargetBackend.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinOps.h"

#include <map>
#include <mutex>

using namespace mlir;
using namespace mlc;

namespace {
std::mutex registryMutex;
std::map<std::string, std::unique_ptr<TargetBackend>> &registry() {
  static std::map<std::string, std::unique_ptr<TargetBackend>> r;
  return r;
}
} // namespace

void mlc::registerTargetBackend(std::unique_ptr<TargetBackend> backend) {
  std::lock_guard<std::mutex> lock(registryMutex);
  std::string name = backend->name().str();
  registry()[name] = std::move(backend);
}

const TargetBackend *mlc::lookupTargetBackend(llvm::StringRef name) {
  std::lock_guard<std::mutex> lock(registryMutex);
  auto it = registry().find(name.str());
  return it == registry().end() ? nullptr : it->second.get();
}

std::vector<std::string> mlc::targetBackendNames() {
  std::lock_guard<std::mutex> lock(registryMutex);
  std::vector<std::string> names;
  for (auto &[name, backend] : registry())
    names.push_back(name);
  return names;
}

