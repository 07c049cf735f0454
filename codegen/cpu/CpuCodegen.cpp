//===- CpuCodegen.cpp - tile, vectorise, bufferise, lower to LLVM --------===//
#include "codegen/cpu/CpuCodegen.h"
#include "dialects/MlcDialect.h"
#include "passes/Decisions.h"
#include "passes/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Bufferization/Transforms/OneShotAnalysis.h"
#include "mlir/Dialect/Bufferization/Transforms/OneShotModuleBufferize.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/Linalg/Transforms/Hoisting.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/Transforms/Patterns.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Vector/Transforms/LoweringPatterns.h"
#include "mlir/Dialect/Vector/Transforms/VectorRewritePatterns.h"
#include "mlir/Dialect/Vector/Transforms/VectorTransforms.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/LoopInvariantCodeMotionUtils.h"
#include "mlir/Transforms/Passes.h"
#include "mlir/Rewrite/FrozenRewritePatternSet.h"

#include "llvm/IR/LegacyPassManager.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Passes/StandardInstrumentations.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/MC/MCSubtargetInfo.h"

using namespace mlir;
using namespace mlc;

//===----------------------------------------------------------------------===//
// Target
//===----------------------------------------------------------------------===//

static void initLLVMTargets() {
  static bool done = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    return true;
  }();
  (void)done;
}

/// The x86 features whose instructions the generated code may contain; the
/// runtime checks each before running a model.
static const char *const kTrackedFeatures[] = {
    "sse4.1", "sse4.2", "avx", "avx2", "fma", "f16c", "avx512f",
    "avx512dq", "avx512bw", "avx512vl", "avx512cd", "avx512vnni", "avx512bf16"};

FailureOr<TargetInfo> cpu::resolveTarget(const std::string &cpuName,
                                         std::string &err) {
  initLLVMTargets();
  TargetInfo t;
  std::string triple = llvm::sys::getDefaultTargetTriple();
  if (cpuName.empty() || cpuName == "native" || cpuName == "host") {
    t.cpu = llvm::sys::getHostCPUName().str();
    std::vector<std::string> feats;
    for (auto &f : llvm::sys::getHostCPUFeatures())
      feats.push_back((f.second ? "+" : "-") + f.first().str());
    llvm::sort(feats); // StringMap order is not deterministic
    t.features = llvm::join(feats, ",");
  } else {
    t.cpu = cpuName;
  }
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, err);
  if (!target)
    return failure();
  std::unique_ptr<llvm::MCSubtargetInfo> sti(
      target->createMCSubtargetInfo(triple, t.cpu, t.features));
  if (!sti || !sti->isCPUStringValid(t.cpu)) {
    err = "unknown CPU '" + cpuName + "' (try e.g. x86-64-v3, skylake-avx512, znver4)";
    return failure();
  }
  if (sti->checkFeatures("+avx512f")) {
    t.vectorBits = 512;
    t.numVectorRegisters = 32;
  } else if (sti->checkFeatures("+avx")) {
    t.vectorBits = 256;
    t.numVectorRegisters = 16;
  } else {
    t.vectorBits = 128;
    t.numVectorRegisters = 16;
  }
  t.name = "cpu";
  return t;
}

std::vector<std::string> cpu::requiredFeatures(const TargetInfo &t) {
  initLLVMTargets();
  std::string err, triple = llvm::sys::getDefaultTargetTriple();
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, err);
  std::vector<std::string> on;
  if (!target)
    return on;
  std::unique_ptr<llvm::MCSubtargetInfo> sti(
      target->createMCSubtargetInfo(triple, t.cpu, t.features));
  for (const char *f : kTrackedFeatures)
    if (sti->checkFeatures(std::string("+") + f))
      on.push_back(f);
  return on;
}

std::unique_ptr<llvm::TargetMachine>
cpu::createTargetMachine(const TargetInfo &t, int optLevel, std::string &err) {
  initLLVMTargets();
  std::string triple = llvm::sys::getDefaultTargetTriple();
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, err);
  if (!target)
    return nullptr;
  llvm::TargetOptions opts;
  auto level = optLevel <= 0   ? llvm::CodeGenOptLevel::None
               : optLevel == 1 ? llvm::CodeGenOptLevel::Less
               : optLevel == 2 ? llvm::CodeGenOptLevel::Default
                               : llvm::CodeGenOptLevel::Aggressive;
  return std::unique_ptr<llvm::TargetMachine>(target->createTargetMachine(
      triple, t.cpu, t.features, opts, llvm::Reloc::PIC_, std::nullopt, level));
}

//===----------------------------------------------------------------------===//
// Tiling and vectorisation
//===----------------------------------------------------------------------===//

static SmallVector<OpFoldResult> tileSizesFor(OpBuilder &b, Operation *op,
                                              ArrayRef<int64_t> sizes) {
  unsigned loops = cast<linalg::LinalgOp>(op).getNumLoops();
  SmallVector<OpFoldResult> out;
  for (unsigned i = 0; i < loops; ++i)
    out.push_back(b.getIndexAttr(i < sizes.size() ? sizes[i] : 0));
  return out;
}

/// Tiles `op` by `sizes` and returns the generated loops (outermost first).
static FailureOr<SmallVector<scf::ForOp>> tileOp(RewriterBase &rw, Operation *op,
                                                 ArrayRef<int64_t> sizes) {
  scf::SCFTilingOptions opts;
  opts.setTileSizes(tileSizesFor(rw, op, sizes));
  rw.setInsertionPoint(op);
  auto res = scf::tileUsingSCF(rw, cast<TilingInterface>(op), opts);
  if (failed(res))
    return failure();
  rw.replaceOp(op, res->replacements);
  SmallVector<scf::ForOp> loops;
  for (LoopLikeOpInterface l : res->loops)
    if (auto f = dyn_cast<scf::ForOp>(l.getOperation()))
      loops.push_back(f);
  return loops;
}

cpu::TileVectorizePatterns cpu::buildTileVectorizePatterns(MLIRContext *ctx) {
  RewritePatternSet canonical(ctx);
  for (Dialect *d : ctx->getLoadedDialects())
    d->getCanonicalizationPatterns(canonical);
  for (RegisteredOperationName n : ctx->getRegisteredOperations())
    n.getCanonicalizationPatterns(canonical, ctx);
  scf::populateSCFForLoopCanonicalizationPatterns(canonical);
  RewritePatternSet cleanup(ctx);
  vector::populateVectorReductionToContractPatterns(cleanup);
  vector::populateCastAwayVectorLeadingOneDimPatterns(cleanup);
  vector::populateVectorTransferDropUnitDimsPatterns(cleanup);
  vector::TransferReadOp::getCanonicalizationPatterns(cleanup, ctx);
  vector::TransferWriteOp::getCanonicalizationPatterns(cleanup, ctx);
  return {FrozenRewritePatternSet(std::move(canonical)),
          FrozenRewritePatternSet(std::move(cleanup))};
}

