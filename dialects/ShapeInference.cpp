//===- ShapeInference.cpp - result types of mlc ops ----------------------===//
//
// Evaluates the shape rules of ShapeFns.h on static dims to refine result
// types. Unknown dims stay dynamic; unranked operands give unranked results.
//
//===----------------------------------------------------------------------===//
#include "dialects/MlcDialect.h"
#include "dialects/ShapeFns.h"

#include "mlir/IR/Matchers.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlc;
using shape::Dims;
using shape::StaticDims;
using SDims = Dims<StaticDims>;

static std::optional<SDims> dimsOf(Value v) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  if (!t)
    return std::nullopt;
  return SDims(t.getShape().begin(), t.getShape().end());
}

static Type elemOf(Value v) {
  return cast<ShapedType>(v.getType()).getElementType();
}

/// The integer contents of a constant operand, if it is one.
static std::optional<SmallVector<int64_t>> constInts(Value v) {
  DenseElementsAttr attr;
  if (!matchPattern(v, m_Constant(&attr)))
    return std::nullopt;
  if (!attr.getElementType().isInteger(64) &&
      !attr.getElementType().isInteger(32))
    return std::nullopt;
  SmallVector<int64_t> out;
  for (APInt i : attr.getValues<APInt>())
    out.push_back(i.getSExtValue());
  return out;
}


/// The elements of a small integer tensor as far as they are known at
/// compile time (kDynamic where not): follows the Shape -> Gather ->
/// Unsqueeze -> Concat chains exporters emit for reshape targets.
/// The most dims a shape operand may list (the runtime's maximum rank is 8;
/// intermediate tensors may have a few more).
constexpr int64_t kMaxRank = 64;

static std::optional<SmallVector<int64_t>> partialInts(Value v, int depth = 0) {
  constexpr int64_t kDyn = ShapedType::kDynamic;
  if (depth > 16)
    return std::nullopt;
  if (auto c = constInts(v))
    return c;
  Operation *op = v.getDefiningOp();
  if (!op)
    return std::nullopt;
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (auto s = dyn_cast<ShapeOp>(op)) {
    auto in = dyn_cast<RankedTensorType>(s.getInput().getType());
    if (!in)
      return std::nullopt;
    auto dims = in.getShape().slice(s.getStart(), s.getEnd() - s.getStart());
    return SmallVector<int64_t>(dims.begin(), dims.end());
  }
  if (isa<UnsqueezeOp, SqueezeOp, IdentityOp, CastOp, ReshapeOp, FlattenOp>(op)) {
    if (isa<CastOp>(op) && !isa<IntegerType>(type.getElementType()))
      return std::nullopt;
    return partialInts(op->getOperand(0), depth + 1);
  }
  if (auto c = dyn_cast<ConcatOp>(op)) {
    if (c.getAxis() != 0)
      return std::nullopt;
    SmallVector<int64_t> out;
    for (Value in : c.getInputs()) {
      auto p = partialInts(in, depth + 1);
      if (!p)
        return std::nullopt;
      out.append(*p);
    }
    return out;
  }
  if (auto g = dyn_cast<GatherOp>(op)) {
    auto data = partialInts(g.getData(), depth + 1);
    auto idx = constInts(g.getIndices());
    if (!data || !idx || g.getAxis() != 0)
      return std::nullopt;
    SmallVector<int64_t> out;
    for (int64_t i : *idx) {
      if (i < 0)
        i += data->size();
      if (i < 0 || i >= (int64_t)data->size())
        return std::nullopt;
      out.push_back((*data)[i]);
    }
    return out;
  }
  // A 1-D integer tensor of static length whose elements are not known.
  auto unknownElements = [&]() -> std::optional<SmallVector<int64_t>> {
    if (type && type.getRank() == 1 && type.hasStaticShape() &&
        isa<IntegerType>(type.getElementType()) && type.getDimSize(0) <= kMaxRank)
      return SmallVector<int64_t>(type.getDimSize(0), kDyn);
    return std::nullopt;
  };
  if (isa<AddOp, SubOp, MulOp, DivOp>(op)) {
    auto a = partialInts(op->getOperand(0), depth + 1),
         b = partialInts(op->getOperand(1), depth + 1);
    if (!a || !b || a->empty() || b->empty() ||
        (a->size() != b->size() && a->size() != 1 && b->size() != 1))
      return unknownElements();
    size_t n = std::max(a->size(), b->size());
    SmallVector<int64_t> out;
    for (size_t i = 0; i < n; ++i) {
      int64_t x = (*a)[a->size() == 1 ? 0 : i], y = (*b)[b->size() == 1 ? 0 : i], r = kDyn;
      // Unknown, or what no dim can be (overflow, x / 0, INT64_MIN / -1).
      bool unknown = x == kDyn || y == kDyn ||
                     (isa<AddOp>(op) && __builtin_add_overflow(x, y, &r)) ||
                     (isa<SubOp>(op) && __builtin_sub_overflow(x, y, &r)) ||
                     (isa<MulOp>(op) && __builtin_mul_overflow(x, y, &r)) ||
                     (isa<DivOp>(op) && (y == 0 || (y == -1 && x == INT64_MIN)));
      if (!unknown && isa<DivOp>(op))
        r = x / y;
      out.push_back(unknown ? kDyn : r);
    }
    return out;
  }
  return unknownElements();
}

