//===- Common.h - helpers shared by the mlc -> linalg converters -*- C++ -*-===//
#ifndef MLC_PASSES_LOWER_COMMON_H
#define MLC_PASSES_LOWER_COMMON_H

#include "dialects/MlcDialect.h"
#include "dialects/ShapeFns.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlc::lower {

using namespace mlir;

/// Dimension domain over OpFoldResult: constants stay attributes, unknown
/// dims become index arithmetic. Instantiates the rules of ShapeFns.h.
struct ValueDims {
  using Dim = OpFoldResult;
  OpBuilder &b;
  Location loc;
  Dim cst(int64_t v) { return b.getIndexAttr(v); }
  std::optional<int64_t> known(Dim d) { return getConstantIntValue(d); }
  Value val(Dim d) { return getValueOrCreateConstantIndexOp(b, loc, d); }
  template <typename OpT, typename F> Dim bin(Dim x, Dim y, F f) {
    auto a = known(x), c = known(y);
    if (a && c)
      return cst(f(*a, *c));
    return b.create<OpT>(loc, val(x), val(y)).getResult();
  }
  Dim add(Dim x, Dim y) {
    return bin<arith::AddIOp>(x, y, [](int64_t p, int64_t q) { return p + q; });
  }
  Dim sub(Dim x, Dim y) {
    return bin<arith::SubIOp>(x, y, [](int64_t p, int64_t q) { return p - q; });
  }
  Dim mul(Dim x, Dim y) {
    return bin<arith::MulIOp>(x, y, [](int64_t p, int64_t q) { return p * q; });
  }
  Dim div(Dim x, Dim y) {
    return bin<arith::DivSIOp>(x, y, [](int64_t p, int64_t q) { return q ? p / q : 0; });
  }
  Dim floorDiv(Dim x, int64_t y) {
    return bin<arith::FloorDivSIOp>(x, cst(y), [](int64_t p, int64_t q) {
      return p >= 0 ? p / q : -((-p + q - 1) / q);
    });
  }
  Dim min(Dim x, Dim y) {
    return bin<arith::MinSIOp>(x, y, [](int64_t p, int64_t q) { return std::min(p, q); });
  }
  Dim ceilDiv(Dim x, int64_t y) {
    return bin<arith::CeilDivSIOp>(x, cst(y), [](int64_t p, int64_t q) {
      return p >= 0 ? (p + q - 1) / q : -((-p) / q);
    });
  }
};
using VDims = shape::Dims<ValueDims>;

/// The dims of a ranked tensor value (tensor.dim for the dynamic ones).
VDims dimsOf(OpBuilder &b, Location loc, Value v);
/// tensor.empty of the given dims.
Value emptyTensor(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> dims,
                  Type elem);
/// `in` mapped element by element through `fn` into a tensor of `elem`.
Value mapTensor(OpBuilder &b, Location loc, Value in, Type elem,
                function_ref<Value(OpBuilder &, Location, Value)> fn);
/// Scalar arithmetic in a body by short names, for element type `t`:
/// ScalarOps o{b, l, t}; o.add(x, o.c(0.5)). Float ops; c() also makes
/// integer constants.
struct ScalarOps {
  OpBuilder &b;
  Location l;
  Type t;
  Value c(double v) const {
    if (isa<FloatType>(t))
      return b.create<arith::ConstantOp>(l, b.getFloatAttr(t, v));
    return b.create<arith::ConstantOp>(l, b.getIntegerAttr(t, (int64_t)v));
  }
  Value add(Value p, Value q) const { return b.create<arith::AddFOp>(l, p, q); }
  Value sub(Value p, Value q) const { return b.create<arith::SubFOp>(l, p, q); }
  Value mul(Value p, Value q) const { return b.create<arith::MulFOp>(l, p, q); }
  Value div(Value p, Value q) const { return b.create<arith::DivFOp>(l, p, q); }
  Value lt(Value p, Value q) const {
    return b.create<arith::CmpFOp>(l, arith::CmpFPredicate::OLT, p, q);
  }
  Value sel(Value k, Value p, Value q) const { return b.create<arith::SelectOp>(l, k, p, q); }
};

