// RUN: %mlc-opt %s --mlc-lower-to-linalg --canonicalize --mlc-fuse --mlc-tile="vector-bits=512" --mlc-cpu-tile-vectorize | FileCheck %s --check-prefix=VEC
// RUN: %mlc-opt %s --mlc-lower-to-linalg --canonicalize --mlc-fuse --mlc-tile="vector-bits=512" --mlc-cpu-tile-vectorize --mlc-cpu-bufferize | FileCheck %s --check-prefix=MEM

// The matmul's register tile becomes an outer-product microkernel (8 rows
// of broadcast A times a 32-wide row of B) inside the cache-level loop nest,
// with the accumulator rows hoisted out of the k loop; the relu consumer is
// vectorised in the same nest.
// VEC-LABEL: func.func @main
// VEC: scf.for
// VEC-COUNT-8: vector.transfer_read {{.*}} : tensor<{{.*}}>, vector<32xf32>
// VEC: scf.for
// VEC: vector.broadcast {{.*}} : f32 to vector<32xf32>
// VEC-NEXT: vector.fma {{.*}} : vector<32xf32>
// VEC: arith.maximumf {{.*}} : vector<32xf32>

// Intermediates live in the arena (the trailing i8 argument); only the
// result is a fresh allocation, handed to the caller.
// MEM: module attributes {mlc.arena_size = [[SIZE:[0-9]+]] : i64}
// MEM: func.func @main(%arg0: memref<64x64xf32>, %arg1: memref<64x64xf32>, %arg2: memref<?xi8>) -> memref<64x64xf32>
// MEM: memref.view %arg2[%{{.*}}][] : memref<?xi8> to memref<64x64xf32>
// MEM: %[[OUT:.*]] = memref.alloc() {{.*}}: memref<64x64xf32>
// MEM: return %[[OUT]]
func.func @main(%a: tensor<64x64xf32>, %w: tensor<64x64xf32>) -> tensor<64x64xf32> {
  %0 = mlc.matmul %a, %w : (tensor<64x64xf32>, tensor<64x64xf32>) -> tensor<64x64xf32>
  %1 = mlc.relu %0 : (tensor<64x64xf32>) -> tensor<64x64xf32>
  return %1 : tensor<64x64xf32>
}
