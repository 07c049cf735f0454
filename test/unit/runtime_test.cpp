//===- runtime_test.cpp - the C runtime API and its C++ wrapper ----------===//
#include "ThreadPool.h"
#include "mlc/abi.h"
#include "mlc/runtime.h"
#include "mlc/runtime.hpp"

#include <gtest/gtest.h>

#include <dlfcn.h>
#include <sys/stat.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

static std::string modelDir;

// RunOutOfMemoryIsAStatus asks malloc for 64 TiB: under AddressSanitizer
// that must return null (as glibc's does), not end the process.
extern "C" const char *__asan_default_options() { return "allocator_may_return_null=1"; }

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
  EXPECT_STREQ(mlc_model_metadata(m.m, "abi_version"), "2");
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
      s.setNumThreads(2);
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

/// A copy of mlp.so changed by `damage`, in a fresh temporary folder.
std::string damagedCopy(const std::string &name,
                        const std::function<void(std::string &bytes)> &damage) {
  std::ifstream in(path("mlp.so"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  damage(bytes);
  std::string out = std::filesystem::temp_directory_path() / ("mlc-damaged-" + name);
  std::ofstream(out, std::ios::binary) << bytes;
  return out;
}

TEST(Runtime, RefusesTruncatedOrDamagedArtifacts) {
  struct Case {
    const char *name;
    std::function<void(std::string &)> damage;
    const char *message;
  };
  std::vector<Case> cases = {
      {"half.so", [](std::string &b) { b.resize(b.size() / 2); }, "truncated or damaged"},
      {"short.so", [](std::string &b) { b.resize(100); }, "truncated or damaged"},
      {"tiny.so", [](std::string &b) { b.resize(10); }, "too short"},
      {"empty.so", [](std::string &b) { b.clear(); }, "0 bytes"},
      {"no_trailer_cut.so", [](std::string &b) { b.resize(b.size() - 40); }, "truncated"},
      {"flipped.so", [](std::string &b) { for (size_t i = 0; i < 4096; ++i) b[b.size() / 2 + i] ^= 0x5a; },
       "checksum mismatch"},
      {"header.so", [](std::string &b) { b[0] = 'X'; }, "checksum mismatch"},
  };
  for (const Case &c : cases) {
    std::string file = damagedCopy(c.name, c.damage);
    for (bool info : {false, true}) {
      mlc_model *m = nullptr;
      mlc_status s = info ? mlc_model_load_info(file.c_str(), &m) : mlc_model_load(file.c_str(), &m);
      EXPECT_EQ(s, MLC_ERROR_LOAD) << c.name << (info ? " (info)" : "");
      EXPECT_EQ(m, nullptr);
      EXPECT_NE(std::string(mlc_last_error()).find(c.message), std::string::npos)
          << c.name << ": " << mlc_last_error();
    }
    std::filesystem::remove(file);
  }
  // Not regular files: a folder, a FIFO (which must not block).
  std::string fifo = std::filesystem::temp_directory_path() / "mlc-fifo.so";
  std::filesystem::remove(fifo);
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string &f : {std::string("/tmp"), fifo}) {
    mlc_model *m = nullptr;
    EXPECT_EQ(mlc_model_load(f.c_str(), &m), MLC_ERROR_LOAD) << f;
    EXPECT_NE(std::string(mlc_last_error()).find("not a regular file"), std::string::npos);
  }
  std::filesystem::remove(fifo);
}

TEST(Runtime, DescribesFromTheFileWithoutLoading) {
  mlc::Model loaded(path("mlp.so"));
  // Even on a CPU that lacks every feature the code needs.
  setenv("MLC_RUNTIME_DISABLE_CPU_FEATURES", mlc_model_metadata(loaded.get(), "cpu_features"), 1);
  mlc_model *m = nullptr;
  ASSERT_EQ(mlc_model_load_info(path("mlp.so").c_str(), &m), MLC_OK) << mlc_last_error();
  unsetenv("MLC_RUNTIME_DISABLE_CPU_FEATURES");
  for (const char *key : {"compiler_version", "compile_options", "cpu_features", "arena_size",
                          "num_kernels", "abi_version"})
    EXPECT_STREQ(mlc_model_metadata(m, key), mlc_model_metadata(loaded.get(), key)) << key;
  ASSERT_EQ(mlc_model_num_inputs(m), mlc_model_num_inputs(loaded.get()));
  for (size_t i = 0; i < mlc_model_num_inputs(m); ++i) {
    mlc_tensor_info a, b;
    ASSERT_EQ(mlc_model_input_info(m, i, &a), MLC_OK);
    ASSERT_EQ(mlc_model_input_info(loaded.get(), i, &b), MLC_OK);
    EXPECT_STREQ(a.name, b.name);
    EXPECT_EQ(a.dtype, b.dtype);
    ASSERT_EQ(a.rank, b.rank);
    for (int32_t d = 0; d < a.rank; ++d) {
      EXPECT_EQ(a.dims[d], b.dims[d]);
      EXPECT_STREQ(a.dim_names[d], b.dim_names[d]);
    }
  }
  ASSERT_EQ(mlc_model_num_kernels(m), mlc_model_num_kernels(loaded.get()));
  for (size_t i = 0; i < mlc_model_num_kernels(m); ++i) {
    mlc_kernel_info a, b;
    mlc_model_kernel_info(m, i, &a);
    mlc_model_kernel_info(loaded.get(), i, &b);
    EXPECT_STREQ(a.name, b.name);
    EXPECT_EQ(a.flops, b.flops);
  }
  mlc_session *s = nullptr;
  EXPECT_EQ(mlc_session_create(m, &s), MLC_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(mlc_last_error()).find("mlc_model_load_info"), std::string::npos);
  mlc_tensor out{};
  EXPECT_EQ(mlc_model_run(m, nullptr, 0, &out, 1), MLC_ERROR_INVALID_ARGUMENT);
  mlc_model_free(m);
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

//===----------------------------------------------------------------------===//
// The thread pool behind parallel_for
//===----------------------------------------------------------------------===//

struct ChunkLog {
  std::mutex mutex;
  std::vector<std::pair<int64_t, int64_t>> chunks;
  std::set<std::thread::id> threads;
  std::vector<std::atomic<int>> visits;
  explicit ChunkLog(int64_t n) : visits(n) {}
};

void logChunk(void *closure, int64_t begin, int64_t end) {
  auto *log = static_cast<ChunkLog *>(closure);
  for (int64_t i = begin; i < end; ++i)
    log->visits[i]++;
  std::lock_guard<std::mutex> lock(log->mutex);
  log->chunks.push_back({begin, end});
  log->threads.insert(std::this_thread::get_id());
}

TEST(ThreadPool, SplitsIntoContiguousNearEqualChunks) {
  for (int threads : {1, 2, 3, 8}) {
    std::string error;
    auto pool = mlc::runtime::ThreadPool::create(threads, error);
    ASSERT_TRUE(pool) << error;
    EXPECT_EQ(pool->numThreads(), threads);
    for (int64_t n : {0, 1, 2, 3, 7, 1000}) {
      SCOPED_TRACE("threads " + std::to_string(threads) + ", n " + std::to_string(n));
      ChunkLog log(n);
      pool->parallelFor(n, logChunk, &log);
      for (int64_t i = 0; i < n; ++i)
        EXPECT_EQ(log.visits[i].load(), 1) << "index " << i;
      int64_t expected = std::min<int64_t>(threads, n);
      ASSERT_EQ((int64_t)log.chunks.size(), expected);
      // One chunk per worker, unless the caller took over a worker's chunk
      // because it was slow to start.
      EXPECT_LE((int64_t)log.threads.size(), std::max<int64_t>(expected, 1));
      std::sort(log.chunks.begin(), log.chunks.end());
      int64_t next = 0, smallest = n, largest = 0;
      for (auto [begin, end] : log.chunks) {
        EXPECT_EQ(begin, next) << "chunks are contiguous";
        EXPECT_LT(begin, end) << "no empty chunk";
        smallest = std::min(smallest, end - begin);
        largest = std::max(largest, end - begin);
        next = end;
      }
      EXPECT_EQ(next, n);
      if (n)
        EXPECT_LE(largest - smallest, 1) << "near-equal chunks";
    }
  }
}

void addRange(void *closure, int64_t begin, int64_t end) {
  auto *sum = static_cast<std::atomic<int64_t> *>(closure);
  int64_t s = 0;
  for (int64_t i = begin; i < end; ++i)
    s += i;
  *sum += s;
}

TEST(ThreadPool, ManyDispatchesInARow) {
  std::string error;
  auto pool = mlc::runtime::ThreadPool::create(3, error);
  ASSERT_TRUE(pool) << error;
  constexpr int kDispatches = 5000;
  std::atomic<int64_t> sum{0};
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kDispatches; ++i)
    pool->parallelFor(100, addRange, &sum);
  double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0)
                  .count() / kDispatches;
  EXPECT_EQ(sum.load(), (int64_t)kDispatches * 4950);
  std::printf("[          ] %.2f us per 3-thread dispatch\n", us);
}