/// Reshape with a target whose elements may be partly unknown.
static std::optional<SDims> reshapePartial(const SDims &x, ArrayRef<int64_t> t,
                                           bool allowZero) {
  constexpr int64_t kDyn = ShapedType::kDynamic;
  SDims out;
  int64_t known = 1;
  bool allKnown = true;
  int infer = -1;
  for (size_t i = 0; i < t.size(); ++i) {
    int64_t d = t[i];
    if (d == 0 && !allowZero)
      d = i < x.size() ? x[i] : kDyn;
    if (d == -1) {
      infer = i;
      out.push_back(kDyn);
      continue;
    }
    // A product that overflows is no real shape: leave the -1 unknown.
    if (d == kDyn || d < 0 || __builtin_mul_overflow(known, d, &known))
      allKnown = false;
    out.push_back(d < 0 ? kDyn : d);
  }
  if (infer >= 0 && allKnown && known > 0) {
    int64_t total = 1;
    for (int64_t d : x) {
      if (d == kDyn || __builtin_mul_overflow(total, d, &total)) {
        total = -1;
        break;
      }
    }
    if (total >= 0)
      out[infer] = total / known;
  }
  return out;
}

namespace {
/// Evaluates one op's shape rule. Returns the result dims, or nullopt when
/// the rank is not known yet.
struct Inferrer {
  Operation *op;
  StaticDims s;
  std::optional<shape::ShapeError> error;

  std::optional<SDims> fail(std::optional<shape::ShapeError> e) {
    error = e;
    return std::nullopt;
  }

