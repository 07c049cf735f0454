// RUN: %mlc-opt %s --mlc-fold-constants --mlc-fold-batchnorm --split-input-file | FileCheck %s

// Shape chains on static tensors fold to constants.
// CHECK-LABEL: func.func @shape_chain
// CHECK-NOT: mlc.shape
// CHECK-NOT: mlc.gather
// CHECK: %[[C:.*]] = mlc.constant {value = dense<[2, 12]> : tensor<2xi64>}
// CHECK: mlc.reshape %{{.*}}, %[[C]]
func.func @shape_chain(%x: tensor<2x3x4xf32>) -> tensor<2x12xf32> {
  %s = mlc.shape %x {start = 0 : i64, end = 3 : i64} : (tensor<2x3x4xf32>) -> tensor<3xi64>
  %i = mlc.constant {value = dense<0> : tensor<1xi64>} : tensor<1xi64>
  %d0 = mlc.gather %s, %i {axis = 0 : i64} : (tensor<3xi64>, tensor<1xi64>) -> tensor<1xi64>
  %m = mlc.constant {value = dense<12> : tensor<1xi64>} : tensor<1xi64>
  %t = mlc.concat %d0, %m {axis = 0 : i64} : (tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
  %r = mlc.reshape %x, %t {allowzero = false} : (tensor<2x3x4xf32>, tensor<2xi64>) -> tensor<2x12xf32>
  return %r : tensor<2x12xf32>
}

// -----

// Inference BatchNormalization folds into the Conv's weights and bias:
// scale 2, var 3 (eps 1): k = 2 / sqrt(4) = 1; bias = (0 - 1) * 1 + 0.5.
// CHECK-LABEL: func.func @conv_bn
// CHECK-NOT: mlc.batch_norm
// CHECK: %[[B:.*]] = mlc.constant {value = dense<-5.000000e-01> : tensor<1xf32>}
// CHECK: mlc.conv %arg0, %{{.*}}, %[[B]]
func.func @conv_bn(%x: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> {
  %w = mlc.constant {value = dense<1.0> : tensor<1x1x1x1xf32>} : tensor<1x1x1x1xf32>
  %c = mlc.conv %x, %w {dilations = array<i64: 1, 1>, group = 1 : i64, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>} : (tensor<1x1x4x4xf32>, tensor<1x1x1x1xf32>) -> tensor<1x1x4x4xf32>
  %s = mlc.constant {value = dense<2.0> : tensor<1xf32>} : tensor<1xf32>
  %b = mlc.constant {value = dense<0.5> : tensor<1xf32>} : tensor<1xf32>
  %m = mlc.constant {value = dense<1.0> : tensor<1xf32>} : tensor<1xf32>
  %v = mlc.constant {value = dense<3.0> : tensor<1xf32>} : tensor<1xf32>
  %y = mlc.batch_norm %c, %s, %b, %m, %v {epsilon = 1.0 : f32} : (tensor<1x1x4x4xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x1x4x4xf32>
  return %y : tensor<1x1x4x4xf32>
}
