//===- Importer.cpp - ONNX ModelProto to the mlc dialect -----------------===//
#include "compiler/import/Importer.h"

#include <functional>
#include <utility>
#include "compiler/import/NarrowTypes.h"
#include "compiler/import/NodeBinder.h"
#include "compiler/import/Validate.h"
#include "dialects/CurrentNode.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Matchers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <onnx/onnx_pb.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>

using namespace mlir;
using namespace mlc;

//===----------------------------------------------------------------------===//
// Converter registry
//===----------------------------------------------------------------------===//

namespace {
struct Registration {
  int since;
  ConvertFn fn;
};
llvm::StringMap<std::vector<Registration>> &registry() {
  static llvm::StringMap<std::vector<Registration>> r;
  return r;
}
} // namespace

void mlc::registerConverter(const char *opType, int since, ConvertFn fn) {
  auto &list = registry()[opType];
  list.push_back({since, fn});
  llvm::sort(list, [](auto &a, auto &b) { return a.since < b.since; });
}

ConvertFn mlc::lookupConverter(StringRef opType, int64_t opset) {
  auto it = registry().find(opType);
  if (it == registry().end())
    return nullptr;
  ConvertFn found = nullptr;
  for (const Registration &r : it->second)
    if (r.since <= opset)
      found = r.fn;
  return found;
}

void registerMathConverters();
void registerNNConverters();
void registerTensorConverters();
void registerAttentionConverters();
void registerQuantConverters();
void registerRecurrentConverters();
void registerEinsumConverters();
void registerSignalConverters();
void registerControlFlowConverters();

void mlc::registerAllConverters() {
  static std::once_flag once;
  std::call_once(once, [] {
    registerMathConverters();
    registerNNConverters();
    registerTensorConverters();
    registerAttentionConverters();
    registerQuantConverters();
    registerRecurrentConverters();
    registerEinsumConverters();
    registerSignalConverters();
    registerControlFlowConverters();
  });
}

//===----------------------------------------------------------------------===//
// Tensors
//===----------------------------------------------------------------------===//

Type mlc::onnxElementType(MLIRContext *ctx, int dtype) {
  Builder b(ctx);
  auto make = [&](char kind, unsigned bits) -> Type {
    switch (kind) {
    case 'f': return bits == 16 ? Type(b.getF16Type()) : bits == 32 ? b.getF32Type() : b.getF64Type();
    case 'u': return b.getIntegerType(bits, /*isSigned=*/false);
    case 'B': return b.getBF16Type();
    default: return b.getIntegerType(bits);
    }
  };
  // A narrow type is held in a byte (dtypes.def's STORE).
  switch (dtype) {
#define MLC_DTYPE(ENUM, VALUE, NAME, SIZE, KIND, BITS, ONNX, STORE)                              \
  case ONNX:                                                                                     \
    return make(STORE, KIND == 'V' && SIZE == 1 ? 8 : BITS);
#include "mlc/dtypes.def"
  default: return nullptr;
  }
}

const char *mlc::onnxTypeName(int dtype) {
  switch (dtype) {
#define MLC_DTYPE(ENUM, VALUE, NAME, SIZE, KIND, BITS, ONNX, STORE)                              \
  case ONNX:                                                                                     \
    return NAME;
#include "mlc/dtypes.def"
  case onnx::TensorProto::STRING: return "string";
  default: return "unknown";
  }
}

static size_t elementBytes(Type t) {
  return t.isInteger(1) ? 1 : t.getIntOrFloatBitWidth() / 8;
}

