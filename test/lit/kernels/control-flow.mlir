// RUN: %mlc-opt %s --split-input-file --mlc-lower-to-linalg --canonicalize --mlc-fuse --mlc-tile --mlc-outline-kernels | FileCheck %s

// An If on a run-time condition: each branch's work is a kernel of its
// own, called from the branch of the host schedule's scf.if; the result
// types join what the branches agree on.
// CHECK-LABEL: func.func @main
// CHECK: %[[C:.*]] = tensor.extract %arg1[]
// CHECK: scf.if %[[C]] -> (tensor<8x?xf32>)
// CHECK: call @mlc_k{{[0-9]+}}(
// CHECK: scf.yield
// CHECK: } else {
// CHECK: tensor.extract_slice %arg0
// CHECK: scf.yield
func.func @main(%x: tensor<8x4xf32>, %c: tensor<i1>) -> tensor<8x?xf32> {
  %r = "mlc.if"(%c) ({
    %a = mlc.relu %x : (tensor<8x4xf32>) -> tensor<8x4xf32>
    mlc.yield %a : tensor<8x4xf32>
  }, {
    %s0 = mlc.constant {value = dense<0> : tensor<1xi64>} : tensor<1xi64>
    %s2 = mlc.constant {value = dense<2> : tensor<1xi64>} : tensor<1xi64>
    %b = mlc.slice %x, %s0, %s2 {axes = array<i64: 1>, steps = array<i64: 1>} : (tensor<8x4xf32>, tensor<1xi64>, tensor<1xi64>) -> tensor<8x2xf32>
    mlc.yield %b : tensor<8x2xf32>
  }) : (tensor<i1>) -> tensor<8x?xf32>
  return %r : tensor<8x?xf32>
}

// -----

// A Loop: an scf.while over (iteration, condition, carried value, scan
// buffer; the condition here never changes, so canonicalisation drops it
// from the state). The body's matmul + tanh is one kernel called inside the loop;
// each iteration inserts its scan element at its row, and the buffer
// (sized by the trip count) is cut to the iterations that ran.
// CHECK-LABEL: func.func private @mlc_k0
// CHECK: linalg.generic {{.*}}"reduction"
// CHECK: math.tanh
// CHECK-LABEL: func.func @main
// CHECK: %[[M:.*]] = tensor.extract %arg0[]
// CHECK: %[[ROWS:.*]] = arith.index_cast
// CHECK: tensor.empty(%[[ROWS]]) : tensor<?x4x4xf32>
// CHECK: %[[W:.*]]:3 = scf.while (%[[I:.*]] = %c0_i64, %{{.*}} = %arg2, %{{.*}} = %{{.*}})
// CHECK: arith.cmpi slt, %{{.*}}, %[[M]] : i64
// CHECK: scf.condition
// CHECK: } do {
// CHECK: call @mlc_k0(
// CHECK: tensor.insert_slice
// CHECK: scf.yield
// CHECK: %[[RAN:.*]] = arith.index_cast %[[W]]#0
// CHECK: tensor.extract_slice %[[W]]#2[0, 0, 0] [%[[RAN]], 4, 4] [1, 1, 1]
func.func @main(%n: tensor<i64>, %c: tensor<i1>, %h: tensor<4x4xf32>, %w: tensor<4x4xf32>) -> (tensor<4x4xf32>, tensor<?x4x4xf32>) {
  %r:2 = "mlc.loop"(%n, %c, %h) ({
  ^bb0(%i: tensor<i64>, %ci: tensor<i1>, %s: tensor<4x4xf32>):
    %m = mlc.matmul %s, %w : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
    %t = mlc.tanh %m : (tensor<4x4xf32>) -> tensor<4x4xf32>
    mlc.yield %ci, %t, %t : tensor<i1>, tensor<4x4xf32>, tensor<4x4xf32>
  }) : (tensor<i64>, tensor<i1>, tensor<4x4xf32>) -> (tensor<4x4xf32>, tensor<?x4x4xf32>)
  return %r#0, %r#1 : tensor<4x4xf32>, tensor<?x4x4xf32>
}
