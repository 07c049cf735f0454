//===- Contraction.cpp - converters: MatMul, Gemm, Conv ------------------===//
//
// Every contraction becomes a linalg.generic with one reduction loop (k)
// innermost, so the tiling policy and the CPU code generator see one shape
// of kernel. Convolution goes through im2col: a gather into
// [N, C*KH*KW, OH*OW] followed by a [F,K] x [N,K,P] contraction.
//
//===----------------------------------------------------------------------===//
#include "passes/lower/Common.h"

#include "mlir/IR/Matchers.h"

using namespace mlir;
using namespace mlc;
using namespace mlc::lower;

namespace {

using utils::IteratorType;

/// acc + x * y (* alpha): float, or wrapping integer arithmetic (ONNX's
/// integer MatMul and the int32 products of MatMulInteger / ConvInteger).
Value multiplyAccumulate(OpBuilder &b, Location l, Value x, Value y, Value acc,
                         double alpha = 1.0) {
  if (isa<IntegerType>(x.getType()))
    return b.create<arith::AddIOp>(l, acc, b.create<arith::MulIOp>(l, x, y));
  Value p = b.create<arith::MulFOp>(l, x, y);
  if (alpha != 1.0)
    p = b.create<arith::MulFOp>(
        l, p, b.create<arith::ConstantOp>(l, b.getFloatAttr(x.getType(), alpha)));
  return b.create<arith::AddFOp>(l, acc, p);
}

/// `t` with every element converted to the float type `to` (extf / truncf).
Value convertElements(OpBuilder &b, Location loc, Value t, Type to) {
  return mapTensor(b, loc, t, to, [&](OpBuilder &nb, Location l, Value v) -> Value {
    if (to.getIntOrFloatBitWidth() > v.getType().getIntOrFloatBitWidth())
      return nb.create<arith::ExtFOp>(l, to, v);
    return nb.create<arith::TruncFOp>(l, to, v);
  });
}

/// A contraction generic: `maps` = {lhs, rhs, out}; the last loop reduces.
/// Half-precision (f16, bf16) products accumulate in f32 and are rounded
/// once at the end, as numpy and onnxruntime do: an f16 accumulator loses
/// digits with every step of a long k.
Value contraction(OpBuilder &b, Location loc, Value lhs, Value rhs, Value init,
                  ArrayRef<AffineMap> maps, double alpha = 1.0) {
  unsigned loops = maps[0].getNumDims();
  SmallVector<IteratorType> iters(loops, IteratorType::parallel);
  iters.back() = IteratorType::reduction;
  Type elem = cast<RankedTensorType>(init.getType()).getElementType();
  bool widen = isa<FloatType>(elem) && elem.getIntOrFloatBitWidth() < 32;
  Type f32 = b.getF32Type();
  Value acc = widen ? convertElements(b, loc, init, f32) : init;
  auto g = b.create<linalg::GenericOp>(
      loc, acc.getType(), ValueRange{lhs, rhs}, acc, maps, iters,
      [&](OpBuilder &nb, Location l, ValueRange v) {
        Value x = v[0], y = v[1];
        if (widen) {
          x = nb.create<arith::ExtFOp>(l, f32, x);
          y = nb.create<arith::ExtFOp>(l, f32, y);
        }
        nb.create<linalg::YieldOp>(l, multiplyAccumulate(nb, l, x, y, v[2], alpha));
      });
  return widen ? convertElements(b, loc, g.getResult(0), elem) : g.getResult(0);
}

/// `dims`-shaped tensor holding `bias` broadcast (numpy rules), times beta.
Value broadcastInit(OpBuilder &b, Location loc, Value bias,
                    ArrayRef<OpFoldResult> dims, Type elem, AffineMap biasMap,
                    double beta = 1.0) {
  unsigned rank = dims.size();
  MLIRContext *ctx = b.getContext();
  Value init = emptyTensor(b, loc, dims, elem);
  SmallVector<IteratorType> iters(rank, IteratorType::parallel);
  auto g = b.create<linalg::GenericOp>(
      loc, init.getType(), bias, init,
      ArrayRef<AffineMap>{biasMap, AffineMap::getMultiDimIdentityMap(rank, ctx)},
      iters, [&](OpBuilder &nb, Location l, ValueRange v) {
        Value r = v[0];
        if (beta != 1.0)
          r = nb.create<arith::MulFOp>(
              l, r, nb.create<arith::ConstantOp>(l, nb.getFloatAttr(elem, beta)));
        nb.create<linalg::YieldOp>(l, r);
      });
  return g.getResult(0);
}

struct MatMulLowering : MlcPattern<MatMulOp> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(MatMulOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rw.getContext();
    Value A = a.getA(), B = a.getB();
    auto at = cast<RankedTensorType>(A.getType()), bt = cast<RankedTensorType>(B.getType());
    bool aVec = at.getRank() == 1, bVec = bt.getRank() == 1;
    ValueDims s{rw, loc};
    VDims outDims;
    if (auto err = shape::matmul(s, dimsOf(rw, loc, A), dimsOf(rw, loc, B), outDims))
      return op->emitError(err->message);
    Type elem = type.getElementType();
    // A batch of matrices times one matrix (PyTorch's [seq, batch, d] @ W,
    // a Linear over any leading dims): one matmul over the leading dims
    // folded into M, so that a batch of 1 x K rows still gets a full
    // register tile of rows (a [128, 1, 768] x [768, 2304] ran as 128
    // matrix-vector products at a third of the speed).
    // (At most one leading dim may be dynamic: MLIR 19's reshape folding in
    // fusion cannot rebuild an expand_shape that splits two run-time dims.)
    if (!aVec && bt.getRank() == 2 && at.getRank() >= 3 &&
        llvm::count_if(at.getShape().drop_back(), ShapedType::isDynamic) <= 1) {
      int64_t r = at.getRank();
      SmallVector<ReassociationIndices> re = {llvm::to_vector(llvm::seq<int64_t>(0, r - 1)),
                                              {r - 1}};
      Value A2 = rw.create<tensor::CollapseShapeOp>(loc, A, re);
      SmallVector<OpFoldResult> dims2 = {dimsOf(rw, loc, A2)[0], outDims.back()};
      Value init = filledTensor(rw, loc, dims2, elem, zeroAttr(rw, elem));
      auto m = getAffineDimExpr(0, ctx), n = getAffineDimExpr(1, ctx),
           k = getAffineDimExpr(2, ctx);
      Value r2 = contraction(rw, loc, A2, B, init,
                             {AffineMap::get(3, 0, {m, k}, ctx), AffineMap::get(3, 0, {k, n}, ctx),
                              AffineMap::get(3, 0, {m, n}, ctx)});
      rw.replaceOp(op, rw.create<tensor::ExpandShapeOp>(
                           loc, type, r2, re,
                           SmallVector<OpFoldResult>(outDims.begin(), outDims.end())));
      return success();
    }
    unsigned nb = outDims.size() - (aVec ? 0 : 1) - (bVec ? 0 : 1);
    unsigned loops = nb + (aVec ? 0 : 1) + (bVec ? 0 : 1) + 1;
    unsigned mLoop = nb, nLoop = nb + (aVec ? 0 : 1), kLoop = loops - 1;
    auto d = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
    auto batchExprs = [&](RankedTensorType t, unsigned matrixDims) {
      SmallVector<AffineExpr> e;
      unsigned tb = t.getRank() - matrixDims;
      for (unsigned j = 0; j < tb; ++j) {
        unsigned loop = nb - tb + j;
        auto out = getConstantIntValue(outDims[loop]);
        e.push_back(t.getDimSize(j) == 1 && !(out && *out == 1)
                        ? getAffineConstantExpr(0, ctx)
                        : d(loop));
      }
      return e;
    };
    SmallVector<AffineExpr> ae = batchExprs(at, aVec ? 1 : 2);
    if (!aVec)
      ae.push_back(d(mLoop));
    ae.push_back(d(kLoop));
    SmallVector<AffineExpr> be = batchExprs(bt, bVec ? 1 : 2);
    be.push_back(d(kLoop));
    if (!bVec)
      be.push_back(d(nLoop));
    SmallVector<AffineExpr> oe;
    for (unsigned i = 0; i < nb; ++i)
      oe.push_back(d(i));
    if (!aVec)
      oe.push_back(d(mLoop));
    if (!bVec)
      oe.push_back(d(nLoop));
    Value init = filledTensor(rw, loc, outDims, elem, zeroAttr(rw, elem));
    Value r = contraction(rw, loc, A, B, init,
                          {AffineMap::get(loops, 0, ae, ctx),
                           AffineMap::get(loops, 0, be, ctx),
                           AffineMap::get(loops, 0, oe, ctx)});
    rw.replaceOp(op, r);
    return success();
  }
};

