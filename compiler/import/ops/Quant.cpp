//===- Quant.cpp - converters: QuantizeLinear and the quantized ops ------===//
//
// Linear quantization maps real values to integers by a scale and a zero
// point: q = saturate(round(x / scale) + zero_point), x = (q - zero_point)
// * scale. Every op of the family is composed from mlc ops, following the
// ONNX reference implementation step by step (the order of roundings
// decides which integer a value lands on):
//   - Quantize divides in the promoted type of x and the scale (or the
//     `precision` type), rounds half to even, adds the zero point and
//     clamps to the target's range in floating point, then casts;
//   - Dequantize subtracts in f32 and multiplies by the scale in f32 (f64
//     for an f64 scale), then casts to the scale's type or `output_dtype`;
//   - the integer ops (MatMulInteger, ConvInteger) subtract zero points in
//     int32 and contract in int32; the QLinear ops requantize that int32
//     result with a_scale * b_scale / y_scale.
// Scales and zero points are per tensor (one element), per axis (1-D along
// `axis`) or blocked (same rank as x, each element covering `block_size`
// consecutive elements along `axis`).
//
//===----------------------------------------------------------------------===//
#include "compiler/import/NarrowTypes.h"
#include "compiler/import/NodeBinder.h"

#include "onnx/onnx_pb.h"

using namespace mlir;
using namespace mlc;

