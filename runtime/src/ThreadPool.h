//===- ThreadPool.h - the worker threads behind parallel_for ----*- C++ -*-===//
//
// Internal to the runtime (and its unit test). A pool of n-1 workers plus
// the calling thread runs one parallel_for at a time: [0, n) is split into
// min(threads, n) contiguous chunks of near-equal size, chunk 0 on the
// caller and chunk c on worker c-1 (the same chunk on the same thread from
// one kernel to the next, for cache reuse). Only the workers a dispatch
// needs are woken. A worker that has not claimed its chunk shortly after
// the caller finished its own (asleep, or not scheduled on a busy machine)
// loses it to the caller, so a dispatch never waits for a thread to be
// scheduled just to start. Idle workers spin for a short bound and then
// sleep on a condition variable, so an idle pool costs no CPU.
//
//===----------------------------------------------------------------------===//
#ifndef MLC_RUNTIME_THREADPOOL_H
#define MLC_RUNTIME_THREADPOOL_H

#include "mlc/abi.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mlc::runtime {

/// [begin, end) of chunk `c` when [0, n) is split into `chunks` contiguous
/// parts whose sizes differ by at most one (the larger ones first).
inline void chunkRange(int64_t n, int64_t chunks, int64_t c, int64_t &begin, int64_t &end) {
  int64_t base = n / chunks, rem = n % chunks;
  begin = c * base + (c < rem ? c : rem);
  end = begin + base + (c < rem ? 1 : 0);
}

class ThreadPool {
public:
  /// Starts numThreads-1 workers; null (with `error` set) when a thread
  /// cannot be started. numThreads must be >= 1.
  static std::unique_ptr<ThreadPool> create(int numThreads, std::string &error);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  int numThreads() const { return (int)workers_.size() + 1; }

  /// Runs fn(closure, begin, end) over [0, n) as described above and returns
  /// when every chunk is done. Never throws: an exception thrown by fn is
  /// caught and kept for takeError(). A call made from inside a task, or
  /// while another thread is using the pool, runs fn(closure, 0, n) inline.
  void parallelFor(int64_t n, mlc_task_fn fn, void *closure) noexcept;

  /// The message of the first exception a task threw since the last call
  /// ("" if none), and clears it.
  std::string takeError();

private:
  struct alignas(64) Worker {
    std::atomic<uint64_t> posted{0};  // sequence number of the last job posted
    std::atomic<uint64_t> claimed{0}; // sequence of the last job whose chunk was claimed
    std::atomic<bool> sleeping{false};
    std::mutex mutex;
    std::condition_variable wake;
    std::thread thread;
  };

  explicit ThreadPool(int numWorkers);
  void workerLoop(int index);
  void runChunk(int64_t chunk) noexcept;
  void recordError(const char *what) noexcept;
  void waitForWorkers(int64_t chunks);

  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<bool> busy_{false};
  bool stopping_ = false; // published to workers by a posted job

  // The current job, written by the caller before posting and read by the
  // workers it was posted to.
  mlc_task_fn fn_ = nullptr;
  void *closure_ = nullptr;
  int64_t n_ = 0, chunks_ = 0;
  uint64_t sequence_ = 0;

  alignas(64) std::atomic<int64_t> pending_{0}; // worker chunks not done yet
  std::atomic<bool> callerSleeping_{false};
  std::mutex callerMutex_;
  std::condition_variable callerWake_;

  std::mutex errorMutex_;
  std::string error_;
  std::atomic<bool> hasError_{false};
};

} // namespace mlc::runtime

#endif
