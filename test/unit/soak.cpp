//===- soak.cpp - one model, many threads, valid and invalid inputs -------===//
//
//   soak MODEL.so [--threads 8] [--runs 10000] [--seed 1]
//
// Loads MODEL once (add_relu.so from make_runtime_models.py: inputs x and y
// of shape [batch, 4] sharing the symbolic dim `batch`), then every thread
// runs it RUNS times on its own session with random inputs of random batch
// sizes. Four runs in five are valid and must match the single-thread
// result bit for bit; the rest are invalid (wrong dtype, rank, static dim,
// disagreeing symbolic dims, negative or overflowing dims, no data, too
// small a buffer, too small an output buffer) and must fail with
// MLC_ERROR_INVALID_ARGUMENT. Prints resident memory at the start and at
// the end; exits 1 on any mismatch, on a wrong status, or when resident
// memory grew by more than 64 MiB.
//
//===----------------------------------------------------------------------===//
#include "mlc/runtime.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

long residentKiB() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::atol(line.c_str() + 6);
  return -1;
}

mlc_tensor f32(std::vector<float> &v, int64_t batch) {
  mlc_tensor t{};
  t.data = v.data();
  t.size_bytes = v.size() * sizeof(float);
  t.dtype = MLC_DTYPE_F32;
  t.rank = 2;
  t.shape[0] = batch;
  t.shape[1] = 4;
  return t;
}

const int64_t kBatches[] = {0, 1, 2, 3, 7, 16, 33, 100};

struct Reference {
  std::vector<float> x, y, out;
};

} // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: soak MODEL.so [--threads N] [--runs N] [--seed N]\n");
    return 2;
  }
  int threads = 8, runs = 10000;
  unsigned seed = 1;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--threads")
      threads = std::atoi(argv[i + 1]);
    else if (k == "--runs")
      runs = std::atoi(argv[i + 1]);
    else if (k == "--seed")
      seed = (unsigned)std::atoi(argv[i + 1]);
  }
  mlc_model *model = nullptr;
  if (mlc_model_load(argv[1], &model) != MLC_OK) {
    std::fprintf(stderr, "soak: %s\n", mlc_last_error());
    return 1;
  }

  // Single-thread references, one per batch size.
  std::vector<Reference> refs;
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  for (int64_t b : kBatches) {
    Reference r;
    r.x.resize(b * 4);
    r.y.resize(b * 4);
    for (float &v : r.x)
      v = normal(rng);
    for (float &v : r.y)
      v = normal(rng);
    mlc_tensor in[2] = {f32(r.x, b), f32(r.y, b)}, out{};
    if (mlc_model_run(model, in, 2, &out, 1) != MLC_OK) {
      std::fprintf(stderr, "soak: reference run failed: %s\n", mlc_last_error());
      return 1;
    }
    r.out.assign((float *)out.data, (float *)out.data + b * 4);
    mlc_tensor_release(&out);
    refs.push_back(std::move(r));
  }

  std::atomic<long> mismatches{0}, wrongStatus{0}, valid{0}, invalid{0};
  long rssStart = 0;
  auto work = [&](int id, int count) {
    mlc_session *s = nullptr;
    if (mlc_session_create(model, &s) != MLC_OK || mlc_session_set_num_threads(s, 1) != MLC_OK) {
      ++wrongStatus;
      return;
    }
    std::mt19937 r(seed * 7919 + id);
    std::vector<float> own(400);
    for (int i = 0; i < count; ++i) {
      size_t k = r() % refs.size();
      Reference &ref = refs[k];
      int64_t b = kBatches[k];
      mlc_tensor in[2] = {f32(ref.x, b), f32(ref.y, b)};
      mlc_tensor out{};
      bool callerBuffer = r() % 2;
      if (callerBuffer) {
        out.data = own.data();
        out.size_bytes = own.size() * sizeof(float);
      }
      int kind = r() % 5 == 0 ? 1 + r() % 9 : 0;
      switch (kind) {
      case 1: in[0].dtype = MLC_DTYPE_F64; break;
      case 2: in[1].rank = 3; break;
      case 3: in[0].shape[1] = 5; break;
      case 4: in[1].shape[0] = b + 1; break;                       // symbolic dims disagree
      case 5: in[0].shape[0] = in[1].shape[0] = -3; break;
      case 6: in[0].shape[0] = in[1].shape[0] = int64_t(1) << 62; break; // bytes overflow
      case 7: in[0].data = nullptr; in[0].size_bytes = 0; if (!b) kind = 0; break;
      case 8: in[1].size_bytes = b ? 4 : 0; if (!b) kind = 0; break;
      case 9:
        out.data = own.data();
        out.size_bytes = b ? 4 : 0;
        callerBuffer = true;
        if (!b) kind = 0;
        break;
      }
      mlc_status st = mlc_session_run(s, in, 2, &out, 1);
      if (kind) {
        ++invalid;
        if (st != MLC_ERROR_INVALID_ARGUMENT && wrongStatus++ < 5)
          std::fprintf(stderr, "soak: invalid input (kind %d, batch %lld) gave status %d: %s\n",
                       kind, (long long)b, (int)st, st ? mlc_last_error() : "");
        if (st == MLC_OK && !callerBuffer)
          mlc_tensor_release(&out);
        continue;
      }
      ++valid;
      if (st != MLC_OK) {
        if (wrongStatus++ < 5)
          std::fprintf(stderr, "soak: valid input (batch %lld) failed: %s\n", (long long)b,
                       mlc_last_error());
        continue;
      }
      if (out.rank != 2 || out.shape[0] != b || out.shape[1] != 4 ||
          (b && std::memcmp(out.data, ref.out.data(), ref.out.size() * sizeof(float)) != 0))
        ++mismatches;
      if (!callerBuffer)
        mlc_tensor_release(&out);
    }
    mlc_session_free(s);
  };

  // A warm-up round (allocator pools, thread stacks), then the soak.
  {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back(work, 1000 + t, 50);
    for (auto &th : pool)
      th.join();
  }
  rssStart = residentKiB();
  std::printf("soak: %d threads x %d runs, resident memory at start %ld KiB\n", threads, runs,
              rssStart);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back(work, t, runs);
  for (auto &th : pool)
    th.join();
  long rssEnd = residentKiB();
  std::printf("soak: %ld valid runs (%ld differ from the single-thread result), %ld invalid "
              "runs, %ld wrong statuses; resident memory at end %ld KiB (%+ld KiB)\n",
              valid.load(), mismatches.load(), invalid.load(), wrongStatus.load(), rssEnd,
              rssEnd - rssStart);
  mlc_model_free(model);
  bool ok = mismatches == 0 && wrongStatus == 0 && rssEnd - rssStart < 64 * 1024;
  std::printf("soak: %s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
