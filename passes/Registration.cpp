//===- Registration.cpp - make every mlc pass visible to mlc-opt ---------===//
#include "passes/Passes.h"

void mlc::registerMlcPasses() {
  mlir::registerPass(createShapePropagationPass);
  mlir::registerPass(createFoldConstantsPass);
  mlir::registerPass(createFoldBatchNormPass);
  mlir::registerPass(createLowerToLinalgPass);
  mlir::registerPass(createFusionPass);
  mlir::registerPass(createOutlineKernelsPass);
  mlir::registerPass([] { return createTilingPass(TargetInfo()); });
}
