//===- ControlFlow.cpp - If, Loop, Scan -----------------------------------===//
//
// Subgraphs become regions of mlc.if / mlc.loop (the importer imports
// them; their nodes read the enclosing graphs' values directly). An If whose
// condition is known at import (exporters test ranks and attributes this
// way) becomes the ops of the branch it takes: the other branch may not
// even be valid for these shapes. Scan is a Loop over its sequence axis.
//
//===----------------------------------------------------------------------===//
#include "compiler/import/NodeBinder.h"

#include "onnx/onnx_pb.h"
#include "llvm/Support/raw_ostream.h"

#include <limits>

using namespace mlir;
using namespace mlc;

namespace {

std::string typeText(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  t.print(os);
  return s;
}

/// A one-element tensor as a rank-0 one.
Value asScalar(NodeBinder &b, Value v) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  if (t && t.getRank() == 0)
    return v;
  return b.reshape(v, {});
}

bool isBool(Value v) { return NodeBinder::elementType(v).isInteger(1); }

LogicalResult ifOp(NodeBinder &b) {
  Value cond;
  if (b.tensors(cond))
    return failure();
  if (!isBool(cond))
    return b.error("the condition must be a bool tensor"), failure();
  if (std::optional<bool> known = constantCondition(cond)) {
    // Only the branch taken is imported, in place.
    if (!b.graph(*known ? "else_branch" : "then_branch"))
      return failure();
    SmallVector<Value> outs;
    if (b.subgraph(*known ? "then_branch" : "else_branch", {}, outs))
      return failure();
    b.setResults(outs);
    return success();
  }
  cond = asScalar(b, cond);
  int64_t n = b.numOutputs();
  SmallVector<Type> placeholders(n, UnrankedTensorType::get(b.builder.getF32Type()));
  auto op = b.builder.create<IfOp>(b.loc, placeholders, cond);
  for (auto [region, name] : {std::pair{&op.getThenRegion(), "then_branch"},
                              std::pair{&op.getElseRegion(), "else_branch"}}) {
    Block *block = new Block();
    region->push_back(block);
    OpBuilder::InsertionGuard guard(b.builder);
    b.builder.setInsertionPointToEnd(block);
    SmallVector<Value> outs;
    if (b.subgraph(name, {}, outs))
      return failure();
    if ((int64_t)outs.size() != n)
      return b.error(llvm::Twine(name) + " has " + llvm::Twine(outs.size()) +
                     " outputs; the node has " + llvm::Twine(n)),
             failure();
    b.builder.create<YieldOp>(b.loc, outs);
  }
  if (failed(inferShapes(op)))
    b.inferFailed = true;
  b.setResults(SmallVector<Value>(op.getResults()));
  return success();
}

/// Builds an mlc.loop. `prologue` runs first in the body (Scan takes its
/// elements there) and returns the subgraph's inputs after the loop's own
/// (iteration number, condition, carried); `yieldCond` says whether the
/// subgraph's first output is the next condition (Loop) or there is none
/// (Scan: always true). The carried values' types are widened until every
/// iteration agrees: a dim that changes between iterations is dynamic.
LoopOp buildLoop(NodeBinder &b, Value maxTrip, Value cond, ArrayRef<Value> carried,
                 StringRef graphName, bool yieldCond,
                 function_ref<SmallVector<Value>(ValueRange args)> prologue) {
  const onnx::GraphProto *g = b.graph(graphName);
  if (!g)
    return nullptr;
  size_t nc = carried.size();
  int64_t scans = b.numOutputs() - (int64_t)nc;
  if (scans < 0) {
    b.error("the node has fewer outputs than carried values");
    return nullptr;
  }
  Type i64 = b.builder.getI64Type(), i1 = b.builder.getI1Type();
  SmallVector<Type> argTypes = {RankedTensorType::get({}, i64), RankedTensorType::get({}, i1)};
  for (Value v : carried)
    argTypes.push_back(v.getType());
  SmallVector<Value> operands(carried.begin(), carried.end());
  SmallVector<Type> placeholders(b.numOutputs(), UnrankedTensorType::get(b.builder.getF32Type()));
  for (int attempt = 0;; ++attempt) {
    auto op = b.builder.create<LoopOp>(b.loc, placeholders, maxTrip, cond, operands);
    Block *block = new Block();
    op.getBody().push_back(block);
    for (Type t : argTypes)
      block->addArgument(t, b.loc);
    SmallVector<Value> outs;
    {
      OpBuilder::InsertionGuard guard(b.builder);
      b.builder.setInsertionPointToEnd(block);
      SmallVector<Value> inputs = prologue(block->getArguments());
      if (b.subgraph(graphName, inputs, outs)) {
        op.erase();
        return nullptr;
      }
      size_t expect = (yieldCond ? 1 : 0) + nc + scans;
      if (outs.size() != expect) {
        b.error(llvm::Twine(graphName) + " has " + llvm::Twine(outs.size()) +
                " outputs; " + llvm::Twine(expect) + " expected");
        op.erase();
        return nullptr;
      }
      if (yieldCond && !isBool(outs[0])) {
        b.error("the body's first output (the condition) must be a bool tensor");
        op.erase();
        return nullptr;
      }
      if (yieldCond)
        outs[0] = asScalar(b, outs[0]);
      else
        outs.insert(outs.begin(), b.constant(DenseElementsAttr::get(
                                      RankedTensorType::get({}, i1), true)));
      b.builder.create<YieldOp>(b.loc, outs);
    }
    bool stable = true;
    SmallVector<Type> widened(argTypes);
    for (size_t k = 0; k < nc; ++k) {
      Type t = joinTensorTypes(argTypes[k + 2], outs[k + 1].getType());
      if (!t) {
        b.error("carried value #" + llvm::Twine(k) + " is " +
                llvm::Twine(typeText(argTypes[k + 2])) + " before the loop and " +
                llvm::Twine(typeText(outs[k + 1].getType())) +
                " after an iteration: its element type and rank must stay");
        op.erase();
        return nullptr;
      }
      stable &= t == argTypes[k + 2];
      widened[k + 2] = t;
    }
    if (stable) {
      if (failed(inferShapes(op)))
        b.inferFailed = true;
      return op;
    }
    op.erase();
    argTypes = widened;
    if (attempt == 8) {
      b.error("the carried values' shapes do not settle");
      return nullptr;
    }
  }
}

