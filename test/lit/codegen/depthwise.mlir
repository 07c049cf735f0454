// RUN: %mlc-opt %s --split-input-file --mlc-lower-to-linalg --canonicalize --mlc-fuse --mlc-tile | FileCheck %s --check-prefix=TILE
// RUN: %mlc-opt %s --split-input-file --mlc-lower-to-linalg --canonicalize --mlc-fuse --mlc-tile --mlc-cpu-tile-vectorize | FileCheck %s --check-prefix=VEC
// RUN: %mlc-opt %s --split-input-file --mlc-lower-to-linalg --canonicalize --mlc-fuse --mlc-tile --mlc-outline-kernels --mlc-cpu-tile-vectorize --mlc-cpu-bufferize --mlc-cpu-dispatch | FileCheck %s --check-prefix=DISPATCH

// A depthwise convolution writes NCHW directly (no 5-D result to collapse),
// so its Relu epilogue joins its fusion group. The register tile is 4
// output rows by one vector of columns (16 floats on AVX-512) with the 3x3
// window whole; each distribution step is rows of one channel, about 2048
// outputs (32 rows of 64).
// The bias broadcast that initialises the accumulator is register-fused:
// tiled inside the convolution's register tile, not on its own.
// TILE-LABEL: func.func @dw_avx512
// TILE: mlc.fusion_role = "producer", mlc.register_fused
// TILE: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]
// TILE-SAME: mlc.fusion_role = "root", mlc.lowering_config = #mlc.lowering_config<vector = [1, 1, 4, 16, 0, 0, 0]>
// TILE: mlc.lowering_config = #mlc.lowering_config<distribution = [1, 1, 32, 0]

// The window vectoriser unrolls the window: per output row, one
// accumulator read, 9 FMAs of a contiguous input row with a broadcast
// weight, one write.
// VEC-LABEL: func.func @dw_avx512
// VEC: scf.forall
// VEC-COUNT-9: vector.fma {{.*}} : vector<16xf32>
// VEC: vector.transfer_write
// VEC-COUNT-9: vector.fma {{.*}} : vector<16xf32>
// VEC: arith.maximumf {{.*}} : vector<{{.*}}xf32>

// The convolution's 32-row result, which the Relu reads, is scratch of a
// static size: a stack slot at the tile function's entry, not a malloc
// and free per tile.
// DISPATCH-LABEL: func.func private @mlc_k0_tile0
// DISPATCH-NEXT: memref.alloca() {alignment = 64 : i64} : memref<1x1x32x64xf32>
// DISPATCH-NOT: memref.alloc(
// The host's pad (the fill of the padded buffer, the copy into it) is
// distributed over (n, c) like a kernel: two parallel_for dispatches.
// DISPATCH: func.func @dw_avx512
// DISPATCH: call @mlc_dispatch__dw_avx512_tile0(%arg0, %{{.*}}, %view,
// DISPATCH: call @mlc_dispatch__dw_avx512_tile1(%arg0, %{{.*}}, %arg1, %subview,
// DISPATCH: call @mlc_k0(
// DISPATCH: func.func private @dw_avx512_tile1
// DISPATCH: linalg.copy ins(%{{.*}} : memref<1x1x64x64xf32, {{.*}}>) outs(%{{.*}} : memref<1x1x64x64xf32, {{.*}}>)
// DISPATCH: func.func private @dw_avx512_tile0
// DISPATCH: linalg.map outs(%{{.*}} : memref<1x1x66x66xf32, {{.*}}>)
module attributes {mlc.target = {backend = "cpu", cpu = "skylake-avx512", features = "+avx512f", vector_bits = 512 : i64, vector_registers = 32 : i64}} {
func.func @dw_avx512(%x: tensor<1x32x64x64xf32>, %w: tensor<32x1x3x3xf32>, %b: tensor<32xf32>) -> tensor<1x32x64x64xf32> {
  %0 = mlc.conv %x, %w, %b {dilations = array<i64: 1, 1>, group = 32 : i64, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>} : (tensor<1x32x64x64xf32>, tensor<32x1x3x3xf32>, tensor<32xf32>) -> tensor<1x32x64x64xf32>
  %1 = mlc.relu %0 : (tensor<1x32x64x64xf32>) -> tensor<1x32x64x64xf32>
  return %1 : tensor<1x32x64x64xf32>
}
}

// -----

// Stride 2 on AVX2: 8-float vectors; each input row is read as 16 floats
// and deinterleaved (the even lanes).
// TILE-LABEL: func.func @dw_stride2_avx2
// TILE: mlc.fusion_role = "root", mlc.lowering_config = #mlc.lowering_config<distribution = [1, 1, 16, 0, 0, 0, 0], vector = [1, 1, 4, 8, 0, 0, 0]>
// VEC-LABEL: func.func @dw_stride2_avx2
// VEC: vector.transfer_read {{.*}} : tensor<{{.*}}>, vector<16xf32>
// VEC-NEXT: vector.shuffle {{.*}} [0, 2, 4, 6, 8, 10, 12, 14] : vector<16xf32>, vector<16xf32>
// VEC: vector.fma {{.*}} : vector<8xf32>
module attributes {mlc.target = {backend = "cpu", cpu = "haswell", features = "+avx2,+fma", vector_bits = 256 : i64, vector_registers = 16 : i64}} {
func.func @dw_stride2_avx2(%x: tensor<1x16x32x32xf32>, %w: tensor<16x1x3x3xf32>) -> tensor<1x16x16x16xf32> {
  %0 = mlc.conv %x, %w {dilations = array<i64: 1, 1>, group = 16 : i64, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>} : (tensor<1x16x32x32xf32>, tensor<16x1x3x3xf32>) -> tensor<1x16x16x16xf32>
  return %0 : tensor<1x16x16x16xf32>
}
}

// -----

// A 7x7 map: each row is one 8-wide vector, masked past column 7 (a
// transfer printed without in_bounds is masked): the read of the input row
// at kw = 2 and the write. The accumulators start from the zero fill
// (register-fused), not from a read of the output.
// VEC-LABEL: func.func @dw_narrow
// VEC: %[[ZERO:.*]] = arith.constant dense<0.000000e+00> : vector<8xf32>
// VEC-NOT: vector.transfer_read {{.*}} : tensor<1x1x4x7xf32>
// VEC: vector.fma %{{.*}}, %{{.*}}, %[[ZERO]] : vector<8xf32>
// VEC: vector.transfer_read %{{[a-z_0-9]+}}[%c0, %c0, %c0, %c2], %{{[a-z_0-9]+}} : tensor<1x1x6x9xf32>, vector<8xf32>
// VEC: vector.transfer_write %{{[0-9]+}}, %{{[a-z_0-9]+}}[%c0, %c0, %c0, %c0] : vector<8xf32>, tensor<1x1x4x7xf32>
module attributes {mlc.target = {backend = "cpu", cpu = "skylake-avx512", features = "+avx512f", vector_bits = 512 : i64, vector_registers = 32 : i64}} {
func.func @dw_narrow(%x: tensor<1x64x7x7xf32>, %w: tensor<64x1x3x3xf32>) -> tensor<1x64x7x7xf32> {
  %0 = mlc.conv %x, %w {dilations = array<i64: 1, 1>, group = 64 : i64, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>} : (tensor<1x64x7x7xf32>, tensor<64x1x3x3xf32>) -> tensor<1x64x7x7xf32>
  return %0 : tensor<1x64x7x7xf32>
}
}