static void canonicalize(Operation *root, const FrozenRewritePatternSet &patterns) {
  (void)applyPatternsAndFoldGreedily(root, patterns);
}

/// [0, n) as (offset, width) pieces of power-of-two widths, widest first:
/// an odd width (a partial tile) maps onto whole registers instead of
/// being assembled lane by lane.
static SmallVector<std::pair<int64_t, int64_t>> powerOfTwoPieces(int64_t n) {
  SmallVector<std::pair<int64_t, int64_t>> pieces;
  for (int64_t off = 0, left = n; left > 0;) {
    int64_t w = (int64_t)llvm::bit_floor((uint64_t)left);
    pieces.push_back({off, w});
    off += w;
    left -= w;
  }
  return pieces;
}

/// The register tile of a matmul-like root, as an outer-product
/// microkernel: for each row i of the tile, broadcast A[i, k] and
/// fused-multiply-add it with the contiguous row B[k, :] into row i of the
/// accumulator. After bufferization the accumulator rows are hoisted out of
/// the k loop and stay in registers. Fails (leaving the op to the generic
/// vectoriser) unless the tile is static, k has extent 1, B is contiguous
/// along the vector dim and the body is a plain multiply-accumulate.
static LogicalResult vectorizeMatmulTile(RewriterBase &rw, linalg::GenericOp op) {
  if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 || op.hasDynamicShape())
    return failure();
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  unsigned n = ranges.size();
  if (n < 3 || ranges.back() != 1 || op.getNumReductionLoops() != 1)
    return failure();
  for (unsigned i = 0; i + 3 < n; ++i)
    if (ranges[i] != 1)
      return failure();
  if (!isMultiplyAccumulateBody(op.getRegion().front()))
    return failure();
  unsigned mDim = n - 3, nDim = n - 2;
  int64_t M = ranges[mDim], N = ranges[nDim];
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  int aIdx = -1, bIdx = -1;
  for (int i = 0; i < 2; ++i) {
    if (!maps[i].isFunctionOfDim(nDim))
      aIdx = i;
    else if (!maps[i].isFunctionOfDim(mDim))
      bIdx = i;
  }
  AffineMap outMap = maps[2];
  MLIRContext *ctx = op.getContext();
  if (aIdx < 0 || bIdx < 0 || maps[bIdx].getNumResults() == 0 ||
      maps[bIdx].getResults().back() != getAffineDimExpr(nDim, ctx) ||
      outMap.getResults().back() != getAffineDimExpr(nDim, ctx))
    return failure();
  Location loc = op.getLoc();
  Type elem = cast<ShapedType>(op.getDpsInits()[0].getType()).getElementType();
  auto at = [&](AffineMap map, int64_t row, int64_t col) {
    SmallVector<Attribute> dims(n, rw.getIndexAttr(0)), res;
    dims[mDim] = rw.getIndexAttr(row);
    dims[nDim] = rw.getIndexAttr(col);
    (void)map.constantFold(dims, res);
    SmallVector<Value> idx;
    for (Attribute r : res)
      idx.push_back(rw.create<arith::ConstantIndexOp>(loc, cast<IntegerAttr>(r).getInt()));
    return idx;
  };
  rw.setInsertionPoint(op);
  Value A = op.getDpsInputs()[aIdx], B = op.getDpsInputs()[bIdx];
  Value acc = op.getDpsInits()[0];
  Value pad = rw.create<arith::ConstantOp>(loc, rw.getZeroAttr(elem));
  SmallVector<bool> inBounds = {true};
  for (auto [off, w] : powerOfTwoPieces(N)) {
    auto vt = VectorType::get({w}, elem);
    Value bRow = rw.create<vector::TransferReadOp>(loc, vt, B, at(maps[bIdx], 0, off), pad, inBounds);
    for (int64_t i = 0; i < M; ++i) {
      SmallVector<Value> oi = at(outMap, i, off);
      Value c = rw.create<vector::TransferReadOp>(loc, vt, acc, oi, pad, inBounds);
      Value a = rw.create<tensor::ExtractOp>(loc, A, at(maps[aIdx], i, 0));
      Value r = rw.create<vector::FMAOp>(loc, rw.create<vector::BroadcastOp>(loc, vt, a), bRow, c);
      acc = rw.create<vector::TransferWriteOp>(loc, r, acc, oi, inBounds).getResult();
    }
  }
  rw.replaceOp(op, acc);
  return success();
}