LogicalResult loopOp(NodeBinder &b) {
  Value maxTrip, cond;
  if (b.optTensor(0, maxTrip) || b.optTensor(1, cond))
    return failure();
  SmallVector<Value> carried;
  for (size_t i = 2; i < b.numInputs(); ++i) {
    Value v;
    if (b.tensorAt(i, v))
      return failure();
    carried.push_back(v);
  }
  if (cond && !isBool(cond))
    return b.error("the condition must be a bool tensor"), failure();
  Type i64 = b.builder.getI64Type(), i1 = b.builder.getI1Type();
  maxTrip = maxTrip ? asScalar(b, b.cast(maxTrip, i64))
                    : b.constant(DenseElementsAttr::get(RankedTensorType::get({}, i64),
                                                        std::numeric_limits<int64_t>::max()));
  cond = cond ? asScalar(b, cond)
              : b.constant(DenseElementsAttr::get(RankedTensorType::get({}, i1), true));
  LoopOp op = buildLoop(b, maxTrip, cond, carried, "body", /*yieldCond=*/true,
                        [](ValueRange args) { return SmallVector<Value>(args); });
  if (!op)
    return failure();
  b.setResults(SmallVector<Value>(op.getResults()));
  return success();
}

/// Scan (opset 9+): a Loop over the scan inputs' sequence axis.
LogicalResult scanOp(NodeBinder &b) {
  int64_t numScanInputs;
  SmallVector<int64_t> inDirs, outDirs, inAxes, outAxes;
  if (b.attr("num_scan_inputs", numScanInputs) ||
      b.attr("scan_input_directions", inDirs, SmallVector<int64_t>()) ||
      b.attr("scan_output_directions", outDirs, SmallVector<int64_t>()) ||
      b.attr("scan_input_axes", inAxes, SmallVector<int64_t>()) ||
      b.attr("scan_output_axes", outAxes, SmallVector<int64_t>()))
    return failure();
  int64_t numInputs = b.numInputs(), states = numInputs - numScanInputs;
  if (numScanInputs < 1 || states < 0)
    return b.error("num_scan_inputs must be between 1 and the number of inputs"), failure();
  SmallVector<Value> all;
  for (int64_t i = 0; i < numInputs; ++i) {
    Value v;
    if (b.tensorAt(i, v))
      return failure();
    all.push_back(v);
  }
  ArrayRef<Value> carried = ArrayRef<Value>(all).take_front(states);
  ArrayRef<Value> scanned = ArrayRef<Value>(all).drop_front(states);
  inDirs.resize(numScanInputs, 0);
  inAxes.resize(numScanInputs, 0);
  for (int64_t j = 0; j < numScanInputs; ++j) {
    int64_t rank;
    if (b.rank(scanned[j], rank) || b.axis(inAxes[j], rank))
      return failure();
  }
  Value length = b.dim(scanned[0], inAxes[0]);
  Type i1 = b.builder.getI1Type();
  Value cond = b.constant(DenseElementsAttr::get(RankedTensorType::get({}, i1), true));
  LoopOp op = buildLoop(
      b, length, cond, carried, "body", /*yieldCond=*/false, [&](ValueRange args) {
        SmallVector<Value> inputs(args.drop_front(2));
        Value iter = args[0];
        for (int64_t j = 0; j < numScanInputs; ++j) {
          Value idx = iter;
          if (inDirs[j]) { // reverse: length - 1 - iter
            Value n = b.dim(scanned[j], inAxes[j]);
            idx = b.create<SubOp>(b.create<SubOp>(n, b.scalar(b.builder.getI64Type(), 1)), iter);
          }
          inputs.push_back(b.create<GatherOp>(scanned[j], idx,
                                              b.builder.getI64IntegerAttr(inAxes[j])));
        }
        return inputs;
      });
  if (!op)
    return failure();
  SmallVector<Value> results(op.getResults());
  int64_t outputs = results.size() - states;
  outDirs.resize(outputs, 0);
  outAxes.resize(outputs, 0);
  for (int64_t k = 0; k < outputs; ++k) {
    Value &r = results[states + k];
    int64_t rank, axis = outAxes[k];
    if (b.rank(r, rank) || b.axis(axis, rank))
      return failure();
    if (outDirs[k]) // stacked last to first
      r = b.create<SliceOp>(r, b.i64s({-1}), b.i64s({std::numeric_limits<int64_t>::min()}),
                            b.builder.getDenseI64ArrayAttr({0}),
                            b.builder.getDenseI64ArrayAttr({-1}));
    if (axis != 0) {
      SmallVector<int64_t> perm;
      for (int64_t d = 1; d <= axis; ++d)
        perm.push_back(d);
      perm.push_back(0);
      for (int64_t d = axis + 1; d < rank; ++d)
        perm.push_back(d);
      r = b.transpose(r, perm);
    }
  }
  b.setResults(results);
  return success();
}

} // namespace

void registerControlFlowConverters() {
  registerConverter("If", 1, ifOp);
  registerConverter("Loop", 1, loopOp);
  registerConverter("Scan", 9, scanOp);
}