struct GemmLowering : MlcPattern<GemmOp, /*FloatOnly=*/true> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(GemmOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rw.getContext();
    ValueDims s{rw, loc};
    VDims outDims;
    if (auto err = shape::gemm(s, dimsOf(rw, loc, a.getA()), dimsOf(rw, loc, a.getB()),
                               op.getTransA(), op.getTransB(), outDims))
      return op->emitError(err->message);
    Type elem = type.getElementType();
    double alpha = op.getAlpha().convertToDouble(),
           beta = op.getBeta().convertToDouble();
    Value init;
    if (a.getC() && beta != 0.0) {
      auto ct = cast<RankedTensorType>(a.getC().getType());
      if (ct.getRank() > 2)
        return op->emitError("C must have rank <= 2");
      init = broadcastInit(rw, loc, a.getC(), outDims, elem,
                           broadcastMap(ctx, a.getC(), 2, outDims), beta);
    } else {
      init = filledTensor(rw, loc, outDims, elem, zeroAttr(rw, elem));
    }
    // A constant transposed B is transposed once here, so the kernel reads
    // rows of B contiguously.
    Value B = a.getB();
    bool transB = op.getTransB();
    DenseElementsAttr bConst;
    if (transB && matchPattern(B, m_Constant(&bConst)) && bConst.getElementType().isF32()) {
      auto bt = bConst.getType();
      int64_t rows = bt.getDimSize(0), cols = bt.getDimSize(1);
      auto vals = llvm::to_vector(bConst.getValues<float>());
      SmallVector<float> t(vals.size());
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
          t[c * rows + r] = vals[r * cols + c];
      auto tt = RankedTensorType::get({cols, rows}, bt.getElementType());
      B = rw.create<arith::ConstantOp>(loc, DenseElementsAttr::get(tt, ArrayRef<float>(t)));
      transB = false;
    }
    auto d = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
    auto am = op.getTransA() ? AffineMap::get(3, 0, {d(2), d(0)}, ctx)
                             : AffineMap::get(3, 0, {d(0), d(2)}, ctx);
    auto bm = transB ? AffineMap::get(3, 0, {d(1), d(2)}, ctx)
                             : AffineMap::get(3, 0, {d(2), d(1)}, ctx);
    auto om = AffineMap::get(3, 0, {d(0), d(1)}, ctx);
    Value r = contraction(rw, loc, a.getA(), B, init, {am, bm, om}, alpha);
    rw.replaceOp(op, r);
    return success();
  }
};