FailureOr<DenseElementsAttr> mlc::tensorToAttr(MLIRContext *ctx,
                                               const onnx::TensorProto &t,
                                               StringRef external,
                                               std::string &err) {
  Type elem = onnxElementType(ctx, t.data_type());
  if (!elem) {
    err = absl::StrCat("tensor '", t.name(), "' has unsupported type ",
                       onnxTypeName(t.data_type()));
    return failure();
  }
  SmallVector<int64_t> shape(t.dims().begin(), t.dims().end());
  for (int64_t d : shape)
    if (d < 0) {
      err = absl::StrCat("tensor '", t.name(), "' has a negative dim");
      return failure();
    }
  std::vector<int64_t> dims(shape.begin(), shape.end());
  if (auto s = checkTensorDims("tensor '" + t.name() + "'", t.data_type(), dims, false);
      !s.ok()) {
    err = std::string(s.message());
    return failure();
  }
  auto type = RankedTensorType::get(shape, elem);
  int64_t n = type.getNumElements();
  size_t bytes = n * elementBytes(elem);
  // Allocated once the data is known to be all there.
  std::vector<char> buf;
  auto fromRaw = [&](StringRef raw) -> LogicalResult {
    if (raw.size() != bytes) {
      err = absl::StrCat("tensor '", t.name(), "' holds ", raw.size(),
                         " bytes, its shape needs ", bytes);
      return failure();
    }
    buf.resize(bytes);
    if (bytes)
      std::memcpy(buf.data(), raw.data(), bytes);
    return success();
  };
  auto fromTyped = [&](auto &field, auto convert) -> LogicalResult {
    if ((int64_t)field.size() != n) {
      err = absl::StrCat("tensor '", t.name(), "' holds ", field.size(),
                         " values, its shape needs ", n);
      return failure();
    }
    buf.resize(bytes);
    for (int64_t i = 0; i < n; ++i)
      convert(field.Get(i), buf.data() + i * elementBytes(elem));
    return success();
  };
  if (narrow::bits(t.data_type())) {
    // Packed in the model (a 4-bit type two per byte, a 2-bit type four),
    // one element per byte in mlc.
    bool isExternal = t.data_location() == onnx::TensorProto::EXTERNAL;
    size_t got, need;
    buf.resize(n);
    if (!narrow::unpackStored(t.data_type(), isExternal || t.has_raw_data(),
                              isExternal ? std::string_view(external) : t.raw_data(),
                              t.int32_data(), n, reinterpret_cast<unsigned char *>(buf.data()),
                              got, need)) {
      err = absl::StrCat("tensor '", t.name(), "' holds ", got, " bytes of ",
                         onnxTypeName(t.data_type()), ", its shape needs ", need);
      return failure();
    }
    return DenseElementsAttr::getFromRawBuffer(type, ArrayRef<char>(buf));
  }
  LogicalResult ok = success();
  if (t.data_location() == onnx::TensorProto::EXTERNAL)
    ok = fromRaw(external);
  else if (t.has_raw_data())
    ok = fromRaw(t.raw_data());
  else {
    switch (t.data_type()) {
    case onnx::TensorProto::FLOAT:
      ok = fromTyped(t.float_data(), [](float v, char *p) { std::memcpy(p, &v, 4); });
      break;
    case onnx::TensorProto::DOUBLE:
      ok = fromTyped(t.double_data(), [](double v, char *p) { std::memcpy(p, &v, 8); });
      break;
    case onnx::TensorProto::INT64:
      ok = fromTyped(t.int64_data(), [](int64_t v, char *p) { std::memcpy(p, &v, 8); });
      break;
    case onnx::TensorProto::INT32:
      ok = fromTyped(t.int32_data(), [](int32_t v, char *p) { std::memcpy(p, &v, 4); });
      break;
    case onnx::TensorProto::UINT64:
      ok = fromTyped(t.uint64_data(), [](uint64_t v, char *p) { std::memcpy(p, &v, 8); });
      break;
    case onnx::TensorProto::UINT32:
      ok = fromTyped(t.uint64_data(), [](uint64_t v, char *p) {
        uint32_t x = v;
        std::memcpy(p, &x, 4);
      });
      break;
    case onnx::TensorProto::INT16:
    case onnx::TensorProto::UINT16:
    case onnx::TensorProto::FLOAT16:
    case onnx::TensorProto::BFLOAT16:
      ok = fromTyped(t.int32_data(), [](int32_t v, char *p) {
        uint16_t x = v;
        std::memcpy(p, &x, 2);
      });
      break;
    case onnx::TensorProto::INT8:
    case onnx::TensorProto::UINT8:
    case onnx::TensorProto::BOOL:
      ok = fromTyped(t.int32_data(), [](int32_t v, char *p) { *p = (char)v; });
      break;
    default:
      err = absl::StrCat("tensor '", t.name(), "' of type ", onnxTypeName(t.data_type()),
                         " must store its values as raw_data");
      ok = failure();
    }
  }
  if (failed(ok))
    return failure();
  if (elem.isInteger(1)) {
    // DenseElementsAttr packs i1; build from bools.
    SmallVector<bool> bits(buf.begin(), buf.end());
    return DenseElementsAttr::get(type, ArrayRef<bool>(bits));
  }
  return DenseElementsAttr::getFromRawBuffer(type, ArrayRef<char>(buf));
}

//===----------------------------------------------------------------------===//
// NodeBinder
//===----------------------------------------------------------------------===//

bool NodeBinder::error(const Twine &why) {
  if (reason.empty())
    reason = why.str();
  return true;
}

bool NodeBinder::tensorAt(size_t idx, Value &v) {
  if (idx >= inputs.size() || !inputs[idx])
    return error(absl::StrCat("missing required input #", idx));
  v = inputs[idx];
  return false;
}

bool NodeBinder::optTensor(size_t idx, Value &v) {
  v = idx < inputs.size() ? inputs[idx] : Value();
  return false;
}

bool NodeBinder::constInts(size_t idx, SmallVectorImpl<int64_t> &out) {
  Value v;
  if (tensorAt(idx, v))
    return true;
  DenseElementsAttr attr;
  if (!matchPattern(v, m_Constant(&attr)) ||
      !isa<IntegerType>(attr.getElementType()))
    return error(absl::StrCat("input #", idx,
                              " must be a constant integer tensor"));
  out.clear();
  for (APInt i : attr.getValues<APInt>())
    out.push_back(i.getSExtValue());
  return false;
}

const onnx::AttributeProto *NodeBinder::find(StringRef name) {
  for (const auto &a : node.attribute())
    if (a.name() == name) {
      used.insert(name);
      return &a;
    }
  return nullptr;
}

bool NodeBinder::has(StringRef name) const {
  for (const auto &a : node.attribute())
    if (a.name() == name)
      return true;
  return false;
}

bool NodeBinder::attr(StringRef name, int64_t &out) {
  auto *a = find(name);
  if (!a || a->type() != onnx::AttributeProto::INT)
    return error(absl::StrCat("attribute '", name.str(), "' must be an int"));
  out = a->i();
  return false;
}

bool NodeBinder::attr(StringRef name, float &out) {
  auto *a = find(name);
  if (!a || a->type() != onnx::AttributeProto::FLOAT)
    return error(absl::StrCat("attribute '", name.str(), "' must be a float"));
  out = a->f();
  return false;
}

bool NodeBinder::attr(StringRef name, std::string &out) {
  auto *a = find(name);
  if (!a || a->type() != onnx::AttributeProto::STRING)
    return error(absl::StrCat("attribute '", name.str(), "' must be a string"));
  out = a->s();
  return false;
}

bool NodeBinder::attr(StringRef name, SmallVectorImpl<int64_t> &out) {
  auto *a = find(name);
  if (!a || a->type() != onnx::AttributeProto::INTS)
    return error(absl::StrCat("attribute '", name.str(), "' must be ints"));
  out.assign(a->ints().begin(), a->ints().end());
  return false;
}

