// RUN: %mlc-opt %s --mlc-lower-to-linalg --split-input-file | FileCheck %s

// CHECK-LABEL: func.func @layer_norm
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: math.rsqrt
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel"]
func.func @layer_norm(%x: tensor<?x?x64xf32>, %s: tensor<64xf32>, %b: tensor<64xf32>) -> tensor<?x?x64xf32> {
  %0 = mlc.layer_norm %x, %s, %b {axis = 2 : i64, epsilon = 1.0e-05 : f32} : (tensor<?x?x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  return %0 : tensor<?x?x64xf32>
}

// -----

// Ends computed at run time: clamped index arithmetic feeding extract_slice.
// CHECK-LABEL: func.func @slice_runtime
// CHECK: tensor.extract %arg2
// CHECK: arith.minsi
// CHECK: tensor.extract_slice %arg0[0, %{{.*}}] [%{{.*}}, %{{.*}}] [1, 1]
func.func @slice_runtime(%x: tensor<?x?xf32>, %st: tensor<1xi64>, %en: tensor<1xi64>) -> tensor<?x?xf32> {
  %0 = mlc.slice %x, %st, %en {axes = array<i64: 1>, steps = array<i64: 1>} : (tensor<?x?xf32>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// -----

// CHECK-LABEL: func.func @masked
// CHECK: arith.cmpf olt
// CHECK: arith.select
func.func @masked(%a: tensor<4x4xf32>, %b: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %m = mlc.compare %a, %b {predicate = "lt"} : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xi1>
  %0 = mlc.where %m, %a, %b : (tensor<4x4xi1>, tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
  return %0 : tensor<4x4xf32>
}
