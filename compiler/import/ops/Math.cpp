//===- Math.cpp - converters: elementwise math, MatMul, Gemm, Softmax ----===//
#include "compiler/import/NodeBinder.h"

using namespace mlir;
using namespace mlc;

namespace {

template <typename OpT> LogicalResult binary(NodeBinder &b) {
  Value x, y;
  if (b.tensors(x, y))
    return failure();
  if (b.opset < 7 && (b.has("broadcast") || b.has("axis")))
    return b.error("legacy broadcast attributes are not supported"), failure();
  b.setResults({b.create<OpT>(x, y)});
  return success();
}

template <typename OpT> LogicalResult unary(NodeBinder &b) {
  Value x;
  if (b.tensors(x))
    return failure();
  b.ignore("consumed_inputs"); // opset 1 legacy, no effect
  b.setResults({b.create<OpT>(x)});
  return success();
}

LogicalResult matmul(NodeBinder &b) {
  Value x, y;
  if (b.tensors(x, y))
    return failure();
  b.setResults({b.create<MatMulOp>(x, y)});
  return success();
}

LogicalResult gemm(NodeBinder &b) {
  Value x, y, c;
  float alpha, beta;
  int64_t transA, transB;
  if (b.tensors(x, y) || b.optTensor(2, c) || b.attr("alpha", alpha, 1.0f) ||
      b.attr("beta", beta, 1.0f) || b.attr("transA", transA, 0) ||
      b.attr("transB", transB, 0))
    return failure();
  b.ignore("broadcast"); // opset < 7: C always broadcasts in our lowering
  auto &B = b.builder;
  b.setResults({b.create<GemmOp>(x, y, c, B.getF32FloatAttr(alpha),
                                 B.getF32FloatAttr(beta),
                                 B.getBoolAttr(transA != 0),
                                 B.getBoolAttr(transB != 0))});
  return success();
}

LogicalResult softmax(NodeBinder &b) {
  Value x;
  int64_t axis, rank;
  bool legacy = b.opset < 13;
  if (b.tensors(x) || b.attr("axis", axis, legacy ? 1 : -1) || b.rank(x, rank) ||
      b.axis(axis, rank))
    return failure();
  auto &B = b.builder;
  b.setResults({b.create<SoftmaxOp>(x, B.getI64IntegerAttr(axis),
                                    B.getBoolAttr(legacy))});
  return success();
}

} // namespace

void registerMathConverters() {
  registerConverter("Add", 1, binary<AddOp>);
  registerConverter("Sub", 1, binary<SubOp>);
  registerConverter("Mul", 1, binary<MulOp>);
  registerConverter("Div", 1, binary<DivOp>);
  registerConverter("Relu", 1, unary<ReluOp>);
  registerConverter("Sigmoid", 1, unary<SigmoidOp>);
  registerConverter("Tanh", 1, unary<TanhOp>);
  registerConverter("Identity", 1, unary<IdentityOp>);
  registerConverter("MatMul", 1, matmul);
  registerConverter("Gemm", 1, gemm);
  registerConverter("Softmax", 1, softmax);
}