bool NodeBinder::attr(StringRef name, SmallVectorImpl<float> &out) {
  auto *a = find(name);
  if (!a || a->type() != onnx::AttributeProto::FLOATS)
    return error(absl::StrCat("attribute '", name.str(), "' must be floats"));
  out.assign(a->floats().begin(), a->floats().end());
  return false;
}

bool NodeBinder::attr(StringRef name, SmallVectorImpl<std::string> &out) {
  auto *a = find(name);
  if (!a || a->type() != onnx::AttributeProto::STRINGS)
    return error(absl::StrCat("attribute '", name.str(), "' must be strings"));
  out.assign(a->strings().begin(), a->strings().end());
  return false;
}

bool NodeBinder::attr(StringRef name, DenseElementsAttr &out) {
  auto *a = find(name);
  if (!a || a->type() != onnx::AttributeProto::TENSOR)
    return error(absl::StrCat("attribute '", name.str(), "' must be a tensor"));
  if (a->t().data_location() == onnx::TensorProto::EXTERNAL)
    return error("external data in a Constant node is not supported");
  std::string err;
  auto attr = tensorToAttr(builder.getContext(), a->t(), "", err);
  if (failed(attr))
    return error(err);
  out = *attr;
  return false;
}

int NodeBinder::narrowType(Value v) const {
  return narrowTypes && v ? narrowTypes->lookup(v) : 0;
}

void NodeBinder::setNarrowResult(size_t i, int onnx) {
  if (narrowResults.size() <= i)
    narrowResults.resize(i + 1);
  narrowResults[i] = onnx;
}

int NodeBinder::tensorAttrType(StringRef name) {
  auto *a = find(name);
  return a && a->type() == onnx::AttributeProto::TENSOR ? a->t().data_type() : 0;
}

bool NodeBinder::expect(StringRef name, int64_t expected) {
  int64_t v;
  if (attr(name, v, expected))
    return true;
  if (v != expected)
    return error(absl::StrCat("attribute '", name.str(), "'=", v,
                              " is not supported (only ", expected, ")"));
  return false;
}

bool NodeBinder::axis(int64_t &axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    return error(absl::StrCat("axis ", axis, " is out of range for rank ", rank));
  if (axis < 0)
    axis += rank;
  return false;
}

bool NodeBinder::rank(Value v, int64_t &r) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  if (!t)
    return error("the rank of an input is not known");
  r = t.getRank();
  return false;
}

Value NodeBinder::constant(DenseElementsAttr value) {
  return create<ConstantOp>(value);
}

Value NodeBinder::i64s(ArrayRef<int64_t> values) {
  auto t = RankedTensorType::get({(int64_t)values.size()}, builder.getI64Type());
  return constant(DenseElementsAttr::get(t, values));
}

Value NodeBinder::scalar(Type elem, double value) {
  auto t = RankedTensorType::get({}, elem);
  if (isa<FloatType>(elem))
    return constant(DenseElementsAttr::get(t, builder.getFloatAttr(elem, value)));
  // Saturating: an attribute near the int64 limits (a hostile EyeLike k or
  // Attention window) must not convert out of range (undefined behaviour).
  int64_t iv = std::isnan(value)                            ? 0
               : value >= 9.223372036854775807e18  ? std::numeric_limits<int64_t>::max()
               : value <= -9.223372036854775808e18 ? std::numeric_limits<int64_t>::min()
                                                            : (int64_t)value;
  return constant(DenseElementsAttr::get(t, builder.getIntegerAttr(elem, iv)));
}

Value NodeBinder::reshape(Value x, ArrayRef<int64_t> shape) {
  return create<ReshapeOp>(x, i64s(shape), builder.getBoolAttr(false));
}

Value NodeBinder::transpose(Value x, ArrayRef<int64_t> perm) {
  return create<TransposeOp>(x, builder.getDenseI64ArrayAttr(perm));
}

Value NodeBinder::slice(Value x, int64_t axis, int64_t start, int64_t end) {
  return create<SliceOp>(x, i64s({start}), i64s({end}), builder.getDenseI64ArrayAttr({axis}),
                         builder.getDenseI64ArrayAttr({1}));
}

Value NodeBinder::unsqueeze(Value x, ArrayRef<int64_t> axes) {
  return create<UnsqueezeOp>(x, builder.getDenseI64ArrayAttr(axes));
}

Value NodeBinder::squeeze(Value x, ArrayRef<int64_t> axes) {
  return create<SqueezeOp>(x, builder.getDenseI64ArrayAttr(axes));
}

Value NodeBinder::cast(Value x, Type elem) {
  if (elementType(x) == elem)
    return x;
  return create<CastOp>(x, TypeAttr::get(elem));
}

Value NodeBinder::dim(Value x, int64_t d) {
  Value s = create<ShapeOp>(x, builder.getI64IntegerAttr(d), builder.getI64IntegerAttr(d + 1));
  return squeeze(s, {0});
}

Value NodeBinder::iota(Value n, int64_t trailing) {
  Type i64 = builder.getI64Type();
  Value r = create<RangeOp>(scalar(i64, 0), n, scalar(i64, 1));
  if (trailing == 0)
    return r;
  SmallVector<int64_t> axes;
  for (int64_t i = 1; i <= trailing; ++i)
    axes.push_back(i);
  return unsqueeze(r, axes);
}

Type NodeBinder::elementType(Value v) {
  return mlir::cast<ShapedType>(v.getType()).getElementType();
}

const onnx::GraphProto *NodeBinder::graph(StringRef name) {
  const onnx::AttributeProto *a = find(name);
  if (!a || !a->has_g()) {
    error("attribute '" + name + "' (a graph) is missing");
    return nullptr;
  }
  return &a->g();
}

