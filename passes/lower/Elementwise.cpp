//===- Elementwise.cpp - converters: arithmetic, activations, BatchNorm --===//
#include "passes/lower/Common.h"

#include <cmath>

using namespace mlir;
using namespace mlc;
using namespace mlc::lower;

namespace {

using BodyFn = function_ref<Value(OpBuilder &, Location, ValueRange)>;

/// Converts a scalar between ONNX element types (bool, ints, floats);
/// `fromU` / `toU`: the integer source / destination is unsigned.
Value convertScalar(OpBuilder &b, Location l, Value v, Type to, bool fromU = false,
                    bool toU = false) {
  Type from = v.getType();
  if (from == to)
    return v;
  bool fromF = isa<FloatType>(from), toF = isa<FloatType>(to);
  if (fromF && toF)
    return from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth()
               ? b.create<arith::ExtFOp>(l, to, v).getResult()
               : b.create<arith::TruncFOp>(l, to, v).getResult();
  if (toF)
    return from.isInteger(1) || fromU
               ? b.create<arith::UIToFPOp>(l, to, v).getResult()
               : b.create<arith::SIToFPOp>(l, to, v).getResult();
  if (to.isInteger(1)) {
    Value zero = b.create<arith::ConstantOp>(l, b.getZeroAttr(from));
    if (fromF)
      return b.create<arith::CmpFOp>(l, arith::CmpFPredicate::UNE, v, zero);
    return b.create<arith::CmpIOp>(l, arith::CmpIPredicate::ne, v, zero);
  }
  if (fromF)
    return toU ? b.create<arith::FPToUIOp>(l, to, v).getResult()
               : b.create<arith::FPToSIOp>(l, to, v).getResult();
  unsigned fw = from.getIntOrFloatBitWidth(), tw = to.getIntOrFloatBitWidth();
  if (fw < tw)
    return from.isInteger(1) || fromU ? b.create<arith::ExtUIOp>(l, to, v).getResult()
                             : b.create<arith::ExtSIOp>(l, to, v).getResult();
  if (fw > tw)
    return b.create<arith::TruncIOp>(l, to, v);
  return v;
}

/// A parallel linalg.generic over `dims` reading each input broadcast.
Value elementwise(OpBuilder &b, Location loc, ValueRange inputs,
                  ArrayRef<OpFoldResult> dims, Type elem, BodyFn body) {
  unsigned rank = dims.size();
  MLIRContext *ctx = b.getContext();
  SmallVector<AffineMap> maps;
  for (Value in : inputs)
    maps.push_back(broadcastMap(ctx, in, rank, dims));
  maps.push_back(AffineMap::getMultiDimIdentityMap(rank, ctx));
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  Value init = emptyTensor(b, loc, dims, elem);
  auto g = b.create<linalg::GenericOp>(
      loc, init.getType(), inputs, init, maps, iters,
      [&](OpBuilder &nb, Location l, ValueRange args) {
        nb.create<linalg::YieldOp>(l, body(nb, l, args.drop_back()));
      });
  return g.getResult(0);
}

/// Output dims of a broadcasting op, from the shared shape rule.
FailureOr<VDims> broadcastDims(OpBuilder &b, Location loc, Operation *op,
                               ValueRange inputs) {
  ValueDims s{b, loc};
  SmallVector<VDims> shapes;
  for (Value v : inputs)
    shapes.push_back(dimsOf(b, loc, v));
  VDims out;
  if (auto err = shape::broadcast<ValueDims>(s, shapes, out)) {
    op->emitError(err->message);
    return failure();
  }
  return out;
}

} // namespace

/// Integer division by zero is undefined in ONNX, and INT_MIN / -1
/// overflows; neither may trap. `y` with 0 and -1 replaced by 1.
static Value safeDivisor(OpBuilder &b, Location l, Value y) {
  Value one = b.create<arith::ConstantOp>(l, b.getIntegerAttr(y.getType(), 1));
  Value minusOne = b.create<arith::ConstantOp>(l, b.getIntegerAttr(y.getType(), -1));
  Value zero = b.create<arith::ConstantOp>(l, b.getZeroAttr(y.getType()));
  Value isZero = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq, y, zero);
  Value isMinusOne = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq, y, minusOne);
  return b.create<arith::SelectOp>(l, b.create<arith::OrIOp>(l, isZero, isMinusOne), one, y);
}

Value mlc::lower::divSIDefined(OpBuilder &b, Location l, Value x, Value y, bool ceil) {
  Value d = safeDivisor(b, l, y);
  Value q = ceil ? b.create<arith::CeilDivSIOp>(l, x, d).getResult()
                 : b.create<arith::DivSIOp>(l, x, d).getResult();
  Value minusOne = b.create<arith::ConstantOp>(l, b.getIntegerAttr(y.getType(), -1));
  Value zero = b.create<arith::ConstantOp>(l, b.getZeroAttr(y.getType()));
  Value negated = b.create<arith::SubIOp>(l, zero, x); // wraps: INT_MIN / -1 is INT_MIN
  Value byMinusOne = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq, y, minusOne);
  return b.create<arith::SelectOp>(l, byMinusOne, negated, q);
}