/// The register tile of a sliding-window contraction (a depthwise or
/// grouped convolution; Tiling.cpp's isWindowContraction): out[p] +=
/// x[window(p)] * w[...] over a static tile whose innermost parallel loop
/// (the output's columns) is the vector dim. Every other loop is unrolled:
/// each output row keeps its accumulator vectors in registers across the
/// whole window, each x row is one contiguous load (stride 1) or two
/// deinterleaved ones (stride 2), each weight a broadcast scalar. Fails
/// (leaving the op to the generic vectoriser) outside that form.
static LogicalResult vectorizeWindowTile(RewriterBase &rw, linalg::GenericOp op) {
  constexpr int64_t kMaxUnrolled = 1024;
  int xIdx;
  int64_t stride;
  if (!isWindowContraction(op, &xIdx, &stride))
    return failure();
  Type elem = cast<ShapedType>(op.getDpsInits()[0].getType()).getElementType();
  if (!elem.isF32() && !elem.isF64())
    return failure();
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  unsigned n = ranges.size(), p = op.getNumParallelLoops(), col = p - 1;
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  auto eval = [&](AffineMap map, ArrayRef<int64_t> point) { return map.compose(point); };
  int64_t points = 1;
  for (unsigned i = 0; i < n; ++i)
    if (i != col)
      points *= ranges[i];
  if (points * ranges[col] / 4 > kMaxUnrolled)
    return failure();

  Location loc = op.getLoc();
  rw.setInsertionPoint(op);
  Value X = op.getDpsInputs()[xIdx], W = op.getDpsInputs()[1 - xIdx];
  Value out = op.getDpsInits()[0];
  int64_t xCols = cast<ShapedType>(X.getType()).getShape().back();
  Value pad = rw.create<arith::ConstantOp>(loc, rw.getZeroAttr(elem));
  auto indices = [&](ArrayRef<int64_t> idx) {
    SmallVector<Value> v;
    for (int64_t i : idx)
      v.push_back(rw.create<arith::ConstantIndexOp>(loc, i));
    return v;
  };
  // Power-of-two pieces of the columns, as in vectorizeMatmulTile; a
  // narrow row (a 7x7 or 14x14 map) is one vector, masked past its end.
  constexpr int64_t kMaxMaskedWidth = 16;
  int64_t up = (int64_t)llvm::bit_ceil((uint64_t)ranges[col]);
  SmallVector<std::pair<int64_t, int64_t>> pieces =
      up != ranges[col] && up <= kMaxMaskedWidth
          ? SmallVector<std::pair<int64_t, int64_t>>{{0, up}}
          : powerOfTwoPieces(ranges[col]);
  int64_t outCols = cast<ShapedType>(op.getDpsInits()[0].getType()).getShape().back();
  // The accumulators start from the init's producer when it is a fill or
  // a broadcast along the columns fused into this tile (a bias): no read
  // of what it would have stored (a masked store and reload stalls).
  Operation *initOp = out.getDefiningOp();
  Value fillValue, biasSrc; // a fill's scalar, or a broadcast's source
  AffineMap biasMap;
  auto bc = dyn_cast_or_null<linalg::GenericOp>(initOp);
  if (bc && !bc->hasAttr(attr::kRegisterFused))
    bc = nullptr;
  if (auto fill = dyn_cast_or_null<linalg::FillOp>(initOp)) {
    fillValue = fill.getInputs()[0];
  } else if (bc && bc.getNumDpsInputs() == 0) {
    // A fill written as a generic: the value it yields, from outside.
    fillValue = cast<linalg::YieldOp>(bc.getRegion().front().getTerminator()).getValues()[0];
  } else if (bc && bc.getNumDpsInputs() == 1 && bc.getNumLoops() == p &&
             !bc.getIndexingMapsArray()[0].isFunctionOfDim(col) &&
             bc.getIndexingMapsArray()[1].isIdentity()) {
    biasSrc = bc.getDpsInputs()[0];
    biasMap = bc.getIndexingMapsArray()[0];
  }
  // The accumulator of an output row (every column alike), or null: read
  // the init from memory.
  auto initialAccumulator = [&](ArrayRef<int64_t> row, VectorType vt) -> Value {
    Value v = fillValue;
    if (biasSrc) {
      SmallVector<int64_t> point(row.begin(), row.end());
      point.push_back(0);
      v = rw.create<tensor::ExtractOp>(loc, biasSrc, indices(biasMap.compose(point)));
    }
    return v ? rw.create<vector::BroadcastOp>(loc, vt, v).getResult() : Value();
  };

  // Accumulators, one per (output row, piece), read once and written once.
  SmallVector<int64_t> outerRanges(ranges.begin(), ranges.begin() + col);
  SmallVector<int64_t> redRanges(ranges.begin() + p, ranges.end());
  auto forEach = [](ArrayRef<int64_t> rs, function_ref<void(ArrayRef<int64_t>)> fn) {
    SmallVector<int64_t> idx(rs.size(), 0);
    for (;;) {
      fn(idx);
      int k = (int)rs.size() - 1;
      for (; k >= 0; --k) {
        if (++idx[k] < rs[k])
          break;
        idx[k] = 0;
      }
      if (k < 0)
        return;
    }
  };
  forEach(outerRanges, [&](ArrayRef<int64_t> row) {
    for (auto piece : pieces) {
      int64_t off = piece.first, width = piece.second; // captured below
      auto vt = VectorType::get({width}, elem);
      SmallVector<int64_t> outIdx(row.begin(), row.end());
      outIdx.push_back(off);
      SmallVector<Value> oi = indices(outIdx);
      bool outInside = off + width <= outCols;
      Value a = initialAccumulator(row, vt);
      if (!a)
        a = rw.create<vector::TransferReadOp>(loc, vt, out, oi, pad, ArrayRef<bool>{outInside});
      forEach(redRanges, [&](ArrayRef<int64_t> red) {
        SmallVector<int64_t> point(row.begin(), row.end());
        point.push_back(off);
        point.append(red.begin(), red.end());
        SmallVector<int64_t> xi = eval(maps[xIdx], point);
        Value xv;
        if (stride == 1) {
          xv = rw.create<vector::TransferReadOp>(loc, vt, X, indices(xi), pad,
                                                 ArrayRef<bool>{xi.back() + width <= xCols});
        } else {
          // Both lanes of each pair, then the even ones; the read may run
          // past the tile's last column (masked).
          auto wide = VectorType::get({2 * width}, elem);
          bool inside = xi.back() + 2 * width <= xCols;
          Value both = rw.create<vector::TransferReadOp>(loc, wide, X, indices(xi), pad,
                                                         ArrayRef<bool>{inside});
          SmallVector<int64_t> evens;
          for (int64_t l = 0; l < width; ++l)
            evens.push_back(2 * l);
          xv = rw.create<vector::ShuffleOp>(loc, both, both, evens);
        }
        Value wv = rw.create<tensor::ExtractOp>(loc, W, indices(eval(maps[1 - xIdx], point)));
        a = rw.create<vector::FMAOp>(loc, xv, rw.create<vector::BroadcastOp>(loc, vt, wv), a);
      });
      out = rw.create<vector::TransferWriteOp>(loc, a, out, oi, ArrayRef<bool>{outInside})
                .getResult();
    }
  });
  rw.replaceOp(op, out);
  return success();
}

