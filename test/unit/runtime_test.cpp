//===- runtime_test.cpp - the C runtime API and its C++ wrapper ----------===//
#include "mlc/runtime.h"
#include "mlc/runtime.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

static std::string modelDir;

static std::string path(const char *name) { return modelDir + "/" + name; }

namespace {

mlc_tensor f32(std::vector<float> &data, std::vector<int64_t> shape) {
  mlc_tensor t{};
  t.data = data.data();
  t.size_bytes = data.size() * sizeof(float);
  t.dtype = MLC_DTYPE_F32;
  t.rank = (int32_t)shape.size();
  for (size_t i = 0; i < shape.size(); ++i)
    t.shape[i] = shape[i];
  return t;
}

struct Model {
  mlc_model *m = nullptr;
  explicit Model(const char *name) {
    EXPECT_EQ(mlc_model_load(path(name).c_str(), &m), MLC_OK) << mlc_last_error();
  }
  ~Model() { mlc_model_free(m); }
};

TEST(Runtime, DescribesSymbolicInputs) {
  Model m("add_relu.so");
  ASSERT_EQ(mlc_model_num_inputs(m.m), 2u);
  ASSERT_EQ(mlc_model_num_outputs(m.m), 1u);
  mlc_tensor_info info;
  ASSERT_EQ(mlc_model_input_info(m.m, 1, &info), MLC_OK);
  EXPECT_STREQ(info.name, "y");
  EXPECT_EQ(info.dtype, MLC_DTYPE_F32);
  ASSERT_EQ(info.rank, 2);
  EXPECT_EQ(info.dims[0], -1);
  EXPECT_STREQ(info.dim_names[0], "batch");
  EXPECT_EQ(info.dims[1], 4);
  EXPECT_EQ(mlc_model_input_info(m.m, 2, &info), MLC_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(mlc_last_error()).find("out of range"), std::string::npos);
  EXPECT_STREQ(mlc_model_metadata(m.m, "abi_version"), "1");
  EXPECT_NE(std::string(mlc_model_metadata(m.m, "compiler_version")).find("mlc"), std::string::npos);
}

TEST(Runtime, RunsAtSeveralBatchSizes) {
  Model m("add_relu.so");
  for (int64_t batch : {1, 3, 8}) {
    std::vector<float> x(batch * 4), y(batch * 4);
    for (size_t i = 0; i < x.size(); ++i) {
      x[i] = (float)i - 5.0f;
      y[i] = 0.5f * (float)i;
    }
    mlc_tensor in[2] = {f32(x, {batch, 4}), f32(y, {batch, 4})};
    mlc_tensor out{};
    ASSERT_EQ(mlc_model_run(m.m, in, 2, &out, 1), MLC_OK) << mlc_last_error();
    ASSERT_EQ(out.rank, 2);
    EXPECT_EQ(out.shape[0], batch);
    const float *o = (const float *)out.data;
    for (size_t i = 0; i < x.size(); ++i)
      EXPECT_FLOAT_EQ(o[i], std::max(0.0f, x[i] + y[i]));
    mlc_tensor_release(&out);
  }
}

TEST(Runtime, CallerProvidedOutput) {
  Model m("add_relu.so");
  std::vector<float> x(8, 1.0f), y(8, 2.0f), o(8, 0.0f), small(4);
  mlc_tensor in[2] = {f32(x, {2, 4}), f32(y, {2, 4})};
  mlc_tensor out = f32(o, {2, 4});
  ASSERT_EQ(mlc_model_run(m.m, in, 2, &out, 1), MLC_OK) << mlc_last_error();
  EXPECT_EQ(out.data, o.data());
  EXPECT_FLOAT_EQ(o[7], 3.0f);
  mlc_tensor tooSmall = f32(small, {1, 4});
  EXPECT_EQ(mlc_model_run(m.m, in, 2, &tooSmall, 1), MLC_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(mlc_last_error()).find("output 'out' needs 32 bytes"), std::string::npos);
}

TEST(Runtime, RefusesBadInputsByName) {
  Model m("add_relu.so");
  std::vector<float> x(8), y(12);
  mlc_tensor out{};
  // Wrong rank.
  mlc_tensor in[2] = {f32(x, {8}), f32(y, {3, 4})};
  EXPECT_EQ(mlc_model_run(m.m, in, 2, &out, 1), MLC_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(mlc_last_error()).find("input 'x' must have rank 2"), std::string::npos);
  // A static dim that differs.
  in[0] = f32(x, {4, 2});
  EXPECT_EQ(mlc_model_run(m.m, in, 2, &out, 1), MLC_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(mlc_last_error()).find("input 'x' dim 1 must be 4"), std::string::npos);
  // Two inputs that disagree on the shared symbolic dim.
  in[0] = f32(x, {2, 4});
  EXPECT_EQ(mlc_model_run(m.m, in, 2, &out, 1), MLC_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(mlc_last_error()).find("symbolic dim 'batch' is 2"), std::string::npos);
  // Wrong dtype.
  in[1] = f32(y, {2, 4});
  in[1].dtype = MLC_DTYPE_I32;
  EXPECT_EQ(mlc_model_run(m.m, in, 2, &out, 1), MLC_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(mlc_last_error()).find("input 'y' must be float32, got int32"), std::string::npos);
  // Wrong input count and null data.
  EXPECT_EQ(mlc_model_run(m.m, in, 1, &out, 1), MLC_ERROR_INVALID_ARGUMENT);
  in[1] = f32(y, {2, 4});
  in[1].data = nullptr;
  EXPECT_EQ(mlc_model_run(m.m, in, 2, &out, 1), MLC_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(mlc_last_error()).find("has no data"), std::string::npos);
}

TEST(Runtime, SessionsRunConcurrently) {
  mlc::Model model(path("mlp.so"));
  std::vector<float> x(32);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = std::sin((float)i);
  mlc::Tensor in = mlc::Tensor::view(x.data(), {2, 16});
  mlc::Session ref(model);
  std::vector<mlc::Tensor> expected = ref.run({&in});
  ASSERT_EQ(expected[0].shape(), (std::vector<int64_t>{2, 32}));
  std::vector<int> mismatches(8, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      mlc::Session s(model);
      for (int i = 0; i < 200; ++i) {
        auto out = s.run({&in});
        for (int k = 0; k < 64; ++k)
          mismatches[t] += out[0].data()[k] != expected[0].data()[k];
      }
    });
  for (auto &th : threads)
    th.join();
  for (int t = 0; t < 8; ++t)
    EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

TEST(Runtime, LoadErrors) {
  mlc_model *m = nullptr;
  EXPECT_EQ(mlc_model_load(path("missing.so").c_str(), &m), MLC_ERROR_LOAD);
  EXPECT_NE(std::string(mlc_last_error()).find("missing.so"), std::string::npos);
  EXPECT_EQ(mlc_model_load("libm.so.6", &m), MLC_ERROR_LOAD);
  EXPECT_EQ(mlc_model_load(nullptr, &m), MLC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(m, nullptr);
}

TEST(Runtime, RefusesMissingCpuFeatureByName) {
  mlc_model *m = nullptr;
  ASSERT_EQ(mlc_model_load(path("mlp.so").c_str(), &m), MLC_OK);
  std::string features = mlc_model_metadata(m, "cpu_features");
  mlc_model_free(m);
  ASSERT_FALSE(features.empty());
  std::string first = features.substr(0, features.find(','));
  setenv("MLC_RUNTIME_DISABLE_CPU_FEATURES", first.c_str(), 1);
  EXPECT_EQ(mlc_model_load(path("mlp.so").c_str(), &m), MLC_ERROR_UNSUPPORTED_CPU);
  EXPECT_NE(std::string(mlc_last_error()).find("'" + first + "'"), std::string::npos);
  unsetenv("MLC_RUNTIME_DISABLE_CPU_FEATURES");
}

TEST(Runtime, CppWrapperThrows) {
  EXPECT_THROW(mlc::Model(path("missing.so")), mlc::Error);
  mlc::Model model(path("mlp.so"));
  mlc::Session s(model);
  std::vector<float> x(10);
  mlc::Tensor bad = mlc::Tensor::view(x.data(), {2, 5});
  try {
    s.run({&bad});
    FAIL() << "expected an error";
  } catch (const mlc::Error &e) {
    EXPECT_EQ(e.status(), MLC_ERROR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(e.what()).find("input 'x'"), std::string::npos);
  }
}

} // namespace

int main(int argc, char **argv) {
  ::testing::InitGoogleTest(&argc, argv);
  modelDir = argc > 1 ? argv[1] : ".";
  return RUN_ALL_TESTS();
}