  std::optional<SDims> run() {
    return llvm::TypeSwitch<Operation *, std::optional<SDims>>(op)
        .Case<AddOp, SubOp, MulOp, DivOp>([&](auto op) -> std::optional<SDims> {
          auto a = dimsOf(op.getLhs()), b = dimsOf(op.getRhs());
          if (!a || !b)
            return std::nullopt;
          SDims out;
          if (auto e = shape::broadcast<StaticDims>(s, {*a, *b}, out))
            return fail(e);
          return out;
        })
        .Case<ReluOp, SigmoidOp, TanhOp, IdentityOp, SoftmaxOp>(
            [&](auto op) { return dimsOf(op->getOperand(0)); })
        .Case([&](BatchNormOp op) -> std::optional<SDims> {
          auto x = dimsOf(op.getX());
          if (!x || x->size() < 2)
            return x ? fail(shape::ShapeError{"the input needs a channel dim"}) : x;
          // scale, bias, mean and var: one value per channel.
          for (Value stat : op->getOperands().drop_front()) {
            auto st = dyn_cast<RankedTensorType>(stat.getType());
            if (!st)
              continue;
            int64_t n = st.getRank() == 1 ? st.getDimSize(0) : -2;
            if (n == -2 || (!ShapedType::isDynamic(n) && !ShapedType::isDynamic((*x)[1]) &&
                            n != (*x)[1]))
              return fail(shape::ShapeError{"scale, bias, mean and var must each hold one value per "
                                     "channel (" + std::to_string((*x)[1]) + ")"});
          }
          return x;
        })
        .Case([&](MatMulOp op) -> std::optional<SDims> {
          auto a = dimsOf(op.getA()), b = dimsOf(op.getB());
          if (!a || !b)
            return std::nullopt;
          SDims out;
          if (auto e = shape::matmul(s, *a, *b, out))
            return fail(e);
          return out;
        })
        .Case([&](GemmOp op) -> std::optional<SDims> {
          auto a = dimsOf(op.getA()), b = dimsOf(op.getB());
          if (!a || !b)
            return std::nullopt;
          SDims out;
          if (auto e = shape::gemm(s, *a, *b, op.getTransA(), op.getTransB(),
                                   out))
            return fail(e);
          return out;
        })
        .Case([&](ConvOp op) -> std::optional<SDims> {
          auto x = dimsOf(op.getX()), w = dimsOf(op.getW());
          if (!x || !w)
            return std::nullopt;
          if (x->size() != 4 || w->size() != 4 || op.getGroup() <= 0 ||
              op.getStrides().size() != 2 || op.getPads().size() != 4 ||
              op.getDilations().size() != 2)
            return fail(shape::ShapeError{"a 2-D convolution needs 4-D input and weight, "
                                          "2 strides and dilations, 4 pads, group > 0"});
          auto c = s.known((*x)[1]);
          if (c && *c != (*w)[1] * op.getGroup())
            return fail(shape::ShapeError{
                "input has " + std::to_string(*c) + " channels but weight expects " +
                std::to_string((*w)[1] * op.getGroup())});
          SDims out;
          int64_t kernel[2] = {(*w)[2], (*w)[3]};
          if (auto e = shape::window2d(s, *x, (*w)[0], kernel, op.getStrides(),
                                       op.getPads(), op.getDilations(), false,
                                       out))
            return fail(e);
          return out;
        })
        .Case([&](MaxPoolOp op) -> std::optional<SDims> {
          auto x = dimsOf(op.getX());
          if (!x)
            return std::nullopt;
          SDims out;
          if (auto e = shape::window2d(s, *x, (*x)[1], op.getKernel(),
                                       op.getStrides(), op.getPads(),
                                       op.getDilations(), op.getCeilMode(),
                                       out))
            return fail(e);
          return out;
        })
        .Case([&](AveragePoolOp op) -> std::optional<SDims> {
          auto x = dimsOf(op.getX());
          if (!x)
            return std::nullopt;
          SDims out;
          if (auto e = shape::window2d(s, *x, (*x)[1], op.getKernel(),
                                       op.getStrides(), op.getPads(), op.getDilations(),
                                       op.getCeilMode(), out))
            return fail(e);
          return out;
        })
        .Case([&](GlobalAveragePoolOp op) -> std::optional<SDims> {
          auto x = dimsOf(op.getX());
          if (!x)
            return std::nullopt;
          SDims out(x->begin(), x->begin() + 2);
          out.append(x->size() - 2, 1);
          return out;
        })
        .Case([&](ConstantOp op) -> std::optional<SDims> {
          auto t = cast<ShapedType>(op.getValue().getType());
          return SDims(t.getShape().begin(), t.getShape().end());
        })
        .Case([&](FlattenOp op) -> std::optional<SDims> {
          auto x = dimsOf(op.getInput());
          if (!x)
            return std::nullopt;
          SDims out;
          shape::flatten(s, *x, op.getAxis(), out);
          return out;
        })
        .Case([&](ReshapeOp op) -> std::optional<SDims> {
          if (auto st = dyn_cast<RankedTensorType>(op.getShape().getType());
              st && st.getRank() != 1)
            return fail(shape::ShapeError{"the shape operand must be 1-D"});
          auto x = dimsOf(op.getInput());
          auto target = constInts(op.getShape());
          if (x && target) {
            SDims out;
            if (auto e = shape::reshape(s, *x, *target, op.getAllowzero(), out))
              return fail(e);
            return out;
          }
          if (auto partial = partialInts(op.getShape()); x && partial)
            return reshapePartial(*x, *partial, op.getAllowzero());
          // Rank known from the shape operand's length; sizes at run time.
          auto st = dyn_cast<RankedTensorType>(op.getShape().getType());
          if (st && st.hasStaticShape() && st.getDimSize(0) > kMaxRank)
            return fail(shape::ShapeError{"the shape operand lists too many dims"});
          if (st && st.hasStaticShape())
            return SDims(st.getDimSize(0), ShapedType::kDynamic);
          return std::nullopt;
        })
        .Case([&](TransposeOp op) -> std::optional<SDims> {
          auto x = dimsOf(op.getInput());
          if (!x)
            return std::nullopt;
          SDims out;
          SmallVector<bool> seen(x->size(), false);
          if (op.getPerm().size() != x->size())
            return fail(shape::ShapeError{"perm must list every axis once"});
          for (int64_t p : op.getPerm()) {
            if (p < 0 || p >= (int64_t)x->size() || seen[p])
              return fail(shape::ShapeError{"perm must list every axis once"});
            seen[p] = true;
            out.push_back((*x)[p]);
          }
          return out;
        })
        .Case([&](ConcatOp op) -> std::optional<SDims> {
          SmallVector<SDims> xs;
          for (Value v : op.getInputs()) {
            auto d = dimsOf(v);
            if (!d)
              return std::nullopt;
            xs.push_back(*d);
          }
          SDims out;
          if (auto e = shape::concat<StaticDims>(s, xs, op.getAxis(), out))
            return fail(e);
          return out;
        })
        .Case([&](ShapeOp op) -> std::optional<SDims> {
          auto x = dimsOf(op.getInput());
          if (!x)
            return std::nullopt;
          return SDims{int64_t(op.getEnd() - op.getStart())};
        })
        .Case([&](GatherElementsOp op) { return dimsOf(op.getIndices()); })
        .Case([&](TileOp op) -> std::optional<SDims> {
          auto x = dimsOf(op.getInput());
          if (!x)
            return std::nullopt;
          auto reps = partialInts(op.getRepeats());
          SDims out = *x;
          for (size_t d = 0; d < out.size(); ++d) {
            if (!reps || reps->size() != out.size() || (*reps)[d] == ShapedType::kDynamic ||
                out[d] == ShapedType::kDynamic)
              out[d] = ShapedType::kDynamic;
            else if ((*reps)[d] < 0)
              return fail(shape::ShapeError{"Tile repeats must not be negative"});
            else if (__builtin_mul_overflow(out[d], (*reps)[d], &out[d]))
              return fail(shape::ShapeError{"Tile's output dims overflow"});
          }
          return out;
        })
        .Case([&](ResizeOp op) -> std::optional<SDims> {
          auto x = dimsOf(op.getInput());
          if (!x)
            return std::nullopt;
          SDims out = *x;
          auto axes = op.getAxes();
          std::optional<SmallVector<int64_t>> sizes;
          DenseElementsAttr scales;
          if (op.getSizes())
            sizes = partialInts(op.getSizes());
          else if (op.getScales())
            matchPattern(op.getScales(), m_Constant(&scales));
          for (size_t k = 0; k < axes.size(); ++k) {
            if (axes[k] < 0 || axes[k] >= (int64_t)out.size())
              return fail(shape::ShapeError{"axis out of range"});
            int64_t &d = out[axes[k]];
            if (sizes && sizes->size() == axes.size()) {
              d = (*sizes)[k];
              if (d < 0 && d != ShapedType::kDynamic)
                return fail(shape::ShapeError{"sizes must be >= 0"});
            } else if (scales && isa<FloatType>(scales.getElementType()) &&
                       scales.getNumElements() == (int64_t)axes.size() &&
                       d != ShapedType::kDynamic) {
              double sc = scales.getValues<APFloat>()[k].convertToDouble();
              double r = std::floor(d * sc);
              if (!(r >= 0 && r < double(int64_t(1) << 48)))
                return fail(shape::ShapeError{"scales must be > 0 and give a sane size"});
              d = (int64_t)r;
            } else {
              d = ShapedType::kDynamic;
            }
          }
          return out;
        })
        .Case([&](PadOp op) -> std::optional<SDims> {
          auto x = dimsOf(op.getInput());
          if (!x)
            return std::nullopt;
          auto pads = partialInts(op.getPads());
          auto axes = op.getAxes();
          SDims out = *x;
          for (size_t k = 0; k < axes.size(); ++k) {
            if (axes[k] < 0 || axes[k] >= (int64_t)out.size())
              return fail(shape::ShapeError{"axis out of range"});
            int64_t &d = out[axes[k]];
            if (!pads || pads->size() != 2 * axes.size() || d == ShapedType::kDynamic ||
                (*pads)[k] == ShapedType::kDynamic ||
                (*pads)[k + axes.size()] == ShapedType::kDynamic) {
              d = ShapedType::kDynamic;
              continue;
            }
            if (__builtin_add_overflow(d, (*pads)[k], &d) ||
                __builtin_add_overflow(d, (*pads)[k + axes.size()], &d) ||
                d > (int64_t(1) << 48))
              return fail(shape::ShapeError{"pads give a dim beyond 2^48"});
            if (d < 0)
              return fail(shape::ShapeError{"pads make a dim negative"});
          }
          return out;
        })
        .Case([&](GatherOp op) -> std::optional<SDims> {
          auto d = dimsOf(op.getData()), i = dimsOf(op.getIndices());
          if (!d || !i)
            return std::nullopt;
          SDims out;
          if (auto e = shape::gather(s, *d, *i, op.getAxis(), out))
            return fail(e);
          return out;
        })
        .Case([&](ScatterNDOp op) { return dimsOf(op.getData()); })
        .Case([&](GridSampleOp op) -> std::optional<SDims> {
          auto x = dimsOf(op.getInput()), g = dimsOf(op.getGrid());
          if (!x || !g)
            return std::nullopt;
          if (x->size() < 3 || g->size() != x->size() ||
              (g->back() >= 0 && g->back() != (int64_t)x->size() - 2))
            return fail(shape::ShapeError{"the grid must be [N, out..., spatial rank] for an "
                                          "input [N, C, spatial...]"});
          SDims out = {(*x)[0], (*x)[1]};
          out.append(g->begin() + 1, g->end() - 1);
          return out;
        })
        .Case([&](SliceDynamicOp op) -> std::optional<SDims> {
          auto x = dimsOf(op.getInput());
          if (!x)
            return std::nullopt;
          return SDims(x->size(), ShapedType::kDynamic);
        })
        .Case([&](NonMaxSuppressionOp) -> std::optional<SDims> {
          return SDims{ShapedType::kDynamic, 3};
        })
        .Case([&](NonZeroOp op) -> std::optional<SDims> {
          auto x = dimsOf(op.getInput());
          if (!x)
            return std::nullopt;
          return SDims{int64_t(x->size()), ShapedType::kDynamic};
        })
        .Case([&](TopKOp op) -> std::optional<SDims> {
          auto x = dimsOf(op.getInput());
          if (!x)
            return std::nullopt;
          int64_t axis = op.getAxis(), k = ShapedType::kDynamic;
          if (axis < 0 || axis >= (int64_t)x->size())
            return fail(shape::ShapeError{"axis out of range"});
          if (auto ks = partialInts(op.getK()); ks && ks->size() == 1 && (*ks)[0] >= 0)
            k = (*ks)[0];
          else if (ks && ks->size() == 1 && (*ks)[0] != ShapedType::kDynamic)
            return fail(shape::ShapeError{"k is negative"});
          if (k >= 0 && (*x)[axis] >= 0 && k > (*x)[axis])
            return fail(shape::ShapeError{"k is larger than the axis"});
          SDims out = *x;
          out[axis] = k;
          return out;
        })
        .Case([&](ScatterElementsOp op) { return dimsOf(op.getData()); })
        .Case([&](GatherNDOp op) -> std::optional<SDims> {
          auto d = dimsOf(op.getData()), i = dimsOf(op.getIndices());
          if (!d || !i)
            return std::nullopt;
          SDims out;
          if (auto e = shape::gatherND(s, *d, *i, op.getBatchDims(), out))
            return fail(e);
          return out;
        })
        .Case([&](UnsqueezeOp op) -> std::optional<SDims> {
          auto x = dimsOf(op.getInput());
          if (!x)
            return std::nullopt;
          SDims out;
          if (auto e = shape::unsqueeze(s, *x, op.getAxes(), out))
            return fail(e);
          return out;
        })
        .Case([&](SqueezeOp op) -> std::optional<SDims> {
          auto x = dimsOf(op.getInput());
          if (!x)
            return std::nullopt;
          SDims out;
          if (auto e = shape::squeeze(s, *x, op.getAxes(), out))
            return fail(e);
          return out;
        })
        .Case<TriluOp, CumSumOp>([&](auto op) { return dimsOf(op->getOperand(0)); })
        .Case<SqrtOp, ErfOp, ExpOp, LogOp, NegOp, AbsOp, ReciprocalOp, NotOp,
              HardSwishOp, ClipOp, HardSigmoidOp, CastOp, BitCastOp, LayerNormOp, MathOp>(
            [&](auto op) { return dimsOf(op->getOperand(0)); })
        .Case<PowOp, MaxOp, MinOp, AndOp, OrOp, XorOp, ModOp, FModOp, PReluOp, ShlOp,
              ShrOp, CompareOp, WhereOp>(
            [&](Operation *op) -> std::optional<SDims> {
              SmallVector<SDims> shapes;
              for (Value v : op->getOperands()) {
                auto d = dimsOf(v);
                if (!d)
                  return std::nullopt;
                shapes.push_back(*d);
              }
              SDims out;
              if (auto e = shape::broadcast<StaticDims>(s, shapes, out))
                return fail(e);
              return out;
            })
        .Case([&](ArgReduceOp op) -> std::optional<SDims> {
          auto x = dimsOf(op.getInput());
          if (!x)
            return std::nullopt;
          SDims out;
          shape::reduce(s, *x, {int64_t(op.getAxis())}, op.getKeepdims(), out);
          return out;
        })
        .Case([&](ReduceOp op) -> std::optional<SDims> {
          auto x = dimsOf(op.getInput());
          if (!x)
            return std::nullopt;
          SDims out;
          if (Value ax = op.getAxesInput()) {
            if (op.getKeepdims()) {
              for (int64_t d : *x)
                out.push_back(d == 1 ? 1 : ShapedType::kDynamic);
              return out;
            }
            auto at = dyn_cast<RankedTensorType>(ax.getType());
            if (!at || at.getRank() != 1 || at.isDynamicDim(0) || at.getDimSize(0) == 0 ||
                at.getDimSize(0) > (int64_t)x->size())
              return std::nullopt;
            return SDims(x->size() - at.getDimSize(0), ShapedType::kDynamic);
          }
          shape::reduce(s, *x, op.getAxes(), op.getKeepdims(), out);
          return out;
        })
        .Case([&](SliceOp op) -> std::optional<SDims> {
          auto x = dimsOf(op.getInput());
          if (!x)
            return std::nullopt;
          SDims out = *x;
          auto starts = constInts(op.getStarts()), ends = constInts(op.getEnds());
          size_t n = op.getAxes().size();
          if (op.getSteps().size() != n || (starts && starts->size() != n) ||
              (ends && ends->size() != n))
            return fail(shape::ShapeError{"starts, ends, axes and steps differ in length"});
          for (size_t i = 0; i < n; ++i)
            if (op.getAxes()[i] < 0 || op.getAxes()[i] >= (int64_t)x->size() ||
                op.getSteps()[i] == 0)
              return fail(shape::ShapeError{"axis " + std::to_string(op.getAxes()[i]) +
                                            " with step " + std::to_string(op.getSteps()[i]) +
                                            " does not slice a rank-" +
                                            std::to_string(x->size()) + " tensor"});
          for (size_t i = 0; i < n; ++i) {
            int64_t axis = op.getAxes()[i], step = op.getSteps()[i];
            int64_t dim = (*x)[axis];
            if (!starts || !ends || dim == ShapedType::kDynamic) {
              out[axis] = ShapedType::kDynamic;
              continue;
            }
            int64_t b = (*starts)[i], e = (*ends)[i];
            if (b < 0)
              b += dim;
            if (e < 0)
              e += dim;
            if (step < 0) { // runs from b down to e (exclusive)
              b = std::clamp<int64_t>(b, 0, dim - 1);
              e = std::clamp<int64_t>(e, -1, dim - 1);
              out[axis] = b > e ? (b - e - step - 1) / -step : 0;
              continue;
            }
            b = std::clamp<int64_t>(b, 0, dim);
            e = std::clamp<int64_t>(e, 0, dim);
            out[axis] = e > b ? (e - b + step - 1) / step : 0;
          }
          return out;
        })
        .Case([&](ExpandOp op) -> std::optional<SDims> {
          if (auto st = dyn_cast<RankedTensorType>(op.getShape().getType());
              st && st.getRank() != 1)
            return fail(shape::ShapeError{"the shape operand must be 1-D, it has rank " +
                                   std::to_string(st.getRank())});
          auto x = dimsOf(op.getInput());
          auto target = partialInts(op.getShape());
          if (!x)
            return std::nullopt;
          if (!target) {
            auto st = dyn_cast<RankedTensorType>(op.getShape().getType());
            if (!st || !st.hasStaticShape())
              return std::nullopt;
            if (st.getDimSize(0) > kMaxRank)
              return fail(shape::ShapeError{"the shape operand lists too many dims"});
            SDims t(st.getDimSize(0), ShapedType::kDynamic);
            SDims out;
            if (auto e = shape::broadcast<StaticDims>(s, {*x, t}, out))
              return fail(e);
            return SDims(std::max<size_t>(x->size(), t.size()), ShapedType::kDynamic);
          }
          SDims t(target->begin(), target->end()), out;
          if (auto e = shape::broadcast<StaticDims>(s, {*x, t}, out))
            return fail(e);
          return out;
        })
        .Case([&](RangeOp op) -> std::optional<SDims> {
          auto a = constantScalar(op.getStart()), b = constantScalar(op.getLimit()),
               c = constantScalar(op.getDelta());
          if (c && *c == 0)
            return fail(shape::ShapeError{"delta is 0, so the range never ends"});
          if (a && b && c) {
            double n = std::ceil((*b - *a) / *c);
            if (!(n < double(int64_t(1) << 48)))
              return fail(shape::ShapeError{"the range has more than 2^48 elements"});
            return SDims{std::max<int64_t>(0, (int64_t)n)};
          }
          return SDims{ShapedType::kDynamic};
        })
        .Default([](Operation *) { return std::nullopt; });
  }
};
} // namespace

