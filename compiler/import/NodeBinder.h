//===- NodeBinder.h - one ONNX node's operands and attributes --*- C++ -*-===//
//
// A converter pulls operands and attributes through a binder in one chain:
//   if (b.tensors(x, w) || b.attr("pads", pads)) return failure();
// Every binder call returns true on failure after recording why. Attributes
// a converter never asked for are reported as unsupported afterwards.
//
//===----------------------------------------------------------------------===//
#ifndef MLC_COMPILER_IMPORT_NODEBINDER_H
#define MLC_COMPILER_IMPORT_NODEBINDER_H

#include "dialects/MlcDialect.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringSet.h"

#include <string>
#include <vector>

namespace onnx {
class GraphProto;
class NodeProto;
class AttributeProto;
class TensorProto;
} // namespace onnx

namespace mlc {

/// Imports a subgraph (an If branch, a Loop body) into a block; the
/// importer implements it.
class SubgraphImporter {
public:
  virtual ~SubgraphImporter() = default;
  /// Imports `g`'s nodes at the builder's insertion point, with `inputs`
  /// standing for `g`'s inputs in order; names of enclosing graphs are read
  /// directly. Sets `outs` to `g`'s outputs, or `err` and returns false.
  virtual bool importInto(const onnx::GraphProto &g, mlir::ValueRange inputs,
                          llvm::SmallVectorImpl<mlir::Value> &outs, std::string &err) = 0;
};

class NodeBinder {
public:
  NodeBinder(mlir::OpBuilder &b, mlir::Location loc,
             const onnx::NodeProto &node, int64_t opset,
             llvm::ArrayRef<mlir::Value> inputs)
      : builder(b), loc(loc), node(node), opset(opset), inputs(inputs) {}

  mlir::OpBuilder &builder;
  mlir::Location loc;
  const onnx::NodeProto &node;
  const int64_t opset;

  // --- operands -----------------------------------------------------------
  size_t numInputs() const { return inputs.size(); }
  int64_t numOutputs() const;
  /// Binds required inputs in order.
  template <typename... Vs> bool tensors(Vs &...vs) {
    size_t i = 0;
    return (tensorAt(i++, vs) || ...);
  }
  bool tensorAt(size_t idx, mlir::Value &v);
  /// An optional input: null when absent or given as "".
  bool optTensor(size_t idx, mlir::Value &v);
  /// The integer contents of a constant input (e.g. Reshape's shape).
  bool constInts(size_t idx, llvm::SmallVectorImpl<int64_t> &out);

  // --- attributes ---------------------------------------------------------
  bool attr(llvm::StringRef name, int64_t &out);
  bool attr(llvm::StringRef name, float &out);
  bool attr(llvm::StringRef name, std::string &out);
  bool attr(llvm::StringRef name, llvm::SmallVectorImpl<int64_t> &out);
  bool attr(llvm::StringRef name, llvm::SmallVectorImpl<float> &out);
  bool attr(llvm::StringRef name, llvm::SmallVectorImpl<std::string> &out);
  bool attr(llvm::StringRef name, mlir::DenseElementsAttr &out);
  template <typename T, typename D> bool attr(llvm::StringRef name, T &out, D dflt) {
    if (!has(name)) {
      out = dflt;
      return false;
    }
    return attr(name, out);
  }
  bool has(llvm::StringRef name) const;
  /// Accepts an attribute without using it (documented as ignored).
  void ignore(llvm::StringRef name) { used.insert(name); }
  /// The attribute must be absent or equal `expected`.
  bool expect(llvm::StringRef name, int64_t expected);

  // --- subgraphs (If, Loop, Scan) -------------------------------------------
  /// Graph attribute `name`, or null after recording the error.
  const onnx::GraphProto *graph(llvm::StringRef name);
  /// Imports graph attribute `name` at the insertion point, its inputs
  /// bound to `inputs` (see SubgraphImporter).
  bool subgraph(llvm::StringRef name, mlir::ValueRange inputs,
                llvm::SmallVectorImpl<mlir::Value> &outs);
  SubgraphImporter *subgraphs = nullptr;

