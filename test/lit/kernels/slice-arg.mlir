// RUN: %mlc-opt %s --mlc-lower-to-linalg --canonicalize --mlc-fuse --mlc-tile --mlc-outline-kernels | FileCheck %s
// RUN: %mlc-opt %s --mlc-lower-to-linalg --canonicalize --mlc-fuse --mlc-tile --mlc-outline-kernels --mlc-cpu-tile-vectorize --mlc-cpu-bufferize | FileCheck %s --check-prefix=MEM

// A slice the host takes of a larger tensor (GPT's causal mask cut to the
// sequence length) is taken inside the kernel from its source: passed in,
// it would be a strided view that an identity-layout kernel argument
// cannot take ("memref.cast ... are cast incompatible").
// CHECK-LABEL: func.func private @mlc_k0
// CHECK-SAME: tensor<512x512xf32>
// CHECK: tensor.extract_slice %{{.*}}[0, 0] [128, 128] [1, 1] : tensor<512x512xf32> to tensor<128x128xf32>
// CHECK-LABEL: func.func @main
// CHECK-NOT: tensor.extract_slice
// CHECK: call @mlc_k0
// MEM-LABEL: func.func private @mlc_k0
// MEM-SAME: memref<512x512xf32>
// MEM-LABEL: func.func @main
// MEM: call @mlc_k0
func.func @main(%x: tensor<128x128xf32>, %m: tensor<512x512xf32>) -> tensor<128x128xf32> {
  %s = tensor.extract_slice %m[0, 0] [128, 128] [1, 1] : tensor<512x512xf32> to tensor<128x128xf32>
  %0 = mlc.add %x, %s : (tensor<128x128xf32>, tensor<128x128xf32>) -> tensor<128x128xf32>
  return %0 : tensor<128x128xf32>
}