namespace {

/// The representable range of a `bits`-wide integer.
std::pair<double, double> integerRange(int bits, bool isSigned) {
  if (!isSigned)
    return {0.0, std::ldexp(1.0, bits) - 1};
  return {-std::ldexp(1.0, bits - 1), std::ldexp(1.0, bits - 1) - 1};
}

/// That of an integer type the quantizers produce, or of the narrow integer
/// type (int4, uint2, ...) `narrowTo` when given (`to` then holds it).
std::pair<double, double> integerRange(Type to, int narrowTo = 0) {
  if (narrowTo)
    return integerRange(narrow::bits(narrowTo), narrow::isSigned(narrowTo));
  return integerRange(to.getIntOrFloatBitWidth(), !to.isUnsignedInteger());
}

bool isQuantizedInteger(Type t) {
  return isa<IntegerType>(t) && !t.isInteger(1) && t.getIntOrFloatBitWidth() <= 16;
}

/// NumPy's promotion of x's and the scale's types for x / scale: the wider
/// float, or f64 for an integer x.
Type promote(Type x, Type s) {
  if (!isa<FloatType>(x))
    return Float64Type::get(x.getContext());
  return x.getIntOrFloatBitWidth() >= s.getIntOrFloatBitWidth() ? x : s;
}

/// `p` (a scale or zero point) shaped to broadcast against `x`: per tensor
/// as a scalar, per axis as [C, 1, ..., 1] from `axis` on, blocked with each
/// element repeated `block` times along `axis` and cut to x's dim. Null
/// after recording an error.
Value quantParam(NodeBinder &b, Value p, Value x, int64_t axis, int64_t block) {
  auto pt = dyn_cast<RankedTensorType>(p.getType());
  auto xt = dyn_cast<RankedTensorType>(x.getType());
  if (!pt || !xt)
    return b.error("the ranks of the input and its scale must be known"), nullptr;
  if (pt.getRank() == 0)
    return p;
  if (pt.hasStaticShape() && pt.getNumElements() == 1)
    return b.reshape(p, {});
  int64_t rank = xt.getRank();
  if (b.axis(axis, rank))
    return nullptr;
  if (block <= 0) {
    if (block < 0)
      return b.error("block_size must not be negative"), nullptr;
    if (pt.getRank() != 1)
      return b.error("a per-axis scale or zero point must be 1-D (or give block_size)"),
             nullptr;
    int64_t c = pt.getDimSize(0), d = xt.getDimSize(axis);
    if (c >= 0 && d >= 0 && c != d)
      return b.error("the scale has " + std::to_string(c) + " elements but the input has " +
                     std::to_string(d) + " along axis " + std::to_string(axis)),
             nullptr;
    SmallVector<int64_t> ones;
    for (int64_t i = 1; i < rank - axis; ++i)
      ones.push_back(i);
    return ones.empty() ? p : b.unsqueeze(p, ones);
  }
  if (pt.getRank() != rank)
    return b.error("a blocked scale or zero point must have the input's rank"), nullptr;
  int64_t d = xt.getDimSize(axis), blocks = pt.getDimSize(axis);
  if (d < 0)
    return b.error("blocked quantization needs a static dim along axis (give --shape)"),
           nullptr;
  if (blocks >= 0 && blocks != (d + block - 1) / block)
    return b.error("the blocked scale has " + std::to_string(blocks) +
                   " blocks along axis " + std::to_string(axis) + " where " +
                   std::to_string((d + block - 1) / block) + " cover the input"),
           nullptr;
  for (int64_t i = 0; i < rank; ++i)
    if (i != axis && pt.getDimSize(i) >= 0 && xt.getDimSize(i) >= 0 &&
        pt.getDimSize(i) != xt.getDimSize(i))
      return b.error("a blocked scale must match the input's shape outside axis"), nullptr;
  // element i along axis reads block i / block
  Type i64 = b.builder.getI64Type();
  Value idx = b.create<DivOp>(b.iota(b.dim(x, axis)), b.scalar(i64, double(block)));
  return b.create<GatherOp>(p, idx, b.builder.getI64IntegerAttr(axis));
}

/// round-half-even(q) + zero point, clamped to the range of `to` (or of
/// the narrow integer type `narrowTo` that `to` holds), cast to `to`. `q` is
/// a float tensor; `zp` (optional) is already broadcastable.
Value saturate(NodeBinder &b, Value q, Value zp, Type to, int narrowTo = 0) {
  Type ft = NodeBinder::elementType(q);
  if (ft.getIntOrFloatBitWidth() < 32)
    ft = b.builder.getF32Type();
  auto &B = b.builder;
  Value r = b.create<MathOp>(b.cast(q, ft), MathKindAttr::get(B.getContext(), MathKind::Round),
                             B.getF64FloatAttr(0), B.getF64FloatAttr(0));
  if (zp)
    r = b.create<AddOp>(r, b.cast(zp, ft));
  auto [lo, hi] = integerRange(to, narrowTo);
  r = b.create<ClipOp>(r, B.getF64FloatAttr(lo), B.getF64FloatAttr(hi));
  return b.cast(r, to);
}

/// The output type of a quantizer: the zero point's, else `output_dtype`,
/// else uint8.
Type quantizedType(NodeBinder &b, Value zp, int64_t outputDtype) {
  Type fromAttr = outputDtype ? onnxElementType(b.builder.getContext(), outputDtype) : Type();
  if (outputDtype && !fromAttr)
    return b.error(std::string("output_dtype ") + onnxTypeName(outputDtype) +
                   " is not supported"),
           nullptr;
  if (zp) {
    Type z = NodeBinder::elementType(zp);
    if (fromAttr && fromAttr != z)
      return b.error("output_dtype does not match the zero point's type"), nullptr;
    fromAttr = z;
  }
  Type t = fromAttr ? fromAttr : IntegerType::get(b.builder.getContext(), 8, IntegerType::Unsigned);
  if (!isQuantizedInteger(t))
    return b.error("quantizing to this type is not supported (8- and 16-bit integers are)"),
           nullptr;
  return t;
}

LogicalResult quantizeLinear(NodeBinder &b) {
  Value x, scale, zp;
  int64_t axis, block, outputDtype, precision;
  if (b.tensors(x, scale) || b.optTensor(2, zp) || b.attr("axis", axis, 1) ||
      b.attr("block_size", block, 0) || b.attr("output_dtype", outputDtype, 0) ||
      b.attr("precision", precision, 0))
    return failure();
  int64_t saturateFloat8;
  if (b.attr("saturate", saturateFloat8, 1))
    return failure();
  // A narrow target (float8, float4, int4, int2) comes from the zero
  // point's type or output_dtype.
  int narrowTo = zp ? b.narrowType(zp) : narrow::bits(outputDtype) ? int(outputDtype) : 0;
  if (outputDtype && (narrowTo || narrow::bits(outputDtype)) && outputDtype != narrowTo)
    return b.error("output_dtype does not match the zero point's type"), failure();
  Type to = narrowTo ? onnxElementType(b.builder.getContext(), narrowTo)
                     : quantizedType(b, zp, outputDtype);
  if (!to)
    return failure();
  Value s = quantParam(b, scale, x, axis, block);
  Value z = zp ? quantParam(b, zp, x, axis, block) : Value();
  if (!s || (zp && !z))
    return failure();
  Type calc = promote(NodeBinder::elementType(x), NodeBinder::elementType(s));
  if (precision) {
    calc = onnxElementType(b.builder.getContext(), precision);
    if (!calc || !isa<FloatType>(calc))
      return b.error("precision must be a float type"), failure();
  }
  Value q = b.create<DivOp>(b.cast(x, calc), b.cast(s, calc));
  if (narrowTo) {
    b.setNarrowResult(0, narrowTo);
    if (!isNarrowFloat(narrowTo)) {
      b.setResults({saturate(b, q, z, to, narrowTo)});
      return success();
    }
    // A float target rounds as Cast does; its zero point is a value too.
    if (z)
      q = b.create<AddOp>(b.cast(q, b.builder.getF32Type()), decodeNarrow(b, z, narrowTo));
    Value r = encodeNarrow(b, q, narrowTo, saturateFloat8, "up");
    if (!r)
      return failure();
    b.setResults({r});
    return success();
  }
  b.setResults({saturate(b, q, z, to)});
  return success();
}

/// (x - zero point) * scale in f32 (f64 for an f64 scale), unrounded.
Value dequantize(NodeBinder &b, Value x, Value s, Value z) {
  Type calc = NodeBinder::elementType(s).isF64() ? Type(b.builder.getF64Type())
                                                 : Type(b.builder.getF32Type());
  Value dx = b.cast(x, calc);
  if (z)
    dx = b.create<SubOp>(dx, b.cast(z, calc));
  return b.create<MulOp>(dx, b.cast(s, calc));
}

LogicalResult dequantizeLinear(NodeBinder &b) {
  Value x, scale, zp;
  int64_t axis, block, outputDtype;
  if (b.tensors(x, scale) || b.optTensor(2, zp) || b.attr("axis", axis, 1) ||
      b.attr("block_size", block, 0) || b.attr("output_dtype", outputDtype, 0))
    return failure();
  int narrowIn = b.narrowType(x);
  if (zp && b.narrowType(zp) != narrowIn)
    return b.error("the zero point's type differs from the input's"), failure();
  if (int t = narrowIn) {
    // float8/float4 codes become their values, narrow integers are held as
    // values already.
    x = decodeNarrow(b, x, t);
    if (zp)
      zp = decodeNarrow(b, zp, t);
  }
  Type xt = NodeBinder::elementType(x);
  if (!narrowIn &&
      (!isa<IntegerType>(xt) || xt.isInteger(1) || xt.getIntOrFloatBitWidth() > 32))
    return b.error("dequantizing this type is not supported (8-, 16- and 32-bit integers are)"),
           failure();
  if (zp && NodeBinder::elementType(zp) != xt)
    return b.error("the zero point's type differs from the input's"), failure();
  Type to = NodeBinder::elementType(scale);
  if (outputDtype && !(to = onnxElementType(b.builder.getContext(), outputDtype)))
    return b.error(std::string("output_dtype ") + onnxTypeName(outputDtype) +
                   " is not supported"),
           failure();
  if (!isa<FloatType>(to))
    return b.error("the output of DequantizeLinear must be a float type"), failure();
  Value s = quantParam(b, scale, x, axis, block);
  Value z = zp ? quantParam(b, zp, x, axis, block) : Value();
  if (!s || (zp && !z))
    return failure();
  b.setResults({b.cast(dequantize(b, x, s, z), to)});
  return success();
}

/// x, y_scale = (max(0, max x) - min(0, min x)) / 255 (1/255 if both are
/// 0), y_zero_point = round(clamp(-min / y_scale, 0, 255)), all uint8.
LogicalResult dynamicQuantizeLinear(NodeBinder &b) {
  Value x;
  int64_t rank;
  if (b.tensors(x) || b.rank(x, rank))
    return failure();
  Type elem = NodeBinder::elementType(x);
  if (!isa<FloatType>(elem))
    return b.error("the input must be a float tensor"), failure();
  auto &B = b.builder;
  SmallVector<int64_t> all;
  for (int64_t i = 0; i < rank; ++i)
    all.push_back(i);
  auto reduce = [&](const char *kind) -> Value {
    return b.create<ReduceOp>(x, Value(), B.getDenseI64ArrayAttr(all), B.getBoolAttr(false),
                              B.getStringAttr(kind), B.getBoolAttr(false));
  };
  Value zero = b.scalar(elem, 0);
  Value hi = b.create<MaxOp>(reduce("max"), zero);
  Value lo = b.create<MinOp>(reduce("min"), zero);
  Value range = b.create<SubOp>(hi, lo);
  Value same = b.create<CompareOp>(hi, lo, B.getStringAttr("eq"));
  range = b.create<WhereOp>(same, b.scalar(elem, 1), range);
  Value scale = b.create<DivOp>(range, b.scalar(elem, 255));
  Value zp = b.create<NegOp>(b.create<DivOp>(lo, scale));
  zp = b.create<ClipOp>(zp, B.getF64FloatAttr(0), B.getF64FloatAttr(255));
  zp = b.create<MathOp>(zp, MathKindAttr::get(B.getContext(), MathKind::Round),
                        B.getF64FloatAttr(0), B.getF64FloatAttr(0));
  Type u8 = IntegerType::get(B.getContext(), 8, IntegerType::Unsigned);
  Value y = saturate(b, b.create<DivOp>(x, scale), zp, u8);
  b.setResults({y, scale, b.cast(zp, u8)});
  return success();
}

/// v - zero point, in int32. A 1-D zero point applies along `axis` of v
/// (rows of MatMulInteger's A, output channels of a weight).
Value centred(NodeBinder &b, Value v, Value zp, int64_t axis) {
  Type i32 = b.builder.getI32Type();
  Value r = b.cast(v, i32);
  if (!zp)
    return r;
  Value z = quantParam(b, zp, v, axis, 0);
  return z ? b.create<SubOp>(r, b.cast(z, i32)).getResult() : Value();
}

bool checkZeroPoint(NodeBinder &b, Value v, Value zp) {
  if (zp && NodeBinder::elementType(zp) != NodeBinder::elementType(v))
    return b.error("a zero point's type differs from its input's");
  Type t = NodeBinder::elementType(v);
  if (!isa<IntegerType>(t) || t.getIntOrFloatBitWidth() != 8)
    return b.error("quantized inputs must be int8 or uint8");
  return false;
}

LogicalResult matMulInteger(NodeBinder &b) {
  Value a, w, azp, wzp;
  int64_t ra, rw;
  if (b.tensors(a, w) || b.optTensor(2, azp) || b.optTensor(3, wzp) || b.rank(a, ra) ||
      b.rank(w, rw) || checkZeroPoint(b, a, azp) || checkZeroPoint(b, w, wzp))
    return failure();
  if (ra < 2 || rw < 2)
    return b.error("MatMulInteger needs operands of rank >= 2"), failure();
  Value ca = centred(b, a, azp, ra - 2), cw = centred(b, w, wzp, rw - 1);
  if (!ca || !cw)
    return failure();
  b.setResults({b.create<MatMulOp>(ca, cw)});
  return success();
}

LogicalResult convInteger(NodeBinder &b) {
  Value x, w, xzp, wzp;
  if (b.tensors(x, w) || b.optTensor(2, xzp) || b.optTensor(3, wzp) ||
      checkZeroPoint(b, x, xzp) || checkZeroPoint(b, w, wzp))
    return failure();
  Value cx = centred(b, x, xzp, 0), cw = centred(b, w, wzp, 0);
  if (!cx || !cw)
    return failure();
  Value y = convolution(b, cx, cw, Value());
  if (!y)
    return failure();
  b.setResults({y});
  return success();
}

/// An int32 accumulator requantized: round(acc * (sa * sb / sy)) + y_zp,
/// clamped to y's type. `sb` may be per output channel (`channelAxis` of
/// acc).
Value requantize(NodeBinder &b, Value acc, Value sa, Value sb, Value sy, Value yzp,
                 Type to, int64_t channelAxis) {
  Value sbb = quantParam(b, sb, acc, channelAxis, 0);
  Value zb = yzp ? quantParam(b, yzp, acc, channelAxis, 0) : Value();
  Value sab = quantParam(b, sa, acc, channelAxis, 0), syb = quantParam(b, sy, acc, channelAxis, 0);
  if (!sbb || !sab || !syb || (yzp && !zb))
    return nullptr;
  Type st = NodeBinder::elementType(sab);
  Value m = b.create<DivOp>(b.create<MulOp>(sab, b.cast(sbb, st)), b.cast(syb, st));
  Type f64 = b.builder.getF64Type();
  Value q = b.create<MulOp>(b.cast(acc, f64), b.cast(m, f64));
  return saturate(b, q, zb, to);
}

LogicalResult qlinearMatMul(NodeBinder &b) {
  Value a, sa, azp, w, sw, wzp, sy, yzp;
  int64_t ra, rw;
  if (b.tensors(a, sa, azp, w, sw, wzp, sy, yzp) || b.rank(a, ra) || b.rank(w, rw) ||
      checkZeroPoint(b, a, azp) || checkZeroPoint(b, w, wzp))
    return failure();
  if (ra < 2 || rw < 2)
    return b.error("QLinearMatMul needs operands of rank >= 2"), failure();
  Type to = NodeBinder::elementType(yzp);
  if (!isQuantizedInteger(to) || to.getIntOrFloatBitWidth() != 8)
    return b.error("y_zero_point must be int8 or uint8"), failure();
  Value ca = centred(b, a, azp, ra - 2), cw = centred(b, w, wzp, rw - 1);
  if (!ca || !cw)
    return failure();
  Value acc = b.create<MatMulOp>(ca, cw);
  int64_t rank;
  if (b.rank(acc, rank))
    return failure();
  Value y = requantize(b, acc, sa, sw, sy, yzp, to, rank - 1);
  if (!y)
    return failure();
  b.setResults({y});
  return success();
}

LogicalResult qlinearConv(NodeBinder &b) {
  Value x, sx, xzp, w, sw, wzp, sy, yzp, bias;
  if (b.tensors(x, sx, xzp, w, sw, wzp, sy, yzp) || b.optTensor(8, bias) ||
      checkZeroPoint(b, x, xzp) || checkZeroPoint(b, w, wzp))
    return failure();
  Type to = NodeBinder::elementType(yzp);
  if (!isQuantizedInteger(to) || to.getIntOrFloatBitWidth() != 8)
    return b.error("y_zero_point must be int8 or uint8"), failure();
  Value cx = centred(b, x, xzp, 0), cw = centred(b, w, wzp, 0);
  if (!cx || !cw)
    return failure();
  if (bias && NodeBinder::elementType(bias) != b.builder.getI32Type())
    return b.error("the bias must be int32"), failure();
  Value acc = convolution(b, cx, cw, bias);
  if (!acc)
    return failure();
  Value y = requantize(b, acc, sx, sw, sy, yzp, to, 1);
  if (!y)
    return failure();
  b.setResults({y});
  return success();
}

} // namespace

void registerQuantConverters() {
  registerConverter("QuantizeLinear", 10, quantizeLinear);
  registerConverter("DequantizeLinear", 10, dequantizeLinear);
  registerConverter("DynamicQuantizeLinear", 11, dynamicQuantizeLinear);
  registerConverter("MatMulInteger", 10, matMulInteger);
  registerConverter("ConvInteger", 10, convInteger);
  registerConverter("QLinearMatMul", 10, qlinearMatMul);
  registerConverter("QLinearConv", 10, qlinearConv);
}