/// The register tile of a row reduction (passes/Passes.h, isRowReduction)
/// of one row: the row is walked `lanes` elements at a time, the body's
/// elementwise part on vectors and its combiner into a vector accumulator;
/// a masked step takes the rest (the row's length may be known only at run
/// time); one horizontal reduction per row then meets the init. The sum is
/// reassociated (lanes of partial sums), as onnxruntime's vector kernels
/// do.
static LogicalResult vectorizeRowReduction(RewriterBase &rw, linalg::GenericOp op,
                                           int64_t lanes) {
  if (!isRowReduction(op))
    return failure();
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  unsigned n = ranges.size(), k = n - 1;
  for (unsigned i = 0; i < k; ++i)
    if (ranges[i] != 1)
      return failure();
  Block *body = op.getBlock();
  Operation *combine =
      cast<linalg::YieldOp>(body->getTerminator()).getValues()[0].getDefiningOp();
  BlockArgument outArg = body->getArguments().back();
  Value x = combine->getOperand(0) == outArg ? combine->getOperand(1) : combine->getOperand(0);
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  int along = -1; // an input that walks the row: its last dim is the row's
  for (unsigned i = 0; i < op.getNumDpsInputs(); ++i)
    if (maps[i].isFunctionOfDim(k) && along < 0)
      along = i;
  if (along < 0)
    return failure();
  vector::CombiningKind kind;
  if (isa<arith::AddFOp>(combine))
    kind = vector::CombiningKind::ADD;
  else if (isa<arith::MaximumFOp>(combine))
    kind = vector::CombiningKind::MAXIMUMF;
  else if (isa<arith::MinimumFOp>(combine))
    kind = vector::CombiningKind::MINIMUMF;
  else if (isa<arith::MaxNumFOp>(combine))
    kind = vector::CombiningKind::MAXNUMF;
  else
    kind = vector::CombiningKind::MINNUMF;

  Location loc = op.getLoc();
  Type elem = getElementTypeOrSelf(op.getDpsInits()[0].getType());
  auto fty = cast<FloatType>(elem);
  auto vt = VectorType::get({lanes}, elem);
  APFloat identity = kind == vector::CombiningKind::ADD ? APFloat::getZero(fty.getFloatSemantics(), true)
                     : kind == vector::CombiningKind::MAXIMUMF || kind == vector::CombiningKind::MAXNUMF
                         ? APFloat::getInf(fty.getFloatSemantics(), true)
                         : APFloat::getInf(fty.getFloatSemantics(), false);
  rw.setInsertionPoint(op);
  Value identV = rw.create<arith::ConstantOp>(loc, vt, DenseElementsAttr::get(vt, identity));
  auto cst = [&](int64_t v) { return rw.create<arith::ConstantIndexOp>(loc, v).getResult(); };
  Value c0 = cst(0), step = cst(lanes);
  Value rowInput = op.getDpsInputs()[along];
  int64_t rowRank = cast<ShapedType>(rowInput.getType()).getRank();
  Value K = ShapedType::isDynamic(ranges[k])
                ? rw.create<tensor::DimOp>(loc, rowInput, rowRank - 1).getResult()
                : cst(ranges[k]);
  Value Kmain = rw.create<arith::MulIOp>(loc, rw.create<arith::DivUIOp>(loc, K, step), step);

  // The body's combiner (add, max, min) on two values of `type`.
  auto combineWith = [&](OpBuilder &b, Value lhs, Value rhs, Type type) -> Value {
    OperationState st(loc, combine->getName());
    st.addOperands({lhs, rhs});
    st.addTypes(type);
    st.addAttributes(combine->getAttrs());
    return b.create(st)->getResult(0);
  };
  SmallVector<int64_t> zeros(n, 0);
  // One step of the row at column j: the body's elementwise part on
  // vectors (masked lanes replaced by the identity), combined into acc.
  auto stepAt = [&](OpBuilder &b, Value j, Value acc, Value mask) -> Value {
    IRMapping map;
    for (unsigned i = 0; i < op.getNumDpsInputs(); ++i) {
      Value in = op.getDpsInputs()[i];
      Type et = getElementTypeOrSelf(in.getType());
      SmallVector<Value> idx;
      for (int64_t c : maps[i].compose(zeros))
        idx.push_back(b.create<arith::ConstantIndexOp>(loc, c));
      Value v;
      if (maps[i].isFunctionOfDim(k)) {
        idx.back() = j;
        Value pad = b.create<arith::ConstantOp>(loc, b.getZeroAttr(et));
        v = b.create<vector::TransferReadOp>(loc, VectorType::get({lanes}, et), in, idx, pad,
                                             ArrayRef<bool>{!mask});
      } else {
        v = b.create<vector::BroadcastOp>(loc, VectorType::get({lanes}, et),
                                          b.create<tensor::ExtractOp>(loc, in, idx));
      }
      map.map(body->getArgument(i), v);
    }
    for (Operation &o : body->without_terminator()) {
      if (&o == combine)
        continue;
      if (o.getNumOperands() == 0) {
        Operation *c = b.clone(o);
        map.map(o.getResult(0), b.create<vector::BroadcastOp>(
                                    loc, VectorType::get({lanes}, o.getResult(0).getType()),
                                    c->getResult(0)));
        continue;
      }
      OperationState st(loc, o.getName());
      for (Value operand : o.getOperands()) {
        Value m = map.lookupOrNull(operand);
        if (!m) // a value from outside the body: the same in every lane
          m = b.create<vector::BroadcastOp>(loc, VectorType::get({lanes}, operand.getType()),
                                            operand);
        st.addOperands(m);
      }
      st.addTypes(VectorType::get({lanes}, o.getResult(0).getType()));
      st.addAttributes(o.getAttrs());
      map.map(o.getResult(0), b.create(st)->getResult(0));
    }
    Value v = map.lookup(x);
    if (mask)
      v = b.create<arith::SelectOp>(loc, mask, v, identV);
    return combineWith(b, acc, v, vt);
  };
  auto loop = rw.create<scf::ForOp>(
      loc, c0, Kmain, step, ValueRange{identV},
      [&](OpBuilder &b, Location, Value j, ValueRange acc) {
        b.create<scf::YieldOp>(loc, stepAt(b, j, acc[0], nullptr));
      });
  Value acc = loop.getResult(0);
  if (ShapedType::isDynamic(ranges[k]) || ranges[k] % lanes) {
    Value left = rw.create<arith::SubIOp>(loc, K, Kmain);
    Value mask = rw.create<vector::CreateMaskOp>(loc, VectorType::get({lanes}, rw.getI1Type()),
                                                 ValueRange{left});
    acc = stepAt(rw, Kmain, acc, mask);
  }
  Value r = rw.create<vector::ReductionOp>(loc, kind, acc);
  SmallVector<Value> outIdx(k, c0);
  Value out = op.getDpsInits()[0];
  Value init = rw.create<tensor::ExtractOp>(loc, out, outIdx);
  Value total = combineWith(rw, r, init, elem);
  rw.replaceOp(op, rw.create<tensor::InsertOp>(loc, total, out, outIdx).getResult());
  return success();
}

