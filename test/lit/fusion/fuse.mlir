// RUN: %mlc-opt %s --mlc-lower-to-linalg --canonicalize --mlc-fuse --mlc-tile="vector-bits=512" | FileCheck %s
// RUN: %mlc-opt %s --mlc-lower-to-linalg --canonicalize --mlc-fuse --mlc-tile="vector-bits=256" | FileCheck %s --check-prefix=AVX2

// Conv + bias + residual add + relu: the expand_shape after the contraction
// is moved below the elementwise ops, which merge into one consumer of the
// contraction's group; the bias initialises the accumulator.
// CHECK-LABEL: func.func @conv_add_relu
// CHECK: linalg.generic {{.*}}attrs = {mlc.fusion_group = [[IM:[0-9]+]] : i64, mlc.fusion_role = "single", mlc.im2col, mlc.lowering_config = #mlc.lowering_config<distribution = [1, 1, 1, 1, 1, 0]>}
// CHECK: linalg.generic {{.*}} attrs = {mlc.fusion_group = [[G:[0-9]+]] : i64, mlc.fusion_role = "producer"
// CHECK: linalg.generic {{.*}}"reduction"]{{.*}} attrs = {mlc.fusion_group = [[G]] : i64, mlc.fusion_role = "root", mlc.lowering_config = #mlc.lowering_config<reduction = [0, 0, 0, 256], vector = [1, 8, 32, 1]>}
// CHECK: linalg.generic {{.*}} attrs = {mlc.fusion_group = [[G]] : i64, mlc.fusion_role = "consumer", mlc.lowering_config = #mlc.lowering_config<distribution = [1, 64, 256], vector = [1, 1, 32]>
// CHECK: arith.addf
// CHECK: arith.maximumf
// CHECK: tensor.expand_shape
// AVX2: mlc.fusion_role = "root", mlc.lowering_config = #mlc.lowering_config<reduction = [0, 0, 0, 256], vector = [1, 6, 16, 1]>
func.func @conv_add_relu(%x: tensor<1x8x16x16xf32>, %w: tensor<16x8x3x3xf32>, %b: tensor<16xf32>, %r: tensor<1x16x16x16xf32>) -> tensor<1x16x16x16xf32> {
  %0 = mlc.conv %x, %w, %b {dilations = array<i64: 1, 1>, group = 1 : i64, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>} : (tensor<1x8x16x16xf32>, tensor<16x8x3x3xf32>, tensor<16xf32>) -> tensor<1x16x16x16xf32>
  %1 = mlc.add %0, %r : (tensor<1x16x16x16xf32>, tensor<1x16x16x16xf32>) -> tensor<1x16x16x16xf32>
  %2 = mlc.relu %1 : (tensor<1x16x16x16xf32>) -> tensor<1x16x16x16xf32>
  return %2 : tensor<1x16x16x16xf32>
}