static Type resultElementType(Operation *op, unsigned result) {
  if (isa<ShapeOp, ArgReduceOp, NonZeroOp, NonMaxSuppressionOp>(op) ||
      (isa<TopKOp>(op) && result == 1))
    return IntegerType::get(op->getContext(), 64);
  if (isa<CompareOp>(op))
    return IntegerType::get(op->getContext(), 1);
  if (auto m = dyn_cast<MathOp>(op))
    if (m.getKind() == MathKind::IsNaN || m.getKind() == MathKind::IsInf)
      return IntegerType::get(op->getContext(), 1);
  if (auto c = dyn_cast<CastOp>(op))
    return c.getTo();
  if (auto c = dyn_cast<BitCastOp>(op))
    return c.getTo();
  if (isa<WhereOp>(op))
    return elemOf(op->getOperand(1));
  if (auto c = dyn_cast<ConstantOp>(op))
    return c.getValue().getElementType();
  return elemOf(op->getOperand(0));
}

Type mlc::joinTensorTypes(Type a, Type b) {
  if (a == b)
    return a;
  auto x = dyn_cast<RankedTensorType>(a), y = dyn_cast<RankedTensorType>(b);
  if (!x || !y || x.getElementType() != y.getElementType() || x.getRank() != y.getRank())
    return nullptr;
  SmallVector<int64_t> dims;
  for (auto [p, q] : llvm::zip(x.getShape(), y.getShape()))
    dims.push_back(p == q ? p : ShapedType::kDynamic);
  return RankedTensorType::get(dims, x.getElementType());
}