Value mlc::lower::remSIDefined(OpBuilder &b, Location l, Value x, Value y) {
  return b.create<arith::RemSIOp>(l, x, safeDivisor(b, l, y));
}

/// Unsigned division and remainder by 0 divide by 1 instead of trapping.
static Value safeUnsignedDivisor(OpBuilder &b, Location l, Value y) {
  Value one = b.create<arith::ConstantOp>(l, b.getIntegerAttr(y.getType(), 1));
  Value zero = b.create<arith::ConstantOp>(l, b.getZeroAttr(y.getType()));
  Value isZero = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::eq, y, zero);
  return b.create<arith::SelectOp>(l, isZero, one, y);
}

namespace {

template <typename OpT>
struct BinaryLowering : MlcPattern<OpT> {
  using MlcPattern<OpT>::MlcPattern;
  LogicalResult lower(OpT op, typename OpT::Adaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Type elem = type.getElementType();
    constexpr bool bitwise = std::is_same_v<OpT, AndOp> || std::is_same_v<OpT, OrOp> ||
                             std::is_same_v<OpT, XorOp> || std::is_same_v<OpT, ShlOp> ||
                             std::is_same_v<OpT, ShrOp>;
    bool ok = elem.isIntOrFloat() && (bitwise ? isa<IntegerType>(elem) : !elem.isInteger(1));
    if (std::is_same_v<OpT, PReluOp>)
      ok = isa<FloatType>(elem);
    if (!ok)
      return op->emitError("element type ") << elem << " is not supported";
    Location loc = op.getLoc();
    SmallVector<Value> ins = {a.getLhs(), a.getRhs()};
    Type rhsElem = cast<ShapedType>(a.getRhs().getType()).getElementType();
    if (rhsElem != elem && !std::is_same_v<OpT, PowOp>)
      return op->emitError("operands have different element types");
    auto dims = broadcastDims(rw, loc, op, ins);
    if (failed(dims))
      return failure();
    bool isFloat = isa<FloatType>(elem), u = readsUnsigned(op);
    Value r = elementwise(rw, loc, ins, *dims, elem,
                          [&](OpBuilder &b, Location l, ValueRange v) -> Value {
                            Value y = v[1];
                            if (y.getType() != elem) // Pow with an exponent of another type
                              y = convertScalar(b, l, y, elem, u);
                            return makeOp(b, l, isFloat, u, v[0], y);
                          });
    rw.replaceOp(op, r);
    return success();
  }
  /// `u`: integer operands are unsigned.
  static Value makeOp(OpBuilder &b, Location l, bool f, bool u, Value x, Value y) {
    if constexpr (std::is_same_v<OpT, MaxOp> || std::is_same_v<OpT, MinOp> ||
                  std::is_same_v<OpT, DivOp> || std::is_same_v<OpT, ModOp> ||
                  std::is_same_v<OpT, FModOp>)
      if (!f && u) {
        if constexpr (std::is_same_v<OpT, MaxOp>)
          return b.create<arith::MaxUIOp>(l, x, y);
        if constexpr (std::is_same_v<OpT, MinOp>)
          return b.create<arith::MinUIOp>(l, x, y);
        if constexpr (std::is_same_v<OpT, DivOp>)
          return b.create<arith::DivUIOp>(l, x, safeUnsignedDivisor(b, l, y));
        return b.create<arith::RemUIOp>(l, x, safeUnsignedDivisor(b, l, y));
      }
    if constexpr (std::is_same_v<OpT, AddOp>)
      return f ? b.create<arith::AddFOp>(l, x, y).getResult()
               : b.create<arith::AddIOp>(l, x, y).getResult();
    if constexpr (std::is_same_v<OpT, SubOp>)
      return f ? b.create<arith::SubFOp>(l, x, y).getResult()
               : b.create<arith::SubIOp>(l, x, y).getResult();
    if constexpr (std::is_same_v<OpT, MulOp>)
      return f ? b.create<arith::MulFOp>(l, x, y).getResult()
               : b.create<arith::MulIOp>(l, x, y).getResult();
    if constexpr (std::is_same_v<OpT, PowOp>) {
      if (f)
        return b.create<math::PowFOp>(l, x, y);
      return b.create<math::IPowIOp>(l, x, y);
    }
    if constexpr (std::is_same_v<OpT, MaxOp>)
      return f ? b.create<arith::MaximumFOp>(l, x, y).getResult()
               : b.create<arith::MaxSIOp>(l, x, y).getResult();
    if constexpr (std::is_same_v<OpT, MinOp>)
      return f ? b.create<arith::MinimumFOp>(l, x, y).getResult()
               : b.create<arith::MinSIOp>(l, x, y).getResult();
    if constexpr (std::is_same_v<OpT, AndOp>)
      return b.create<arith::AndIOp>(l, x, y);
    if constexpr (std::is_same_v<OpT, OrOp>)
      return b.create<arith::OrIOp>(l, x, y);
    if constexpr (std::is_same_v<OpT, XorOp>)
      return b.create<arith::XOrIOp>(l, x, y);
    if constexpr (std::is_same_v<OpT, ShlOp> || std::is_same_v<OpT, ShrOp>) {
      // Shifting by the bit width or more gives 0 (LLVM would give poison).
      unsigned w = x.getType().getIntOrFloatBitWidth();
      Value width = b.create<arith::ConstantOp>(l, b.getIntegerAttr(y.getType(), w));
      Value zero = b.create<arith::ConstantOp>(l, b.getZeroAttr(x.getType()));
      // A negative shift is out of range too (uge). Signed right shifts are
      // arithmetic: out of range they give -1 for a negative x.
      Value big = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::uge, y, width);
      if constexpr (std::is_same_v<OpT, ShrOp>)
        if (!u) {
          Value last = b.create<arith::ConstantOp>(l, b.getIntegerAttr(y.getType(), w - 1));
          Value amount = b.create<arith::SelectOp>(l, big, last, y);
          return b.create<arith::ShRSIOp>(l, x, amount);
        }
      Value r = std::is_same_v<OpT, ShlOp> ? b.create<arith::ShLIOp>(l, x, y).getResult()
                                           : b.create<arith::ShRUIOp>(l, x, y).getResult();
      return b.create<arith::SelectOp>(l, big, zero, r);
    }
    if constexpr (std::is_same_v<OpT, PReluOp>) {
      Value zero = b.create<arith::ConstantOp>(l, b.getZeroAttr(x.getType()));
      Value neg = b.create<arith::CmpFOp>(l, arith::CmpFPredicate::OLT, x, zero);
      return b.create<arith::SelectOp>(l, neg, b.create<arith::MulFOp>(l, x, y), x);
    }
    if constexpr (std::is_same_v<OpT, FModOp>) {
      if (f)
        return b.create<arith::RemFOp>(l, x, y);
      return remSIDefined(b, l, x, y);
    }
    if constexpr (std::is_same_v<OpT, ModOp>) {
      if (f) { // fmod=0 on floats: the divisor's sign (numpy mod)
        Value r = b.create<arith::RemFOp>(l, x, y);
        Value zero = b.create<arith::ConstantOp>(l, b.getZeroAttr(x.getType()));
        Value rNeg = b.create<arith::CmpFOp>(l, arith::CmpFPredicate::OLT, r, zero);
        Value yNeg = b.create<arith::CmpFOp>(l, arith::CmpFPredicate::OLT, y, zero);
        Value rNz = b.create<arith::CmpFOp>(l, arith::CmpFPredicate::ONE, r, zero);
        Value fix = b.create<arith::AndIOp>(l, rNz, b.create<arith::XOrIOp>(l, rNeg, yNeg));
        return b.create<arith::SelectOp>(l, fix, b.create<arith::AddFOp>(l, r, y), r);
      }
      Value r = remSIDefined(b, l, x, y);
      Value zero = b.create<arith::ConstantOp>(l, b.getZeroAttr(x.getType()));
      Value rNeg = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::slt, r, zero);
      Value yNeg = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::slt, y, zero);
      Value rNz = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::ne, r, zero);
      Value fix = b.create<arith::AndIOp>(l, rNz, b.create<arith::XOrIOp>(l, rNeg, yNeg));
      return b.create<arith::SelectOp>(l, fix, b.create<arith::AddIOp>(l, r, y), r);
    }
    if constexpr (std::is_same_v<OpT, DivOp>) {
      if (f)
        return b.create<arith::DivFOp>(l, x, y);
      return divSIDefined(b, l, x, y);
    }
  }
};