TEST(ThreadPool, OversubscribedPoolStaysCorrect) {
  // 8 threads on one CPU: most workers are not running when a job is
  // posted, so the caller runs their chunks (and late workers find them
  // taken).
  cpu_set_t saved, one;
  ASSERT_EQ(sched_getaffinity(0, sizeof saved, &saved), 0);
  CPU_ZERO(&one);
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &saved)) {
      CPU_SET(c, &one);
      break;
    }
  ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
  std::string error;
  auto pool = mlc::runtime::ThreadPool::create(8, error); // workers inherit the mask
  sched_setaffinity(0, sizeof saved, &saved);
  ASSERT_TRUE(pool) << error;
  constexpr int kDispatches = 1000;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kDispatches; ++i) {
    ChunkLog log(1000);
    pool->parallelFor(1000, logChunk, &log);
    int wrong = 0;
    for (int64_t k = 0; k < 1000; ++k)
      wrong += log.visits[k].load() != 1;
    ASSERT_EQ(wrong, 0) << "dispatch " << i;
    ASSERT_EQ(log.chunks.size(), 8u);
  }
  double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0)
                  .count() / kDispatches;
  std::printf("[          ] %.2f us per dispatch, 8 threads on one CPU\n", us);
}

TEST(ThreadPool, NestedCallsRunInline) {
  std::string error;
  auto pool = mlc::runtime::ThreadPool::create(4, error);
  ASSERT_TRUE(pool) << error;
  struct Outer {
    mlc::runtime::ThreadPool *pool;
    std::atomic<int64_t> sum{0};
  } outer{pool.get()};
  pool->parallelFor(
      8,
      [](void *c, int64_t begin, int64_t end) {
        auto *o = static_cast<Outer *>(c);
        for (int64_t i = begin; i < end; ++i)
          o->pool->parallelFor(10, addRange, &o->sum);
      },
      &outer);
  EXPECT_EQ(outer.sum.load(), 8 * 45);
}

