// RUN: %mlc-opt %s --mlc-lower-to-linalg | FileCheck %s

// Unsigned tensors become signless; the ops reading them use the unsigned
// forms of division, comparison, max and conversion to float.
// CHECK-LABEL: func.func @unsigned_ops
// CHECK-SAME: (%arg0: tensor<4xi8>, %arg1: tensor<4xi8>) -> (tensor<4xi8>, tensor<4xi1>, tensor<4xi8>, tensor<4xf32>)
// CHECK: arith.divui
// CHECK: arith.cmpi ult
// CHECK: arith.maxui
// CHECK: arith.uitofp
func.func @unsigned_ops(%a: tensor<4xui8>, %b: tensor<4xui8>)
    -> (tensor<4xui8>, tensor<4xi1>, tensor<4xui8>, tensor<4xf32>) {
  %0 = mlc.div %a, %b : (tensor<4xui8>, tensor<4xui8>) -> tensor<4xui8>
  %1 = mlc.compare %a, %b {predicate = "lt"} : (tensor<4xui8>, tensor<4xui8>) -> tensor<4xi1>
  %2 = mlc.max %a, %b : (tensor<4xui8>, tensor<4xui8>) -> tensor<4xui8>
  %3 = mlc.cast %a {to = f32} : (tensor<4xui8>) -> tensor<4xf32>
  return %0, %1, %2, %3 : tensor<4xui8>, tensor<4xi1>, tensor<4xui8>, tensor<4xf32>
}

// A Cast to an unsigned type converts floats with fptoui and widens an
// unsigned source with extui; a reduction max over uint16 starts at 0.
// CHECK-LABEL: func.func @unsigned_casts
// CHECK: arith.fptoui
// CHECK: arith.extui
// CHECK: arith.constant 0 : i16
// CHECK: arith.maxui
func.func @unsigned_casts(%f: tensor<4xf32>, %u: tensor<4xui16>) -> (tensor<4xui32>, tensor<4xi64>, tensor<1xui16>) {
  %0 = mlc.cast %f {to = ui32} : (tensor<4xf32>) -> tensor<4xui32>
  %1 = mlc.cast %u {to = i64} : (tensor<4xui16>) -> tensor<4xi64>
  %2 = mlc.reduce %u {axes = array<i64: 0>, keepdims = true, kind = "max"} : (tensor<4xui16>) -> tensor<1xui16>
  return %0, %1, %2 : tensor<4xui32>, tensor<4xi64>, tensor<1xui16>
}

// An op reading an unsigned tensor that another op computed is marked too
// (the marks are set before any type changes).
// CHECK-LABEL: func.func @computed_unsigned
// CHECK: arith.addi
// CHECK: arith.cmpi ult
// CHECK: arith.uitofp
func.func @computed_unsigned(%a: tensor<4xui8>, %b: tensor<4xui8>) -> (tensor<4xi1>, tensor<4xf32>) {
  %s = mlc.add %a, %b : (tensor<4xui8>, tensor<4xui8>) -> tensor<4xui8>
  %0 = mlc.compare %s, %b {predicate = "lt"} : (tensor<4xui8>, tensor<4xui8>) -> tensor<4xi1>
  %1 = mlc.cast %s {to = f32} : (tensor<4xui8>) -> tensor<4xf32>
  return %0, %1 : tensor<4xi1>, tensor<4xf32>
}