bool NodeBinder::subgraph(StringRef name, ValueRange inputs, SmallVectorImpl<Value> &outs) {
  const onnx::GraphProto *g = graph(name);
  if (!g)
    return true;
  if (!subgraphs)
    return error("subgraphs cannot be imported here");
  std::string err;
  if (!subgraphs->importInto(*g, inputs, outs, err))
    return error(name + ": " + err);
  return false;
}

void NodeBinder::setResults(ArrayRef<Value> values) {
  results.assign(values.begin(), values.end());
}

std::vector<std::string> NodeBinder::unusedAttributes() const {
  std::vector<std::string> out;
  for (const auto &a : node.attribute())
    if (!used.contains(a.name()))
      out.push_back(a.name());
  return out;
}

Type NodeBinder::placeholderType() {
  Type elem = builder.getF32Type();
  for (Value v : inputs)
    if (v) {
      elem = elementType(v);
      break;
    }
  return UnrankedTensorType::get(elem);
}

//===----------------------------------------------------------------------===//
// Model loading
//===----------------------------------------------------------------------===//

namespace {

absl::Status userError(const Twine &msg) {
  return absl::InvalidArgumentError(msg.str());
}

absl::StatusOr<onnx::ModelProto> readModel(const std::string &path) {
  auto buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                         /*RequiresNullTerminator=*/false);
  if (!buf)
    return absl::NotFoundError(
        absl::StrCat("cannot read '", path, "': ", buf.getError().message()));
  onnx::ModelProto model;
  if (!model.ParseFromArray((*buf)->getBufferStart(), (*buf)->getBufferSize()))
    return userError("'" + path + "' is not a valid ONNX model (protobuf parse failed)");
  if (!model.has_graph())
    return userError("'" + path + "' has no graph");
  return model;
}

int64_t defaultOpset(const onnx::ModelProto &m) {
  for (const auto &imp : m.opset_import())
    if (imp.domain().empty() || imp.domain() == "ai.onnx")
      return imp.version();
  return 1;
}

/// Reads a tensor's external data, which must stay inside the model folder.
absl::Status readExternal(const onnx::TensorProto &t, StringRef modelDir,
                          std::string &out) {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto &kv : t.external_data()) {
    if (kv.key() == "location") {
      location = kv.value();
    } else if (kv.key() == "offset" || kv.key() == "length") {
      int64_t v = 0;
      if (StringRef(kv.value()).getAsInteger(10, v) || v < 0)
        return userError("tensor '" + t.name() + "' has external data " + kv.key() + " '" +
                         kv.value() + "'; it must be a whole number >= 0");
      (kv.key() == "offset" ? offset : length) = v;
    }
  }
  if (location.empty())
    return userError("tensor '" + t.name() + "' has external data without a location");
  if (llvm::sys::path::is_absolute(location))
    return userError("external data location '" + location + "' of tensor '" +
                     t.name() + "' must be relative to the model's folder");
  SmallString<256> dirReal, fileReal;
  SmallString<256> full(modelDir);
  llvm::sys::path::append(full, location);
  if (llvm::sys::fs::real_path(modelDir, dirReal) ||
      llvm::sys::fs::real_path(full, fileReal))
    return userError("external data file '" + location + "' of tensor '" +
                     t.name() + "' does not exist (looked in '" +
                     modelDir.str() + "')");
  StringRef fr = fileReal, dr = dirReal;
  if (!fr.starts_with(dr) || fr.size() <= dr.size() ||
      fr[dr.size()] != '/')
    return userError("external data location '" + location + "' of tensor '" +
                     t.name() + "' escapes the model's folder");
  llvm::sys::fs::file_status st;
  if (llvm::sys::fs::status(fileReal, st) || !llvm::sys::fs::is_regular_file(st))
    return userError("external data location '" + location + "' of tensor '" + t.name() +
                     "' is not a regular file");
  std::ifstream f(fileReal.c_str(), std::ios::binary);
  f.seekg(0, std::ios::end);
  int64_t size = f.tellg();
  if (!f || size < 0)
    return userError("cannot read external data file '" + location + "' of tensor '" +
                     t.name() + "'");
  if (length < 0)
    length = offset <= size ? size - offset : 0;
  if (offset > size || length > size - offset)
    return userError("external data file '" + location + "' is too short for tensor '" +
                     t.name() + "' (needs " + std::to_string(offset + length) +
                     " bytes, has " + std::to_string(size) + ")");
  if (length > kMaxTensorBytes)
    return userError("tensor '" + t.name() + "' declares " + std::to_string(length) +
                     " bytes of external data, more than mlc reads");
  out.resize(length);
  f.seekg(offset);
  f.read(out.data(), length);
  return absl::OkStatus();
}

struct GraphImporter : SubgraphImporter {
  MLIRContext &ctx;
  const onnx::ModelProto &model;
  std::string modelDir;
  const ImportOptions &options;
  int64_t opset;
  std::vector<int> order; // the nodes in a topological order
  OpBuilder builder;
  llvm::StringMap<Value> values;
  /// What a subgraph's import changed: each name's previous binding.
  struct Scope {
    std::vector<std::pair<std::string, Value>> values;
    std::vector<std::pair<std::string, const onnx::TensorProto *>> initializers;
  };
  Scope *current = nullptr; // the innermost subgraph being imported
  DenseMap<Value, int> narrow; // narrow tensors' ONNX types (NodeBinder.h)
  llvm::StringMap<const onnx::TensorProto *> initializers;
  std::vector<std::string> unsupported;
  std::vector<std::string> dataErrors; // bad initializers / external data

  GraphImporter(MLIRContext &ctx, const onnx::ModelProto &m, std::string dir,
                const ImportOptions &o, std::vector<int> order)
      : ctx(ctx), model(m), modelDir(std::move(dir)), options(o),
        opset(defaultOpset(m)), order(std::move(order)), builder(&ctx) {}