TEST(ThreadPool, TaskExceptionsAreKept) {
  std::string error;
  auto pool = mlc::runtime::ThreadPool::create(2, error);
  ASSERT_TRUE(pool) << error;
  pool->parallelFor(
      2,
      [](void *, int64_t begin, int64_t) {
        if (begin == 1)
          throw std::runtime_error("chunk 1 failed");
      },
      nullptr);
  EXPECT_EQ(pool->takeError(), "chunk 1 failed");
  EXPECT_EQ(pool->takeError(), "");
  std::atomic<int64_t> sum{0};
  pool->parallelFor(10, addRange, &sum);
  EXPECT_EQ(sum.load(), 45);
}

//===----------------------------------------------------------------------===//
// Allocations of the generated code
//===----------------------------------------------------------------------===//

struct Session {
  mlc_session *s = nullptr;
  Session(mlc_model *m, int threads) {
    EXPECT_EQ(mlc_session_create(m, &s), MLC_OK) << mlc_last_error();
    EXPECT_EQ(mlc_session_set_num_threads(s, threads), MLC_OK) << mlc_last_error();
  }
  ~Session() { mlc_session_free(s); }
};

// A run whose buffer cannot be allocated (an input so long that an n x n
// buffer needs 64 TiB) fails with a status, not a crash, frees what it had
// allocated (the sanitizer job's leak check), and the session runs on.
TEST(Runtime, RunOutOfMemoryIsAStatus) {
  Model m("outer.so");
  for (int threads : {1, 2}) {
    Session s(m.m, threads);
    std::vector<float> big(size_t(1) << 22, 1.0f);
    mlc_tensor in = f32(big, {(int64_t)big.size()});
    mlc_tensor out[2] = {};
    ASSERT_EQ(mlc_session_run(s.s, &in, 1, out, 2), MLC_ERROR_OUT_OF_MEMORY);
    EXPECT_NE(std::string(mlc_last_error()).find("ran out of memory allocating a buffer"),
              std::string::npos)
        << mlc_last_error();
    EXPECT_EQ(out[0].data, nullptr);
    EXPECT_EQ(out[1].data, nullptr);

    std::vector<float> x = {0.0f, 0.5f, 1.0f};
    in = f32(x, {3});
    ASSERT_EQ(mlc_session_run(s.s, &in, 1, out, 2), MLC_OK) << mlc_last_error();
    ASSERT_EQ(out[0].shape[0], 3);
    ASSERT_EQ(out[0].shape[1], 3);
    const float *y = (const float *)out[0].data, *z = (const float *)out[1].data;
    for (int i = 0; i < 3; ++i) {
      EXPECT_FLOAT_EQ(z[i], 1.0f); // rows of a softmax
      for (int j = 0; j < 3; ++j)
        EXPECT_FLOAT_EQ(y[i * 3 + j], x[i] + x[j]);
    }
    mlc_tensor_release(&out[0]);
    mlc_tensor_release(&out[1]);
  }
}

