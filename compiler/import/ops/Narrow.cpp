//===- Narrow.cpp - float8, float4, int4 and int2: decoding and encoding --===//
//
// A narrow tensor is held one element per byte (NarrowTypes.h): a float
// type's code in a uint8, an integer type's value in an int8 or uint8. The
// compositions here turn those bytes into ordinary tensors and back, as
// ONNX's reference (ml_dtypes) does:
//   - decoding a float code reads a table of its 2^bits values, built here
//     from the format's exponent and mantissa widths;
//   - encoding to float8/float4 rounds to nearest even on the float32
//     value: the exponent (from the bits, clamped to the format's smallest
//     normal one) fixes the quantum, round(|x| / quantum) is the mantissa
//     with the implicit bit, and (exponent - smallest) * 2^M plus it is the
//     code, carries and subnormals included. Overflow saturates to the
//     largest finite value or becomes Inf/NaN as `saturate` says;
//   - float8e8m0 keeps the float32 exponent, rounded up, down or to nearest
//     as `round_mode` says;
//   - int4/int2 (and unsigned) take the integer (truncated toward zero)
//     modulo 2^bits, as a C cast to a narrower integer does; they are read
//     from the low bits of their byte (ml_dtypes leaves the high bits
//     clear, mlc writes them sign-extended).
//
//===----------------------------------------------------------------------===//
#include "compiler/import/NarrowTypes.h"
#include "compiler/import/NodeBinder.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlc;