  Location nodeLoc(const onnx::NodeProto &n, int idx) {
    std::string name = n.name().empty()
                           ? absl::StrCat(n.op_type(), "_", idx)
                           : n.name();
    // The op type rides along as the child location: kernel names and
    // `mlc inspect` read it (nodeOpTypeOf).
    return NameLoc::get(builder.getStringAttr(name),
                        NameLoc::get(builder.getStringAttr(n.op_type())));
  }

  absl::StatusOr<Value> initializer(StringRef name) {
    const onnx::TensorProto &t = *initializers[name];
    std::string ext, err;
    if (t.data_location() == onnx::TensorProto::EXTERNAL)
      if (auto s = readExternal(t, modelDir, ext); !s.ok())
        return s;
    auto attr = tensorToAttr(&ctx, t, ext, err);
    if (failed(attr))
      return userError(err);
    auto op = builder.create<ConstantOp>(
        NameLoc::get(builder.getStringAttr(name)), attr->getType(), *attr);
    if (narrow::bits(t.data_type()))
      narrow[op.getResult()] = t.data_type();
    return op.getResult();
  }

  /// The type of a graph input/output, with symbolic dims named in `names`.
  absl::StatusOr<Type> valueType(const onnx::ValueInfoProto &vi,
                                 SmallVectorImpl<Attribute> &names) {
    if (!vi.type().has_tensor_type())
      return userError("graph input/output '" + vi.name() + "' is not a tensor");
    const auto &tt = vi.type().tensor_type();
    Type elem = onnxElementType(&ctx, tt.elem_type());
    if (!elem)
      return userError("graph input/output '" + vi.name() + "' has unsupported type " +
                       onnxTypeName(tt.elem_type()));
    if (!tt.has_shape())
      return UnrankedTensorType::get(elem);
    SmallVector<int64_t> dims;
    auto fixed = options.shapes.find(vi.name());
    for (int i = 0; i < tt.shape().dim_size(); ++i) {
      const auto &d = tt.shape().dim(i);
      int64_t size = ShapedType::kDynamic;
      std::string name;
      if (d.has_dim_value()) {
        size = d.dim_value();
        if (size < -1)
          return userError("graph input/output '" + vi.name() + "' dim " + std::to_string(i) +
                           " is " + std::to_string(size) +
                           "; dims must be >= 0, or -1 / a name for a dynamic dim");
        if (size == -1)
          size = ShapedType::kDynamic; // how some exporters write a dynamic dim
      } else if (d.has_dim_param())
        name = d.dim_param();
      if (fixed != options.shapes.end() && i < (int)fixed->second.size()) {
        if (size >= 0 && size != fixed->second[i])
          return userError("--shape " + vi.name() + "=" + absl::StrJoin(fixed->second, "x") +
                           " contradicts the model: its dim " + std::to_string(i) + " is " +
                           std::to_string(size) + " (--shape sets dynamic dims only)");
        size = fixed->second[i];
      }
      else if (!name.empty())
        if (auto byName = options.shapes.find(name);
            byName != options.shapes.end() && byName->second.size() == 1)
          size = byName->second[0];
      if (size >= 0)
        name.clear();
      dims.push_back(size);
      names.push_back(builder.getStringAttr(name));
    }
    if (fixed != options.shapes.end() &&
        fixed->second.size() != (size_t)tt.shape().dim_size())
      return userError("--shape for '" + vi.name() + "' has " +
                       std::to_string(fixed->second.size()) + " dims, the model's input has " +
                       std::to_string(tt.shape().dim_size()));
    std::vector<int64_t> checked;
    for (int64_t d : dims)
      checked.push_back(ShapedType::isDynamic(d) ? -1 : d);
    if (auto s = checkTensorDims("graph input/output '" + vi.name() + "'", tt.elem_type(),
                                 checked, /*dynamicAllowed=*/true);
        !s.ok())
      return userError(std::string(s.message()));
    return RankedTensorType::get(dims, elem);
  }

