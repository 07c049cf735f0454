// RUN: %mlc-opt %s --mlc-propagate-shapes --split-input-file --verify-diagnostics | FileCheck %s

// CHECK-LABEL: func.func @conv_pool
// CHECK: mlc.conv {{.*}} -> tensor<?x8x30x30xf32>
// CHECK: mlc.max_pool {{.*}} -> tensor<?x8x15x15xf32>
// CHECK: return {{.*}} : tensor<?x8x15x15xf32>
func.func @conv_pool(%x: tensor<?x3x32x32xf32>, %w: tensor<8x3x3x3xf32>) -> tensor<*xf32> {
  %0 = mlc.conv %x, %w {dilations = array<i64: 1, 1>, group = 1 : i64, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>} : (tensor<?x3x32x32xf32>, tensor<8x3x3x3xf32>) -> tensor<*xf32>
  %1 = mlc.max_pool %0 {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, ceil_mode = false} : (tensor<*xf32>) -> tensor<*xf32>
  return %1 : tensor<*xf32>
}

// -----

// Numpy broadcasting; a static 1 broadcasts, a dynamic dim meets a static one.
// CHECK-LABEL: func.func @broadcast
// CHECK: mlc.add {{.*}} -> tensor<5x?x3xf32>
// CHECK: mlc.mul {{.*}} -> tensor<5x4x3xf32>
func.func @broadcast(%a: tensor<5x1x3xf32>, %b: tensor<?x3xf32>, %c: tensor<4x1xf32>) -> tensor<*xf32> {
  %0 = mlc.add %a, %b : (tensor<5x1x3xf32>, tensor<?x3xf32>) -> tensor<*xf32>
  %1 = mlc.mul %a, %c : (tensor<5x1x3xf32>, tensor<4x1xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

// CHECK-LABEL: func.func @batched_matmul
// CHECK: mlc.matmul {{.*}} -> tensor<2x?x7x5xf32>
func.func @batched_matmul(%a: tensor<2x1x7x4xf32>, %b: tensor<?x4x5xf32>) -> tensor<*xf32> {
  %0 = mlc.matmul %a, %b : (tensor<2x1x7x4xf32>, tensor<?x4x5xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

// CHECK-LABEL: func.func @reshape_infer
// CHECK: mlc.reshape {{.*}} -> tensor<2x12xf32>
func.func @reshape_infer(%x: tensor<2x3x4xf32>) -> tensor<*xf32> {
  %s = mlc.constant {value = dense<[0, -1]> : tensor<2xi64>} : tensor<2xi64>
  %0 = mlc.reshape %x, %s {allowzero = false} : (tensor<2x3x4xf32>, tensor<2xi64>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

func.func @bad_broadcast(%a: tensor<3x4xf32>, %b: tensor<5x4xf32>) -> tensor<*xf32> {
  // expected-error @+1 {{dimensions 3 and 5 cannot be broadcast}}
  %0 = mlc.add %a, %b : (tensor<3x4xf32>, tensor<5x4xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

func.func @bad_matmul(%a: tensor<3x4xf32>, %b: tensor<5x6xf32>) -> tensor<*xf32> {
  // expected-error @+1 {{inner dimensions 4 and 5 differ}}
  %0 = mlc.matmul %a, %b : (tensor<3x4xf32>, tensor<5x6xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

// A slice along an axis the tensor lacks (a recurrent bias of rank 1 once
// reached this) is a diagnostic, not an out-of-bounds read.
func.func @bad_slice_axis(%x: tensor<30xf32>, %s: tensor<1xi64>, %e: tensor<1xi64>) -> tensor<*xf32> {
  // expected-error @+1 {{axis 1 with step 1 does not slice a rank-1 tensor}}
  %0 = mlc.slice %x, %s, %e {axes = array<i64: 1>, steps = array<i64: 1>} : (tensor<30xf32>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

// Exporters build reshape targets from Shape/Gather/Concat: the elements
// known at compile time become static dims.
// CHECK-LABEL: func.func @partial_reshape_target
// CHECK: mlc.reshape {{.*}} -> tensor<?x?x4x16xf32>
func.func @partial_reshape_target(%x: tensor<?x?x64xf32>) -> tensor<*xf32> {
  %s = mlc.shape %x {start = 0 : i64, end = 2 : i64} : (tensor<?x?x64xf32>) -> tensor<2xi64>
  %c = mlc.constant {value = dense<[4, 16]> : tensor<2xi64>} : tensor<2xi64>
  %t = mlc.concat %s, %c {axis = 0 : i64} : (tensor<2xi64>, tensor<2xi64>) -> tensor<4xi64>
  %r = mlc.reshape %x, %t {allowzero = false} : (tensor<?x?x64xf32>, tensor<4xi64>) -> tensor<*xf32>
  return %r : tensor<*xf32>
}
