//===- MlcDialect.cpp - dialect registration, verifiers, folders ---------===//
#include "dialects/MlcDialect.h"
#include "dialects/CurrentNode.h"

#include "mlir/IR/Action.h"
#include "mlir/IR/Builders.h"
#include "mlir/Rewrite/PatternApplicator.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/Matchers.h"

using namespace mlir;
using namespace mlc;

#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

#include "dialects/MlcDialect.cpp.inc"
#include "dialects/MlcEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/MlcAttrs.cpp.inc"

void MlcDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialects/MlcOps.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialects/MlcAttrs.cpp.inc"
      >();
}

LoweringConfigAttr mlc::getLoweringConfig(Operation *op) {
  return op->getAttrOfType<LoweringConfigAttr>(kLoweringConfigAttr);
}

void mlc::setLoweringConfig(Operation *op, ArrayRef<int64_t> distribution,
                            ArrayRef<int64_t> reduction, ArrayRef<int64_t> vector) {
  MLIRContext *ctx = op->getContext();
  LoweringConfigAttr old = getLoweringConfig(op);
  auto pick = [&](ArrayRef<int64_t> given, DenseI64ArrayAttr kept) {
    return given.empty() ? kept : DenseI64ArrayAttr::get(ctx, given);
  };
  op->setAttr(kLoweringConfigAttr,
              LoweringConfigAttr::get(ctx, pick(distribution, old ? old.getDistribution() : nullptr),
                                      pick(reduction, old ? old.getReduction() : nullptr),
                                      pick(vector, old ? old.getVector() : nullptr)));
}

#define GET_OP_CLASSES
#include "dialects/MlcOps.cpp.inc"

std::string mlc::nodeNameOf(Location loc) {
  if (auto named = dyn_cast<NameLoc>(loc))
    return named.getName().str();
  if (auto fused = dyn_cast<FusedLoc>(loc))
    for (Location inner : fused.getLocations())
      if (std::string n = nodeNameOf(inner); !n.empty())
        return n;
  return "";
}

std::string mlc::nodeOpTypeOf(Location loc) {
  if (auto named = dyn_cast<NameLoc>(loc)) {
    if (auto child = dyn_cast<NameLoc>(named.getChildLoc()))
      return child.getName().str();
    return "";
  }
  if (auto fused = dyn_cast<FusedLoc>(loc))
    for (Location inner : fused.getLocations())
      if (std::string t = nodeOpTypeOf(inner); !t.empty())
        return t;
  return "";
}

namespace {
/// The current node's location, as an opaque pointer (null: unknown).
thread_local const void *currentNodeLoc = nullptr;
} // namespace

mlc::CurrentNodeScope::CurrentNodeScope(Location loc) : previous(currentNodeLoc) {
  currentNodeLoc = loc.getAsOpaquePointer();
}

mlc::CurrentNodeScope::~CurrentNodeScope() { currentNodeLoc = previous; }

std::string mlc::describeCurrentNode() {
  if (!currentNodeLoc)
    return "";
  Location loc = Location::getFromOpaquePointer(currentNodeLoc);
  std::string name = nodeNameOf(loc);
  if (name.empty())
    return "";
  std::string type = nodeOpTypeOf(loc);
  return "node '" + name + "'" + (type.empty() ? "" : " (" + type + ")");
}

void mlc::trackCurrentNode(MLIRContext &ctx) {
  ctx.registerActionHandler([](function_ref<void()> transform, const tracing::Action &action) {
    Operation *op = nullptr;
    if (action.getTag() == ApplyPatternAction::tag)
      for (IRUnit unit : action.getContextIRUnits())
        if ((op = llvm::dyn_cast_if_present<Operation *>(unit)))
          break;
    if (!op || !isa<NameLoc, FusedLoc>(op->getLoc())) {
      transform();
      return;
    }
    CurrentNodeScope scope(op->getLoc());
    transform();
  });
}

// Verifiers check only what holds for ranked operands; types may still be
// unranked before shape propagation.
static bool hasRank(Value v, int64_t rank) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  return !t || t.getRank() == rank;
}

LogicalResult MatMulOp::verify() {
  for (Value v : {getA(), getB()})
    if (auto t = dyn_cast<RankedTensorType>(v.getType()); t && t.getRank() < 1)
      return emitOpError("operands must have rank >= 1");
  return success();
}

LogicalResult GemmOp::verify() {
  if (!hasRank(getA(), 2) || !hasRank(getB(), 2))
    return emitOpError("A and B must be 2-D");
  return success();
}