// Every allocation of a run in turn fails ($MLC_TEST_FAIL_ALLOC=N: the
// host's, the kernels' and those of parallel tasks on worker threads): each
// run reports it and leaves the outputs alone; the first N past the run's
// allocations gives the same result as a run without failures.
TEST(Runtime, EveryAllocationOfARunCanFail) {
  Model m("norm_mlp.so");
  Session s(m.m, 2);
  std::vector<float> x(3 * 40 * 64);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = std::sin(0.01f * (float)i);
  mlc_tensor in = f32(x, {3, 40, 64});
  mlc_tensor ref{};
  ASSERT_EQ(mlc_session_run(s.s, &in, 1, &ref, 1), MLC_OK) << mlc_last_error();
  int failures = 0;
  for (int n = 1;; ++n) {
    ASSERT_LT(n, 200) << "the run never completed";
    setenv("MLC_TEST_FAIL_ALLOC", std::to_string(n).c_str(), 1);
    mlc_tensor out{};
    mlc_status st = mlc_session_run(s.s, &in, 1, &out, 1);
    unsetenv("MLC_TEST_FAIL_ALLOC");
    if (st == MLC_OK) {
      ASSERT_EQ(out.size_bytes, ref.size_bytes);
      EXPECT_EQ(std::memcmp(out.data, ref.data, ref.size_bytes), 0);
      mlc_tensor_release(&out);
      break;
    }
    ASSERT_EQ(st, MLC_ERROR_OUT_OF_MEMORY) << mlc_last_error();
    EXPECT_EQ(out.data, nullptr);
    ++failures;
  }
  // The host's buffers and the tasks' scratch: several allocations.
  EXPECT_GE(failures, 4);
  mlc_tensor_release(&ref);
}

//===----------------------------------------------------------------------===//
// Tables of every ABI version, built here with the system C compiler
//===----------------------------------------------------------------------===//

