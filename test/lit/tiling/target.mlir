// The tiling policy reads the target from the module (`mlc.target`), so a
// decision for AVX2 or AVX-512 is testable on any host.
// RUN: %mlc-opt %s --split-input-file --mlc-lower-to-linalg --canonicalize --mlc-fuse --mlc-tile | FileCheck %s

// AVX-512: 32 registers of 16 floats: an 8 x 32 register tile.
// CHECK-LABEL: func.func @avx512
// CHECK: mlc.fusion_role = "root", mlc.lowering_config = #mlc.lowering_config<reduction = [0, 0, 256], vector = [8, 32, 1]>
// CHECK: mlc.lowering_config = #mlc.lowering_config<distribution = [64, 256]
module attributes {mlc.target = {backend = "cpu", cpu = "skylake-avx512", features = "+avx512f", vector_bits = 512 : i64, vector_registers = 32 : i64}} {
func.func @avx512(%a: tensor<128x128xf32>, %w: tensor<128x128xf32>) -> tensor<128x128xf32> {
  %0 = mlc.matmul %a, %w : (tensor<128x128xf32>, tensor<128x128xf32>) -> tensor<128x128xf32>
  %1 = mlc.relu %0 : (tensor<128x128xf32>) -> tensor<128x128xf32>
  return %1 : tensor<128x128xf32>
}
}

// -----

// AVX2: 16 registers of 8 floats: a 6 x 16 register tile.
// CHECK-LABEL: func.func @avx2
// CHECK: mlc.fusion_role = "root", mlc.lowering_config = #mlc.lowering_config<reduction = [0, 0, 256], vector = [6, 16, 1]>
module attributes {mlc.target = {backend = "cpu", cpu = "haswell", features = "+avx2,+fma", vector_bits = 256 : i64, vector_registers = 16 : i64}} {
func.func @avx2(%a: tensor<128x128xf32>, %w: tensor<128x128xf32>) -> tensor<128x128xf32> {
  %0 = mlc.matmul %a, %w : (tensor<128x128xf32>, tensor<128x128xf32>) -> tensor<128x128xf32>
  %1 = mlc.relu %0 : (tensor<128x128xf32>) -> tensor<128x128xf32>
  return %1 : tensor<128x128xf32>
}
}

// -----

// Elementwise kernels are distributed over their outer rows (the
// innermost dim stays whole, vectorised); small ones are not distributed.
// CHECK-LABEL: func.func @distribute
// CHECK: linalg.generic {{.*}}lowering_config<distribution = [1, 1, 0], vector = [1, 1, 16]>
// CHECK: linalg.generic {{.*}}lowering_config<vector = [1, 16]>
module attributes {mlc.target = {backend = "cpu", cpu = "haswell", features = "+avx2,+fma", vector_bits = 256 : i64, vector_registers = 16 : i64}} {
func.func @distribute(%x: tensor<8x64x256xf32>, %y: tensor<4x64xf32>) -> (tensor<8x64x256xf32>, tensor<4x64xf32>) {
  %0 = mlc.tanh %x : (tensor<8x64x256xf32>) -> tensor<8x64x256xf32>
  %1 = mlc.tanh %y : (tensor<4x64xf32>) -> tensor<4x64xf32>
  return %0, %1 : tensor<8x64x256xf32>, tensor<4x64xf32>
}
}

// -----

// Distribution tiles cut a dim into near-equal tiles (a multiple of the
// register tile), so an even split of tiles across threads is an even split
// of work: N = 784 becomes 4 x 208 (last 160), not 3 x 256 + 16.
// CHECK-LABEL: func.func @balanced
// CHECK: lowering_config<distribution = [64, 208]
module attributes {mlc.target = {backend = "cpu", cpu = "haswell", features = "+avx2,+fma", vector_bits = 256 : i64, vector_registers = 16 : i64}} {
func.func @balanced(%a: tensor<64x64xf32>, %w: tensor<64x784xf32>) -> tensor<64x784xf32> {
  %0 = mlc.matmul %a, %w : (tensor<64x64xf32>, tensor<64x784xf32>) -> tensor<64x784xf32>
  return %0 : tensor<64x784xf32>
}
}
