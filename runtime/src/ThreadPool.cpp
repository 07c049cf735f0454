//===- ThreadPool.cpp - the worker threads behind parallel_for -----------===//
//
// Hand-off protocol: the caller writes the job, then bumps the `posted`
// sequence of each worker it needs; a worker that went to sleep set its
// `sleeping` flag first, and the caller wakes it under its mutex. Both sides
// use sequentially consistent flag/sequence accesses (store mine, load
// theirs), so one of them always sees the other and no wake-up is lost. The
// caller waits for `pending_` to reach zero the same way.
//
// Claims: worker w's chunk of job s is run by whoever first raises
// `claimed` from below s to s: the worker when it sees the post, or the
// caller when it steals. Sequences only grow, so a worker that wakes late
// with an old s finds its chunk claimed and touches nothing of the job:
// the caller never waits for a thread that has nothing left to do.
//
//===----------------------------------------------------------------------===//
#include "ThreadPool.h"
#include "RunMemory.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <exception>

namespace mlc::runtime {
namespace {

/// How long a waiting thread spins before it sleeps: pause-spin first, then
/// yield the core to others, then block. Long enough to stay warm across
/// the gaps of one run (serial host copies and small kernels between
/// distributed ones: MobileNetV2 at 2 threads, median 34-43 ms with a
/// 100 us bound against 25-30 ms with 2 ms, `mlc bench --threads 2`, same
/// machine, alternated), and bounded, so that an idle pool costs nothing
/// measurable once a run is over.
constexpr std::chrono::microseconds kPauseSpin{50}, kTotalSpin{2000};

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/// Spins until ready() or the spin bound; true if ready.
template <typename Ready> bool spinUntil(Ready ready) {
  auto start = std::chrono::steady_clock::now();
  for (unsigned i = 1;; ++i) {
    if (ready())
      return true;
    if (i % 64 == 0) {
      auto elapsed = std::chrono::steady_clock::now() - start;
      if (elapsed > kTotalSpin)
        return false;
      if (elapsed > kPauseSpin) {
        sched_yield();
        continue;
      }
    }
    cpuRelax();
  }
}

/// How long the caller, done with its own chunk, leaves unclaimed chunks to
/// their workers before running them itself.
constexpr std::chrono::microseconds kStealAfter{10};

/// Set while this thread runs a chunk: a nested parallel_for runs inline.
thread_local bool inTask = false;

/// Runs one task under a recovery point: a task whose allocation fails is
/// abandoned there (the run records why), so it never jumps across the
/// pool's own frames. parallel_for's caller learns of it from the run.
void callTask(mlc_task_fn fn, void *closure, int64_t begin, int64_t end) {
  auto call = [&] { fn(closure, begin, end); };
  recoverableCall(call);
}

/// Claims a chunk for job `sequence`; true if this thread is to run it.
bool claim(std::atomic<uint64_t> &claimed, uint64_t sequence) {
  uint64_t v = claimed.load(std::memory_order_relaxed);
  while (v < sequence)
    if (claimed.compare_exchange_weak(v, sequence, std::memory_order_acq_rel))
      return true;
  return false;
}

} // namespace

ThreadPool::ThreadPool(int numWorkers) {
  workers_.reserve(numWorkers);
  for (int i = 0; i < numWorkers; ++i)
    workers_.push_back(std::make_unique<Worker>());
}

std::unique_ptr<ThreadPool> ThreadPool::create(int numThreads, std::string &error) {
  std::unique_ptr<ThreadPool> pool;
  try {
    pool.reset(new ThreadPool(std::max(numThreads, 1) - 1));
    for (size_t i = 0; i < pool->workers_.size(); ++i) {
      pool->workers_[i]->thread = std::thread([p = pool.get(), i] { p->workerLoop((int)i); });
      pthread_setname_np(pool->workers_[i]->thread.native_handle(), "mlc-worker");
    }
  } catch (const std::exception &e) {
    error = std::string("cannot start ") + std::to_string(numThreads - 1) +
            " worker threads: " + e.what();
    return nullptr; // ~ThreadPool stops the workers already started.
  }
  return pool;
}

ThreadPool::~ThreadPool() {
  stopping_ = true;
  ++sequence_;
  for (auto &w : workers_) {
    w->posted.store(sequence_);
    if (w->sleeping.load()) {
      std::lock_guard<std::mutex> lock(w->mutex);
      w->wake.notify_one();
    }
  }
  for (auto &w : workers_)
    if (w->thread.joinable())
      w->thread.join();
}

void ThreadPool::recordError(const char *what) noexcept {
  std::lock_guard<std::mutex> lock(errorMutex_);
  if (!hasError_.load(std::memory_order_relaxed)) {
    try {
      error_ = what;
    } catch (...) {
    }
    hasError_.store(true, std::memory_order_relaxed);
  }
}

std::string ThreadPool::takeError() {
  if (!hasError_.load())
    return "";
  std::lock_guard<std::mutex> lock(errorMutex_);
  std::string e = std::move(error_);
  error_.clear();
  hasError_.store(false);
  return e.empty() ? "a task failed" : e;
}

void ThreadPool::runChunk(int64_t chunk) noexcept {
  int64_t begin, end;
  chunkRange(n_, chunks_, chunk, begin, end);
  bool outer = inTask;
  inTask = true;
  try {
    callTask(fn_, closure_, begin, end);
  } catch (const std::exception &e) {
    recordError(e.what());
  } catch (...) {
    recordError("a task threw an exception");
  }
  inTask = outer;
}

void ThreadPool::workerLoop(int index) {
  Worker &w = *workers_[index];
  uint64_t seen = 0;
  for (;;) {
    if (!spinUntil([&] { return w.posted.load(std::memory_order_acquire) != seen; })) {
      std::unique_lock<std::mutex> lock(w.mutex);
      w.sleeping.store(true);
      while (w.posted.load() == seen)
        w.wake.wait(lock);
      w.sleeping.store(false, std::memory_order_relaxed);
    }
    seen = w.posted.load(std::memory_order_acquire);
    if (stopping_)
      return;
    if (!claim(w.claimed, seen))
      continue; // the caller ran it
    runChunk(index + 1);
    if (pending_.fetch_sub(1) == 1 && callerSleeping_.load()) {
      std::lock_guard<std::mutex> lock(callerMutex_);
      callerWake_.notify_one();
    }
  }
}

void ThreadPool::waitForWorkers(int64_t chunks) {
  auto done = [&] { return pending_.load(std::memory_order_acquire) == 0; };
  auto start = std::chrono::steady_clock::now();
  while (!done()) {
    if (std::chrono::steady_clock::now() - start > kStealAfter) {
      for (int64_t c = 1; c < chunks; ++c)
        if (claim(workers_[c - 1]->claimed, sequence_)) {
          runChunk(c);
          pending_.fetch_sub(1);
        }
      break;
    }
    cpuRelax();
  }
  if (spinUntil(done))
    return;
  std::unique_lock<std::mutex> lock(callerMutex_);
  callerSleeping_.store(true);
  while (pending_.load() != 0)
    callerWake_.wait(lock);
  callerSleeping_.store(false, std::memory_order_relaxed);
}

void ThreadPool::parallelFor(int64_t n, mlc_task_fn fn, void *closure) noexcept {
  if (n <= 0)
    return;
  int64_t chunks = std::min<int64_t>(numThreads(), n);
  auto runInline = [&] {
    bool outer = inTask;
    inTask = true;
    try {
      callTask(fn, closure, 0, n);
    } catch (const std::exception &e) {
      recordError(e.what());
    } catch (...) {
      recordError("a task threw an exception");
    }
    inTask = outer;
  };
  if (chunks == 1 || inTask) {
    runInline();
    return;
  }
  if (busy_.exchange(true, std::memory_order_acquire)) {
    runInline(); // another thread is using this pool
    return;
  }
  fn_ = fn;
  closure_ = closure;
  n_ = n;
  chunks_ = chunks;
  pending_.store(chunks - 1, std::memory_order_relaxed);
  ++sequence_;
  for (int64_t c = 1; c < chunks; ++c) {
    Worker &w = *workers_[c - 1];
    w.posted.store(sequence_);
    if (w.sleeping.load()) {
      std::lock_guard<std::mutex> lock(w.mutex);
      w.wake.notify_one();
    }
  }
  runChunk(0);
  waitForWorkers(chunks);
  busy_.store(false, std::memory_order_release);
}

} // namespace mlc::runtime
