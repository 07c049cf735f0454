// RUN: %mlc-opt %s --mlc-lower-to-linalg --canonicalize --cse --mlc-fuse --mlc-tile --mlc-outline-kernels | FileCheck %s

// Two scatters into the same tensor: CSE merges their copies of %cache,
// and fusion gives each loop a copy of its own, so that each scatter is one
// kernel (the copy into its writable destination, then the sequential loop
// updating it in place) and @main passes each a fresh buffer.
// CHECK-LABEL: func.func private @mlc_k0
// CHECK-SAME: %arg1: tensor<8x4xf32> {bufferization.writable = true}
// CHECK: linalg.copy {{.*}} outs(%arg1
// CHECK: scf.for {{.*}} iter_args
// CHECK-NOT: arith.addf
// CHECK: tensor.insert
// CHECK: mlc.sequential
// CHECK-LABEL: func.func private @mlc_k1
// CHECK-SAME: %arg1: tensor<8x4xf32> {bufferization.writable = true}
// CHECK: linalg.copy {{.*}} outs(%arg1
// CHECK: scf.for {{.*}} iter_args
// CHECK: tensor.extract
// CHECK: arith.addf
// CHECK: tensor.insert
// CHECK: mlc.sequential
// CHECK-LABEL: func.func @main
// CHECK-DAG: %[[B0:.*]] = tensor.empty() : tensor<8x4xf32>
// CHECK-DAG: %[[B1:.*]] = tensor.empty() : tensor<8x4xf32>
// CHECK-DAG: call @mlc_k0(%arg0, %[[B0]]
// CHECK-DAG: call @mlc_k1(%arg0, %[[B1]]
func.func @main(%cache: tensor<8x4xf32>, %pos: tensor<2x1xi64>, %rows: tensor<2x4xf32>)
    -> (tensor<8x4xf32>, tensor<8x4xf32>) {
  %a = mlc.scatter_nd %cache, %pos, %rows {reduction = "add"} : (tensor<8x4xf32>, tensor<2x1xi64>, tensor<2x4xf32>) -> tensor<8x4xf32>
  %b = mlc.scatter_nd %cache, %pos, %rows {reduction = "none"} : (tensor<8x4xf32>, tensor<2x1xi64>, tensor<2x4xf32>) -> tensor<8x4xf32>
  return %a, %b : tensor<8x4xf32>, tensor<8x4xf32>
}
