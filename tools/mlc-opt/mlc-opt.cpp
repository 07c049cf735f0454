//===- mlc-opt.cpp - runs any mlc or MLIR pass, for lit tests ------------===//
#include "codegen/cpu/CpuCodegen.h"
#include "codegen/cuda/CudaCodegen.h"
#include "dialects/MlcDialect.h"
#include "passes/Passes.h"

#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mlir::registerAllPasses();
  registry.insert<mlc::MlcDialect>();
  mlc::registerMlcPasses();
  mlc::cpu::registerCpuCodegenPasses();
  mlc::cpu::registerCpuBackendPasses();
  mlc::cuda::registerCudaCodegenPasses();
  mlc::cuda::registerCudaBackendPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "mlc optimizer driver\n", registry));
}