template <typename OpT>
struct UnaryLowering : MlcPattern<OpT> {
  using MlcPattern<OpT>::MlcPattern;
  LogicalResult lower(OpT op, typename OpT::Adaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType) const override {
    if (std::is_same_v<OpT, IdentityOp>) {
      rw.replaceOp(op, a.getInput());
      return success();
    }
    Type elem = cast<ShapedType>(a.getInput().getType()).getElementType();
    constexpr bool intToo =
        std::is_same_v<OpT, NegOp> || std::is_same_v<OpT, AbsOp> || std::is_same_v<OpT, ReluOp>;
    if (!(intToo && elem.isSignlessInteger() && !elem.isInteger(1)) &&
        failed(requireFloat(op, a.getInput())))
      return failure();
    if (isa<IntegerType>(elem) && readsUnsigned(op) && !std::is_same_v<OpT, NegOp>) {
      rw.replaceOp(op, a.getInput()); // Abs and Relu of unsigned values
      return success();
    }
    Location loc = op.getLoc();
    VDims dims = dimsOf(rw, loc, a.getInput());
    Value r = elementwise(rw, loc, a.getInput(), dims, elem,
                          [&](OpBuilder &b, Location l, ValueRange v) {
                            return body(b, l, v[0]);
                          });
    rw.replaceOp(op, r);
    return success();
  }
  static Value body(OpBuilder &b, Location l, Value x) {
    Type t = x.getType();
    if (isa<IntegerType>(t)) { // Neg, Abs, Relu on signed integers (wrapping)
      Value zero = b.create<arith::ConstantOp>(l, b.getZeroAttr(t));
      if constexpr (std::is_same_v<OpT, NegOp>)
        return b.create<arith::SubIOp>(l, zero, x);
      if constexpr (std::is_same_v<OpT, AbsOp>)
        return b.create<math::AbsIOp>(l, x);
      return b.create<arith::MaxSIOp>(l, x, zero);
    }
    if constexpr (std::is_same_v<OpT, ReluOp>) {
      Value zero = b.create<arith::ConstantOp>(l, b.getZeroAttr(t));
      return b.create<arith::MaximumFOp>(l, x, zero);
    }
    if constexpr (std::is_same_v<OpT, SigmoidOp>) {
      Value one = b.create<arith::ConstantOp>(l, b.getFloatAttr(t, 1.0));
      Value e = b.create<math::ExpOp>(l, b.create<arith::NegFOp>(l, x));
      return b.create<arith::DivFOp>(l, one, b.create<arith::AddFOp>(l, one, e));
    }
    if constexpr (std::is_same_v<OpT, TanhOp>)
      return b.create<math::TanhOp>(l, x);
    if constexpr (std::is_same_v<OpT, SqrtOp>)
      return b.create<math::SqrtOp>(l, x);
    if constexpr (std::is_same_v<OpT, ErfOp>)
      return b.create<math::ErfOp>(l, x);
    if constexpr (std::is_same_v<OpT, ExpOp>)
      return b.create<math::ExpOp>(l, x);
    if constexpr (std::is_same_v<OpT, LogOp>)
      return b.create<math::LogOp>(l, x);
    if constexpr (std::is_same_v<OpT, NegOp>)
      return b.create<arith::NegFOp>(l, x);
    if constexpr (std::is_same_v<OpT, AbsOp>)
      return b.create<math::AbsFOp>(l, x);
    if constexpr (std::is_same_v<OpT, ReciprocalOp>) {
      Value one = b.create<arith::ConstantOp>(l, b.getFloatAttr(t, 1.0));
      return b.create<arith::DivFOp>(l, one, x);
    }
    if constexpr (std::is_same_v<OpT, HardSwishOp>) {
      // x * clamp(x / 6 + 0.5, 0, 1)
      auto c = [&](double v) { return b.create<arith::ConstantOp>(l, b.getFloatAttr(t, v)); };
      Value h = b.create<arith::AddFOp>(l, b.create<arith::MulFOp>(l, x, c(1.0 / 6)), c(0.5));
      h = b.create<arith::MinimumFOp>(l, b.create<arith::MaximumFOp>(l, h, c(0.0)), c(1.0));
      return b.create<arith::MulFOp>(l, x, h);
    }
    return x;
  }
};