  absl::StatusOr<OwningOpRef<ModuleOp>> run() {
    const onnx::GraphProto &g = model.graph();
    for (const auto &t : g.initializer())
      initializers[t.name()] = &t;
    for (const auto &[name, _] : options.shapes) {
      bool found = false;
      for (const auto &in : g.input())
        found |= in.name() == name;
      for (const auto &in : g.input())
        if (in.type().has_tensor_type())
          for (const auto &d : in.type().tensor_type().shape().dim())
            found |= d.dim_param() == name;
      if (!found)
        return userError("--shape names '" + name +
                         "', which is neither a model input nor a symbolic dim");
    }

    // Owned from the start, so that every early error return frees it.
    OwningOpRef<ModuleOp> module = ModuleOp::create(UnknownLoc::get(&ctx));
    (*module)->setAttr("mlc.opset", builder.getI64IntegerAttr(opset));
    builder.setInsertionPointToEnd(module->getBody());

    SmallVector<Type> argTypes;
    SmallVector<const onnx::ValueInfoProto *> args;
    SmallVector<SmallVector<Attribute>> argDimNames;
    for (const auto &in : g.input()) {
      if (initializers.count(in.name()))
        continue; // an initializer's default: treated as a constant weight
      SmallVector<Attribute> names;
      auto t = valueType(in, names);
      if (!t.ok())
        return t.status();
      if (!isa<RankedTensorType>(*t))
        return userError("graph input '" + in.name() + "' has no shape; give one with --shape " +
                         in.name() + "=DIMS");
      argTypes.push_back(*t);
      args.push_back(&in);
      argDimNames.push_back(names);
    }
    auto func = builder.create<func::FuncOp>(
        UnknownLoc::get(&ctx), "main", builder.getFunctionType(argTypes, {}));
    Block *entry = func.addEntryBlock();
    for (size_t i = 0; i < args.size(); ++i) {
      bind(args[i]->name(), entry->getArgument(i));
      func.setArgAttr(i, "mlc.name", builder.getStringAttr(args[i]->name()));
      if (int t = args[i]->type().tensor_type().elem_type(); narrow::bits(t)) {
        narrow[entry->getArgument(i)] = t;
        func.setArgAttr(i, "mlc.onnx_type", builder.getI64IntegerAttr(t));
      }
      func.setArgAttr(i, "mlc.dim_names", builder.getArrayAttr(argDimNames[i]));
    }
    builder.setInsertionPointToStart(entry);

    for (int idx : order)
      importNode(g.node(idx), idx);
    if (!dataErrors.empty())
      return userError(absl::StrJoin(dataErrors, "\n"));
    if (!unsupported.empty())
      return userError(absl::StrCat(
          unsupported.size(), " node(s) cannot be compiled (unsupported, or invalid by ONNX's "
          "rules):\n  ",
          absl::StrJoin(unsupported, "\n  ")));

    SmallVector<Value> results;
    SmallVector<Type> resultTypes;
    for (const auto &out : g.output()) {
      Value v = lookup(out.name());
      if (!v) {
        auto s = initializers.count(out.name()) ? initializer(out.name())
                                                : absl::StatusOr<Value>(Value());
        if (!s.ok())
          return s.status();
        v = *s;
      }
      if (!v)
        return userError("graph output '" + out.name() + "' is not produced by any node");
      if (auto s = checkDeclaredType(out, v); !s.ok())
        return s;
      results.push_back(v);
      resultTypes.push_back(v.getType());
    }
    builder.create<func::ReturnOp>(UnknownLoc::get(&ctx), results);
    func.setType(builder.getFunctionType(argTypes, resultTypes));
    for (int i = 0; i < g.output_size(); ++i) {
      func.setResultAttr(i, "mlc.name", builder.getStringAttr(g.output(i).name()));
      if (int t = narrow.lookup(results[i]))
        func.setResultAttr(i, "mlc.onnx_type", builder.getI64IntegerAttr(t));
      SmallVector<Attribute> names;
      if (g.output(i).type().has_tensor_type())
        for (const auto &d : g.output(i).type().tensor_type().shape().dim())
          names.push_back(builder.getStringAttr(d.dim_param()));
      func.setResultAttr(i, "mlc.dim_names", builder.getArrayAttr(names));
    }
    return module;
  }

  /// A graph output's declared type must agree with what the graph
  /// computes: the dtype always, static dims unless --shape changed inputs.
  absl::Status checkDeclaredType(const onnx::ValueInfoProto &out, Value v) {
    if (!out.type().has_tensor_type())
      return absl::OkStatus();
    const auto &tt = out.type().tensor_type();
    auto shaped = dyn_cast<ShapedType>(v.getType());
    if (!shaped)
      return absl::OkStatus();
    std::string who = "graph output '" + out.name() + "'";
    if (int computed = narrow.lookup(v); tt.elem_type() && computed != tt.elem_type() &&
                                         (computed || narrow::bits(tt.elem_type())))
      return userError(who + " is declared " + onnxTypeName(tt.elem_type()) +
                       " but the graph computes " +
                       (computed ? onnxTypeName(computed) : typeName(shaped.getElementType())));
    if (Type declared = tt.elem_type() ? onnxElementType(&ctx, tt.elem_type()) : Type();
        declared && declared != shaped.getElementType())
      return userError(who + " is declared " + typeName(declared) +
                       " but the graph computes " + typeName(shaped.getElementType()));
    if (!tt.has_shape() || !shaped.hasRank() || !options.shapes.empty())
      return absl::OkStatus();
    if (tt.shape().dim_size() != shaped.getRank())
      return userError(who + " is declared with rank " + std::to_string(tt.shape().dim_size()) +
                       " but the graph computes rank " + std::to_string(shaped.getRank()));
    for (int i = 0; i < tt.shape().dim_size(); ++i) {
      int64_t declared = tt.shape().dim(i).dim_value(), got = shaped.getDimSize(i);
      if (declared > 0 && got > 0 && declared != got)
        return userError(who + " dim " + std::to_string(i) + " is declared " +
                         std::to_string(declared) + " but the graph computes " +
                         std::to_string(got));
    }
    return absl::OkStatus();
  }

  /// An element type by its ONNX-style name (float32, int64, bool).
  static std::string typeName(Type t) {
    if (t.isInteger(1))
      return "bool";
    if (t.isBF16())
      return "bfloat16";
    if (auto i = dyn_cast<IntegerType>(t))
      return (i.isUnsigned() ? "uint" : "int") + std::to_string(i.getWidth());
    if (isa<FloatType>(t))
      return "float" + std::to_string(t.getIntOrFloatBitWidth());
    std::string s;
    llvm::raw_string_ostream os(s);
    t.print(os);
    return s;
  }