struct ConvLowering : MlcPattern<ConvOp> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(ConvOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    auto wt = cast<RankedTensorType>(a.getW().getType());
    if (!wt.hasStaticShape())
      return op->emitError("the weight must have a static shape");
    Location loc = op.getLoc();
    Type elem = type.getElementType();
    int64_t F = wt.getDimSize(0), KH = wt.getDimSize(2), KW = wt.getDimSize(3),
            G = op.getGroup();
    auto strides = op.getStrides(), pads = op.getPads(), dil = op.getDilations();
    if (F % G != 0)
      return op->emitError("output channels are not divisible by group");

    // Zero-pad the input once.
    Value x = a.getX();
    if (llvm::any_of(pads, [](int64_t p) { return p != 0; })) {
      SmallVector<OpFoldResult> low = {rw.getIndexAttr(0), rw.getIndexAttr(0),
                                       rw.getIndexAttr(pads[0]), rw.getIndexAttr(pads[1])};
      SmallVector<OpFoldResult> high = {rw.getIndexAttr(0), rw.getIndexAttr(0),
                                        rw.getIndexAttr(pads[2]), rw.getIndexAttr(pads[3])};
      Value zero = rw.create<arith::ConstantOp>(loc, zeroAttr(rw, elem));
      x = rw.create<tensor::PadOp>(loc, Type(), x, low, high, zero);
    }
    ValueDims s{rw, loc};
    VDims xd = dimsOf(rw, loc, a.getX());
    VDims outDims;
    int64_t kernel[2] = {KH, KW};
    if (auto err = shape::window2d(s, xd, s.cst(F), kernel, strides, pads, dil,
                                   false, outDims))
      return op->emitError(err->message);
    Value r = G == 1 ? im2colConv(rw, loc, op, x, a.getW(), a.getB(), xd, outDims, elem)
                     : groupedConv(rw, loc, op, x, a.getW(), a.getB(), xd, outDims, elem);
    rw.replaceOp(op, r);
    return success();
  }

  static Value biasInit(OpBuilder &b, Location loc, Value bias,
                        ArrayRef<OpFoldResult> dims, Type elem,
                        unsigned channelDim) {
    MLIRContext *ctx = b.getContext();
    if (!bias)
      return filledTensor(b, loc, dims, elem, zeroAttr(b, elem));
    auto map = AffineMap::get(dims.size(), 0, getAffineDimExpr(channelDim, ctx));
    return broadcastInit(b, loc, bias, dims, elem, map);
  }

  Value im2colConv(OpBuilder &b, Location loc, ConvOp op, Value x, Value w,
                   Value bias, const VDims &xd, const VDims &od,
                   Type elem) const {
    MLIRContext *ctx = b.getContext();
    auto wt = cast<RankedTensorType>(w.getType());
    int64_t F = wt.getDimSize(0), C = wt.getDimSize(1), KH = wt.getDimSize(2),
            KW = wt.getDimSize(3);
    auto st = op.getStrides(), dl = op.getDilations();
    auto d = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
    ValueDims s{b, loc};
    OpFoldResult P = s.mul(od[2], od[3]);
    Value col;
    bool pointwise = KH == 1 && KW == 1 && st[0] == 1 && st[1] == 1 &&
                     llvm::all_of(op.getPads(), [](int64_t p) { return p == 0; });
    if (pointwise) {
      auto xt = cast<RankedTensorType>(x.getType());
      int64_t p = ShapedType::isDynamic(xt.getDimSize(2)) ||
                          ShapedType::isDynamic(xt.getDimSize(3))
                      ? ShapedType::kDynamic
                      : xt.getDimSize(2) * xt.getDimSize(3);
      auto ct = RankedTensorType::get({xt.getDimSize(0), C, p}, elem);
      col = b.create<tensor::CollapseShapeOp>(loc, ct, x,
                                              SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
    } else {
      // col6[n, c, kh, kw, oh, ow] = x[n, c, oh*sh + kh*dh, ow*sw + kw*dw]
      SmallVector<OpFoldResult> cd = {xd[0], b.getIndexAttr(C), b.getIndexAttr(KH),
                                      b.getIndexAttr(KW), od[2], od[3]};
      Value init = emptyTensor(b, loc, cd, elem);
      auto xm = AffineMap::get(6, 0,
                               {d(0), d(1), d(4) * st[0] + d(2) * dl[0],
                                d(5) * st[1] + d(3) * dl[1]},
                               ctx);
      SmallVector<utils::IteratorType> iters(6, utils::IteratorType::parallel);
      Value col6 = b.create<linalg::GenericOp>(
                        loc, init.getType(), x, init,
                        ArrayRef<AffineMap>{xm, AffineMap::getMultiDimIdentityMap(6, ctx)},
                        iters,
                        [](OpBuilder &nb, Location l, ValueRange v) {
                          nb.create<linalg::YieldOp>(l, v[0]);
                        })
                       .getResult(0);
      col6.getDefiningOp()->setAttr("mlc.im2col", b.getUnitAttr());
      auto c6 = cast<RankedTensorType>(col6.getType());
      int64_t p = c6.isDynamicDim(4) || c6.isDynamicDim(5)
                      ? ShapedType::kDynamic
                      : c6.getDimSize(4) * c6.getDimSize(5);
      auto ct = RankedTensorType::get({c6.getDimSize(0), C * KH * KW, p}, elem);
      col = b.create<tensor::CollapseShapeOp>(
          loc, ct, col6, SmallVector<ReassociationIndices>{{0}, {1, 2, 3}, {4, 5}});
    }
    auto w2t = RankedTensorType::get({F, C * KH * KW}, elem);
    Value w2 = b.create<tensor::CollapseShapeOp>(
        loc, w2t, w, SmallVector<ReassociationIndices>{{0}, {1, 2, 3}});
    // out[n, f, p] += w[f, k] * col[n, k, p]; loops (n, f, p, k)
    SmallVector<OpFoldResult> outDims = {od[0], od[1], P};
    Value init = biasInit(b, loc, bias, outDims, elem, 1);
    Value r = contraction(b, loc, w2, col, init,
                          {AffineMap::get(4, 0, {d(1), d(3)}, ctx),
                           AffineMap::get(4, 0, {d(0), d(3), d(2)}, ctx),
                           AffineMap::get(4, 0, {d(0), d(1), d(2)}, ctx)});
    auto rt = cast<RankedTensorType>(op.getResult().getType());
    return b.create<tensor::ExpandShapeOp>(
        loc, rt, r, SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}},
        SmallVector<OpFoldResult>(od.begin(), od.end()));
  }

  /// Grouped (incl. depthwise) convolution as one generic over
  /// (n, g, fo, oh, ow, c, kh, kw); with one output channel per group
  /// (depthwise convolutions), over (n, g, oh, ow, c, kh, kw) straight into
  /// the NCHW result, so that an epilogue (bias, activation) fuses into its
  /// kernel.
  Value groupedConv(OpBuilder &b, Location loc, ConvOp op, Value x, Value w,
                    Value bias, const VDims &xd, const VDims &od,
                    Type elem) const {
    MLIRContext *ctx = b.getContext();
    auto wt = cast<RankedTensorType>(w.getType());
    int64_t F = wt.getDimSize(0), Cg = wt.getDimSize(1), KH = wt.getDimSize(2),
            KW = wt.getDimSize(3), G = op.getGroup(), Fg = F / G;
    auto st = op.getStrides(), dl = op.getDilations();
    auto d = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
    if (Fg == 1) {
      SmallVector<OpFoldResult> outDims(od.begin(), od.end());
      Value init = biasInit(b, loc, bias, outDims, elem, 1);
      auto xm = AffineMap::get(7, 0,
                               {d(0), d(1) * Cg + d(4), d(2) * st[0] + d(5) * dl[0],
                                d(3) * st[1] + d(6) * dl[1]},
                               ctx);
      auto wm = AffineMap::get(7, 0, {d(1), d(4), d(5), d(6)}, ctx);
      auto om = AffineMap::get(7, 0, {d(0), d(1), d(2), d(3)}, ctx);
      SmallVector<utils::IteratorType> iters(4, utils::IteratorType::parallel);
      iters.append(3, utils::IteratorType::reduction);
      return b.create<linalg::GenericOp>(
                  loc, init.getType(), ValueRange{x, w}, init,
                  ArrayRef<AffineMap>{xm, wm, om}, iters,
                  [](OpBuilder &nb, Location l, ValueRange v) {
                    nb.create<linalg::YieldOp>(l, multiplyAccumulate(nb, l, v[0], v[1], v[2]));
                  })
          .getResult(0);
    }
    auto w5t = RankedTensorType::get({G, Fg, Cg, KH, KW}, elem);
    Value w5 = b.create<tensor::ExpandShapeOp>(
        loc, w5t, w, SmallVector<ReassociationIndices>{{0, 1}, {2}, {3}, {4}});
    SmallVector<OpFoldResult> outDims = {od[0], b.getIndexAttr(G), b.getIndexAttr(Fg),
                                         od[2], od[3]};
    Value init;
    if (bias) {
      Value b2 = b.create<tensor::ExpandShapeOp>(
          loc, RankedTensorType::get({G, Fg}, elem), bias,
          SmallVector<ReassociationIndices>{{0, 1}});
      init = broadcastInit(b, loc, b2, outDims, elem,
                           AffineMap::get(5, 0, {d(1), d(2)}, ctx));
    } else {
      init = filledTensor(b, loc, outDims, elem, zeroAttr(b, elem));
    }
    auto xm = AffineMap::get(8, 0,
                             {d(0), d(1) * Cg + d(5), d(3) * st[0] + d(6) * dl[0],
                              d(4) * st[1] + d(7) * dl[1]},
                             ctx);
    auto wm = AffineMap::get(8, 0, {d(1), d(2), d(5), d(6), d(7)}, ctx);
    auto om = AffineMap::get(8, 0, {d(0), d(1), d(2), d(3), d(4)}, ctx);
    SmallVector<utils::IteratorType> iters(5, utils::IteratorType::parallel);
    iters.append(3, utils::IteratorType::reduction);
    Value r = b.create<linalg::GenericOp>(
                   loc, init.getType(), ValueRange{x, w5}, init,
                   ArrayRef<AffineMap>{xm, wm, om}, iters,
                   [](OpBuilder &nb, Location l, ValueRange v) {
                     nb.create<linalg::YieldOp>(
                         l, multiplyAccumulate(nb, l, v[0], v[1], v[2]));
                   })
                  .getResult(0);
    auto rt = cast<RankedTensorType>(op.getResult().getType());
    return b.create<tensor::CollapseShapeOp>(
        loc, rt, r, SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}, {4}});
  }
};

} // namespace

void lower::populateContractionPatterns(RewritePatternSet &p) {
  p.add<MatMulLowering, GemmLowering, ConvLowering>(p.getContext());
}