  // --- results ------------------------------------------------------------
  /// Builds an mlc op with a placeholder result type and infers it.
  template <typename OpT, typename... Args> OpT create(Args &&...args) {
    auto op = builder.create<OpT>(loc, placeholderType(),
                                  std::forward<Args>(args)...);
    if (failed(inferShapes(op)))
      inferFailed = true;
    return op;
  }
  mlir::Value constant(mlir::DenseElementsAttr value);
  /// A 1-D int64 constant (shapes, axes, pads).
  mlir::Value i64s(llvm::ArrayRef<int64_t> values);
  /// A rank-0 constant of `elem` (float, integer or bool) holding `value`.
  mlir::Value scalar(mlir::Type elem, double value);
  /// Reshape to a constant `shape` (0 copies the input dim, -1 is inferred).
  mlir::Value reshape(mlir::Value x, llvm::ArrayRef<int64_t> shape);
  mlir::Value transpose(mlir::Value x, llvm::ArrayRef<int64_t> perm);
  /// Elements [start, end) of `x` along `axis` (constant bounds, step 1).
  mlir::Value slice(mlir::Value x, int64_t axis, int64_t start, int64_t end);
  mlir::Value unsqueeze(mlir::Value x, llvm::ArrayRef<int64_t> axes);
  mlir::Value squeeze(mlir::Value x, llvm::ArrayRef<int64_t> axes);
  /// `x` with elements of type `elem` (`x` itself when they already are).
  mlir::Value cast(mlir::Value x, mlir::Type elem);
  /// Dim `d` of `x` as a rank-0 int64 (folded when static).
  mlir::Value dim(mlir::Value x, int64_t d);
  /// 0, 1, ..., n-1 (int64; `n` a rank-0 int64, run-time or not), followed
  /// by `trailing` unit dims so that it broadcasts along one axis.
  mlir::Value iota(mlir::Value n, int64_t trailing = 0);
  /// The element type of a tensor value.
  static mlir::Type elementType(mlir::Value v);
  void setResults(llvm::ArrayRef<mlir::Value> values);
  /// Records why the node is unsupported; returns true for chaining.
  bool error(const llvm::Twine &why);
  /// Normalises an axis against `rank`; records an error if out of range.
  bool axis(int64_t &axis, int64_t rank);
  /// Rank of a value; records an error if not known.
  bool rank(mlir::Value v, int64_t &r);

  // --- narrow types (float8, float4, int4, int2; NarrowTypes.h) -----------
  // A narrow tensor is held one element per byte (ui8 or i8); its ONNX type
  // rides beside it. Only the converters the importer lists as narrow-aware
  // (Cast, CastLike, the quantizers) see narrow inputs; data movement passes
  // the type through and every other op refuses it.
  /// The ONNX type of a narrow tensor, 0 for any other.
  int narrowType(mlir::Value v) const;
  /// Result `i` holds narrow type `onnx`.
  void setNarrowResult(size_t i, int onnx);
  /// The ONNX data type of tensor attribute `name` (0 if absent).
  int tensorAttrType(llvm::StringRef name);

  // --- read by the importer -----------------------------------------------
  std::vector<mlir::Value> results;
  const llvm::DenseMap<mlir::Value, int> *narrowTypes = nullptr;
  std::vector<int> narrowResults; // per result, 0 for not narrow
  std::string reason;
  bool inferFailed = false;
  std::vector<std::string> unusedAttributes() const;

private:
  const onnx::AttributeProto *find(llvm::StringRef name);
  mlir::Type placeholderType();
  llvm::ArrayRef<mlir::Value> inputs;
  llvm::StringSet<> used;
};

using ConvertFn = mlir::LogicalResult (*)(NodeBinder &);

/// Compositions that several op families share; each returns null after
/// recording the error on the binder.
/// A Conv over `x` and `w` (bias optional) with the node's window
/// attributes (kernel_shape, strides, pads, auto_pad, dilations, group);
/// 1-D windows run as 2-D.
mlir::Value convolution(NodeBinder &b, mlir::Value x, mlir::Value w, mlir::Value bias);

/// Narrow types (Narrow.cpp). A narrow tensor (NarrowTypes.h) of ONNX type
/// `onnx` decoded: a float type's codes to float32 values, an integer type's
/// held values as they are.
mlir::Value decodeNarrow(NodeBinder &b, mlir::Value x, int onnx);
/// `x` (any numeric tensor) encoded as ONNX narrow type `onnx`, rounding as
/// Cast does (`saturate` for float8, `roundMode` for float8e8m0).
mlir::Value encodeNarrow(NodeBinder &b, mlir::Value x, int onnx, bool saturate,
                         llvm::StringRef roundMode);
/// `x` (narrow or not) cast to ONNX type `to` (narrow or not).
mlir::Value castToOnnx(NodeBinder &b, mlir::Value x, int to, bool saturate,
                       llvm::StringRef roundMode);
/// float8 or float4 (decoded through a table).
bool isNarrowFloat(int onnx);

/// Registers a converter for `opType` in the default domain, valid from
/// opset `since` until the next registration of the same op.
void registerConverter(const char *opType, int since, ConvertFn fn);
/// The converter for `opType` at `opset`, or null.
ConvertFn lookupConverter(llvm::StringRef opType, int64_t opset);
/// All op families; called once before import.
void registerAllConverters();

/// Converts a TensorProto (raw or typed fields; external data resolved by
/// the caller into `external`) to an attribute.
mlir::FailureOr<mlir::DenseElementsAttr>
tensorToAttr(mlir::MLIRContext *ctx, const onnx::TensorProto &t,
             llvm::StringRef external, std::string &err);
mlir::Type onnxElementType(mlir::MLIRContext *ctx, int dtype);
const char *onnxTypeName(int dtype);

} // namespace mlc

#endif
