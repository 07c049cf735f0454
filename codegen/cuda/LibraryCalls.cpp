//===- LibraryCalls.cpp - contractions become cuBLAS calls ----------------===//
//
// A float32 contraction (matmul, batch matmul, the GEMM of an im2col
// convolution) on contiguous row-major buffers becomes one call of
// @mlc_cuda_gemm, which the runtime runs as a strided-batched cuBLAS SGEMM
// on the session's stream (C += A·B: the kernel's fill or bias already
// initialised C). Per operand, the dims of each kind (batch, M, N, K) must
// be adjacent and in order, so that they collapse into one; A and B may
// lack the batch dims (broadcast) and may be stored transposed. Anything
// else stays a parallel loop.
//
// @mlc_cuda_gemm(transA, transB, M, N, K, batch, A, lda, strideA, B, ldb,
//                strideB, C, ldc, strideC): all i64, addresses as integers,
// row-major semantics. A call through ctx->cuda after translation.
//
//===----------------------------------------------------------------------===//
#include "codegen/cuda/CudaCodegen.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

#include <optional>

using namespace mlir;
using namespace mlc;

namespace {

enum Kind { Batch, M, N, K, None };

/// The kinds of an operand's dims, in order; fails unless every result of
/// its map is a plain loop dim.
FailureOr<SmallVector<Kind>> kindsOf(AffineMap map, const linalg::ContractionDimensions &cd) {
  SmallVector<Kind> kinds;
  for (AffineExpr e : map.getResults()) {
    auto d = dyn_cast<AffineDimExpr>(e);
    if (!d)
      return failure();
    unsigned p = d.getPosition();
    Kind k = llvm::is_contained(cd.batch, p) ? Batch
             : llvm::is_contained(cd.m, p)   ? M
             : llvm::is_contained(cd.n, p)   ? N
             : llvm::is_contained(cd.k, p)   ? K
                                             : None;
    if (k == None)
      return failure();
    kinds.push_back(k);
  }
  return kinds;
}

/// Whether `kinds` is the concatenation of runs of `order` (each kind one
/// contiguous run, in that order; kinds not in `order` absent). A kind of
/// `order` may be missing only when `optional`.
bool runsInOrder(ArrayRef<Kind> kinds, ArrayRef<Kind> order, Kind optional) {
  size_t i = 0;
  for (Kind k : order) {
    size_t start = i;
    while (i < kinds.size() && kinds[i] == k)
      ++i;
    if (i == start && k != optional)
      return false;
  }
  return i == kinds.size();
}

/// Whether the dims of `kinds` in positions of kind `k`, taken in order, are
/// the loop dims `dims` in the same order (so the operands agree on how a
/// run collapses).
bool sameOrder(AffineMap map, ArrayRef<Kind> kinds, Kind k, ArrayRef<unsigned> dims) {
  SmallVector<unsigned> seen;
  for (auto [e, kind] : llvm::zip(map.getResults(), kinds))
    if (kind == k)
      seen.push_back(cast<AffineDimExpr>(e).getPosition());
  return seen.empty() || ArrayRef<unsigned>(seen) == dims;
}

Value product(OpBuilder &b, Location loc, Value buf, ArrayRef<Kind> kinds, Kind k) {
  Value p = b.create<arith::ConstantIndexOp>(loc, 1);
  for (auto [i, kind] : llvm::enumerate(kinds))
    if (kind == k)
      p = b.create<arith::MulIOp>(loc, p, b.create<memref::DimOp>(loc, buf, i));
  return p;
}

bool contiguousF32(Value v) {
  auto t = dyn_cast<MemRefType>(v.getType());
  return t && t.getElementType().isF32() && t.getLayout().isIdentity();
}

LogicalResult toGemm(linalg::LinalgOp op, func::FuncOp gemm,
                     std::optional<linalg::ContractionDimensions> cd);

/// The contraction's dims as MLIR infers them (batch: in all three
/// operands), then, failing that, with C's leading M or N dims taken as
/// batch dims that one operand broadcasts (an im2col convolution's
/// [batch, K, N] times a [M, K] weight).
LogicalResult toGemm(linalg::LinalgOp op, func::FuncOp gemm) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 ||
      !linalg::isaContractionOpInterface(op))
    return failure();
  auto cd = linalg::inferContractionDims(op);
  if (failed(cd))
    return failure();
  if (succeeded(toGemm(op, gemm, *cd)))
    return success();
  AffineMap cmap = op.getIndexingMapsArray()[2];
  linalg::ContractionDimensions moved = *cd;
  for (AffineExpr e : cmap.getResults()) {
    auto d = dyn_cast<AffineDimExpr>(e);
    if (!d)
      return failure();
    unsigned p = d.getPosition();
    if (llvm::is_contained(moved.batch, p))
      continue;
    for (auto *list : {&moved.m, &moved.n})
      llvm::erase(*list, p);
    moved.batch.push_back(p);
    if (moved.m.empty() || moved.n.empty())
      return failure();
    if (succeeded(toGemm(op, gemm, moved)))
      return success();
  }
  return failure();
}