/// fake_model.c built in variants: an ABI v2 and a v1 table, and two the
/// runtime must refuse (a v3 entry; a v2 entry whose table says 7).
class FakeModels : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/mlc-runtime-test-XXXXXX";
    if (!mkdtemp(tmpl))
      return;
    dir_ = tmpl;
    ok_ = build("v2.so", "") && build("v1.so", "-DV1 -DENTRY=mlc_model_v1 -DTABLE_VERSION=1") &&
          build("v3.so", "-DENTRY=mlc_model_v3 -DTABLE_VERSION=3") &&
          build("v2_says_7.so", "-DTABLE_VERSION=7") &&
          build("v2_table.so", "-DEXPORT_TABLE") &&
          build("absurd.so", "-DEXPORT_TABLE -DNUM_INPUTS=4000000000u");
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    if (!dir_.empty())
      std::filesystem::remove_all(dir_, ec);
  }
  static bool build(const char *so, const char *flags) {
    std::string cmd = "cc -shared -fPIC -O1 -I'" MLC_RUNTIME_INCLUDE_DIR "' " + std::string(flags) +
                      " -o '" + dir_ + "/" + so + "' '" MLC_FAKE_MODEL_SOURCE "'";
    return std::system(cmd.c_str()) == 0;
  }
  void SetUp() override {
    if (!ok_)
      GTEST_SKIP() << "cannot build the fake models with the system C compiler (cc)";
  }
  static std::string fake(const char *so) { return dir_ + "/" + so; }
  /// A global of a loaded fake model.
  static int global(const char *so, const char *name) {
    void *h = dlopen(fake(so).c_str(), RTLD_NOW | RTLD_NOLOAD);
    int value = h ? *static_cast<int *>(dlsym(h, name)) : -1;
    if (h)
      dlclose(h);
    return value;
  }

  static std::string dir_;
  static bool ok_;
};
std::string FakeModels::dir_;
bool FakeModels::ok_ = false;

std::vector<float> runFake(mlc_session *s, int64_t n) {
  std::vector<float> x(n);
  for (int64_t i = 0; i < n; ++i)
    x[i] = (float)i;
  mlc_tensor in = f32(x, {n});
  mlc_tensor out{};
  EXPECT_EQ(mlc_session_run(s, &in, 1, &out, 1), MLC_OK) << mlc_last_error();
  std::vector<float> y((const float *)out.data, (const float *)out.data + n);
  mlc_tensor_release(&out);
  return y;
}

TEST_F(FakeModels, ReadsTheExportedTableFromTheFile) {
  mlc_model *m = nullptr;
  ASSERT_EQ(mlc_model_load_info(fake("v2_table.so").c_str(), &m), MLC_OK) << mlc_last_error();
  // Nothing was loaded.
  EXPECT_EQ(dlopen(fake("v2_table.so").c_str(), RTLD_NOW | RTLD_NOLOAD), nullptr);
  mlc_tensor_info info;
  ASSERT_EQ(mlc_model_input_info(m, 0, &info), MLC_OK);
  EXPECT_STREQ(info.name, "x");
  ASSERT_EQ(info.rank, 1);
  EXPECT_EQ(info.dims[0], -1);
  EXPECT_STREQ(info.dim_names[0], "n");
  mlc_kernel_info k;
  ASSERT_EQ(mlc_model_kernel_info(m, 1, &k), MLC_OK);
  EXPECT_STREQ(k.name, "offset");
  EXPECT_STREQ(mlc_model_metadata(m, "compiler_version"), "mlc fake");
  mlc_model_free(m);
  // Loaded, the same table runs.
  mlc::Model model(fake("v2_table.so"));
  mlc::Session s(model);
  std::vector<float> y = runFake(s.get(), 4);
  EXPECT_EQ(y[3], 8.0f);
  // Without the exported table (an older mlc): only loading describes it.
  EXPECT_EQ(mlc_model_load_info(fake("v2.so").c_str(), &m), MLC_ERROR_ABI);
  EXPECT_NE(std::string(mlc_last_error()).find("older than 0.3"), std::string::npos);
}

TEST_F(FakeModels, RefusesATableWithAbsurdCounts) {
  for (bool info : {true, false}) {
    mlc_model *m = nullptr;
    std::string f = fake("absurd.so");
    EXPECT_EQ(info ? mlc_model_load_info(f.c_str(), &m) : mlc_model_load(f.c_str(), &m),
              MLC_ERROR_LOAD);
    EXPECT_NE(std::string(mlc_last_error()).find("implausible counts: 4000000000 inputs"),
              std::string::npos)
        << mlc_last_error();
  }
}

