// RUN: %mlc-opt %s --mlc-lower-to-linalg | FileCheck %s

// A reshape to a shape known only at run time must reshape even when the
// static types agree (both fully dynamic): the run-time sizes differ.
// CHECK-LABEL: func.func @runtime_reshape
// CHECK: tensor.from_elements
// CHECK: tensor.reshape %arg0
func.func @runtime_reshape(%x: tensor<?x?xf32>, %s: tensor<2xi64>) -> tensor<?x?xf32> {
  %0 = mlc.reshape %x, %s {allowzero = false} : (tensor<?x?xf32>, tensor<2xi64>) -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}
