//===- Attention.cpp - converters: Attention (opset 23 onwards) ----------===//
//
// Attention as mlc ops, with the semantics of ONNX's reference and function
// body: 3-D inputs are split into heads; the past K/V are concatenated along
// the sequence (they are also the present outputs); Q and K are each scaled
// by sqrt(scale); the scores are soft-capped, then biased by the mask
// (bool: false masks), the causal and sliding-window frontiers (offset by
// the past length, or per batch by nonpad_kv_seqlen - q_len) and the key
// padding; softmax (in softmax_precision) with fully masked rows zeroed;
// times V. Grouped-query attention does not copy K/V per query head: Q's
// heads are folded into the rows of their K/V head's matmul instead.
//
//===----------------------------------------------------------------------===//
#include "compiler/import/NodeBinder.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlc;

namespace {

/// Small builders over one node's binder.
struct Ops {
  NodeBinder &b;
  OpBuilder &B;

  Value reshape(Value x, ArrayRef<int64_t> shape) { return b.reshape(x, shape); }
  Value transpose(Value x, ArrayRef<int64_t> perm) { return b.transpose(x, perm); }
  Value unsqueeze(Value x, ArrayRef<int64_t> axes) { return b.unsqueeze(x, axes); }
  Value compare(Value l, Value r, const char *pred) {
    return b.create<CompareOp>(l, r, B.getStringAttr(pred));
  }
  /// 0 where `allowed`, -inf elsewhere, in `elem`.
  Value additive(Value allowed, Type elem) {
    return b.create<WhereOp>(allowed, b.scalar(elem, 0),
                             b.scalar(elem, -std::numeric_limits<double>::infinity()));
  }
  /// (B, H, S, D) -> (B, G, H/G * S, D) and back: the rows of H/G query
  /// heads share one K/V head (G = kv heads).
  Value foldHeads(Value x, int64_t heads) { return reshape(x, {0, heads, -1, 0}); }
};

/// Dim `d` of `v`, or kDynamic where it is not known (also for an unranked
/// value, which an earlier op whose shape inference failed leaves behind).
int64_t staticDim(Value v, int64_t d) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  return t && d >= 0 && d < t.getRank() ? t.getDimSize(d) : ShapedType::kDynamic;
}