/// If: each result joins what the two branches yield. Loop: the carried
/// results have their body argument's type; a scan output stacks its
/// element type along a leading dim of run-time size.
static LogicalResult inferRegionOp(Operation *op) {
  if (auto ifOp = dyn_cast<IfOp>(op)) {
    auto a = cast<YieldOp>(ifOp.getThenRegion().front().getTerminator());
    auto b = cast<YieldOp>(ifOp.getElseRegion().front().getTerminator());
    for (auto [i, r] : llvm::enumerate(ifOp.getResults())) {
      Type t = joinTensorTypes(a.getOperand(i).getType(), b.getOperand(i).getType());
      if (!t)
        return op->emitOpError() << "the branches yield " << a.getOperand(i).getType()
                                 << " and " << b.getOperand(i).getType() << " for result #"
                                 << i << ": the element types and ranks must agree";
      r.setType(t);
    }
    return success();
  }
  auto loop = cast<LoopOp>(op);
  Block &body = loop.getBody().front();
  auto yield = cast<YieldOp>(body.getTerminator());
  size_t carried = loop.getCarried().size();
  for (auto [i, r] : llvm::enumerate(loop.getResults())) {
    if (i < carried) {
      r.setType(body.getArgument(i + 2).getType());
      continue;
    }
    auto elem = dyn_cast<RankedTensorType>(yield.getOperand(i + 1).getType());
    if (!elem)
      continue;
    SmallVector<int64_t> dims = {ShapedType::kDynamic};
    llvm::append_range(dims, elem.getShape());
    r.setType(RankedTensorType::get(dims, elem.getElementType()));
  }
  return success();
}