/// A tensor of `dims` and `elem` whose every element `body` computes from
/// its position (linalg.index): an all-parallel generic with no inputs, the
/// shape of every gather, pad and generator.
Value generate(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> dims, Type elem,
               function_ref<Value(OpBuilder &, Location)> body);
/// tensor.empty filled with `value`.
Value filledTensor(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> dims,
                   Type elem, TypedAttr value);
/// The static result type of an mlc op, or an error naming the node.
FailureOr<RankedTensorType> resultTypeOf(Operation *op);
/// Fails with an error on `op` if `t` is not a float tensor.
LogicalResult requireFloat(Operation *op, Value t);
/// Indexing map reading `v` broadcast into an iteration space of `rank`
/// dims (numpy alignment: trailing dims match, static 1s broadcast).
AffineMap broadcastMap(MLIRContext *ctx, Value v, unsigned rank,
                       ArrayRef<OpFoldResult> outDims);
/// Converts `v` to the given shape; uses collapse/expand where possible.
Value reshapeTo(OpBuilder &b, Location loc, Value v, RankedTensorType type,
                ArrayRef<OpFoldResult> dims);
/// `v`, cast to `type` (which agrees with it up to static dims) if needed.
Value castTo(OpBuilder &b, Location loc, Value v, RankedTensorType type);
/// Signed integer division (toward zero, or up with `ceil`) that never
/// traps: x / 0 is x, x / -1 is -x (wrapping, so INT_MIN / -1 is INT_MIN).
Value divSIDefined(OpBuilder &b, Location l, Value x, Value y, bool ceil = false);
/// Signed remainder that never traps: x rem 0 and x rem -1 are 0.
Value remSIDefined(OpBuilder &b, Location l, Value x, Value y);
/// An attribute for 0 / lowest / 1 in `elem`.
TypedAttr zeroAttr(OpBuilder &b, Type elem);
TypedAttr lowestAttr(OpBuilder &b, Type elem);
/// The lowest (or, with `highest`, the highest) value of `elem` (read as
/// unsigned with `isUnsigned`).
TypedAttr lowerAttr(OpBuilder &b, Type elem, bool highest, bool isUnsigned = false);
/// Unsigned integer tensors are signless in the lowering (arith's types);
/// an op that reads one carries `mlc.unsigned`, a Cast that writes one
/// `mlc.unsigned_result` (set by the lowering pass before it converts).
inline bool readsUnsigned(Operation *op) { return op->hasAttr("mlc.unsigned"); }
inline bool writesUnsigned(Operation *op) { return op->hasAttr("mlc.unsigned_result"); }

/// Base of the converters: the result type must be known (and, with
/// FloatOnly, the first operand a float tensor) before `lower` runs, so each
/// converter holds only its lowering.
template <typename OpT, bool FloatOnly = false>
struct MlcPattern : OpConversionPattern<OpT> {
  using OpConversionPattern<OpT>::OpConversionPattern;
  using OpAdaptor = typename OpT::Adaptor;
  virtual LogicalResult lower(OpT op, OpAdaptor a, ConversionPatternRewriter &rw,
                              RankedTensorType type) const = 0;
  LogicalResult matchAndRewrite(OpT op, OpAdaptor a,
                                ConversionPatternRewriter &rw) const final {
    auto type = resultTypeOf(op);
    if (failed(type))
      return failure();
    if (FloatOnly && failed(requireFloat(op, op->getOperand(0))))
      return failure();
    return lower(op, a, rw, *type);
  }
};

void populateElementwisePatterns(RewritePatternSet &p);
void populateContractionPatterns(RewritePatternSet &p);
void populateWindowPatterns(RewritePatternSet &p);
void populateTensorPatterns(RewritePatternSet &p);
void populateReductionPatterns(RewritePatternSet &p);
void populateControlFlowPatterns(RewritePatternSet &p);

} // namespace mlc::lower

#endif