LogicalResult cpu::tileAndVectorize(func::FuncOp f, const TileVectorizePatterns &patterns) {
  MLIRContext *ctx = f.getContext();
  IRRewriter rw(ctx);

  // 1. Distribution tiles on each group's anchor, as an scf.forall that the
  // runtime splits across threads; same-group producers fuse in.
  SmallVector<Operation *> anchors;
  f.walk([&](Operation *op) {
    if (auto c = getLoweringConfig(op); c && !c.distributionTiles().empty())
      anchors.push_back(op);
  });
  for (Operation *anchor : anchors) {
    ArrayRef<int64_t> sizes = getLoweringConfig(anchor).distributionTiles();
    auto group = anchor->getAttrOfType<IntegerAttr>(attr::kFusionGroup);
    scf::SCFTileAndFuseOptions opts;
    opts.tilingOptions.setTileSizes(tileSizesFor(rw, anchor, sizes));
    opts.tilingOptions.setLoopType(scf::SCFTilingOptions::LoopType::ForallOp);
    opts.setFusionControlFn([group](tensor::ExtractSliceOp, OpResult producer,
                                    bool) -> std::tuple<bool, bool> {
      auto g = producer.getOwner()->getAttrOfType<IntegerAttr>(attr::kFusionGroup);
      return {g && group && g.getInt() == group.getInt(), false};
    });
    rw.setInsertionPoint(anchor);
    auto res = scf::tileConsumerAndFuseProducersUsingSCF(
        rw, cast<TilingInterface>(anchor), opts);
    if (failed(res))
      continue; // stays untiled; still correct
    for (OpResult r : anchor->getResults())
      rw.replaceAllUsesWith(r, res->replacements.lookup(r));
    rw.eraseOp(anchor);
  }
  canonicalize(f, patterns.canonical);

  // 2. Reduction blocking of contraction roots.
  SmallVector<Operation *> roots;
  f.walk([&](Operation *op) {
    if (auto c = getLoweringConfig(op); c && !c.reductionTiles().empty())
      roots.push_back(op);
  });
  for (Operation *op : roots) {
    LoweringConfigAttr c = getLoweringConfig(op);
    SmallVector<int64_t> sizes(c.reductionTiles());
    // Done: the tiled op must not be blocked again.
    op->setAttr(kLoweringConfigAttr,
                LoweringConfigAttr::get(ctx, c.getDistribution(), nullptr, c.getVector()));
    (void)tileOp(rw, op, sizes);
  }

  // 3. Register tiles.
  SmallVector<Operation *> regs;
  f.walk([&](Operation *op) {
    if (auto c = getLoweringConfig(op); c && !c.vectorTiles().empty())
      regs.push_back(op);
  });
  for (Operation *op : regs) {
    SmallVector<int64_t> sizes(getLoweringConfig(op).vectorTiles());
    // A root whose accumulator init is marked register-fused (a
    // convolution's bias) takes that producer into its register tile.
    auto linalgOp = cast<linalg::LinalgOp>(op);
    Operation *init = linalgOp.getNumDpsInits() == 1
                          ? linalgOp.getDpsInits()[0].getDefiningOp()
                          : nullptr;
    if (init && init->hasAttr(attr::kRegisterFused)) {
      scf::SCFTileAndFuseOptions opts;
      opts.tilingOptions.setTileSizes(tileSizesFor(rw, op, sizes));
      opts.setFusionControlFn([init](tensor::ExtractSliceOp, OpResult producer,
                                     bool) -> std::tuple<bool, bool> {
        return {producer.getOwner() == init, false};
      });
      rw.setInsertionPoint(op);
      auto res = scf::tileConsumerAndFuseProducersUsingSCF(rw, cast<TilingInterface>(op), opts);
      if (succeeded(res)) {
        for (OpResult r : op->getResults())
          rw.replaceAllUsesWith(r, res->replacements.lookup(r));
        rw.eraseOp(op);
        for (LoopLikeOpInterface l : res->loops)
          l->setAttr("mlc.peel", rw.getUnitAttr());
        continue;
      }
    }
    auto loops = tileOp(rw, op, sizes);
    if (succeeded(loops))
      for (scf::ForOp l : *loops)
        l->setAttr("mlc.peel", rw.getUnitAttr());
  }
  canonicalize(f, patterns.canonical);

  // 4. Peel partial tiles, innermost loops first, so that every full tile
  // has a static shape. Loops are found again by a marker attribute because
  // canonicalization may have replaced the ones recorded above.
  SmallVector<scf::ForOp> toPeel;
  f.walk([&](scf::ForOp l) {
    if (l->hasAttr("mlc.peel"))
      toPeel.push_back(l);
  });
  llvm::stable_sort(toPeel, [](scf::ForOp a, scf::ForOp b) {
    auto depth = [](Operation *op) {
      int d = 0;
      for (; op; op = op->getParentOp())
        ++d;
      return d;
    };
    return depth(a) > depth(b);
  });
  for (scf::ForOp l : toPeel) {
    l->removeAttr("mlc.peel");
    scf::ForOp partial;
    rw.setInsertionPoint(l);
    if (succeeded(scf::peelForLoopAndSimplifyBounds(rw, l, partial)) && partial)
      partial->removeAttr("mlc.peel");
  }
  canonicalize(f, patterns.canonical);

  // 5. Vectorise every static-shaped op that was register-tiled.
  SmallVector<linalg::LinalgOp> toVectorize;
  SmallVector<linalg::GenericOp> rows;
  f.walk([&](linalg::LinalgOp op) {
    auto config = getLoweringConfig(op);
    if (!config || config.vectorTiles().empty())
      return;
    if (isRowReduction(op)) {
      rows.push_back(cast<linalg::GenericOp>(op.getOperation()));
      return;
    }
    if (op.hasDynamicShape())
      return;
    int64_t elems = 1;
    for (int64_t s : op.getStaticLoopRanges())
      elems *= s;
    // Generic vectorisation of an odd innermost width assembles vectors
    // lane by lane; such remainders are left to LLVM's loop vectoriser.
    int64_t inner = op.getStaticLoopRanges().back();
    bool matmulRoot = op->getAttrOfType<StringAttr>(attr::kFusionRole) &&
                      op->getAttrOfType<StringAttr>(attr::kFusionRole).getValue() == "root";
    // Vectors of i1 are bit-packed in memory while memrefs of i1 hold a
    // byte per element: bool tensors stay scalar.
    bool hasBool = llvm::any_of(op->getOperandTypes(), [](Type t) {
      auto st = dyn_cast<ShapedType>(t);
      return st && st.getElementType().isInteger(1);
    });
    if (elems <= 4096 && !hasBool && (matmulRoot || llvm::isPowerOf2_64(inner)))
      toVectorize.push_back(op);
  });
  int64_t rowLanes = 8;
  if (auto module = f->getParentOfType<ModuleOp>())
    if (auto t = getTargetAttr(module); succeeded(t))
      rowLanes = t->vectorBits / 32;
  for (linalg::GenericOp op : rows) {
    int64_t bits = getElementTypeOrSelf(op.getDpsInits()[0].getType()).getIntOrFloatBitWidth();
    (void)vectorizeRowReduction(rw, op, std::max<int64_t>(2, rowLanes * 32 / bits));
  }
  for (linalg::LinalgOp op : toVectorize) {
    rw.setInsertionPoint(op);
    auto g = dyn_cast<linalg::GenericOp>(op.getOperation());
    if (g && (succeeded(vectorizeMatmulTile(rw, g)) || succeeded(vectorizeWindowTile(rw, g))))
      continue;
    (void)linalg::vectorize(rw, op);
  }
  canonicalize(f, patterns.vectorCleanup);
  canonicalize(f, patterns.canonical);
  // Keep each accumulator tile in registers across the reduction loop.
  f->walk([](LoopLikeOpInterface loop) { moveLoopInvariantCode(loop); });
  f->walk([&](LoopLikeOpInterface loop) { (void)hoistLoopInvariantSubsets(rw, loop); });
  canonicalize(f, patterns.canonical);
  return success();
}