/// The mlc.math family: one scalar body per kind.
struct MathLowering : MlcPattern<MathOp> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(MathOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Type in = cast<ShapedType>(a.getInput().getType()).getElementType();
    if (op.getKind() != MathKind::Sign && failed(requireFloat(op, a.getInput())))
      return failure();
    if (!in.isIntOrFloat() || in.isInteger(1))
      return op->emitError("element type ") << in << " is not supported";
    Location loc = op.getLoc();
    MathKind kind = op.getKind();
    double alpha = op.getAlpha().convertToDouble(), beta = op.getBeta().convertToDouble();
    bool u = readsUnsigned(op);
    Value r = elementwise(rw, loc, a.getInput(), dimsOf(rw, loc, a.getInput()),
                          type.getElementType(), [&](OpBuilder &b, Location l, ValueRange v) {
                            return body(b, l, kind, v[0], alpha, beta, u);
                          });
    rw.replaceOp(op, r);
    return success();
  }
  /// `u`: an integer input is unsigned (Sign).
  static Value body(OpBuilder &b, Location l, MathKind kind, Value x, double alpha,
                    double beta, bool u) {
    Type t = x.getType();
    ScalarOps o{b, l, t};
    auto exp = [&](Value p) { return b.create<math::ExpOp>(l, p).getResult(); };
    // log(1 + e^x) without overflow: max(x, 0) + log1p(e^-|x|)
    auto softplus = [&](Value p) {
      Value m = b.create<arith::MaximumFOp>(l, p, o.c(0));
      Value e = exp(b.create<arith::NegFOp>(l, b.create<math::AbsFOp>(l, p)));
      return o.add(m, b.create<math::Log1pOp>(l, e));
    };
    switch (kind) {
    case MathKind::Sin: return b.create<math::SinOp>(l, x);
    case MathKind::Cos: return b.create<math::CosOp>(l, x);
    case MathKind::Tan: return b.create<math::TanOp>(l, x);
    case MathKind::Asin: {
      // atan2(x, sqrt((1 - x)(1 + x))): MLIR's f32 polynomial for asin is
      // off by up to 0.036 near +-1; its atan2 is not.
      Value one = o.c(1);
      Value c = b.create<arith::MulFOp>(l, b.create<arith::SubFOp>(l, one, x),
                                        b.create<arith::AddFOp>(l, one, x));
      return b.create<math::Atan2Op>(l, x, b.create<math::SqrtOp>(l, c));
    }
    case MathKind::Acos: return b.create<math::AcosOp>(l, x);
    case MathKind::Atan: return b.create<math::AtanOp>(l, x);
    case MathKind::Sinh: return b.create<math::SinhOp>(l, x);
    case MathKind::Cosh: return b.create<math::CoshOp>(l, x);
    case MathKind::Asinh: return b.create<math::AsinhOp>(l, x);
    case MathKind::Acosh: return b.create<math::AcoshOp>(l, x);
    case MathKind::Atanh: return b.create<math::AtanhOp>(l, x);
    case MathKind::Floor: return b.create<math::FloorOp>(l, x);
    case MathKind::Ceil: return b.create<math::CeilOp>(l, x);
    case MathKind::Round: return b.create<math::RoundEvenOp>(l, x);
    case MathKind::Sign: {
      Value zero = o.c(0), one = o.c(1), minus = o.c(-1);
      if (isa<FloatType>(t)) {
        Value pos = b.create<arith::CmpFOp>(l, arith::CmpFPredicate::OGT, x, zero);
        return o.sel(pos, one, o.sel(o.lt(x, zero), minus, zero));
      }
      Value pos = b.create<arith::CmpIOp>(l, u ? arith::CmpIPredicate::ugt
                                                : arith::CmpIPredicate::sgt, x, zero);
      Value neg = b.create<arith::CmpIOp>(l, arith::CmpIPredicate::slt, x, zero);
      return o.sel(pos, one, u ? zero : o.sel(neg, minus, zero));
    }
    case MathKind::Softplus: return softplus(x);
    case MathKind::Softsign: return o.div(x, o.add(o.c(1), b.create<math::AbsFOp>(l, x)));
    case MathKind::IsNaN:
      return b.create<arith::CmpFOp>(l, arith::CmpFPredicate::UNO, x, x);
    case MathKind::IsInf: {
      Value inf = o.c(INFINITY), r = b.create<arith::ConstantOp>(l, b.getBoolAttr(false));
      auto eq = [&](Value p) {
        return b.create<arith::CmpFOp>(l, arith::CmpFPredicate::OEQ, x, p).getResult();
      };
      if (alpha != 0)
        r = b.create<arith::OrIOp>(l, r, eq(inf));
      if (beta != 0)
        r = b.create<arith::OrIOp>(l, r, eq(o.c(-INFINITY)));
      return r;
    }
    case MathKind::Elu:
      return o.sel(o.lt(x, o.c(0)), o.mul(o.c(alpha), o.sub(exp(x), o.c(1))), x);
    case MathKind::Selu:
      return o.mul(o.c(beta), o.sel(b.create<arith::CmpFOp>(l, arith::CmpFPredicate::OLE, x, o.c(0)),
                              o.sub(o.mul(o.c(alpha), exp(x)), o.c(alpha)), x));
    case MathKind::LeakyRelu: return o.sel(o.lt(x, o.c(0)), o.mul(o.c(alpha), x), x);
    case MathKind::ThresholdedRelu: return o.sel(o.lt(o.c(alpha), x), x, o.c(0));
    case MathKind::Celu: {
      Value e = o.mul(o.c(alpha), o.sub(exp(o.div(x, o.c(alpha))), o.c(1)));
      return o.add(b.create<arith::MaximumFOp>(l, x, o.c(0)),
                 b.create<arith::MinimumFOp>(l, e, o.c(0)));
    }
    case MathKind::Mish: return o.mul(x, b.create<math::TanhOp>(l, softplus(x)));
    case MathKind::Gelu: {
      Value inner;
      if (beta != 0) { // tanh approximation
        Value x3 = o.mul(o.mul(x, x), x);
        inner = b.create<math::TanhOp>(
            l, o.mul(o.c(std::sqrt(2.0 / M_PI)), o.add(x, o.mul(o.c(0.044715), x3))));
      } else {
        inner = b.create<math::ErfOp>(l, o.mul(x, o.c(M_SQRT1_2)));
      }
      return o.mul(o.mul(o.c(0.5), x), o.add(o.c(1), inner));
    }
    case MathKind::Swish: {
      Value s = o.div(o.c(1), o.add(o.c(1), exp(b.create<arith::NegFOp>(l, o.mul(o.c(alpha), x)))));
      return o.mul(x, s);
    }
    case MathKind::Shrink:
      return o.sel(o.lt(x, o.c(-alpha)), o.add(x, o.c(beta)),
                 o.sel(o.lt(o.c(alpha), x), o.sub(x, o.c(beta)), o.c(0)));
    }
    return x;
  }
};