static LogicalResult verifyWindow(Operation *op, Value x, size_t spatial,
                                  ArrayRef<int64_t> strides,
                                  ArrayRef<int64_t> pads,
                                  ArrayRef<int64_t> dilations) {
  if (!hasRank(x, spatial + 2))
    return op->emitOpError("input rank must be ") << spatial + 2;
  if (strides.size() != spatial || pads.size() != 2 * spatial ||
      (!dilations.empty() && dilations.size() != spatial))
    return op->emitOpError("strides/pads/dilations do not match ")
           << spatial << " spatial dims";
  for (int64_t s : strides)
    if (s <= 0)
      return op->emitOpError("strides must be positive");
  for (int64_t p : pads)
    if (p < 0)
      return op->emitOpError("pads must be non-negative");
  return success();
}

LogicalResult ConvOp::verify() {
  size_t spatial = getStrides().size();
  if (spatial != 2)
    return emitOpError("only 2-D convolution is supported");
  if (getGroup() < 1)
    return emitOpError("group must be >= 1");
  if (!hasRank(getW(), 4))
    return emitOpError("weight must be 4-D");
  return verifyWindow(*this, getX(), spatial, getStrides(), getPads(),
                      getDilations());
}

LogicalResult MaxPoolOp::verify() {
  if (getKernel().size() != 2)
    return emitOpError("only 2-D pooling is supported");
  return verifyWindow(*this, getX(), 2, getStrides(), getPads(),
                      getDilations());
}

LogicalResult AveragePoolOp::verify() {
  if (getKernel().size() != 2)
    return emitOpError("only 2-D pooling is supported");
  return verifyWindow(*this, getX(), 2, getStrides(), getPads(), getDilations());
}

LogicalResult TransposeOp::verify() {
  SmallVector<bool> seen(getPerm().size(), false);
  for (int64_t p : getPerm()) {
    if (p < 0 || p >= (int64_t)seen.size() || seen[p])
      return emitOpError("perm is not a permutation");
    seen[p] = true;
  }
  if (!hasRank(getInput(), seen.size()))
    return emitOpError("perm size does not match input rank");
  return success();
}

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValue(); }

LogicalResult IfOp::verify() {
  for (Region *r : {&getThenRegion(), &getElseRegion()}) {
    auto yield = cast<YieldOp>(r->front().getTerminator());
    if (yield.getNumOperands() != getNumResults())
      return emitOpError("a branch yields ")
             << yield.getNumOperands() << " values for " << getNumResults() << " results";
  }
  return success();
}

LogicalResult LoopOp::verify() {
  Block &body = getBody().front();
  size_t carried = getCarried().size();
  if (body.getNumArguments() != carried + 2)
    return emitOpError("the body takes the iteration number, the condition and ")
           << carried << " carried values, not " << body.getNumArguments() << " arguments";
  auto yield = cast<YieldOp>(body.getTerminator());
  if (yield.getNumOperands() < carried + 1 ||
      getNumResults() != yield.getNumOperands() - 1)
    return emitOpError("the body yields ") << yield.getNumOperands()
           << " values; it must yield the condition, " << carried
           << " carried values and one element per scan output";
  return success();
}

std::optional<double> mlc::constantScalar(Value v) {
  DenseElementsAttr a;
  if (!matchPattern(v, m_Constant(&a)) || a.getNumElements() != 1)
    return std::nullopt;
  Type e = a.getElementType();
  if (isa<FloatType>(e))
    return (*a.getValues<APFloat>().begin()).convertToDouble();
  APInt i = *a.getValues<APInt>().begin();
  if (e.isInteger(1))
    return i.isZero() ? 0.0 : 1.0;
  return e.isUnsignedInteger() ? (double)i.getZExtValue() : (double)i.getSExtValue();
}

std::optional<bool> mlc::constantCondition(Value v) {
  if (auto n = constantScalar(v))
    return *n != 0;
  Operation *def = v.getDefiningOp();
  if (!def)
    return std::nullopt;
  if (isa<IdentityOp, ReshapeOp, SqueezeOp, UnsqueezeOp, FlattenOp>(def))
    return constantCondition(def->getOperand(0));
  if (isa<NotOp>(def)) {
    auto x = constantCondition(def->getOperand(0));
    return x ? std::optional<bool>(!*x) : std::nullopt;
  }
  if (isa<AndOp, OrOp, XorOp>(def)) {
    auto x = constantCondition(def->getOperand(0)), y = constantCondition(def->getOperand(1));
    if (!x || !y)
      return std::nullopt;
    return isa<AndOp>(def) ? (*x && *y) : isa<OrOp>(def) ? (*x || *y) : (*x != *y);
  }
  if (auto c = dyn_cast<CompareOp>(def)) {
    auto x = constantScalar(c.getLhs()), y = constantScalar(c.getRhs());
    if (!x || !y)
      return std::nullopt;
    StringRef p = c.getPredicate();
    if (p == "eq") return *x == *y;
    if (p == "ne") return *x != *y;
    if (p == "lt") return *x < *y;
    if (p == "le") return *x <= *y;
    if (p == "gt") return *x > *y;
    if (p == "ge") return *x >= *y;
  }
  return std::nullopt;
}