LogicalResult attention(NodeBinder &b) {
  Value q, k, v, mask, pastK, pastV, nonpad;
  int64_t causal, qHeads, kvHeads, mode, left, right, precision, rank;
  float softcap;
  if (b.tensors(q, k, v) || b.optTensor(3, mask) || b.optTensor(4, pastK) ||
      b.optTensor(5, pastV) || b.optTensor(6, nonpad) || b.attr("is_causal", causal, 0) ||
      b.attr("q_num_heads", qHeads, 0) || b.attr("kv_num_heads", kvHeads, 0) ||
      b.attr("qk_matmul_output_mode", mode, 0) || b.attr("softcap", softcap, 0.f) ||
      b.attr("left_window_size", left, -1) || b.attr("right_window_size", right, -1) ||
      b.attr("softmax_precision", precision, 0) || b.rank(q, rank))
    return failure();
  Ops o{b, b.builder};
  auto &B = b.builder;
  Type elem = cast<ShapedType>(q.getType()).getElementType();
  if (!isa<FloatType>(elem))
    return b.error("Q, K and V must be float tensors"), failure();
  int64_t kRank, vRank;
  if (b.rank(k, kRank) || b.rank(v, vRank))
    return failure();
  if ((rank != 3 && rank != 4) || kRank != rank || vRank != rank)
    return b.error("Q, K and V must all be 3-D or all 4-D"), failure();
  if (!pastK != !pastV)
    return b.error("past_key and past_value must be given together"), failure();
  if (nonpad && pastK)
    return b.error("nonpad_kv_seqlen cannot be combined with past_key/past_value"), failure();
  if (mode < 0 || mode > 3)
    return b.error("qk_matmul_output_mode must be 0, 1, 2 or 3"), failure();
  if (left < -1 || right < -1)
    return b.error("left_window_size and right_window_size must be -1 or >= 0"), failure();

  bool threeD = rank == 3;
  if (threeD) {
    if (qHeads <= 0 || kvHeads <= 0)
      return b.error("3-D inputs need q_num_heads and kv_num_heads"), failure();
    // (B, S, H*D) -> (B, H, S, D)
    auto heads = [&](Value x, int64_t n) {
      return o.transpose(o.reshape(x, {0, 0, n, -1}), {0, 2, 1, 3});
    };
    q = heads(q, qHeads);
    k = heads(k, kvHeads);
    v = heads(v, kvHeads);
  } else {
    if (qHeads || kvHeads)
      return b.error("q_num_heads and kv_num_heads are for 3-D inputs only"), failure();
    qHeads = staticDim(q, 1);
    kvHeads = staticDim(k, 1);
    if (ShapedType::isDynamic(qHeads) || ShapedType::isDynamic(kvHeads))
      return b.error("the head counts (dim 1 of Q and K) must be static"), failure();
    if (qHeads <= 0 || kvHeads <= 0)
      return b.error("the head counts (dim 1 of Q and K) must be > 0"), failure();
  }
  if (qHeads % kvHeads)
    return b.error("q heads must be a multiple of kv heads"), failure();
  if (pastK) {
    k = b.create<ConcatOp>(ValueRange{pastK, k}, B.getI64IntegerAttr(2));
    v = b.create<ConcatOp>(ValueRange{pastV, v}, B.getI64IntegerAttr(2));
  }
  Value presentK = k, presentV = v;

  float scale;
  if (b.has("scale")) {
    if (b.attr("scale", scale))
      return failure();
  } else {
    int64_t d = staticDim(q, 3);
    if (ShapedType::isDynamic(d) || d <= 0)
      return b.error("without a scale attribute, the head size must be static"), failure();
    scale = 1.0 / std::sqrt((double)d);
  }
  Value sqrtScale = b.scalar(elem, std::sqrt((double)scale));
  Value qs = b.create<MulOp>(q, sqrtScale);
  Value kt = o.transpose(b.create<MulOp>(k, sqrtScale), {0, 1, 3, 2});
  bool grouped = qHeads != kvHeads;
  Value scores = grouped ? o.foldHeads(b.create<MatMulOp>(o.foldHeads(qs, kvHeads), kt), qHeads)
                         : b.create<MatMulOp>(qs, kt).getResult();
  if (softcap > 0) {
    Value c = b.scalar(elem, softcap);
    scores = b.create<MulOp>(b.create<TanhOp>(b.create<DivOp>(scores, c)), c);
  }
  Value qkOut = scores; // modes 0 and 1

  // The additive bias, broadcastable to (B, H, S, L).
  Value bias;
  Value qLen = b.dim(q, 2), kvLen = b.dim(k, 2);
  if (mask) {
    int64_t mRank;
    if (b.rank(mask, mRank))
      return failure();
    Type maskElem = cast<ShapedType>(mask.getType()).getElementType();
    if (maskElem.isInteger(1))
      mask = o.additive(mask, elem);
    else if (!isa<FloatType>(maskElem))
      return b.error("attn_mask must be bool or float"), failure();
    else if (maskElem != elem)
      mask = b.create<CastOp>(mask, TypeAttr::get(elem));
    // A mask shorter than the keys is padded with -inf.
    int64_t m = staticDim(mask, mRank - 1), L = staticDim(k, 2);
    if (!ShapedType::isDynamic(m) && !ShapedType::isDynamic(L) && m < L)
      mask = b.create<PadOp>(mask, b.i64s({0, L - m}),
                             b.scalar(elem, -std::numeric_limits<double>::infinity()),
                             B.getDenseI64ArrayAttr({mRank - 1}),
                             PadModeAttr::get(B.getContext(), PadMode::Constant));
    bias = mask;
  }
  Value keys = b.iota(kvLen); // (L)
  if (causal || left >= 0 || right >= 0) {
    // Query i attends key j when (i + offset) - j is within the frontiers.
    Value offset;
    bool perBatch = false;
    if (pastK) {
      offset = b.dim(pastK, 2);
    } else if (nonpad) {
      Value n = b.create<CastOp>(nonpad, TypeAttr::get(B.getI64Type()));
      offset = o.unsqueeze(b.create<SubOp>(n, qLen), {1, 2}); // (B, 1, 1)
      perBatch = true;
    } else {
      offset = b.scalar(B.getI64Type(), 0);
    }
    Value pos = b.create<AddOp>(o.unsqueeze(b.iota(qLen), {1}), offset); // (S, 1)
    Value diff = b.create<SubOp>(pos, keys);                             // (S, L)
    Value allowed;
    auto both = [&](Value c) { allowed = allowed ? b.create<AndOp>(allowed, c).getResult() : c; };
    if (causal)
      both(o.compare(diff, b.scalar(B.getI64Type(), 0), "ge"));
    if (left >= 0)
      both(o.compare(diff, b.scalar(B.getI64Type(), left), "le"));
    if (right >= 0)
      both(o.compare(diff, b.scalar(B.getI64Type(), -right), "ge"));
    Value add = o.additive(allowed, elem);
    if (perBatch)
      add = o.unsqueeze(add, {1}); // (B, 1, S, L)
    bias = bias ? b.create<AddOp>(bias, add).getResult() : add;
  }
  if (nonpad) {
    Value n = b.create<CastOp>(nonpad, TypeAttr::get(B.getI64Type()));
    Value valid = o.compare(keys, o.unsqueeze(n, {1}), "lt"); // (B, L)
    Value add = o.unsqueeze(o.additive(valid, elem), {1, 2}); // (B, 1, 1, L)
    bias = bias ? b.create<AddOp>(bias, add).getResult() : add;
  }
  if (bias)
    scores = b.create<AddOp>(scores, bias);
  if (mode == 2)
    qkOut = scores;

  Type smElem = elem;
  if (precision) {
    smElem = onnxElementType(B.getContext(), precision);
    if (!smElem || !isa<FloatType>(smElem))
      return b.error("softmax_precision must name a float type"), failure();
  }
  Value p = b.cast(scores, smElem);
  p = b.create<SoftmaxOp>(p, B.getI64IntegerAttr(3), B.getBoolAttr(false), B.getBoolAttr(false));
  if (bias) {
    // A row with no attendable key gives 0, not NaN.
    int64_t bRank;
    if (b.rank(bias, bRank))
      return failure();
    Value rowMax = bRank == 0 ? bias // one bias for every score
                              : b.create<ReduceOp>(bias, Value(),
                                                   B.getDenseI64ArrayAttr({bRank - 1}),
                                                   B.getBoolAttr(true), B.getStringAttr("max"),
                                                   B.getBoolAttr(false))
                                    .getResult();
    Value dead = o.compare(rowMax, b.scalar(elem, -std::numeric_limits<double>::infinity()),
                           "eq");
    p = b.create<WhereOp>(dead, b.scalar(smElem, 0), p);
  }
  p = b.cast(p, elem);
  if (mode == 3)
    qkOut = p;
  Value y = grouped ? o.foldHeads(b.create<MatMulOp>(o.foldHeads(p, kvHeads), v), qHeads)
                    : b.create<MatMulOp>(p, v).getResult();
  if (threeD)
    y = o.reshape(o.transpose(y, {0, 2, 1, 3}), {0, 0, -1});
  b.setResults({y, presentK, presentV, qkOut});
  return success();
}

} // namespace