struct NotLowering : MlcPattern<NotOp> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(NotOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    if (!isa<IntegerType>(type.getElementType()))
      return op->emitError("Not takes a bool or integer tensor");
    Location loc = op.getLoc();
    Value r = elementwise(rw, loc, a.getInput(), dimsOf(rw, loc, a.getInput()),
                          type.getElementType(), [](OpBuilder &b, Location l, ValueRange v) {
                            Value t = b.create<arith::ConstantOp>(
                                l, b.getIntegerAttr(v[0].getType(), -1));
                            return b.create<arith::XOrIOp>(l, v[0], t).getResult();
                          });
    rw.replaceOp(op, r);
    return success();
  }
};

/// Clip and HardSigmoid: an affine map then a clamp, in one elementwise op.
template <typename OpT>
struct ClampLowering : MlcPattern<OpT, /*FloatOnly=*/true> {
  using MlcPattern<OpT, true>::MlcPattern;
  LogicalResult lower(OpT op, typename OpT::Adaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    double lo, hi, alpha = 1, beta = 0;
    if constexpr (std::is_same_v<OpT, ClipOp>) {
      lo = op.getMin().convertToDouble();
      hi = op.getMax().convertToDouble();
    } else {
      lo = 0;
      hi = 1;
      alpha = op.getAlpha().convertToDouble();
      beta = op.getBeta().convertToDouble();
    }
    Type elem = type.getElementType();
    Value r = elementwise(rw, loc, a.getInput(), dimsOf(rw, loc, a.getInput()), elem,
                          [&](OpBuilder &b, Location l, ValueRange v) {
                            auto c = [&](double x) {
                              return b.create<arith::ConstantOp>(l, b.getFloatAttr(elem, x));
                            };
                            Value x = v[0];
                            if (alpha != 1 || beta != 0)
                              x = b.create<arith::AddFOp>(
                                  l, b.create<arith::MulFOp>(l, x, c(alpha)), c(beta));
                            if (!std::isinf(lo))
                              x = b.create<arith::MaximumFOp>(l, x, c(lo));
                            if (!std::isinf(hi))
                              x = b.create<arith::MinimumFOp>(l, x, c(hi));
                            return x;
                          });
    rw.replaceOp(op, r);
    return success();
  }
};

