// RUN: %mlc-opt %s --mlc-lower-to-linalg --split-input-file --verify-diagnostics | FileCheck %s

// Convolution goes through im2col into one contraction with the bias as
// the accumulator's initial value.
// CHECK-LABEL: func.func @conv
// CHECK: tensor.pad
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : tensor<1x3x10x10xf32>) outs(%{{.*}} : tensor<1x3x3x3x8x8xf32>) attrs = {mlc.im2col}
// CHECK: tensor.collapse_shape {{.*}} into tensor<1x27x64xf32>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]{{.*}} outs(%{{.*}} : tensor<1x4x64xf32>)
// CHECK: tensor.expand_shape {{.*}} : tensor<1x4x64xf32> into tensor<1x4x8x8xf32>
func.func @conv(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<4xf32>) -> tensor<1x4x8x8xf32> {
  %0 = mlc.conv %x, %w, %b {dilations = array<i64: 1, 1>, group = 1 : i64, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<1x4x8x8xf32>
  return %0 : tensor<1x4x8x8xf32>
}

// -----

// A dynamic batch stays dynamic: sizes come from tensor.dim.
// CHECK-LABEL: func.func @gemm_dynamic
// CHECK: %[[N:.*]] = tensor.dim %arg0, %c0
// CHECK: tensor.empty(%[[N]]) : tensor<?x5xf32>
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}, #{{.*}}], iterator_types = ["parallel", "parallel", "reduction"]}
func.func @gemm_dynamic(%a: tensor<?x4xf32>, %b: tensor<5x4xf32>, %c: tensor<5xf32>) -> tensor<?x5xf32> {
  %0 = mlc.gemm %a, %b, %c {alpha = 1.0 : f32, beta = 1.0 : f32, transA = false, transB = true} : (tensor<?x4xf32>, tensor<5x4xf32>, tensor<5xf32>) -> tensor<?x5xf32>
  return %0 : tensor<?x5xf32>
}

// -----

// CHECK-LABEL: func.func @pools
// CHECK: linalg.pooling_nchw_max
// CHECK: linalg.pooling_nchw_sum
// CHECK: arith.divf
func.func @pools(%x: tensor<1x2x6x6xf32>) -> (tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>) {
  %0 = mlc.max_pool %x {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, ceil_mode = false} : (tensor<1x2x6x6xf32>) -> tensor<1x2x3x3xf32>
  %1 = mlc.average_pool %x {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, ceil_mode = false, count_include_pad = false} : (tensor<1x2x6x6xf32>) -> tensor<1x2x3x3xf32>
  return %0, %1 : tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>
}

// -----

// An op whose shape is unknown is an error that names the node.
func.func @unranked(%x: tensor<*xf32>) -> tensor<*xf32> {
  // expected-error @+2 {{the shape of this result is not known}}
  // expected-error @+1 {{failed to legalize operation 'mlc.relu'}}
  %0 = mlc.relu %x : (tensor<*xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

// A batch of matrices times one matrix folds the batch into M: one
// [128 x 768] x [768 x 96] contraction (a full register tile of rows),
// not 128 one-row products; one dynamic leading dim folds the same way,
// two do not (fusion could not split the folded dim again).
// CHECK-LABEL: func.func @matmul_folds_batch
// CHECK: tensor.collapse_shape %arg0 {{\[}}[0, 1], [2]] : tensor<128x1x768xf32> into tensor<128x768xf32>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]{{.*}} outs(%{{.*}} : tensor<128x96xf32>)
// CHECK: tensor.expand_shape {{.*}} : tensor<128x96xf32> into tensor<128x1x96xf32>
// CHECK: tensor.collapse_shape %arg2 {{\[}}[0, 1], [2]] : tensor<?x1x768xf32> into tensor<?x768xf32>
// CHECK: tensor.expand_shape {{.*}} : tensor<?x96xf32> into tensor<?x1x96xf32>
// CHECK-NOT: tensor.collapse_shape %arg3
// CHECK: iterator_types = ["parallel", "parallel", "parallel", "reduction"]{{.*}} outs(%{{.*}} : tensor<?x?x96xf32>)
func.func @matmul_folds_batch(%a: tensor<128x1x768xf32>, %w: tensor<768x96xf32>, %d: tensor<?x1x768xf32>, %e: tensor<?x?x768xf32>) -> (tensor<128x1x96xf32>, tensor<?x1x96xf32>, tensor<?x?x96xf32>) {
  %0 = mlc.matmul %a, %w : (tensor<128x1x768xf32>, tensor<768x96xf32>) -> tensor<128x1x96xf32>
  %1 = mlc.matmul %d, %w : (tensor<?x1x768xf32>, tensor<768x96xf32>) -> tensor<?x1x96xf32>
  %2 = mlc.matmul %e, %w : (tensor<?x?x768xf32>, tensor<768x96xf32>) -> tensor<?x?x96xf32>
  return %0, %1, %2 : tensor<128x1x96xf32>, tensor<?x1x96xf32>, tensor<?x?x96xf32>
}
