//===- TargetInfo.cpp - the target as a module attribute ------------------===//
//
// The target (`mlc.target` on the module) is what policies read, so a lit
// test can set an AVX2 or AVX-512 target and check a decision without the
// host having those features.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

using namespace mlir;
using namespace mlc;

void mlc::setTargetAttr(ModuleOp m, const TargetInfo &t) {
  Builder b(m.getContext());
  m->setAttr(kTargetAttr,
             b.getDictionaryAttr({
                 b.getNamedAttr("backend", b.getStringAttr(t.name)),
                 b.getNamedAttr("cpu", b.getStringAttr(t.cpu)),
                 b.getNamedAttr("features", b.getStringAttr(t.features)),
                 b.getNamedAttr("vector_bits", b.getI64IntegerAttr(t.vectorBits)),
                 b.getNamedAttr("vector_registers", b.getI64IntegerAttr(t.numVectorRegisters)),
             }));
}

FailureOr<TargetInfo> mlc::getTargetAttr(ModuleOp m) {
  auto d = m->getAttrOfType<DictionaryAttr>(kTargetAttr);
  if (!d)
    return failure();
  TargetInfo t;
  auto str = [&](StringRef key, std::string &out) {
    if (auto s = d.getAs<StringAttr>(key))
      out = s.str();
  };
  str("backend", t.name);
  str("cpu", t.cpu);
  str("features", t.features);
  if (auto v = d.getAs<IntegerAttr>("vector_bits"))
    t.vectorBits = v.getInt();
  if (auto v = d.getAs<IntegerAttr>("vector_registers"))
    t.numVectorRegisters = v.getInt();
  if (t.vectorBits <= 0 || t.vectorBits % 32 || t.numVectorRegisters <= 0)
    return failure();
  return t;
}
