//===- fuzz_import.cpp - libFuzzer target: ONNX bytes to the mlc dialect --===//
//
// Parses the input as an onnx.ModelProto and imports it (validation, every
// converter, shape inference of every op it builds). A structure-aware
// mutator edits the parsed model the way hostile or broken exporters do:
// dims, attributes, names, op types, opsets, initializers, node order;
// one mutation in eight is libFuzzer's own byte-level one.
//
//===----------------------------------------------------------------------===//
#include "compiler/import/Importer.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>

extern "C" size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t maxSize);

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  onnx::ModelProto model;
  if (!model.ParseFromArray(data, (int)size))
    return 0;
  mlir::MLIRContext ctx(mlir::MLIRContext::Threading::DISABLED);
  mlir::ScopedDiagnosticHandler quiet(&ctx, [](mlir::Diagnostic &) { return mlir::success(); });
  // External data is looked up in a folder that does not exist.
  auto module = mlc::importOnnxModel(ctx, model, "fuzz.onnx", "/nonexistent/mlc-fuzz");
  (void)module;
  return 0;
}

namespace {

using Rng = std::mt19937_64;

int64_t interesting(Rng &rng) {
  static const int64_t values[] = {0,  1,  2,  3, -1, -2, 7, 64, 255, 256, 1 << 20,
                                   INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN, 1LL << 40};
  return values[rng() % (sizeof values / sizeof values[0])];
}

const char *someOp(Rng &rng) {
  static const char *ops[] = {
      "Add", "Mul", "Div", "MatMul", "Gemm", "Conv", "ConvTranspose", "MaxPool",
      "AveragePool", "Relu", "Reshape", "Transpose", "Concat", "Split", "Slice", "Gather",
      "GatherElements", "Expand", "Tile", "Pad", "Resize", "ReduceSum", "ReduceMean",
      "Softmax", "LayerNormalization", "BatchNormalization", "Cast", "Range",
      "ConstantOfShape", "Shape", "Unsqueeze", "Squeeze", "Flatten", "Where", "Equal",
      "Clip", "TopK", "CumSum", "OneHot", "Trilu", "DepthToSpace", "ArgMax", "Einsum",
      "Mod", "BitShift", "InstanceNormalization", "GlobalAveragePool", "Constant",
      "QuantizeLinear", "DequantizeLinear", "QLinearMatMul", "MatMulInteger", "LSTM", "GRU",
      "RNN", "ScatterND", "ScatterElements", "GatherND", "NonZero", "Compress",
      "GroupNormalization", "LRN", "ReverseSequence", "HannWindow"};
  return ops[rng() % (sizeof ops / sizeof ops[0])];
}

/// A name the graph already uses (or a fresh one).
std::string someName(const onnx::GraphProto &g, Rng &rng) {
  std::vector<const std::string *> names;
  for (const auto &in : g.input())
    names.push_back(&in.name());
  for (const auto &t : g.initializer())
    names.push_back(&t.name());
  for (const auto &n : g.node())
    for (const auto &o : n.output())
      names.push_back(&o);
  if (names.empty() || rng() % 8 == 0)
    return "fuzz_" + std::to_string(rng() % 4);
  return *names[rng() % names.size()];
}

void mutateDims(google::protobuf::RepeatedField<int64_t> &dims, Rng &rng) {
  switch (rng() % 3) {
  case 0:
    if (!dims.empty())
      dims.Set(rng() % dims.size(), interesting(rng));
    break;
  case 1:
    dims.Add(interesting(rng));
    break;
  default:
    if (!dims.empty())
      dims.RemoveLast();
  }
}

void mutateAttribute(onnx::NodeProto &n, Rng &rng) {
  if (n.attribute_size() == 0 || rng() % 4 == 0) {
    auto *a = n.add_attribute();
    static const char *names[] = {"axis", "axes", "kernel_shape", "strides", "pads",
                                  "dilations", "group", "keepdims", "perm", "to", "mode"};
    a->set_name(names[rng() % (sizeof names / sizeof names[0])]);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(interesting(rng));
    return;
  }
  auto *a = n.mutable_attribute(rng() % n.attribute_size());
  switch (rng() % 6) {
  case 0:
    a->set_i(interesting(rng));
    break;
  case 1:
    if (a->ints_size())
      a->set_ints(rng() % a->ints_size(), interesting(rng));
    else
      a->add_ints(interesting(rng));
    break;
  case 2:
    if (a->ints_size())
      a->mutable_ints()->RemoveLast();
    break;
  case 3:
    a->set_f(rng() % 2 ? -1.0f : 1e30f);
    break;
  case 4: // a wrong type for the value it holds
    a->set_type(static_cast<onnx::AttributeProto::AttributeType>(rng() % 14));
    break;
  default: // given twice
    *n.add_attribute() = *a;
  }
}

void mutateModel(onnx::ModelProto &m, Rng &rng) {
  onnx::GraphProto &g = *m.mutable_graph();
  int nodes = g.node_size();
  onnx::NodeProto *n = nodes ? g.mutable_node(rng() % nodes) : nullptr;
  switch (rng() % 14) {
  case 0:
    if (n)
      n->set_op_type(someOp(rng));
    break;
  case 1:
  case 2:
    if (n)
      mutateAttribute(*n, rng);
    break;
  case 3:
    if (n && n->input_size())
      n->set_input(rng() % n->input_size(), rng() % 4 ? someName(g, rng) : "");
    else if (n)
      n->add_input(someName(g, rng));
    break;
  case 4:
    if (n && n->output_size())
      n->set_output(rng() % n->output_size(), someName(g, rng));
    break;
  case 5:
    if (n && rng() % 2)
      n->add_input(someName(g, rng));
    else if (n && n->input_size())
      n->mutable_input()->RemoveLast();
    break;
  case 6:
    if (g.input_size()) {
      auto *t = g.mutable_input(rng() % g.input_size())->mutable_type()->mutable_tensor_type();
      if (rng() % 4 == 0) {
        t->set_elem_type(rng() % 24);
      } else {
        auto *shape = t->mutable_shape();
        if (shape->dim_size() && rng() % 3)
          shape->mutable_dim(rng() % shape->dim_size())->set_dim_value(interesting(rng));
        else if (rng() % 2)
          shape->add_dim()->set_dim_value(interesting(rng));
        else if (shape->dim_size())
          shape->mutable_dim()->RemoveLast();
      }
    }
    break;
  case 7:
    if (g.initializer_size()) {
      auto *t = g.mutable_initializer(rng() % g.initializer_size());
      switch (rng() % 3) {
      case 0:
        mutateDims(*t->mutable_dims(), rng);
        break;
      case 1:
        if (t->has_raw_data())
          t->mutable_raw_data()->resize(t->raw_data().size() / 2);
        break;
      default:
        t->set_data_type(rng() % 24);
      }
    }
    break;
  case 8:
    if (m.opset_import_size())
      m.mutable_opset_import(0)->set_version(rng() % 2 ? rng() % 30 : interesting(rng));
    break;
  case 9:
    if (nodes > 1)
      g.mutable_node()->SwapElements(rng() % nodes, rng() % nodes);
    break;
  case 10:
    if (n && rng() % 2)
      *g.add_node() = *n;
    else if (nodes)
      g.mutable_node()->DeleteSubrange(rng() % nodes, 1);
    break;
  case 11:
    if (g.output_size())
      g.mutable_output(rng() % g.output_size())->set_name(someName(g, rng));
    break;
  case 12:
    if (g.output_size()) {
      auto *t = g.mutable_output(rng() % g.output_size())->mutable_type()->mutable_tensor_type();
      t->set_elem_type(rng() % 17);
    }
    break;
  default:
    if (g.input_size())
      *g.add_input() = g.input(rng() % g.input_size());
  }
}

} // namespace

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t maxSize,
                                          unsigned int seed) {
  Rng rng(seed);
  onnx::ModelProto m;
  if (rng() % 8 == 0 || !m.ParseFromArray(data, (int)size))
    return LLVMFuzzerMutate(data, size, maxSize);
  int steps = 1 + rng() % 3;
  for (int i = 0; i < steps; ++i)
    mutateModel(m, rng);
  std::string out;
  if (!m.SerializeToString(&out) || out.size() > maxSize)
    return LLVMFuzzerMutate(data, size, maxSize);
  std::memcpy(data, out.data(), out.size());
  return out.size();
}