//===----------------------------------------------------------------------===//
// Bufferization
//===----------------------------------------------------------------------===//

/// Whether `v` is a kernel result written into a fresh buffer (a
/// tensor.empty of the host), which can then be handed to the caller as an
/// output without a copy.
static bool writesFreshBuffer(Value v) {
  auto call = v.getDefiningOp<func::CallOp>();
  if (!call)
    return false;
  auto kernel = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(call, call.getCalleeAttr());
  if (!kernel || kernel.isExternal())
    return false;
  Value inner = writtenInto(kernel.getBody().front().getTerminator()->getOperand(
                                cast<OpResult>(v).getResultNumber()),
                            [](Operation *) { return true; });
  auto arg = dyn_cast<BlockArgument>(inner);
  if (!arg || arg.getOwner()->getParentOp() != kernel)
    return false;
  // An empty tensor is fresh memory for each use (bufferization gives uses
  // that would conflict buffers of their own), never an input or constant.
  return call.getOperand(arg.getArgNumber()).getDefiningOp<tensor::EmptyOp>();
}

/// Whether the buffer of `v`, a view chain (reshapes) over an extract_slice
/// in the host, may not have an identity layout: a slice that starts past
/// element 0 or is narrower than its source in a dim after the first.
static bool stridedView(Value v) {
  while (Operation *def = v.getDefiningOp()) {
    if (isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp, tensor::CastOp>(def)) {
      v = def->getOperand(0);
      continue;
    }
    auto slice = dyn_cast<tensor::ExtractSliceOp>(def);
    if (!slice)
      return false;
    auto src = slice.getSourceType();
    for (OpFoldResult o : slice.getMixedOffsets())
      if (!isConstantIntValue(o, 0))
        return true;
    for (auto [i, sz] : llvm::enumerate(slice.getMixedSizes()))
      if (i > 0 && (src.isDynamicDim(i) || !isConstantIntValue(sz, src.getDimSize(i))))
        return true;
    return llvm::any_of(slice.getMixedStrides(),
                        [](OpFoldResult st) { return !isConstantIntValue(st, 1); });
  }
  return false;
}

/// A copy of `v` into fresh memory (tensor.empty + linalg.copy).
static Value freshCopy(OpBuilder &b, Location loc, Value v) {
  auto t = cast<RankedTensorType>(v.getType());
  SmallVector<OpFoldResult> dims;
  for (int64_t i = 0; i < t.getRank(); ++i)
    dims.push_back(t.isDynamicDim(i)
                       ? OpFoldResult(b.create<tensor::DimOp>(loc, v, i).getResult())
                       : OpFoldResult(b.getIndexAttr(t.getDimSize(i))));
  Value empty = b.create<tensor::EmptyOp>(loc, dims, t.getElementType());
  return b.create<linalg::CopyOp>(loc, v, empty).getResult(0);
}

LogicalResult cpu::bufferize(ModuleOp m) {
  func::FuncOp host = hostFunction(m);
  if (!host)
    return m.emitError("no entry function");
  // Kernel arguments have identity layouts: a slice the host takes of a
  // buffer (a time step of an unrolled RNN) is copied out first unless it
  // is a contiguous prefix.
  host.walk([&](func::CallOp call) {
    OpBuilder b(call);
    for (OpOperand &o : call->getOpOperands()) {
      if (isa<RankedTensorType>(o.get().getType()) && stridedView(o.get()))
        o.set(freshCopy(b, call.getLoc(), o.get()));
    }
  });
  // One tensor.empty per kernel destination. CSE merged the identical ones, so
  // that every kernel writing a 4-element result shares one; the analysis
  // would then weigh each writer against every other (O(n^2) queries, each
  // a linear symbol lookup of the callee: 1,000 outputs took two minutes)
  // and copy all but one.
  host.walk([&](tensor::EmptyOp empty) {
    if (empty->hasOneUse())
      return;
    for (OpOperand &use : llvm::make_early_inc_range(llvm::drop_begin(empty->getUses()))) {
      if (!isa<func::CallOp>(use.getOwner()) || use.getOwner()->getBlock() != empty->getBlock())
        continue;
      OpBuilder b(use.getOwner());
      use.set(b.clone(*empty)->getResult(0));
    }
  });
  // Each output must be a buffer the caller can take: copy results that
  // alias an input or a constant. Kernels return their destination
  // arguments, which the host owns.
  host.walk([&](func::ReturnOp ret) {
    OpBuilder b(ret);
    llvm::SmallPtrSet<Value, 4> taken;
    for (OpOperand &o : ret->getOpOperands()) {
      Value v = o.get();
      if (writesFreshBuffer(v) && v.hasOneUse() && taken.insert(v).second)
        continue; // the kernel writes straight into the caller's buffer
      o.set(freshCopy(b, ret.getLoc(), v));
    }
  });
  // The caller's inputs are read-only; kernel arguments were marked when
  // they were outlined (destinations writable, the rest not).
  for (unsigned i = 0; i < host.getNumArguments(); ++i)
    host.setArgAttr(i, bufferization::BufferizationDialect::kWritableAttrName,
                    BoolAttr::get(m.getContext(), false));
  // Empty-tensor elimination is not run: it would make a kernel write into
  // a slice of a larger buffer (a Concat's), a strided view that a kernel
  // boundary with identity layouts cannot take (DenseNet). The host copies
  // such results into place instead.
  bufferization::OneShotBufferizationOptions opts;
  opts.bufferizeFunctionBoundaries = true;
  opts.setFunctionBoundaryTypeConversion(
      bufferization::LayoutMapOption::IdentityLayoutMap);
  opts.allowReturnAllocsFromLoops = true;
  // Copies are linalg.copy here; PrepareForLLVMPass makes contiguous ones
  // memcpy and the rest loops, never calls into MLIR's C runner library:
  // the artifact depends on libc and libm only.
  opts.memCpyFn = [](OpBuilder &b, Location loc, Value from, Value to) {
    b.create<linalg::CopyOp>(loc, from, to);
    return success();
  };
  if (failed(bufferization::runOneShotModuleBufferize(m, opts)))
    return failure();

  PassManager pm2(m.getContext());
  // A kernel result is its destination argument: the host uses the
  // argument's buffer instead, so the memory plan sees one buffer.
  pm2.addPass(createCanonicalizerPass());
  pm2.addPass(bufferization::createDropEquivalentBufferResultsPass());
  pm2.addPass(createCanonicalizerPass());
  pm2.addPass(createCSEPass());
  if (failed(pm2.run(m)))
    return failure();
  // An in-place insert_slice leaves a copy of a buffer onto itself (once
  // CSE has merged the two subviews).
  m.walk([](linalg::CopyOp copy) {
    if (copy.getInputs()[0] == copy.getOutputs()[0])
      copy.erase();
  });
  return success();
}