namespace {

/// A narrow float format: widths, bias and its special codes.
struct FloatFormat {
  int width;     // 8 or 4
  int expBits, manBits, bias;
  bool fnuz;     // no Inf, no -0; 0x80 is the one NaN
  bool hasInf;   // e5m2: exponent all ones, mantissa 0
  int nanCode;   // magnitude code of NaN for formats with a sign (-1: none)
  int maxCode;   // magnitude code of the largest finite value
};

const FloatFormat *floatFormat(int onnx) {
  static const FloatFormat e4m3fn{8, 4, 3, 7, false, false, 0x7f, 0x7e};
  static const FloatFormat e4m3fnuz{8, 4, 3, 8, true, false, -1, 0x7f};
  static const FloatFormat e5m2{8, 5, 2, 15, false, true, 0x7e, 0x7b};
  static const FloatFormat e5m2fnuz{8, 5, 2, 16, true, false, -1, 0x7f};
  static const FloatFormat e2m1{4, 2, 1, 1, false, false, -1, 0x7};
  switch (onnx) {
  case narrow::kF8E4M3FN: return &e4m3fn;
  case narrow::kF8E4M3FNUZ: return &e4m3fnuz;
  case narrow::kF8E5M2: return &e5m2;
  case narrow::kF8E5M2FNUZ: return &e5m2fnuz;
  case narrow::kF4E2M1: return &e2m1;
  default: return nullptr;
  }
}

bool isE8M0(int onnx) { return onnx == narrow::kF8E8M0; }

/// The value of `code` in format `f`.
float decodeValue(const FloatFormat &f, unsigned code) {
  unsigned signBit = 1u << (f.width - 1), mag = code & (signBit - 1);
  float nan = std::numeric_limits<float>::quiet_NaN();
  if (f.fnuz && code == signBit)
    return nan;
  if (!f.fnuz && f.nanCode >= 0 && mag == (unsigned)f.nanCode && !f.hasInf)
    return code & signBit ? -nan : nan;
  unsigned exp = mag >> f.manBits, man = mag & ((1u << f.manBits) - 1);
  if (f.hasInf && exp == (1u << f.expBits) - 1) {
    float v = man ? nan : std::numeric_limits<float>::infinity();
    return code & signBit ? -v : v;
  }
  double v = exp ? std::ldexp(1.0 + std::ldexp(double(man), -f.manBits), int(exp) - f.bias)
                 : std::ldexp(double(man), 1 - f.bias - f.manBits);
  return float(code & signBit ? -v : v);
}

/// The float32 values of every code of a narrow float type, as a constant.
Value decodeTable(NodeBinder &b, int onnx) {
  SmallVector<float> values;
  if (isE8M0(onnx)) {
    for (int c = 0; c < 256; ++c)
      values.push_back(c == 255 ? std::numeric_limits<float>::quiet_NaN()
                                : float(std::ldexp(1.0, c - 127)));
  } else {
    const FloatFormat &f = *floatFormat(onnx);
    for (unsigned c = 0; c < (1u << f.width); ++c)
      values.push_back(decodeValue(f, c));
  }
  auto type = RankedTensorType::get({int64_t(values.size())}, b.builder.getF32Type());
  return b.constant(DenseElementsAttr::get(type, ArrayRef<float>(values)));
}

/// Small helpers over mlc ops for the encoders.
struct Ops {
  NodeBinder &b;
  Type f32 = b.builder.getF32Type(), i32 = b.builder.getI32Type();
  Value f(double v) { return b.scalar(f32, v); }
  Value i(double v) { return b.scalar(i32, v); }
  Value cmp(Value l, Value r, const char *p) {
    return b.create<CompareOp>(l, r, b.builder.getStringAttr(p));
  }
  Value where(Value c, Value t, Value e) { return b.create<WhereOp>(c, t, e); }
  Value math(Value x, MathKind k) {
    auto &B = b.builder;
    return b.create<MathOp>(x, MathKindAttr::get(B.getContext(), k), B.getF64FloatAttr(0),
                            B.getF64FloatAttr(0));
  }
  Value bitsOf(Value x) { return b.create<BitCastOp>(x, TypeAttr::get(i32)); }
  Value floatOf(Value bits) { return b.create<BitCastOp>(bits, TypeAttr::get(f32)); }
};

/// float32 `x` to the codes of float format `f` (as int32).
Value encodeFloat(NodeBinder &b, Value x, const FloatFormat &f, bool saturate) {
  Ops o{b};
  Value a = b.create<AbsOp>(x);
  int emin = 1 - f.bias;
  // The exponent of |x|, no lower than the format's smallest normal one.
  Value e = b.create<SubOp>(b.create<DivOp>(o.bitsOf(a), o.i(1 << 23)), o.i(127));
  Value ce = b.create<MaxOp>(e, o.i(emin));
  Value quantum = o.floatOf(
      b.create<MulOp>(b.create<AddOp>(ce, o.i(127 - f.manBits)), o.i(1 << 23)));
  Value n = o.math(b.create<DivOp>(a, quantum), MathKind::Round);
  Value code = b.create<AddOp>(
      b.create<MulOp>(b.cast(b.create<SubOp>(ce, o.i(emin)), o.f32), o.f(1 << f.manBits)), n);
  // Too large for the format (Inf included).
  Value over = o.cmp(code, o.f(f.maxCode), "gt");
  // (A fnuz format's NaN replaces the code below; float4 always saturates.)
  int overCode = saturate || f.nanCode < 0 ? f.maxCode : f.hasInf ? f.maxCode + 1 : f.nanCode;
  Value mag = o.where(over, o.f(overCode), code);
  Value nan = o.math(x, MathKind::IsNaN);
  if (f.nanCode >= 0)
    mag = o.where(nan, o.f(f.nanCode), mag);
  mag = b.cast(mag, o.i32);
  Value neg = o.cmp(o.bitsOf(x), o.i(0), "lt");
  int signBit = 1 << (f.width - 1);
  if (f.fnuz) // no -0: a sign only on non-zero codes
    neg = b.create<AndOp>(neg, o.cmp(mag, o.i(0), "ne"));
  Value out = o.where(neg, b.create<AddOp>(mag, o.i(signBit)), mag);
  if (f.fnuz) {
    Value isNan = nan;
    if (!saturate)
      isNan = b.create<OrOp>(nan, over);
    out = o.where(isNan, o.i(signBit), out);
  }
  return out;
}

/// float32 `x` to float8e8m0 codes (as int32): the exponent of |x|.
Value encodeE8M0(NodeBinder &b, Value x, bool saturate, StringRef mode) {
  Ops o{b};
  Value bits = o.bitsOf(b.create<AbsOp>(x));
  Value exp = b.create<DivOp>(bits, o.i(1 << 23));
  Value man = b.create<SubOp>(bits, b.create<MulOp>(exp, o.i(1 << 23)));
  Value inc;
  if (mode == "nearest") {
    Value g = o.cmp(man, o.i(1 << 22), "ge");
    Value r = o.cmp(b.create<ModOp>(man, o.i(1 << 22)), o.i(1 << 21), "ge");
    Value s = o.cmp(b.create<ModOp>(man, o.i(1 << 21)), o.i(0), "ne");
    Value lsb = o.cmp(exp, o.i(0), "gt");
    inc = b.create<AndOp>(g, b.create<OrOp>(b.create<OrOp>(r, s), lsb));
  } else if (mode == "up") {
    inc = o.cmp(man, o.i(0), "ne");
  }
  Value out = exp;
  if (inc) {
    if (saturate)
      inc = b.create<AndOp>(inc, o.cmp(exp, o.i(254), "ne"));
    out = o.where(inc, b.create<AddOp>(exp, o.i(1)), exp);
  }
  return o.where(o.cmp(exp, o.i(255), "eq"), o.i(255), out);
}

} // namespace