struct CastLowering : MlcPattern<CastOp> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(CastOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    Type to = type.getElementType();
    Value r = elementwise(rw, loc, a.getInput(), dimsOf(rw, loc, a.getInput()), to,
                          [&](OpBuilder &b, Location l, ValueRange v) {
                            return convertScalar(b, l, v[0], to, readsUnsigned(op),
                                                 writesUnsigned(op));
                          });
    rw.replaceOp(op, r);
    return success();
  }
};

struct BitCastLowering : MlcPattern<BitCastOp> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(BitCastOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    Type to = type.getElementType();
    Type from = cast<ShapedType>(a.getInput().getType()).getElementType();
    auto bytes = [](Type t) { return t.isInteger(1) ? 8u : t.getIntOrFloatBitWidth(); };
    if (!from.isIntOrFloat() || !to.isIntOrFloat() || bytes(from) != bytes(to))
      return op->emitError("BitCast needs element types of the same width");
    if (from == to) { // int8 <-> uint8 and the like, signless by now
      rw.replaceOp(op, a.getInput());
      return success();
    }
    Value r = elementwise(rw, loc, a.getInput(), dimsOf(rw, loc, a.getInput()), to,
                          [&](OpBuilder &b, Location l, ValueRange v) -> Value {
                            if (from.isInteger(1))
                              return b.create<arith::ExtUIOp>(l, to, v[0]);
                            if (to.isInteger(1)) // a byte read as bool: non-zero
                              return b.create<arith::CmpIOp>(
                                  l, arith::CmpIPredicate::ne, v[0],
                                  b.create<arith::ConstantOp>(l, b.getZeroAttr(from)));
                            return b.create<arith::BitcastOp>(l, to, v[0]);
                          });
    rw.replaceOp(op, r);
    return success();
  }
};

