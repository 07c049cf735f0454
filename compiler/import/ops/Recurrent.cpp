//===- Recurrent.cpp - converters: RNN, GRU, LSTM ------------------------===//
//
// A recurrent layer is unrolled over its time steps, which must be static
// (a model with a symbolic sequence length compiles with --shape). The
// input projection of every step is one MatMul up front, [T, B, I] x
// [I, G*H]; each step adds the recurrent projection of the previous state,
// [B, H] x [H, G*H], and applies the gates. Directions run independently
// (reverse walks the steps backwards and writes Y in time order).
// sequence_lens masks steps past a batch entry's length: its state stops
// changing and its Y rows are 0, as in the ONNX reference.
//
// Gate order in W, R and B follows ONNX: RNN (i), GRU (z, r, h), LSTM
// (i, o, f, c), with B = [Wb, Rb] and LSTM peepholes P = (i, o, f).
//
//===----------------------------------------------------------------------===//
#include "compiler/import/NodeBinder.h"

#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace mlc;

namespace {

enum class Cell { Rnn, Gru, Lstm };

constexpr int64_t kMaxSteps = 4096;

struct Activation {
  std::string name; // lower case
  double alpha = 0, beta = 0;
};

/// The activations of every direction (`perDir` each), with activation_alpha
/// and activation_beta consumed in order by the functions that take them.
bool parseActivations(NodeBinder &b, ArrayRef<const char *> defaults, int64_t dirs,
                      SmallVectorImpl<Activation> &out) {
  SmallVector<std::string> names;
  SmallVector<float> alphas, betas;
  if (b.has("activations") && b.attr("activations", names))
    return true;
  if (b.has("activation_alpha") && b.attr("activation_alpha", alphas))
    return true;
  if (b.has("activation_beta") && b.attr("activation_beta", betas))
    return true;
  size_t perDir = defaults.size();
  if (names.empty())
    for (int64_t d = 0; d < dirs; ++d)
      names.append(defaults.begin(), defaults.end());
  else if (names.size() == perDir && dirs == 2)
    names.append(SmallVector<std::string>(names));
  if (names.size() != perDir * dirs)
    return b.error("expected " + std::to_string(perDir * dirs) + " activations, got " +
                   std::to_string(names.size()));
  size_t ai = 0, bi = 0;
  for (const std::string &n : names) {
    Activation a;
    a.name = llvm::StringRef(n).lower();
    auto take = [](SmallVectorImpl<float> &v, size_t &i, double dflt) {
      return i < v.size() ? double(v[i++]) : dflt;
    };
    if (a.name == "leakyrelu")
      a.alpha = take(alphas, ai, 0.01);
    else if (a.name == "thresholdedrelu" || a.name == "elu")
      a.alpha = take(alphas, ai, 1.0);
    else if (a.name == "hardsigmoid") {
      a.alpha = take(alphas, ai, 0.2);
      a.beta = take(betas, bi, 0.5);
    } else if (a.name == "affine" || a.name == "scaledtanh") {
      a.alpha = take(alphas, ai, 1.0);
      a.beta = take(betas, bi, a.name == "affine" ? 0.0 : 1.0);
    } else if (a.name != "sigmoid" && a.name != "tanh" && a.name != "relu" &&
               a.name != "softsign" && a.name != "softplus") {
      return b.error("activation '" + n + "' is not supported");
    }
    out.push_back(a);
  }
  return false;
}

Value activate(NodeBinder &b, Value x, const Activation &a) {
  auto &B = b.builder;
  Type elem = NodeBinder::elementType(x);
  auto math = [&](MathKind k, double alpha) -> Value {
    return b.create<MathOp>(x, MathKindAttr::get(B.getContext(), k), B.getF64FloatAttr(alpha),
                            B.getF64FloatAttr(0));
  };
  const std::string &n = a.name;
  if (n == "sigmoid")
    return b.create<SigmoidOp>(x);
  if (n == "tanh")
    return b.create<TanhOp>(x);
  if (n == "relu")
    return b.create<ReluOp>(x);
  if (n == "hardsigmoid")
    return b.create<HardSigmoidOp>(x, B.getF64FloatAttr(a.alpha), B.getF64FloatAttr(a.beta));
  if (n == "leakyrelu")
    return math(MathKind::LeakyRelu, a.alpha);
  if (n == "thresholdedrelu")
    return math(MathKind::ThresholdedRelu, a.alpha);
  if (n == "elu")
    return math(MathKind::Elu, a.alpha);
  if (n == "softsign")
    return math(MathKind::Softsign, 0);
  if (n == "softplus")
    return math(MathKind::Softplus, 0);
  if (n == "affine")
    return b.create<AddOp>(b.create<MulOp>(x, b.scalar(elem, a.alpha)), b.scalar(elem, a.beta));
  // scaledtanh
  return b.create<MulOp>(b.create<TanhOp>(b.create<MulOp>(x, b.scalar(elem, a.beta))),
                         b.scalar(elem, a.alpha));
}

/// Row `i` of dim 0, dropped: v[i].
Value row(NodeBinder &b, Value v, int64_t i) { return b.squeeze(b.slice(v, 0, i, i + 1), {0}); }

Value concat(NodeBinder &b, ArrayRef<Value> vs, int64_t axis) {
  return b.create<ConcatOp>(vs, b.builder.getI64IntegerAttr(axis));
}

LogicalResult recurrent(NodeBinder &b, Cell cell) {
  Value x, w, r, bias, lens, h0, c0, peep;
  int64_t layout, hidden = 0, inputForget = 0, linearBeforeReset = 0;
  std::string direction;
  if (b.tensors(x, w, r) || b.optTensor(3, bias) || b.optTensor(4, lens) ||
      b.optTensor(5, h0) || b.attr("layout", layout, 0) ||
      b.attr("direction", direction, std::string("forward")))
    return failure();
  if (cell == Cell::Lstm &&
      (b.optTensor(6, c0) || b.optTensor(7, peep) || b.attr("input_forget", inputForget, 0)))
    return failure();
  if (cell == Cell::Gru && b.attr("linear_before_reset", linearBeforeReset, 0))
    return failure();
  if (b.has("hidden_size") && b.attr("hidden_size", hidden))
    return failure();
  b.ignore("output_sequence"); // opset 1: Y is always produced here
  float clip = 0;
  bool clipped = b.has("clip");
  if (clipped && b.attr("clip", clip))
    return failure();
  if (direction != "forward" && direction != "reverse" && direction != "bidirectional")
    return b.error("direction must be forward, reverse or bidirectional"), failure();
  int64_t dirs = direction == "bidirectional" ? 2 : 1;
  int gates = cell == Cell::Rnn ? 1 : cell == Cell::Gru ? 3 : 4;

  auto xt = dyn_cast<RankedTensorType>(x.getType());
  auto rt = dyn_cast<RankedTensorType>(r.getType());
  auto wt = dyn_cast<RankedTensorType>(w.getType());
  if (!xt || !rt || !wt || xt.getRank() != 3 || rt.getRank() != 3 || wt.getRank() != 3)
    return b.error("X, W and R must be 3-D"), failure();
  Type elem = xt.getElementType();
  if (!isa<FloatType>(elem))
    return b.error("X must be a float tensor"), failure();
  if (layout)
    x = b.transpose(x, {1, 0, 2});
  int64_t steps = xt.getDimSize(layout ? 1 : 0);
  if (steps < 0)
    return b.error("the sequence length must be static to unroll the steps (give --shape)"),
           failure();
  if (steps > kMaxSteps)
    return b.error("more than " + std::to_string(kMaxSteps) + " time steps"), failure();
  if (steps == 0)
    return b.error("the sequence is empty"), failure();
  if (!hidden)
    hidden = rt.getDimSize(2);
  if (hidden <= 0 || rt.getDimSize(2) != hidden || rt.getDimSize(1) != gates * hidden ||
      wt.getDimSize(1) != gates * hidden || rt.getDimSize(0) != dirs || wt.getDimSize(0) != dirs)
    return b.error("W and R must be [" + std::to_string(dirs) + ", " +
                   std::to_string(gates) + " * hidden_size, ...] for this direction"),
           failure();
  const int64_t H = hidden;
  // The optional inputs' shapes, where known: [dirs, ...] with these dims.
  auto shapedAs = [&](Value v, const char *name, ArrayRef<int64_t> dims) {
    auto t = v ? dyn_cast<RankedTensorType>(v.getType()) : RankedTensorType();
    if (!t)
      return false;
    bool ok = t.getRank() == (int64_t)dims.size();
    for (size_t i = 0; ok && i < dims.size(); ++i)
      ok = dims[i] < 0 || t.isDynamicDim(i) || t.getDimSize(i) == dims[i];
    if (!ok) {
      std::string want;
      for (int64_t d : dims)
        want += (want.empty() ? "" : ", ") + (d < 0 ? std::string("batch") : std::to_string(d));
      b.error(std::string(name) + " must be [" + want + "]");
    }
    return !ok;
  };
  if (shapedAs(bias, "B", {dirs, 2 * gates * H}) || shapedAs(h0, "initial_h", {dirs, -1, H}) ||
      shapedAs(c0, "initial_c", {dirs, -1, H}) || shapedAs(peep, "P", {dirs, 3 * H}))
    return failure();

  SmallVector<Activation> acts;
  SmallVector<const char *> defaults =
      cell == Cell::Rnn   ? SmallVector<const char *>{"Tanh"}
      : cell == Cell::Gru ? SmallVector<const char *>{"Sigmoid", "Tanh"}
                          : SmallVector<const char *>{"Sigmoid", "Tanh", "Tanh"};
  if (parseActivations(b, defaults, dirs, acts))
    return failure();

  auto &B = b.builder;
  auto clipTo = [&](Value v) -> Value {
    return clipped ? b.create<ClipOp>(v, B.getF64FloatAttr(-clip), B.getF64FloatAttr(clip))
                         .getResult()
                   : v;
  };
  auto gate = [&](Value v, int k) { return b.slice(v, 1, k * H, (k + 1) * H); };
  auto mm = [&](Value a, Value m) -> Value { return b.create<MatMulOp>(a, m); };
  // Zeros [batch, H] for a missing initial state.
  Value zeros;
  auto zeroState = [&]() {
    if (!zeros) {
      Value shape = concat(b, {b.unsqueeze(b.dim(x, 1), {0}), b.i64s({H})}, 0);
      zeros = b.create<ExpandOp>(b.scalar(elem, 0), shape);
    }
    return zeros;
  };
  // Per-step masks [batch, 1] from sequence_lens.
  SmallVector<Value> masks;
  if (lens) {
    Value l = b.unsqueeze(b.cast(lens, B.getI64Type()), {1});
    for (int64_t t = 0; t < steps; ++t)
      masks.push_back(b.create<CompareOp>(b.scalar(B.getI64Type(), double(t)), l,
                                          B.getStringAttr("lt")));
  }

  SmallVector<Value> ys, yhs, ycs;
  for (int64_t d = 0; d < dirs; ++d) {
    ArrayRef<Activation> act = ArrayRef<Activation>(acts).slice(d * defaults.size(),
                                                                 defaults.size());
    bool backward = direction == "reverse" || d == 1;
    Value wd = b.transpose(row(b, w, d), {1, 0}); // [I, G*H]
    Value rd = b.transpose(row(b, r, d), {1, 0}); // [H, G*H]
    Value xw = mm(x, wd);                         // [T, batch, G*H]
    Value rb;
    if (bias) {
      Value bd = row(b, bias, d);
      xw = b.create<AddOp>(xw, b.slice(bd, 0, 0, gates * H));
      rb = b.slice(bd, 0, gates * H, 2 * gates * H);
    }
    // GRU's h gate multiplies the state by r before (default) or after its
    // recurrent projection: z, r and h take separate projections.
    Value rzr, rh, rbzr, rbh;
    if (cell == Cell::Gru) {
      rzr = b.slice(rd, 1, 0, 2 * H);
      rh = b.slice(rd, 1, 2 * H, 3 * H);
      if (rb) {
        rbzr = b.slice(rb, 0, 0, 2 * H);
        rbh = b.slice(rb, 0, 2 * H, 3 * H);
      }
    }
    Value pi, po, pf;
    if (peep) {
      Value pd = row(b, peep, d);
      pi = b.slice(pd, 0, 0, H);
      po = b.slice(pd, 0, H, 2 * H);
      pf = b.slice(pd, 0, 2 * H, 3 * H);
    }
    Value h = h0 ? row(b, h0, d) : zeroState();
    Value c = cell == Cell::Lstm ? (c0 ? row(b, c0, d) : zeroState()) : Value();
    SmallVector<Value> outs(steps);
    for (int64_t i = 0; i < steps; ++i) {
      int64_t t = backward ? steps - 1 - i : i;
      Value xs = row(b, xw, t); // [batch, G*H]
      Value hn, cn;
      if (cell == Cell::Rnn) {
        Value pre = b.create<AddOp>(xs, mm(h, rd));
        if (rb)
          pre = b.create<AddOp>(pre, rb);
        hn = activate(b, clipTo(pre), act[0]);
      } else if (cell == Cell::Gru) {
        Value zr = b.create<AddOp>(b.slice(xs, 1, 0, 2 * H), mm(h, rzr));
        if (rbzr)
          zr = b.create<AddOp>(zr, rbzr);
        Value z = activate(b, clipTo(gate(zr, 0)), act[0]);
        Value rg = activate(b, clipTo(gate(zr, 1)), act[0]);
        Value rec;
        if (linearBeforeReset) {
          rec = mm(h, rh);
          if (rbh)
            rec = b.create<AddOp>(rec, rbh);
          rec = b.create<MulOp>(rg, rec);
        } else {
          rec = mm(b.create<MulOp>(rg, h), rh);
          if (rbh)
            rec = b.create<AddOp>(rec, rbh);
        }
        Value cand = activate(b, clipTo(b.create<AddOp>(gate(xs, 2), rec)), act[1]);
        // (1 - z) * cand + z * h = cand + z * (h - cand)
        hn = b.create<AddOp>(cand, b.create<MulOp>(z, b.create<SubOp>(h, cand)));
      } else {
        Value pre = b.create<AddOp>(xs, mm(h, rd));
        if (rb)
          pre = b.create<AddOp>(pre, rb);
        auto peephole = [&](Value g, Value p, Value state) -> Value {
          return p ? b.create<AddOp>(g, b.create<MulOp>(p, state)).getResult() : g;
        };
        Value ig = activate(b, clipTo(peephole(gate(pre, 0), pi, c)), act[0]);
        Value fg = inputForget ? b.create<SubOp>(b.scalar(elem, 1), ig).getResult()
                               : activate(b, clipTo(peephole(gate(pre, 2), pf, c)), act[0]);
        Value cand = activate(b, clipTo(gate(pre, 3)), act[1]);
        cn = b.create<AddOp>(b.create<MulOp>(fg, c), b.create<MulOp>(ig, cand));
        Value og = activate(b, clipTo(peephole(gate(pre, 1), po, cn)), act[0]);
        hn = b.create<MulOp>(og, activate(b, cn, act[2]));
      }
      if (lens) {
        outs[t] = b.create<WhereOp>(masks[t], hn, b.scalar(elem, 0));
        hn = b.create<WhereOp>(masks[t], hn, h);
        if (cn)
          cn = b.create<WhereOp>(masks[t], cn, c);
      } else {
        outs[t] = hn;
      }
      h = hn;
      c = cn;
    }
    SmallVector<Value> rows;
    for (Value o : outs)
      rows.push_back(b.unsqueeze(o, {0}));
    ys.push_back(b.unsqueeze(concat(b, rows, 0), {1})); // [T, 1, batch, H]
    yhs.push_back(b.unsqueeze(h, {0}));
    if (c)
      ycs.push_back(b.unsqueeze(c, {0}));
  }
  Value y = concat(b, ys, 1), yh = concat(b, yhs, 0);
  Value yc = ycs.empty() ? Value() : concat(b, ycs, 0);
  if (layout) {
    y = b.transpose(y, {2, 0, 1, 3});
    yh = b.transpose(yh, {1, 0, 2});
    if (yc)
      yc = b.transpose(yc, {1, 0, 2});
  }
  SmallVector<Value> results = {y, yh};
  if (yc)
    results.push_back(yc);
  b.setResults(results);
  return success();
}

LogicalResult rnn(NodeBinder &b) { return recurrent(b, Cell::Rnn); }
LogicalResult gru(NodeBinder &b) { return recurrent(b, Cell::Gru); }
LogicalResult lstm(NodeBinder &b) { return recurrent(b, Cell::Lstm); }

} // namespace

void registerRecurrentConverters() {
  registerConverter("RNN", 1, rnn);
  registerConverter("GRU", 1, gru);
  registerConverter("LSTM", 1, lstm);
}