LogicalResult toGemm(linalg::LinalgOp op, func::FuncOp gemm,
                     std::optional<linalg::ContractionDimensions> cd) {
  Value a = op.getDpsInputs()[0], b = op.getDpsInputs()[1], c = op.getDpsInits()[0];
  if (!contiguousF32(a) || !contiguousF32(b) || !contiguousF32(c))
    return failure();
  if (cd->m.empty() || cd->n.empty() || cd->k.empty())
    return failure();
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  auto ka = kindsOf(maps[0], *cd), kb = kindsOf(maps[1], *cd), kc = kindsOf(maps[2], *cd);
  if (failed(ka) || failed(kb) || failed(kc))
    return failure();
  bool transA, transB;
  if (runsInOrder(*ka, {Batch, M, K}, Batch))
    transA = false;
  else if (runsInOrder(*ka, {Batch, K, M}, Batch))
    transA = true;
  else
    return failure();
  if (runsInOrder(*kb, {Batch, K, N}, Batch))
    transB = false;
  else if (runsInOrder(*kb, {Batch, N, K}, Batch))
    transB = true;
  else
    return failure();
  if (!runsInOrder(*kc, {Batch, M, N}, Batch) ||
      llvm::count(*kc, Batch) != (long)cd->batch.size())
    return failure();
  // Every operand collapses each kind's dims in the same order.
  for (auto [map, kinds] : {std::pair(maps[0], *ka), std::pair(maps[1], *kb),
                            std::pair(maps[2], *kc)})
    for (auto [k, dims] : {std::pair(Batch, ArrayRef<unsigned>(cd->batch)),
                           std::pair(M, ArrayRef<unsigned>(cd->m)),
                           std::pair(N, ArrayRef<unsigned>(cd->n)),
                           std::pair(K, ArrayRef<unsigned>(cd->k))})
      if (!sameOrder(map, kinds, k, dims))
        return failure();
  // A and B either carry every batch dim or none.
  for (auto *kinds : {&*ka, &*kb}) {
    long nb = llvm::count(*kinds, Batch);
    if (nb != 0 && nb != (long)cd->batch.size())
      return failure();
  }

  Location loc = op.getLoc();
  OpBuilder bld(op);
  Type i64 = bld.getI64Type();
  auto asI64 = [&](Value v) { return bld.create<arith::IndexCastOp>(loc, i64, v).getResult(); };
  auto addr = [&](Value m) {
    return asI64(bld.create<memref::ExtractAlignedPointerAsIndexOp>(loc, m));
  };
  Value mm = product(bld, loc, c, *kc, M), nn = product(bld, loc, c, *kc, N);
  Value kk = product(bld, loc, a, *ka, K), batch = product(bld, loc, c, *kc, Batch);
  Value zero = bld.create<arith::ConstantIndexOp>(loc, 0);
  Value strideA = llvm::is_contained(*ka, Batch) ? bld.create<arith::MulIOp>(loc, mm, kk) : zero;
  Value strideB = llvm::is_contained(*kb, Batch) ? bld.create<arith::MulIOp>(loc, kk, nn) : zero;
  Value strideC = bld.create<arith::MulIOp>(loc, mm, nn);
  Value lda = transA ? mm : kk, ldb = transB ? kk : nn;
  auto flag = [&](bool v) { return bld.create<arith::ConstantIntOp>(loc, v ? 1 : 0, 64); };
  bld.create<func::CallOp>(loc, gemm,
                           ValueRange{flag(transA), flag(transB), asI64(mm), asI64(nn), asI64(kk),
                                      asI64(batch), addr(a), asI64(lda), asI64(strideA), addr(b),
                                      asI64(ldb), asI64(strideB), addr(c), asI64(nn),
                                      asI64(strideC)});
  op->erase();
  return success();
}

struct LibraryCallsPass : PassWrapper<LibraryCallsPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(LibraryCallsPass)
  StringRef getArgument() const override { return "mlc-cuda-library-calls"; }
  StringRef getDescription() const override {
    return "float32 contractions on contiguous buffers -> cuBLAS calls";
  }
  void runOnOperation() override {
    ModuleOp m = getOperation();
    OpBuilder mb(&getContext());
    mb.setInsertionPointToEnd(m.getBody());
    Type i64 = mb.getI64Type();
    auto gemm = mb.create<func::FuncOp>(m.getLoc(), cuda::kGemmFunction,
                                        mb.getFunctionType(SmallVector<Type>(15, i64), {}));
    gemm.setPrivate();
    SmallVector<linalg::LinalgOp> ops;
    for (auto f : m.getOps<func::FuncOp>())
      if (!f.isExternal())
        for (Operation &op : f.getBody().front())
          if (auto l = dyn_cast<linalg::LinalgOp>(&op))
            ops.push_back(l);
    bool used = false;
    for (linalg::LinalgOp op : ops)
      used |= succeeded(toGemm(op, gemm));
    if (!used)
      gemm.erase();
  }
};

} // namespace

std::unique_ptr<Pass> cuda::createLibraryCallsPass() {
  return std::make_unique<LibraryCallsPass>();
}
void cuda::registerLibraryCallsPass() { PassRegistration<LibraryCallsPass>(); }