struct CompareLowering : MlcPattern<CompareOp> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(CompareOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    SmallVector<Value> ins = {a.getLhs(), a.getRhs()};
    auto dims = broadcastDims(rw, loc, op, ins);
    if (failed(dims))
      return failure();
    Type in = cast<ShapedType>(a.getLhs().getType()).getElementType();
    StringRef p = op.getPredicate();
    if (!llvm::is_contained({"eq", "ne", "lt", "le", "gt", "ge"}, p))
      return rw.notifyMatchFailure(op, "unknown predicate");
    bool f = isa<FloatType>(in);
    // "ne" is unordered: NaN != NaN.
    auto fp = p == "eq"   ? arith::CmpFPredicate::OEQ
              : p == "ne" ? arith::CmpFPredicate::UNE
              : p == "lt" ? arith::CmpFPredicate::OLT
              : p == "le" ? arith::CmpFPredicate::OLE
              : p == "gt" ? arith::CmpFPredicate::OGT
                          : arith::CmpFPredicate::OGE;
    bool u = readsUnsigned(op);
    auto ip = p == "eq"   ? arith::CmpIPredicate::eq
              : p == "ne" ? arith::CmpIPredicate::ne
              : p == "lt" ? (u ? arith::CmpIPredicate::ult : arith::CmpIPredicate::slt)
              : p == "le" ? (u ? arith::CmpIPredicate::ule : arith::CmpIPredicate::sle)
              : p == "gt" ? (u ? arith::CmpIPredicate::ugt : arith::CmpIPredicate::sgt)
                          : (u ? arith::CmpIPredicate::uge : arith::CmpIPredicate::sge);
    Value r = elementwise(rw, loc, ins, *dims, type.getElementType(),
                          [&](OpBuilder &b, Location l, ValueRange v) -> Value {
                            if (f)
                              return b.create<arith::CmpFOp>(l, fp, v[0], v[1]);
                            return b.create<arith::CmpIOp>(l, ip, v[0], v[1]);
                          });
    rw.replaceOp(op, r);
    return success();
  }
};

struct WhereLowering : MlcPattern<WhereOp> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(WhereOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    SmallVector<Value> ins = {a.getCondition(), a.getX(), a.getY()};
    auto dims = broadcastDims(rw, loc, op, ins);
    if (failed(dims))
      return failure();
    Value r = elementwise(rw, loc, ins, *dims, type.getElementType(),
                          [](OpBuilder &b, Location l, ValueRange v) {
                            return b.create<arith::SelectOp>(l, v[0], v[1], v[2]).getResult();
                          });
    rw.replaceOp(op, r);
    return success();
  }
};

/// y = (x - mean[c]) * scale[c] / sqrt(var[c] + eps) + bias[c], c = dim 1.
struct BatchNormLowering : MlcPattern<BatchNormOp, /*FloatOnly=*/true> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(BatchNormOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    if (type.getRank() < 2)
      return op->emitError("input must have rank >= 2");
    Location loc = op.getLoc();
    unsigned rank = type.getRank();
    MLIRContext *ctx = rw.getContext();
    VDims dims = dimsOf(rw, loc, a.getX());
    auto chan = AffineMap::get(rank, 0, getAffineDimExpr(1, ctx));
    SmallVector<AffineMap> maps = {AffineMap::getMultiDimIdentityMap(rank, ctx),
                                   chan, chan, chan, chan,
                                   AffineMap::getMultiDimIdentityMap(rank, ctx)};
    SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
    Type elem = type.getElementType();
    Value init = emptyTensor(rw, loc, dims, elem);
    double eps = op.getEpsilon().convertToDouble();
    auto g = rw.create<linalg::GenericOp>(
        loc, init.getType(),
        ValueRange{a.getX(), a.getScale(), a.getBias(), a.getMean(), a.getVar()},
        init, maps, iters, [&](OpBuilder &b, Location l, ValueRange v) {
          Value e = b.create<arith::ConstantOp>(l, b.getFloatAttr(elem, eps));
          Value d = b.create<math::SqrtOp>(l, b.create<arith::AddFOp>(l, v[4], e));
          Value k = b.create<arith::DivFOp>(l, v[1], d);
          Value c = b.create<arith::SubFOp>(l, v[0], v[3]);
          Value r = b.create<arith::AddFOp>(l, b.create<arith::MulFOp>(l, c, k), v[2]);
          b.create<linalg::YieldOp>(l, r);
        });
    rw.replaceOp(op, g.getResult(0));
    return success();
  }
};