  /// Subgraphs see the names of every enclosing graph; their own names
  /// (inputs, initializers, node outputs) shadow those and vanish after.
  bool importInto(const onnx::GraphProto &g, ValueRange inputs, SmallVectorImpl<Value> &outs,
                  std::string &err) override {
    if (inputs.size() != (size_t)g.input_size()) {
      err = absl::StrCat("the subgraph has ", g.input_size(), " inputs, ", inputs.size(),
                         " expected");
      return false;
    }
    std::vector<int> localOrder;
    if (!topologicalOrder(g, localOrder)) {
      err = "the subgraph's nodes form a cycle";
      return false;
    }
    // The bindings this subgraph changes, undone after (a copy of the
    // maps per subgraph would cost the whole graph's names each time).
    Scope scope, *outer = std::exchange(current, &scope);
    for (const auto &t : g.initializer()) {
      scope.initializers.push_back({t.name(), initializers.lookup(t.name())});
      initializers[t.name()] = &t;
      bind(t.name(), Value());
    }
    for (int i = 0; i < g.input_size(); ++i)
      bind(g.input(i).name(), inputs[i]);
    size_t unsupportedBefore = unsupported.size(), dataErrorsBefore = dataErrors.size();
    for (int idx : localOrder)
      importNode(g.node(idx), idx);
    bool ok = unsupported.size() == unsupportedBefore && dataErrors.size() == dataErrorsBefore;
    if (ok)
      for (const auto &o : g.output()) {
        Value v = lookup(o.name());
        if (!v) {
          err = "subgraph output '" + o.name() + "' is not produced";
          ok = false;
          break;
        }
        outs.push_back(v);
      }
    current = outer;
    for (auto &[name, v] : llvm::reverse(scope.values))
      setBinding(name, v);
    for (auto &[name, t] : llvm::reverse(scope.initializers)) {
      if (t)
        initializers[name] = t;
      else
        initializers.erase(name);
    }
    if (!ok && err.empty()) {
      // The nodes that failed are reported with the rest; the enclosing
      // node only says that its subgraph did.
      err = "a node of the subgraph cannot be imported (see above)";
    }
    return ok;
  }

  /// Binds `name` to `v` (unbinds it if null), logged in the current
  /// subgraph's scope.
  void bind(StringRef name, Value v) {
    if (current)
      current->values.push_back({name.str(), values.lookup(name)});
    setBinding(name, v);
  }
  void setBinding(StringRef name, Value v) {
    if (v)
      values[name] = v;
    else
      values.erase(name);
  }

  Value lookup(StringRef name) {
    if (name.empty())
      return nullptr;
    auto it = values.find(name);
    if (it != values.end())
      return it->second;
    if (initializers.count(name)) {
      auto v = initializer(name);
      if (!v.ok()) {
        dataErrors.push_back(std::string(v.status().message()));
        return nullptr;
      }
      bind(name, *v);
      return *v;
    }
    return nullptr;
  }

  void importNode(const onnx::NodeProto &node, int idx) {
    Location loc = nodeLoc(node, idx);
    CurrentNodeScope current(loc);
    std::string name = nodeNameOf(loc);
    // For the tests of the internal-error path: no valid model reaches an
    // LLVM fatal error on purpose.
    if (const char *at = std::getenv("MLC_TEST_FATAL_AT_NODE"); at && name == at)
      llvm::report_fatal_error("fatal error requested by MLC_TEST_FATAL_AT_NODE");
    auto report = [&](StringRef why) {
      unsupported.push_back(absl::StrCat("node '", name, "' (", node.op_type(),
                                         ", opset ", opset, "): ", why.str()));
    };
    if (!node.domain().empty() && node.domain() != "ai.onnx") {
      report("custom domain '" + node.domain() + "' is not supported");
      return;
    }
    ConvertFn fn = lookupConverter(node.op_type(), opset);
    if (!fn) {
      report(lookupConverter(node.op_type(), 1000)
                 ? "this opset of the op is not supported"
                 : "no converter for this op");
      return;
    }
    SmallVector<Value> inputs;
    bool missing = false;
    for (const auto &in : node.input()) {
      Value v = lookup(in);
      if (!in.empty() && !v) {
        missing = true; // an upstream node failed; it is reported already
      }
      inputs.push_back(v);
    }
    if (missing)
      return;
    int narrowIn = 0;
    if (!checkNarrowInputs(node, inputs, narrowIn, report))
      return;
    ScopedDiagnosticHandler diag(&ctx, [&](Diagnostic &d) {
      report(d.str());
      return success();
    });
    NodeBinder b(builder, loc, node, opset, inputs);
    b.narrowTypes = &narrow;
    b.subgraphs = this;
    LogicalResult ok = fn(b);
    if (failed(ok) || !b.reason.empty()) {
      report(b.reason.empty() ? "conversion failed" : b.reason);
      return;
    }
    if (b.inferFailed)
      return; // the diagnostic handler reported it
    if (auto unused = b.unusedAttributes(); !unused.empty()) {
      report("unsupported attribute(s): " + absl::StrJoin(unused, ", "));
      return;
    }
    if ((size_t)node.output_size() > b.results.size()) {
      for (int i = b.results.size(); i < node.output_size(); ++i)
        if (!node.output(i).empty()) {
          report(absl::StrCat("output #", i, " is not supported"));
          return;
        }
    }
    for (int i = 0; i < node.output_size(); ++i) {
      if (node.output(i).empty())
        continue;
      Value r = b.results[i];
      bind(node.output(i), r);
      if (i < (int)b.narrowResults.size() && b.narrowResults[i])
        narrow[r] = b.narrowResults[i];
      else if (narrowIn && !narrowAware(node.op_type()) &&
               NodeBinder::elementType(r) == onnxElementType(&ctx, narrowIn))
        narrow[r] = narrowIn; // data movement keeps the type
    }
  }

  /// Ops that read narrow tensors themselves; data movement passes them
  /// through unchanged.
  static bool narrowAware(StringRef op) {
    return op == "Cast" || op == "CastLike" || op == "QuantizeLinear" ||
           op == "DequantizeLinear";
  }
  static bool movesData(StringRef op) {
    static const llvm::StringSet<> ops = {
        "Identity", "Reshape",  "Flatten", "Squeeze",       "Unsqueeze", "Transpose",
        "Shape",    "Size",     "Pad",     "Concat",        "Split",     "Slice",
        "Gather",   "GatherElements", "GatherND", "Expand", "Tile",      "Where"};
    return ops.contains(op);
  }

