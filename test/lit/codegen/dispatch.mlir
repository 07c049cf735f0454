// RUN: %mlc-opt %s --mlc-lower-to-linalg --canonicalize --mlc-fuse --mlc-tile --mlc-outline-kernels --mlc-cpu-tile-vectorize --mlc-cpu-bufferize --mlc-cpu-dispatch | FileCheck %s

// The kernel's distribution loop (8 x 64 rows) becomes a tile function over
// a linearised range [begin, end) and a dispatch stub that the LLVM-level
// expansion turns into ctx->parallel_for(ctx, 512, ...). The host schedule
// and every kernel take the execution context first. No self-copies are
// left from in-place slices.
// CHECK-LABEL: func.func private @mlc_k0(%arg0: !llvm.ptr, %arg1: memref<8x64x256xf32>, %arg2: memref<8x64x256xf32>)
// CHECK: call @mlc_dispatch__mlc_k0_tile0(%arg0, %{{.*}}, %arg1, %arg2
// CHECK-LABEL: func.func private @mlc_k0_tile0(%arg0: index, %arg1: index
// CHECK: scf.for %{{.*}} = %arg0 to %arg1
// CHECK: math.tanh {{.*}} : vector<16xf32>
// CHECK-NOT: linalg.copy
// CHECK: func.func private @mlc_dispatch__mlc_k0_tile0(!llvm.ptr, index,
// CHECK-LABEL: func.func @main(%arg0: !llvm.ptr
// CHECK: call @mlc_k0(%arg0,
module attributes {mlc.target = {backend = "cpu", cpu = "haswell", features = "+avx2,+fma", vector_bits = 256 : i64, vector_registers = 16 : i64}} {
func.func @main(%x: tensor<8x64x256xf32>) -> tensor<8x64x256xf32> {
  %0 = mlc.tanh %x : (tensor<8x64x256xf32>) -> tensor<8x64x256xf32>
  %1 = mlc.relu %0 : (tensor<8x64x256xf32>) -> tensor<8x64x256xf32>
  return %1 : tensor<8x64x256xf32>
}
}