//===----------------------------------------------------------------------===//
// Lowering to the LLVM dialect
//===----------------------------------------------------------------------===//

namespace {
bool holdsBF16(Type t) { return getElementTypeOrSelf(t).isBF16(); }

Type withF32(Type t) {
  Type f32 = Float32Type::get(t.getContext());
  if (auto v = dyn_cast<VectorType>(t))
    return v.clone(f32);
  return f32;
}

/// bf16 arithmetic in f32: every arith, math and vector FMA/reduction op
/// that reads or writes bf16 reads its bf16 operands widened and rounds
/// its bf16 results once. x86 has no bf16 arithmetic below AVX-512-BF16
/// and libgcc no bf16 conversions, so LLVM must never see a bf16 operation
/// other than a load, store or select; the widening and rounding that
/// remain are expanded into integer ops (ArithExpandOps, include-bf16).
void promoteBF16(Operation *root) {
  SmallVector<Operation *> ops;
  root->walk([&](Operation *op) {
    if (op->getNumRegions() || isa<arith::ConstantOp, arith::BitcastOp, arith::SelectOp>(op))
      return;
    StringRef dialect = op->getDialect() ? op->getDialect()->getNamespace() : "";
    if (dialect != "arith" && dialect != "math" && !isa<vector::FMAOp, vector::ReductionOp>(op))
      return;
    bool isExtOrTrunc = isa<arith::ExtFOp, arith::TruncFOp>(op);
    bool bf16In = llvm::any_of(op->getOperandTypes(), holdsBF16),
         bf16Out = llvm::any_of(op->getResultTypes(), holdsBF16);
    if (!bf16In && !bf16Out)
      return;
    // bf16 <-> f32 is what the expansion handles; bf16 <-> f64 goes via f32.
    auto isF32 = [](Type t) { return getElementTypeOrSelf(t).isF32(); };
    if (isExtOrTrunc && (isF32(op->getOperand(0).getType()) || isF32(op->getResult(0).getType())))
      return;
    ops.push_back(op);
  });
  for (Operation *op : ops) {
    OpBuilder b(op);
    Location loc = op->getLoc();
    SmallVector<Value> operands;
    for (Value v : op->getOperands())
      operands.push_back(holdsBF16(v.getType())
                             ? b.create<arith::ExtFOp>(loc, withF32(v.getType()), v).getResult()
                             : v);
    SmallVector<Type> types;
    for (Type t : op->getResultTypes())
      types.push_back(holdsBF16(t) ? withF32(t) : t);
    Operation *wide;
    if (isa<arith::ExtFOp, arith::TruncFOp>(op)) {
      // f32 -> f64 (was bf16 -> f64) or f64 -> f32 (was f64 -> bf16)
      wide = isa<arith::ExtFOp>(op) ? b.create<arith::ExtFOp>(loc, types[0], operands[0])
                                    : b.create<arith::TruncFOp>(loc, types[0], operands[0]);
    } else {
      OperationState state(loc, op->getName(), operands, types, op->getAttrs());
      wide = b.create(state);
    }
    SmallVector<Value> results;
    for (auto [old, now] : llvm::zip(op->getResults(), wide->getResults()))
      results.push_back(old.getType() == now.getType()
                            ? now
                            : b.create<arith::TruncFOp>(loc, old.getType(), now).getResult());
    op->replaceAllUsesWith(results);
    op->erase();
  }
}

/// Per function, before conversion to LLVM: copies as loops, invariant code
/// and vector transfers hoisted, vector ops lowered to what the LLVM
/// conversion takes. A function pass, so functions are prepared in parallel.
struct PrepareForLLVMPass : PassWrapper<PrepareForLLVMPass, OperationPass<func::FuncOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(PrepareForLLVMPass)
  LogicalResult initialize(MLIRContext *ctx) override {
    RewritePatternSet p(ctx);
    vector::populateVectorContractLoweringPatterns(
        p, vector::VectorTransformsOptions().setVectorTransformsOptions(
               vector::VectorContractLowering::OuterProduct));
    vector::populateVectorOuterProductLoweringPatterns(p);
    vector::populateVectorMultiReductionLoweringPatterns(
        p, vector::VectorMultiReductionLowering::InnerParallel);
    vector::populateVectorTransferPermutationMapLoweringPatterns(p);
    vector::populateVectorTransposeLoweringPatterns(p, vector::VectorTransformsOptions());
    vector::populateVectorBroadcastLoweringPatterns(p);
    vector::populateVectorShapeCastLoweringPatterns(p);
    vector::populateCastAwayVectorLeadingOneDimPatterns(p);
    // n-D gathers (a table read with 2-D indices) unrolled to 1-D first;
    // left n-D, they cycle with the leading-unit-dim patterns above.
    vector::populateVectorGatherLoweringPatterns(p);
    populateMathPolynomialApproximationPatterns(p);
    patterns = FrozenRewritePatternSet(std::move(p));
    return success();
  }
  void runOnOperation() override {
    func::FuncOp f = getOperation();
    // A copy between two contiguous buffers is a memcpy (libc); any other
    // becomes loops rather than a call into MLIR's C runner library.
    auto contiguous = [](Value v) {
      auto t = dyn_cast<MemRefType>(v.getType());
      return t && t.getLayout().isIdentity();
    };
    f.walk([&](memref::CopyOp copy) {
      if (contiguous(copy.getSource()) && contiguous(copy.getTarget()))
        return;
      OpBuilder b(copy);
      b.create<linalg::CopyOp>(copy.getLoc(), copy.getSource(), copy.getTarget());
      copy.erase();
    });
    f.walk([&](linalg::CopyOp copy) {
      if (!copy.hasPureBufferSemantics() || !contiguous(copy.getInputs()[0]) ||
          !contiguous(copy.getOutputs()[0]))
        return;
      OpBuilder b(copy);
      b.create<memref::CopyOp>(copy.getLoc(), copy.getInputs()[0], copy.getOutputs()[0]);
      copy.erase();
    });
    f->walk([](LoopLikeOpInterface loop) { moveLoopInvariantCode(loop); });
    linalg::hoistRedundantVectorTransfers(f);
    // Before the polynomial approximations (they take f32) and after the
    // vector lowering (it makes bf16 FMAs of bf16 contractions).
    promoteBF16(f);
    if (failed(applyPatternsAndFoldGreedily(f, patterns)))
      signalPassFailure();
    promoteBF16(f);
  }
  FrozenRewritePatternSet patterns;
};
} // namespace