  /// A node may read narrow tensors only if it is narrow-aware or moves
  /// data, and then all of one narrow type, never mixed with the type that
  /// holds them. `narrowIn` is that type.
  template <typename Report>
  bool checkNarrowInputs(const onnx::NodeProto &node, ArrayRef<Value> inputs, int &narrowIn,
                         Report &report) {
    for (Value v : inputs)
      if (int t = v ? narrow.lookup(v) : 0) {
        if (narrowIn && narrowIn != t) {
          report(absl::StrCat("it mixes ", onnxTypeName(narrowIn), " and ", onnxTypeName(t),
                              " inputs"));
          return false;
        }
        narrowIn = t;
      }
    if (!narrowIn || narrowAware(node.op_type()))
      return true;
    if (!movesData(node.op_type())) {
      report(absl::StrCat(onnxTypeName(narrowIn),
                          " inputs are not supported by this op (only Cast, CastLike, the "
                          "quantizers and data movement read narrow types)"));
      return false;
    }
    Type held = onnxElementType(&ctx, narrowIn);
    for (Value v : inputs)
      if (v && !narrow.lookup(v) && NodeBinder::elementType(v) == held) {
        report(absl::StrCat("it mixes ", onnxTypeName(narrowIn), " and ",
                            typeName(held), " inputs"));
        return false;
      }
    return true;
  }
};

} // namespace

static absl::Status invalidModel(const std::string &path, const absl::Status &s) {
  std::string lines(s.message());
  absl::StrReplaceAll({{"\n", "\n  "}}, &lines);
  return absl::InvalidArgumentError("'" + path + "' breaks ONNX's rules:\n  " + lines);
}

void mlc::loadImportDialects(MLIRContext &ctx) {
  ctx.loadDialect<MlcDialect, func::FuncDialect>();
}

absl::StatusOr<OwningOpRef<ModuleOp>>
mlc::importOnnxFile(MLIRContext &ctx, const std::string &path,
                    const ImportOptions &options) {
  registerAllConverters();
  loadImportDialects(ctx);
  auto model = readModel(path);
  if (!model.ok())
    return model.status();
  SmallString<256> dir(path);
  llvm::sys::path::remove_filename(dir);
  if (dir.empty())
    dir = ".";
  return importOnnxModel(ctx, *model, path, dir.str().str(), options);
}

absl::StatusOr<OwningOpRef<ModuleOp>>
mlc::importOnnxModel(MLIRContext &ctx, const onnx::ModelProto &model, const std::string &name,
                     const std::string &dir, const ImportOptions &options) {
  registerAllConverters();
  loadImportDialects(ctx);
  if (!model.has_graph())
    return userError("'" + name + "' has no graph");
  std::vector<int> order;
  if (auto s = validateModel(model, order); !s.ok())
    return invalidModel(name, s);
  GraphImporter importer(ctx, model, dir, options, std::move(order));
  return importer.run();
}

absl::StatusOr<ModelSummary> mlc::summarizeOnnxFile(const std::string &path) {
  registerAllConverters();
  auto model = readModel(path);
  if (!model.ok())
    return model.status();
  std::vector<int> order;
  if (auto s = validateModel(*model, order); !s.ok())
    return invalidModel(path, s);
  const onnx::GraphProto &g = model->graph();
  ModelSummary s;
  s.opset = defaultOpset(*model);
  s.producer = model->producer_name() + " " + model->producer_version();
  llvm::StringSet<> inits;
  for (const auto &t : g.initializer()) {
    inits.insert(t.name());
    int64_t n = 1;
    for (int64_t d : t.dims())
      n *= d;
    s.parameters += n;
    int64_t size = 0;
    switch (t.data_type()) {
#define MLC_DTYPE(ENUM, VALUE, NAME, SIZE, KIND, BITS, ONNX, STORE)                              \
  case ONNX:                                                                                     \
    size = SIZE;                                                                                 \
    break;
#include "mlc/dtypes.def"
    default: break;
    }
    s.weightBytes += n * size;
  }
  auto describe = [](const onnx::ValueInfoProto &vi) {
    ModelSummary::Tensor t;
    t.name = vi.name();
    const auto &tt = vi.type().tensor_type();
    t.dtype = onnxTypeName(tt.elem_type());
    for (const auto &d : tt.shape().dim())
      t.dims.push_back(d.has_dim_value() ? std::to_string(d.dim_value())
                       : d.has_dim_param() ? d.dim_param()
                                           : "?");
    return t;
  };
  for (const auto &in : g.input())
    if (!inits.contains(in.name()))
      s.inputs.push_back(describe(in));
  for (const auto &out : g.output())
    s.outputs.push_back(describe(out));
  // Nodes of subgraphs (If branches, loop bodies) count as compile sees
  // them.
  std::function<void(const onnx::GraphProto &)> visit = [&](const onnx::GraphProto &graph) {
    int idx = 0;
    for (const auto &n : graph.node()) {
      s.opHistogram[n.op_type()]++;
      std::string name = n.name().empty() ? absl::StrCat(n.op_type(), "_", idx) : n.name();
      ++idx;
      if (!n.domain().empty() && n.domain() != "ai.onnx")
        s.unsupported.push_back(absl::StrCat(name, " (", n.op_type(), ", domain ",
                                             n.domain(), "): custom domain"));
      else if (!lookupConverter(n.op_type(), s.opset))
        s.unsupported.push_back(absl::StrCat(name, " (", n.op_type(), ", opset ",
                                             s.opset, "): no converter"));
      for (const onnx::GraphProto *sub : subgraphsOf(n))
        visit(*sub);
    }
  };
  visit(g);
  return s;
}

int64_t mlc::NodeBinder::numOutputs() const { return node.output_size(); }
