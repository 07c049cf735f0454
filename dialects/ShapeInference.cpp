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
        .Case<ReluOp, SigmoidOp, TanhOp, IdentityOp, SoftmaxOp, BatchNormOp>(
            [&](auto op) { return dimsOf(op->getOperand(0)); })
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
                                       op.getStrides(), op.getPads(), {},
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
          auto x = dimsOf(op.getInput());
          auto target = constInts(op.getShape());
          if (x && target) {
            SDims out;
            if (auto e = shape::reshape(s, *x, *target, op.getAllowzero(), out))
              return fail(e);
            return out;
          }
          // Rank known from the shape operand's length; sizes at run time.
          auto st = dyn_cast<RankedTensorType>(op.getShape().getType());
          if (st && st.hasStaticShape())
            return SDims(st.getDimSize(0), ShapedType::kDynamic);
          return std::nullopt;
        })
        .Case([&](TransposeOp op) -> std::optional<SDims> {
          auto x = dimsOf(op.getInput());
          if (!x)
            return std::nullopt;
          SDims out;
          for (int64_t p : op.getPerm())
            out.push_back((*x)[p]);
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
          return SDims{op.getEnd() - op.getStart()};
        })
        .Case([&](GatherOp op) -> std::optional<SDims> {
          auto d = dimsOf(op.getData()), i = dimsOf(op.getIndices());
          if (!d || !i)
            return std::nullopt;
          SDims out;
          shape::gather(s, *d, *i, op.getAxis(), out);
          return out;
        })
        .Case([&](UnsqueezeOp op) -> std::optional<SDims> {
          auto x = dimsOf(op.getInput());
          if (!x)
            return std::nullopt;
          SDims out;
          shape::unsqueeze(s, *x, op.getAxes(), out);
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
        .Default([](Operation *) { return std::nullopt; });
  }
};
} // namespace

static Type resultElementType(Operation *op) {
  if (isa<ShapeOp>(op))
    return IntegerType::get(op->getContext(), 64);
  if (auto c = dyn_cast<ConstantOp>(op))
    return c.getValue().getElementType();
  return elemOf(op->getOperand(0));
}

LogicalResult mlc::inferShapes(Operation *op) {
  Inferrer inf{op, {}, std::nullopt};
  std::optional<SDims> dims = inf.run();
  if (inf.error)
    return op->emitOpError() << inf.error->message;
  if (!dims)
    return success(); // not known yet; stays as it is
  for (int64_t d : *dims)
    if (d < 0 && d != ShapedType::kDynamic)
      return op->emitOpError() << "infers a negative dimension";
  Type elem = resultElementType(op);
  auto inferred = RankedTensorType::get(*dims, elem);
  Value result = op->getResult(0);
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
  return success();
}