/// RotaryEmbedding (opset 23): x (B, H, S, D) or (B, S, H * D) rotated by
/// cos/sin caches (gathered by position_ids when given) over its first
/// rotary_embedding_dim channels, as halves or interleaved pairs.
LogicalResult rotaryEmbedding(NodeBinder &b) {
  Value x, cosC, sinC, pos;
  int64_t interleaved, rotDim, heads, rank;
  if (b.tensors(x, cosC, sinC) || b.optTensor(3, pos) || b.attr("interleaved", interleaved, 0) ||
      b.attr("rotary_embedding_dim", rotDim, 0) || b.attr("num_heads", heads, 0) ||
      b.rank(x, rank))
    return failure();
  if (rank != 3 && rank != 4)
    return b.error("the input must be 3-D or 4-D"), failure();
  if (rank == 3) {
    if (heads <= 0)
      return b.error("a 3-D input needs num_heads"), failure();
    x = b.reshape(x, {0, 0, heads, -1});
  } else {
    x = b.transpose(x, {0, 2, 1, 3}); // (B, S, H, D)
  }
  int64_t d = cast<RankedTensorType>(x.getType()).getDimSize(3);
  if (d < 0)
    return b.error("the head size must be static"), failure();
  int64_t r = rotDim ? rotDim : d;
  if (r > d || r % 2)
    return b.error("rotary_embedding_dim must be even and at most the head size"), failure();
  auto &B = b.builder;
  auto slice = [&](Value v, int64_t start, int64_t end, int64_t step) -> Value {
    return b.create<SliceOp>(v, b.i64s({start}), b.i64s({end}), B.getDenseI64ArrayAttr({3}),
                             B.getDenseI64ArrayAttr({step}));
  };
  if (pos) {
    cosC = b.create<GatherOp>(cosC, pos, B.getI64IntegerAttr(0));
    sinC = b.create<GatherOp>(sinC, pos, B.getI64IntegerAttr(0));
  }
  Value c = b.unsqueeze(cosC, {2}), s = b.unsqueeze(sinC, {2}); // (B, S, 1, R/2)
  Value rot = r < d ? slice(x, 0, r, 1) : x;
  Value x1 = interleaved ? slice(rot, 0, r, 2) : slice(rot, 0, r / 2, 1);
  Value x2 = interleaved ? slice(rot, 1, r, 2) : slice(rot, r / 2, r, 1);
  Value real = b.create<SubOp>(b.create<MulOp>(c, x1), b.create<MulOp>(s, x2));
  Value imag = b.create<AddOp>(b.create<MulOp>(s, x1), b.create<MulOp>(c, x2));
  Value y;
  if (interleaved)
    y = b.reshape(b.create<ConcatOp>(ValueRange{b.unsqueeze(real, {4}), b.unsqueeze(imag, {4})},
                                     B.getI64IntegerAttr(4)),
                  {0, 0, 0, r});
  else
    y = b.create<ConcatOp>(ValueRange{real, imag}, B.getI64IntegerAttr(3));
  if (r < d)
    y = b.create<ConcatOp>(ValueRange{y, slice(x, r, d, 1)}, B.getI64IntegerAttr(3));
  y = rank == 3 ? b.reshape(y, {0, 0, -1}) : b.transpose(y, {0, 2, 1, 3});
  b.setResults({y});
  return success();
}

void registerAttentionConverters() {
  registerConverter("Attention", 23, attention);
  registerConverter("RotaryEmbedding", 23, rotaryEmbedding);
}