/// The low `bits` of each element, sign-extended for a signed type: a
/// narrow integer's value whatever the high bits hold (ml_dtypes clears
/// them, mlc's encoder sign-extends).
static Value narrowValue(NodeBinder &b, Value x, int onnx) {
  Type i32 = b.builder.getI32Type();
  int bits = narrow::bits(onnx);
  Value v = b.create<AndOp>(b.cast(x, i32), b.scalar(i32, double((1 << bits) - 1)));
  if (!narrow::isSigned(onnx))
    return v;
  Value high =
      b.create<CompareOp>(v, b.scalar(i32, double(1 << (bits - 1))), b.builder.getStringAttr("ge"));
  return b.create<WhereOp>(high, b.create<SubOp>(v, b.scalar(i32, double(1 << bits))), v);
}

Value mlc::decodeNarrow(NodeBinder &b, Value x, int onnx) {
  if (!floatFormat(onnx) && !isE8M0(onnx))
    return narrow::bits(onnx) < 8 ? b.cast(narrowValue(b, x, onnx), NodeBinder::elementType(x))
                                  : x;
  Value idx = b.cast(x, b.builder.getI64Type());
  return b.create<GatherOp>(decodeTable(b, onnx), idx, b.builder.getI64IntegerAttr(0));
}

Value mlc::encodeNarrow(NodeBinder &b, Value x, int onnx, bool saturate, StringRef roundMode) {
  Type held = onnxElementType(b.builder.getContext(), onnx);
  if (const FloatFormat *f = floatFormat(onnx))
    return b.cast(encodeFloat(b, b.cast(x, b.builder.getF32Type()), *f, saturate), held);
  if (isE8M0(onnx)) {
    if (roundMode != "up" && roundMode != "down" && roundMode != "nearest")
      return b.error("round_mode must be up, down or nearest"), nullptr;
    return b.cast(encodeE8M0(b, b.cast(x, b.builder.getF32Type()), saturate, roundMode), held);
  }
  // int4/uint4/int2/uint2: the integer modulo 2^bits, sign-extended for the
  // signed types. NaN and Inf become 0, as ml_dtypes has it.
  Type i64 = b.builder.getI64Type();
  Value v = x;
  if (isa<FloatType>(NodeBinder::elementType(x))) {
    Ops o{b};
    Value finite = b.create<NotOp>(b.create<OrOp>(o.math(x, MathKind::IsNaN),
                                                  o.math(x, MathKind::IsInf)));
    v = o.where(finite, x, b.scalar(NodeBinder::elementType(x), 0));
  }
  return b.cast(narrowValue(b, b.cast(v, i64), onnx), held);
}

Value mlc::castToOnnx(NodeBinder &b, Value x, int to, bool saturate, StringRef roundMode) {
  Type held = onnxElementType(b.builder.getContext(), to);
  if (!held)
    return b.error(std::string("cast to ") + onnxTypeName(to) + " is not supported"), nullptr;
  int from = b.narrowType(x);
  if (from == to)
    return x;
  if (from)
    x = decodeNarrow(b, x, from);
  Value out = narrow::bits(to) ? encodeNarrow(b, x, to, saturate, roundMode) : b.cast(x, held);
  // int4 -> int8 holds the same bytes, but the result is another tensor
  // (the input keeps its narrow type).
  if (out && from && out == x)
    out = b.create<IdentityOp>(x);
  return out;
}

bool mlc::isNarrowFloat(int onnx) { return floatFormat(onnx) || isE8M0(onnx); }