LogicalResult mlc::inferShapes(Operation *op) {
  if (isa<IfOp, LoopOp>(op))
    return inferRegionOp(op);
  if (isa<YieldOp>(op))
    return success();
  Inferrer inf{op, {}, std::nullopt};
  std::optional<SDims> dims = inf.run();
  if (inf.error)
    return op->emitOpError() << inf.error->message;
  if (!dims)
    return success(); // not known yet; stays as it is
  for (int64_t d : *dims)
    if (d < 0 && d != ShapedType::kDynamic)
      return op->emitOpError() << "infers a negative dimension";
  // Every result has the same dims (TopK's values and indices).
  for (OpResult result : op->getResults()) {
    Type elem = resultElementType(op, result.getResultNumber());
    auto inferred = RankedTensorType::get(*dims, elem);
    // Keep static facts the importer already knew (ONNX value_info).
    if (auto old = dyn_cast<RankedTensorType>(result.getType())) {
      if (old.getRank() != inferred.getRank())
        return op->emitOpError() << "inferred type " << inferred
                                 << " contradicts declared " << old;
      SmallVector<int64_t> merged;
      for (auto [a, b] : llvm::zip(old.getShape(), inferred.getShape())) {
        if (a >= 0 && b >= 0 && a != b)
          return op->emitOpError() << "inferred type " << inferred
                                   << " contradicts declared " << old;
        merged.push_back(b >= 0 ? b : a);
      }
      inferred = RankedTensorType::get(merged, elem);
    }
    result.setType(inferred);
  }
  return success();
}
