// RUN: %mlc-opt %s --split-input-file --mlc-lower-to-linalg --canonicalize --mlc-fuse --mlc-tile --mlc-outline-kernels | FileCheck %s

// Two fusion groups (matmul + relu, then matmul) become two kernels; @main
// keeps only the buffers the kernels write into and the calls, in order.
// The first kernel's result is its destination argument (writable), which
// the second kernel reads.
// CHECK-LABEL: func.func private @mlc_k0
// CHECK-SAME: (%arg0: tensor<64x64xf32> {bufferization.writable = false}, %arg1: tensor<64x64xf32> {bufferization.writable = false}, %arg2: tensor<64x64xf32> {bufferization.writable = true}) -> tensor<64x64xf32>
// CHECK-SAME: attributes {mlc.flops = 528384 : i64, mlc.kernel
// CHECK: linalg.fill
// CHECK: linalg.generic {{.*}}"reduction"
// CHECK: arith.maximumf
// CHECK: return
// CHECK-LABEL: func.func private @mlc_k1
// CHECK-SAME: mlc.flops = 524288 : i64
// CHECK-LABEL: func.func @main
// CHECK-NEXT: %[[B0:.*]] = tensor.empty() : tensor<64x64xf32>
// CHECK-NEXT: %[[R0:.*]] = call @mlc_k0(%arg0, %arg1, %[[B0]])
// CHECK-NEXT: %[[B1:.*]] = tensor.empty() : tensor<64x64xf32>
// CHECK-NEXT: %[[R1:.*]] = call @mlc_k1(%[[B1]], %[[R0]], %arg2)
// CHECK-NEXT: return %[[R1]]
func.func @main(%a: tensor<64x64xf32>, %w: tensor<64x64xf32>, %w2: tensor<64x64xf32>) -> tensor<64x64xf32> {
  %0 = mlc.matmul %a, %w : (tensor<64x64xf32>, tensor<64x64xf32>) -> tensor<64x64xf32>
  %1 = mlc.relu %0 : (tensor<64x64xf32>) -> tensor<64x64xf32>
  %2 = mlc.matmul %1, %w2 : (tensor<64x64xf32>, tensor<64x64xf32>) -> tensor<64x64xf32>
  return %2 : tensor<64x64xf32>
}

// -----

// Every op of a fusion group (the accumulator's fill, the contraction and
// its add/relu consumers, merged into one generic) lands in one kernel,
// which carries the group's decisions (its one group numbered 0); the
// im2col of the convolution is a kernel of its own.
// CHECK-LABEL: func.func private @mlc_k0
// CHECK: linalg.generic {{.*}}mlc.fusion_group = 0 : i64, mlc.fusion_role = "single", mlc.im2col
// CHECK-NEXT: ^bb0
// CHECK-NOT: linalg.generic
// CHECK: return
// CHECK-LABEL: func.func private @mlc_k1
// CHECK: linalg.generic {{.*}}mlc.fusion_group = 0 : i64, mlc.fusion_role = "producer"
// CHECK: linalg.generic {{.*}}"reduction"{{.*}}mlc.fusion_group = 0 : i64, mlc.fusion_role = "root"
// CHECK: linalg.generic {{.*}}mlc.fusion_group = 0 : i64, mlc.fusion_role = "consumer"{{.*}}distribution = [1, 64, 256]
// CHECK: arith.addf
// CHECK: arith.maximumf
// CHECK: return
// CHECK-LABEL: func.func @conv_add_relu
// CHECK-NOT: linalg.
// CHECK: call @mlc_k0
// CHECK-NOT: linalg.
// CHECK: call @mlc_k1
// CHECK-NOT: linalg.
// CHECK: return
func.func @conv_add_relu(%x: tensor<1x8x16x16xf32>, %w: tensor<16x8x3x3xf32>, %b: tensor<16xf32>, %r: tensor<1x16x16x16xf32>) -> tensor<1x16x16x16xf32> {
  %0 = mlc.conv %x, %w, %b {dilations = array<i64: 1, 1>, group = 1 : i64, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>} : (tensor<1x8x16x16xf32>, tensor<16x8x3x3xf32>, tensor<16xf32>) -> tensor<1x16x16x16xf32>
  %1 = mlc.add %0, %r : (tensor<1x16x16x16xf32>, tensor<1x16x16x16xf32>) -> tensor<1x16x16x16xf32>
  %2 = mlc.relu %1 : (tensor<1x16x16x16xf32>) -> tensor<1x16x16x16xf32>
  return %2 : tensor<1x16x16x16xf32>
}
