// RUN: %mlc-opt %s --split-input-file --mlc-cuda-map-to-gpu | FileCheck %s

// A parallel loop becomes one launch of 256-thread blocks over its
// linearised iterations (guarded for an empty range and for the last
// block); its reduction loop keeps the accumulator in a register (one load
// before, one store after). Serial work (a loop at the top) runs in a
// one-thread launch. Host work (allocation, views, calls) stays.
// CHECK-LABEL: func.func @kernel
// CHECK: %[[ANY:.*]] = arith.cmpi sgt, %[[TOTAL:.*]], %c0
// CHECK: scf.if %[[ANY]]
// CHECK: %[[GRID:.*]] = arith.ceildivsi %[[TOTAL]], %c256
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %[[GRID]], {{.*}} = %c1{{.*}}, {{.*}} = %c1{{.*}}) threads({{.*}}) in ({{.*}} = %c256
// CHECK: arith.cmpi slt, %{{.*}}, %[[TOTAL]]
// CHECK: %[[INIT:.*]] = memref.load %arg2
// CHECK: %[[SUM:.*]] = scf.for {{.*}} iter_args(%[[ACC:.*]] = %[[INIT]]) -> (f32)
// CHECK-NOT: memref.store
// CHECK: scf.yield
// CHECK: memref.store %[[SUM]], %arg2
// CHECK: gpu.terminator
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %c1{{.*}}, {{.*}} = %c1{{.*}}, {{.*}} = %c1{{.*}}) threads({{.*}}) in ({{.*}} = %c1{{.*}}, {{.*}} = %c1{{.*}}, {{.*}} = %c1
// CHECK-NEXT: scf.for
// CHECK: return
func.func @kernel(%a: memref<64x32xf32>, %b: memref<32x16xf32>, %c: memref<64x16xf32>, %d: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c16 = arith.constant 16 : index
  %c32 = arith.constant 32 : index
  %c64 = arith.constant 64 : index
  scf.parallel (%i, %j) = (%c0, %c0) to (%c64, %c16) step (%c1, %c1) {
    scf.for %k = %c0 to %c32 step %c1 {
      %x = memref.load %a[%i, %k] : memref<64x32xf32>
      %y = memref.load %b[%k, %j] : memref<32x16xf32>
      %acc = memref.load %c[%i, %j] : memref<64x16xf32>
      %p = arith.mulf %x, %y : f32
      %s = arith.addf %acc, %p : f32
      memref.store %s, %c[%i, %j] : memref<64x16xf32>
    }
    scf.reduce
  }
  scf.for %k = %c1 to %c4 step %c1 {
    %km = arith.subi %k, %c1 : index
    %p = memref.load %d[%km] : memref<4xf32>
    %x = memref.load %d[%k] : memref<4xf32>
    %s = arith.addf %p, %x : f32
    memref.store %s, %d[%k] : memref<4xf32>
  }
  return
}

// -----

// A scalar the host needs (here the size of a buffer) is read from the
// device: a one-thread launch copies it into a fresh device buffer, which
// @mlc_cuda_read copies into a host temporary that the host then loads.
// CHECK-LABEL: func.func @read_shape
// CHECK: %[[SCRATCH:.*]] = memref.alloc() : memref<1xi64>
// CHECK: gpu.launch
// CHECK: memref.load %arg0[
// CHECK: memref.store %{{.*}}, %[[SCRATCH]]
// CHECK: %[[HOST:.*]] = memref.alloca() : memref<1xi64>
// CHECK: call @mlc_cuda_read(%{{.*}}, %{{.*}}, %c8_i64)
// CHECK: memref.dealloc %[[SCRATCH]]
// CHECK: %[[N:.*]] = memref.load %[[HOST]]
// CHECK: %[[I:.*]] = arith.index_cast %[[N]]
// CHECK: memref.alloc(%[[I]]) : memref<?xf32>
func.func @read_shape(%shape: memref<2xi64>) -> memref<?xf32> {
  %c1 = arith.constant 1 : index
  %n = memref.load %shape[%c1] : memref<2xi64>
  %i = arith.index_cast %n : i64 to index
  %buf = memref.alloc(%i) : memref<?xf32>
  return %buf : memref<?xf32>
}
