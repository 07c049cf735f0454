//===- importer_test.cpp - ONNX import: signatures, data, errors ---------===//
#include "compiler/import/Importer.h"
#include "dialects/CurrentNode.h"
#include "dialects/MlcDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace {

std::string tempPath(const std::string &name) {
  return ::testing::TempDir() + "/" + name;
}

onnx::ModelProto baseModel() {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto *g = m.mutable_graph();
  g->set_name("g");
  auto *in = g->add_input();
  in->set_name("x");
  auto *tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  tt->mutable_shape()->add_dim()->set_dim_param("batch");
  tt->mutable_shape()->add_dim()->set_dim_value(2);
  return m;
}

void addNode(onnx::ModelProto &m, const std::string &op, std::vector<std::string> ins,
             const std::string &out, const std::string &name) {
  auto *n = m.mutable_graph()->add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (auto &i : ins)
    n->add_input(i);
  n->add_output(out);
}

std::string save(const onnx::ModelProto &m, const std::string &name) {
  std::string p = tempPath(name);
  std::ofstream f(p, std::ios::binary);
  m.SerializeToOstream(&f);
  return p;
}

TEST(Importer, SignatureWithSymbolicDimsAndTypedInitializer) {
  auto m = baseModel();
  auto *w = m.mutable_graph()->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(2);
  w->add_float_data(1.5f);
  w->add_float_data(-2.0f);
  addNode(m, "Mul", {"x", "w"}, "y", "scale");
  m.mutable_graph()->add_output()->set_name("y");
  mlir::MLIRContext ctx;
  auto mod = mlc::importOnnxFile(ctx, save(m, "sig.onnx"));
  ASSERT_TRUE(mod.ok()) << mod.status();
  auto f = (*mod)->lookupSymbol<mlir::func::FuncOp>("main");
  ASSERT_TRUE(f);
  auto t = mlir::cast<mlir::RankedTensorType>(f.getArgumentTypes()[0]);
  EXPECT_TRUE(t.isDynamicDim(0));
  EXPECT_EQ(t.getDimSize(1), 2);
  auto names = f.getArgAttrOfType<mlir::ArrayAttr>(0, "mlc.dim_names");
  EXPECT_EQ(mlir::cast<mlir::StringAttr>(names[0]).str(), "batch");
  bool found = false;
  f.walk([&](mlc::ConstantOp c) {
    auto v = llvm::to_vector(mlir::cast<mlir::DenseElementsAttr>(c.getValue()).getValues<float>());
    found = v.size() == 2 && v[0] == 1.5f && v[1] == -2.0f;
  });
  EXPECT_TRUE(found);
  // --shape by symbolic name makes the dim static.
  mlc::ImportOptions o;
  o.shapes["batch"] = {7};
  auto fixed = mlc::importOnnxFile(ctx, tempPath("sig.onnx"), o);
  ASSERT_TRUE(fixed.ok()) << fixed.status();
  auto ft = (*fixed)->lookupSymbol<mlir::func::FuncOp>("main").getArgumentTypes()[0];
  EXPECT_EQ(mlir::cast<mlir::RankedTensorType>(ft).getDimSize(0), 7);
}

TEST(Importer, ListsEveryUnsupportedNode) {
  auto m = baseModel();
  addNode(m, "Relu", {"x"}, "a", "fine");
  addNode(m, "NoSuchOp", {"a"}, "b", "bad1");
  addNode(m, "AlsoMissing", {"b"}, "c", "bad2");
  auto *n = m.mutable_graph()->add_node();
  n->set_op_type("Softmax");
  n->set_name("bad3");
  n->add_input("a");
  n->add_output("d");
  auto *attr = n->add_attribute();
  attr->set_name("mystery");
  attr->set_type(onnx::AttributeProto::INT);
  attr->set_i(1);
  m.mutable_graph()->add_output()->set_name("c");
  mlir::MLIRContext ctx;
  auto mod = mlc::importOnnxFile(ctx, save(m, "bad.onnx"));
  ASSERT_FALSE(mod.ok());
  std::string msg(mod.status().message());
  EXPECT_NE(msg.find("3 node(s) cannot be compiled (unsupported, or invalid by ONNX's rules)"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("node 'bad1' (NoSuchOp, opset 13)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("node 'bad3' (Softmax, opset 13): unsupported attribute(s): mystery"),
            std::string::npos) << msg;
  // bad2 consumes bad1's output: its own op type is still checked.
  EXPECT_NE(msg.find("node 'bad2' (AlsoMissing, opset 13)"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("'fine'"), std::string::npos) << msg;
}

// An internal error names the node being compiled: each pattern
// application is scoped to the op it rewrites, and nothing is left set after.
TEST(Importer, PatternsKnowTheirNode) {
  onnx::ModelProto m = baseModel();
  addNode(m, "Relu", {"x"}, "y", "the_relu");
  m.mutable_graph()->add_output()->set_name("y");
  mlir::MLIRContext ctx;
  mlc::trackCurrentNode(ctx);
  auto mod = mlc::importOnnxFile(ctx, save(m, "node_context.onnx"));
  ASSERT_TRUE(mod.ok()) << mod.status().message();
  std::vector<std::string> seen;
  struct Record : mlir::RewritePattern {
    Record(mlir::MLIRContext *c, std::vector<std::string> &seen)
        : RewritePattern(MatchAnyOpTypeTag(), 1, c), seen(seen) {}
    mlir::LogicalResult matchAndRewrite(mlir::Operation *op,
                                        mlir::PatternRewriter &) const override {
      if (op->getName().getDialectNamespace() == "mlc")
        seen.push_back(mlc::describeCurrentNode());
      return mlir::failure();
    }
    std::vector<std::string> &seen;
  };
  mlir::RewritePatternSet patterns(&ctx);
  patterns.add<Record>(&ctx, seen);
  ASSERT_TRUE(mlir::succeeded(mlir::applyPatternsAndFoldGreedily(mod->get(), std::move(patterns))));
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.front(), "node 'the_relu' (Relu)");
  EXPECT_EQ(mlc::describeCurrentNode(), "");
}

TEST(Importer, RejectsMalformedFiles) {
  mlir::MLIRContext ctx;
  std::string p = tempPath("garbage.onnx");
  std::ofstream(p) << "not a protobuf";
  auto mod = mlc::importOnnxFile(ctx, p);
  ASSERT_FALSE(mod.ok());
  EXPECT_NE(std::string(mod.status().message()).find("not a valid ONNX model"), std::string::npos);
  auto missing = mlc::importOnnxFile(ctx, tempPath("nope.onnx"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

} // namespace
