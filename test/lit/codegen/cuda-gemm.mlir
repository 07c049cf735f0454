// RUN: %mlc-opt %s --split-input-file --mlc-cuda-library-calls | FileCheck %s

// A row-major f32 matmul becomes one cuBLAS call: (transA, transB, M, N, K,
// batch, A, lda, strideA, B, ldb, strideB, C, ldc, strideC).
// CHECK-LABEL: func.func @matmul
// CHECK-NOT: linalg.matmul
// CHECK: call @mlc_cuda_gemm(%c0_i64, %c0_i64{{.*}}) : (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) -> ()
func.func @matmul(%a: memref<64x32xf32>, %b: memref<32x16xf32>, %c: memref<64x16xf32>) {
  linalg.matmul ins(%a, %b : memref<64x32xf32>, memref<32x16xf32>) outs(%c : memref<64x16xf32>)
  return
}

// -----

// The GEMM of an im2col convolution: C[n, f, p] += W[f, k] * X[n, k, p]:
// the leading dim of C is taken as a batch dim that W broadcasts (its
// batch stride is 0).
// CHECK-LABEL: func.func @im2col
// CHECK-NOT: linalg.generic
// CHECK: %[[Z:c0_[0-9]+]] = arith.constant 0 : index
// CHECK: %[[SA:.*]] = arith.index_cast %[[Z]] : index to i64
// CHECK: call @mlc_cuda_gemm(%c0_i64, %c0_i64{{[_0-9]*}}, %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}, %[[SA]],
#wmap = affine_map<(d0, d1, d2, d3) -> (d1, d3)>
#xmap = affine_map<(d0, d1, d2, d3) -> (d0, d3, d2)>
#cmap = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
func.func @im2col(%w: memref<64x147xf32>, %x: memref<2x147x196xf32>, %c: memref<2x64x196xf32>) {
  linalg.generic {indexing_maps = [#wmap, #xmap, #cmap], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%w, %x : memref<64x147xf32>, memref<2x147x196xf32>) outs(%c : memref<2x64x196xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %m = arith.mulf %in, %in_0 : f32
    %s = arith.addf %out, %m : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Attention's Q·Kᵀ: B stored transposed (transB = 1), batch in all three.
// CHECK-LABEL: func.func @qk
// CHECK: call @mlc_cuda_gemm(%c0_i64, %c1_i64
#q = affine_map<(b, i, j, k) -> (b, i, k)>
#k = affine_map<(b, i, j, k) -> (b, j, k)>
#s = affine_map<(b, i, j, k) -> (b, i, j)>
func.func @qk(%q: memref<8x?x32xf32>, %kt: memref<8x?x32xf32>, %s: memref<8x?x?xf32>) {
  linalg.generic {indexing_maps = [#q, #k, #s], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %kt : memref<8x?x32xf32>, memref<8x?x32xf32>) outs(%s : memref<8x?x?xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %m = arith.mulf %in, %in_0 : f32
    %a = arith.addf %out, %m : f32
    linalg.yield %a : f32
  }
  return
}

// -----

// What cuBLAS cannot take stays a loop: a strided view, and integers.
// CHECK-LABEL: func.func @stays
// CHECK-NOT: mlc_cuda_gemm
// CHECK: linalg.matmul
// CHECK: linalg.matmul
func.func @stays(%a: memref<64x32xf32, strided<[64, 1]>>, %b: memref<32x16xf32>, %c: memref<64x16xf32>,
                 %ia: memref<4x4xi32>, %ib: memref<4x4xi32>, %ic: memref<4x4xi32>) {
  linalg.matmul ins(%a, %b : memref<64x32xf32, strided<[64, 1]>>, memref<32x16xf32>) outs(%c : memref<64x16xf32>)
  linalg.matmul ins(%ia, %ib : memref<4x4xi32>, memref<4x4xi32>) outs(%ic : memref<4x4xi32>)
  return
}
