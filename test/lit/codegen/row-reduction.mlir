// RUN: %mlc-opt %s --split-input-file --mlc-lower-to-linalg --canonicalize --mlc-fuse --mlc-tile | FileCheck %s --check-prefix=TILE
// RUN: %mlc-opt %s --split-input-file --mlc-lower-to-linalg --canonicalize --mlc-fuse --mlc-tile --mlc-cpu-tile-vectorize | FileCheck %s --check-prefix=VEC

// Softmax's reductions along the row (max, then the sum of exponentials)
// are row reductions: one row per register tile, the row whole. (They
// were taken for matmuls, and vectorised across rows: a gather per step.)
// Only 1,536 rows, but 196,608 iterations: distributed over the 12 heads.
// TILE-LABEL: func.func @softmax
// TILE: mlc.fusion_role = "root", mlc.lowering_config = #mlc.lowering_config<distribution = [1, 0, 0], vector = [1, 1, 0]>
// TILE: arith.maximumf
// TILE: mlc.fusion_role = "root", mlc.lowering_config = #mlc.lowering_config<distribution = [1, 0, 0], vector = [1, 1, 0]>
// TILE: math.exp

// Each row is walked 16 floats at a time (AVX-512) into a vector
// accumulator, then reduced once; the sum's body (exp(x - max)) runs on
// vectors, the row's max broadcast.
// VEC-LABEL: func.func @softmax
// VEC: scf.for {{.*}} iter_args(%{{.*}} = %cst{{.*}}) -> (vector<16xf32>)
// VEC: vector.transfer_read {{.*}} vector<16xf32>
// VEC: arith.maximumf {{.*}} : vector<16xf32>
// VEC: vector.reduction <maximumf>, {{.*}} : vector<16xf32> into f32
// VEC: scf.for {{.*}} -> (vector<16xf32>)
// VEC: math.exp {{.*}} : vector<16xf32>
// VEC: arith.addf {{.*}} : vector<16xf32>
// VEC: vector.reduction <add>, {{.*}} : vector<16xf32> into f32
module attributes {mlc.target = {backend = "cpu", cpu = "skylake-avx512", features = "+avx512f", vector_bits = 512 : i64, vector_registers = 32 : i64}} {
func.func @softmax(%x: tensor<12x128x128xf32>) -> tensor<12x128x128xf32> {
  %0 = mlc.softmax %x {axis = 2 : i64, coerce_2d = false, log = false} : (tensor<12x128x128xf32>) -> tensor<12x128x128xf32>
  return %0 : tensor<12x128x128xf32>
}
}

// -----

// A row whose length is known only at run time (LayerNorm over a dynamic
// hidden size, on AVX2): whole vectors, then one masked step for the
// rest, whose lanes past the row's end count as the identity.
// VEC-LABEL: func.func @dynamic_row
// VEC: scf.for {{.*}} -> (vector<8xf32>)
// VEC: vector.create_mask {{.*}} : vector<8xi1>
// VEC: arith.select {{.*}} : vector<8xi1>, vector<8xf32>
// VEC: vector.reduction <add>
module attributes {mlc.target = {backend = "cpu", cpu = "haswell", features = "+avx2,+fma", vector_bits = 256 : i64, vector_registers = 16 : i64}} {
func.func @dynamic_row(%x: tensor<4x?xf32>, %s: tensor<?xf32>, %b: tensor<?xf32>) -> tensor<4x?xf32> {
  %0 = mlc.layer_norm %x, %s, %b {axis = 1 : i64, epsilon = 1.0e-05 : f32} : (tensor<4x?xf32>, tensor<?xf32>, tensor<?xf32>) -> tensor<4x?xf32>
  return %0 : tensor<4x?xf32>
}
}