TEST_F(FakeModels, LoadsAbiV2WithKernels) {
  mlc::Model model(fake("v2.so"));
  EXPECT_EQ(model.metadata("abi_version"), "2");
  EXPECT_EQ(model.metadata("num_kernels"), "2");
  auto kernels = model.kernels();
  ASSERT_EQ(kernels.size(), 2u);
  EXPECT_EQ(kernels[0].name, "scale");
  EXPECT_EQ(kernels[0].flops, 1000);
  EXPECT_EQ(kernels[1].name, "offset");
  EXPECT_EQ(kernels[1].flops, -1);
  mlc_kernel_info info;
  EXPECT_EQ(mlc_model_kernel_info(model.get(), 2, &info), MLC_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(mlc_last_error()).find("kernel index 2 out of range"), std::string::npos);
}

TEST_F(FakeModels, RunsAbiV2OnTheSessionThreads) {
  mlc::Model model(fake("v2.so"));
  mlc::Session s(model);
  for (int threads : {1, 2, 3, 8}) {
    s.setNumThreads(threads);
    EXPECT_EQ(s.numThreads(), threads);
    for (int64_t n : {0, 1, 5, 1000}) {
      std::vector<float> y = runFake(s.get(), n);
      for (int64_t i = 0; i < n; ++i)
        ASSERT_EQ(y[i], 2.0f * i + 2.0f) << "threads " << threads << ", n " << n;
    }
    EXPECT_EQ(global("v2.so", "fake_num_threads"), threads);
    EXPECT_EQ(global("v2.so", "fake_ctx_size"), (int)sizeof(mlc_exec_ctx));
  }
  EXPECT_THROW(s.setNumThreads(-1), mlc::Error);
  EXPECT_EQ(s.numThreads(), 8);
  cpu_set_t set;
  ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  s.setNumThreads(0);
  EXPECT_EQ(s.numThreads(), CPU_COUNT(&set));

  // Without a session: the calling thread only.
  std::vector<float> x = {1, 2, 3};
  mlc_tensor in = f32(x, {3});
  mlc_tensor out{};
  ASSERT_EQ(mlc_model_run(model.get(), &in, 1, &out, 1), MLC_OK) << mlc_last_error();
  EXPECT_EQ(((const float *)out.data)[2], 8.0f);
  mlc_tensor_release(&out);
  EXPECT_EQ(global("v2.so", "fake_num_threads"), 1);
}

TEST_F(FakeModels, ThreadCountFromTheEnvironment) {
  mlc_model *m = nullptr;
  ASSERT_EQ(mlc_model_load(fake("v2.so").c_str(), &m), MLC_OK) << mlc_last_error();
  mlc_session *s = nullptr;
  setenv("MLC_NUM_THREADS", "3", 1);
  ASSERT_EQ(mlc_session_create(m, &s), MLC_OK) << mlc_last_error();
  EXPECT_EQ(mlc_session_num_threads(s), 3);
  mlc_session_free(s);
  for (const char *bad : {"0", "-2", "two", "3x", "99999999999"}) {
    setenv("MLC_NUM_THREADS", bad, 1);
    s = nullptr;
    EXPECT_EQ(mlc_session_create(m, &s), MLC_ERROR_INVALID_ARGUMENT) << bad;
    EXPECT_EQ(s, nullptr);
    EXPECT_NE(std::string(mlc_last_error()).find("MLC_NUM_THREADS"), std::string::npos);
    EXPECT_NE(std::string(mlc_last_error()).find(bad), std::string::npos);
  }
  unsetenv("MLC_NUM_THREADS");
  mlc_model_free(m);
}

