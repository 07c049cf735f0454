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

// -----

// A long reduction per output (a LayerNorm's mean, a softmax's sum) runs a
// warp per output: 8 outputs per 256-thread block, each lane summing every
// 32nd element from the neutral value, a shuffle tree combining the lanes,
// the loop's initial value added last, and lane 0 storing.
// CHECK-LABEL: func.func @row_sum
// CHECK: %[[GRID:.*]] = arith.ceildivsi %{{.*}}, %c8
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %[[GRID]], {{.*}}) threads({{.*}}) in ({{.*}} = %c256
// CHECK: arith.divui %{{.*}}, %c32
// CHECK: %[[LANE:.*]] = arith.remui %{{.*}}, %c32
// CHECK: %[[INIT:.*]] = memref.load %arg1
// CHECK: %[[PART:.*]] = scf.for {{.*}} iter_args(%{{.*}} = %cst{{.*}}) -> (f32)
// CHECK-COUNT-5: gpu.shuffle  xor
// CHECK: %[[SUM:.*]] = arith.addf %[[INIT]], %{{.*}} : f32
// CHECK: %[[FIRST:.*]] = arith.cmpi eq, %[[LANE]], %c0
// CHECK: scf.if %[[FIRST]]
// CHECK-NEXT: memref.store %[[SUM]], %arg1
func.func @row_sum(%x: memref<128x768xf32>, %s: memref<128xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c128 = arith.constant 128 : index
  %c768 = arith.constant 768 : index
  scf.parallel (%i) = (%c0) to (%c128) step (%c1) {
    scf.for %k = %c0 to %c768 step %c1 {
      %v = memref.load %x[%i, %k] : memref<128x768xf32>
      %acc = memref.load %s[%i] : memref<128xf32>
      %a = arith.addf %v, %acc : f32
      memref.store %a, %s[%i] : memref<128xf32>
    }
    scf.reduce
  }
  return
}

// -----

// Math ops that have no libdevice call become ones that do: sinh through
// expm1, acos through atan2.
// CHECK-LABEL: func.func @no_libdevice
// CHECK: gpu.launch
// CHECK-NOT: math.sinh
// CHECK-DAG: math.expm1
// CHECK-DAG: math.atan2
// CHECK-NOT: math.acos
func.func @no_libdevice(%x: memref<64xf32>, %y: memref<64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
    %v = memref.load %x[%i] : memref<64xf32>
    %s = math.sinh %v : f32
    %a = math.acos %s : f32
    memref.store %a, %y[%i] : memref<64xf32>
    scf.reduce
  }
  return
}