/// Softmax as max-reduce, exp-sum-reduce and a normalising map.
struct SoftmaxLowering : MlcPattern<SoftmaxOp, /*FloatOnly=*/true> {
  using MlcPattern::MlcPattern;
  LogicalResult lower(SoftmaxOp op, OpAdaptor a, ConversionPatternRewriter &rw,
                      RankedTensorType type) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rw.getContext();
    unsigned rank = type.getRank();
    int64_t axis = op.getAxis();
    bool logSoftmax = op.getLog();
    auto isReduced = [&](unsigned d) {
      return op.getCoerce_2d() ? (int64_t)d >= axis : (int64_t)d == axis;
    };
    VDims dims = dimsOf(rw, loc, a.getInput());
    SmallVector<OpFoldResult> kept;
    SmallVector<AffineExpr> keptExprs;
    SmallVector<utils::IteratorType> iters;
    for (unsigned d = 0; d < rank; ++d) {
      if (isReduced(d)) {
        iters.push_back(utils::IteratorType::reduction);
      } else {
        kept.push_back(dims[d]);
        keptExprs.push_back(getAffineDimExpr(d, ctx));
        iters.push_back(utils::IteratorType::parallel);
      }
    }
    Type elem = type.getElementType();
    auto id = AffineMap::getMultiDimIdentityMap(rank, ctx);
    auto red = AffineMap::get(rank, 0, keptExprs, ctx);
    Value x = a.getInput();
    Value maxInit = filledTensor(rw, loc, kept, elem, lowestAttr(rw, elem));
    Value mx = rw.create<linalg::GenericOp>(
                     loc, maxInit.getType(), x, maxInit,
                     ArrayRef<AffineMap>{id, red}, iters,
                     [&](OpBuilder &b, Location l, ValueRange v) {
                       b.create<linalg::YieldOp>(
                           l, b.create<arith::MaximumFOp>(l, v[0], v[1]).getResult());
                     })
                   .getResult(0);
    // Half precision computes exp, sum and quotient in f32 and rounds once.
    Type calc = elem.getIntOrFloatBitWidth() < 32 ? rw.getF32Type() : elem;
    auto widen = [&](OpBuilder &b, Location l, Value v) -> Value {
      return calc == elem ? v : b.create<arith::ExtFOp>(l, calc, v).getResult();
    };
    Value sumInit = filledTensor(rw, loc, kept, calc, zeroAttr(rw, calc));
    Value sum = rw.create<linalg::GenericOp>(
                      loc, sumInit.getType(), ValueRange{x, mx}, sumInit,
                      ArrayRef<AffineMap>{id, red, red}, iters,
                      [&](OpBuilder &b, Location l, ValueRange v) {
                        Value e = b.create<math::ExpOp>(
                            l, b.create<arith::SubFOp>(l, widen(b, l, v[0]), widen(b, l, v[1])));
                        b.create<linalg::YieldOp>(
                            l, b.create<arith::AddFOp>(l, e, v[2]).getResult());
                      })
                    .getResult(0);
    SmallVector<utils::IteratorType> par(rank, utils::IteratorType::parallel);
    Value init = emptyTensor(rw, loc, dims, elem);
    Value r = rw.create<linalg::GenericOp>(
                    loc, init.getType(), ValueRange{x, mx, sum}, init,
                    ArrayRef<AffineMap>{id, red, red, id}, par,
                    [&](OpBuilder &b, Location l, ValueRange v) {
                      Value d = b.create<arith::SubFOp>(l, widen(b, l, v[0]), widen(b, l, v[1]));
                      Value y = logSoftmax
                                    ? b.create<arith::SubFOp>(l, d, b.create<math::LogOp>(l, v[2]))
                                          .getResult()
                                    : b.create<arith::DivFOp>(l, b.create<math::ExpOp>(l, d), v[2])
                                          .getResult();
                      if (calc != elem)
                        y = b.create<arith::TruncFOp>(l, elem, y);
                      b.create<linalg::YieldOp>(l, y);
                    })
                  .getResult(0);
    rw.replaceOp(op, r);
    return success();
  }
};

} // namespace

void lower::populateElementwisePatterns(RewritePatternSet &p) {
  p.add<BinaryLowering<AddOp>, BinaryLowering<SubOp>, BinaryLowering<MulOp>,
        BinaryLowering<DivOp>, BinaryLowering<PowOp>, BinaryLowering<MaxOp>,
        BinaryLowering<MinOp>, BinaryLowering<AndOp>, BinaryLowering<OrOp>,
        BinaryLowering<XorOp>, BinaryLowering<ModOp>, BinaryLowering<FModOp>,
        BinaryLowering<PReluOp>, BinaryLowering<ShlOp>, BinaryLowering<ShrOp>,
        UnaryLowering<ReluOp>, UnaryLowering<SigmoidOp>, UnaryLowering<TanhOp>,
        UnaryLowering<IdentityOp>, UnaryLowering<SqrtOp>, UnaryLowering<ErfOp>,
        UnaryLowering<ExpOp>, UnaryLowering<LogOp>, UnaryLowering<NegOp>,
        UnaryLowering<AbsOp>, UnaryLowering<ReciprocalOp>, UnaryLowering<HardSwishOp>,
        NotLowering, MathLowering, ClampLowering<ClipOp>, ClampLowering<HardSigmoidOp>, CastLowering, BitCastLowering,
        CompareLowering, WhereLowering, BatchNormLowering, SoftmaxLowering>(p.getContext());
}