TEST_F(FakeModels, ProfilesKernelsAndRuns) {
  mlc::Model model(fake("v2.so"));
  mlc::Session s(model);
  s.setNumThreads(2);
  runFake(s.get(), 100);
  EXPECT_TRUE(s.profileEvents().empty()) << "nothing recorded before profiling is on";
  s.setProfiling(true);
  for (int i = 0; i < 3; ++i)
    runFake(s.get(), 100);
  std::vector<mlc_profile_event> events = s.profileEvents();
  ASSERT_EQ(events.size(), 12u);
  for (int run = 0; run < 3; ++run) {
    const mlc_profile_event *e = &events[run * 4];
    EXPECT_EQ(e[0].kernel, 0);
    EXPECT_EQ(e[1].kernel, 1);
    EXPECT_EQ(e[2].kernel, 1);
    EXPECT_EQ(e[3].kernel, -1);
    for (int k = 0; k < 3; ++k) {
      EXPECT_LE(e[k].begin_ns, e[k].end_ns);
      EXPECT_GE(e[k].begin_ns, e[3].begin_ns) << "kernels lie inside their run";
      EXPECT_LE(e[k].end_ns, e[3].end_ns);
    }
    if (run)
      EXPECT_GE(e[0].begin_ns, events[run * 4 - 1].end_ns);
  }
  s.clearProfile();
  EXPECT_TRUE(s.profileEvents().empty());
  runFake(s.get(), 10);
  EXPECT_EQ(s.profileEvents().size(), 4u);
  s.setProfiling(false);
  runFake(s.get(), 10);
  EXPECT_EQ(s.profileEvents().size(), 4u) << "kept after profiling is off, nothing added";
  s.setProfiling(true);
  EXPECT_TRUE(s.profileEvents().empty()) << "a new recording starts empty";
}

TEST_F(FakeModels, SessionsWithTwoThreadsRunConcurrently) {
  mlc::Model model(fake("v2.so"));
  constexpr int64_t kN = 4099;
  std::vector<float> expected(kN);
  for (int64_t i = 0; i < kN; ++i)
    expected[i] = 2.0f * i + 2.0f;
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      mlc::Session s(model);
      s.setNumThreads(2);
      for (int i = 0; i < 300; ++i)
        mismatches[t] += runFake(s.get(), kN) != expected;
    });
  for (auto &th : threads)
    th.join();
  for (int t = 0; t < 4; ++t)
    EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

TEST_F(FakeModels, LoadsAbiV1OnOneThread) {
  mlc::Model model(fake("v1.so"));
  EXPECT_EQ(model.metadata("abi_version"), "1");
  EXPECT_EQ(model.metadata("num_kernels"), "0");
  EXPECT_TRUE(model.kernels().empty());
  mlc::Session s(model);
  s.setNumThreads(4);
  EXPECT_EQ(s.numThreads(), 1);
  s.setProfiling(true);
  std::vector<float> y = runFake(s.get(), 7);
  EXPECT_EQ(y[6], 14.0f);
  std::vector<mlc_profile_event> events = s.profileEvents();
  ASSERT_EQ(events.size(), 1u) << "v1 tables have no kernel hooks: whole runs only";
  EXPECT_EQ(events[0].kernel, -1);
}

TEST_F(FakeModels, RefusesOtherAbiVersionsByName) {
  mlc_model *m = nullptr;
  EXPECT_EQ(mlc_model_load(fake("v3.so").c_str(), &m), MLC_ERROR_ABI);
  std::string msg = mlc_last_error();
  EXPECT_NE(msg.find("v3.so' uses model ABI v3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("reads v1 and v2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("upgrade the mlc runtime"), std::string::npos) << msg;
  EXPECT_EQ(m, nullptr);

  EXPECT_EQ(mlc_model_load(fake("v2_says_7.so").c_str(), &m), MLC_ERROR_ABI);
  msg = mlc_last_error();
  EXPECT_NE(msg.find("exports mlc_model_v2 but its table says ABI version 7"), std::string::npos)
      << msg;
  EXPECT_EQ(m, nullptr);
}

/// CPU time of this process, in ms.
double processCpuMs() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

TEST_F(FakeModels, IdlePoolSleeps) {
  mlc::Model model(fake("v2.so"));
  mlc::Session s(model);
  s.setNumThreads(4);
  runFake(s.get(), 1000);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  double before = processCpuMs();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  double used = processCpuMs() - before;
  EXPECT_LT(used, 5.0) << "an idle pool of 4 threads used " << used << " ms of CPU in 500 ms";
}

} // namespace

int main(int argc, char **argv) {
  ::testing::InitGoogleTest(&argc, argv);
  modelDir = argc > 1 ? argv[1] : ".";
  return RUN_ALL_TESTS();
}