void cpu::addLowerToLLVMPasses(OpPassManager &pm) {
  // Function-level passes are nested so they run on every core; the ones
  // that create or rewrite functions run on the module.
  {
    OpPassManager &fpm = pm.nest<func::FuncOp>();
    fpm.addPass(std::make_unique<PrepareForLLVMPass>());
    fpm.addPass(createConvertLinalgToLoopsPass());
    // ceildivsi, floordivsi, max/min on floats: arith ops with no LLVM twin.
    // bf16 widening and rounding (promoteBF16) as integer ops.
    fpm.addPass(arith::createArithExpandOpsPass(arith::ArithExpandOpsPassOptions{/*includeBf16=*/true}));
    fpm.addPass(createCanonicalizerPass());
    fpm.addPass(createConvertVectorToSCFPass(VectorTransferToSCFOptions().enableFullUnroll()));
    fpm.addPass(createLowerAffinePass());
    fpm.addPass(createConvertSCFToCFPass());
    fpm.addPass(memref::createExpandStridedMetadataPass());
    fpm.addPass(createLowerAffinePass());
  }
  pm.addPass(createConvertMathToFuncs());
  pm.addNestedPass<func::FuncOp>(createConvertVectorToLLVMPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  {
    OpPassManager &fpm = pm.nest<func::FuncOp>();
    fpm.addPass(createArithToLLVMConversionPass());
    fpm.addPass(createConvertMathToLLVMPass());
  }
  pm.addPass(createConvertMathToLibmPass());
  pm.addNestedPass<func::FuncOp>(createConvertIndexToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

//===----------------------------------------------------------------------===//
// LLVM IR and machine code
//===----------------------------------------------------------------------===//

std::unique_ptr<llvm::Module> cpu::translateToLLVMIR(ModuleOp m,
                                                     llvm::LLVMContext &ctx,
                                                     llvm::TargetMachine &tm) {
  DialectRegistry registry;
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  m->getContext()->appendDialectRegistry(registry);
  auto mod = translateModuleToLLVMIR(m, ctx, "mlc_model");
  if (!mod)
    return nullptr;
  mod->setSourceFileName("mlc_model");
  mod->setDataLayout(tm.createDataLayout());
  mod->setTargetTriple(tm.getTargetTriple().str());
  for (llvm::Function &fn : *mod) {
    if (fn.isDeclaration())
      continue;
    fn.addFnAttr("target-cpu", tm.getTargetCPU());
    if (!tm.getTargetFeatureString().empty())
      fn.addFnAttr("target-features", tm.getTargetFeatureString());
  }
  return mod;
}

void cpu::optimizeModule(llvm::Module &m, llvm::TargetMachine &tm, int optLevel) {
  if (optLevel <= 0)
    return;
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PipelineTuningOptions pto;
  // MLIR already vectorised the kernels. LLVM's loop vectoriser still pays
  // off on the scalar loops left (im2col, pooling: ~15% of ResNet-18), but
  // its unroller and SLP vectoriser cost minutes on large transformer
  // functions for no measured gain.
  pto.LoopVectorization = optLevel >= 2;
  pto.SLPVectorization = false;
  pto.LoopUnrolling = false;
  // The standard instrumentations make the pipeline honour optnone (the
  // host schedule's): without them the new pass manager optimises every
  // function, and its loop passes are quadratic on a host of thousands of
  // blocks.
  llvm::PassInstrumentationCallbacks pic;
  llvm::StandardInstrumentations si(m.getContext(), /*DebugLogging=*/false);
  si.registerCallbacks(pic, &mam);
  llvm::PassBuilder pb(&tm, pto, std::nullopt, &pic);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  auto level = optLevel == 1   ? llvm::OptimizationLevel::O1
               : optLevel == 2 ? llvm::OptimizationLevel::O2
                               : llvm::OptimizationLevel::O3;
  llvm::ModulePassManager mpm = pb.buildPerModuleDefaultPipeline(level);
  mpm.run(m, mam);
}

bool cpu::emitMachineCode(llvm::Module &m, llvm::TargetMachine &tm,
                          bool assembly, std::string &out, std::string &err) {
  llvm::SmallVector<char, 0> buf;
  llvm::raw_svector_ostream os(buf);
  llvm::legacy::PassManager pm;
  if (tm.addPassesToEmitFile(pm, os, nullptr,
                             assembly ? llvm::CodeGenFileType::AssemblyFile
                                      : llvm::CodeGenFileType::ObjectFile)) {
    err = "the target cannot emit this file type";
    return false;
  }
  pm.run(m);
  out.assign(buf.begin(), buf.end());
  return true;
}

//===----------------------------------------------------------------------===//
// Passes for mlc-opt
//===----------------------------------------------------------------------===//

namespace {
struct TileVectorizePass
    : PassWrapper<TileVectorizePass, OperationPass<func::FuncOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(TileVectorizePass)
  StringRef getArgument() const override { return "mlc-cpu-tile-vectorize"; }
  StringRef getDescription() const override {
    return "Apply recorded tile sizes, fuse, peel and vectorise";
  }
  void getDependentDialects(DialectRegistry &r) const override {
    r.insert<scf::SCFDialect, vector::VectorDialect, affine::AffineDialect>();
  }
  LogicalResult initialize(MLIRContext *ctx) override {
    patterns = std::make_shared<cpu::TileVectorizePatterns>(cpu::buildTileVectorizePatterns(ctx));
    return success();
  }
  void runOnOperation() override {
    if (failed(cpu::tileAndVectorize(getOperation(), *patterns)))
      signalPassFailure();
  }
  std::shared_ptr<cpu::TileVectorizePatterns> patterns;
};

struct BufferizePlanPass : PassWrapper<BufferizePlanPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(BufferizePlanPass)
  StringRef getArgument() const override { return "mlc-cpu-bufferize"; }
  StringRef getDescription() const override {
    return "One-shot bufferize and plan the activation arena";
  }
  void getDependentDialects(DialectRegistry &r) const override {
    r.insert<bufferization::BufferizationDialect, memref::MemRefDialect>();
  }
  void runOnOperation() override {
    if (failed(cpu::bufferize(getOperation())) || failed(cpu::planMemory(getOperation())))
      signalPassFailure();
  }
};
} // namespace

void cpu::registerCpuCodegenPasses() {
  PassRegistration<TileVectorizePass>();
  PassRegistration<BufferizePlanPass>();
}

std::unique_ptr<Pass> cpu::createTileVectorizePass() {
  return std::make_unique<TileVectorizePass>();
}

std::unique_ptr<Pass> cpu::createBufferizePlanPass() {
  return std::make_unique<BufferizePlanPass>();
}
