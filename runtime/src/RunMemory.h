//===- RunMemory.h - what a run allocates, and abandoning a run --*- C++ -*-===//
//
// Internal to the runtime. A CPU model's generated code allocates every
// buffer of a run through the execution context (mlc_exec_ctx::alloc/free,
// mlc/abi.h). RunMemory keeps those blocks on one list, so that the runtime
// can take the outputs the run made and free whatever else it left, and so
// that a run whose allocation fails can be abandoned without leaking:
//
//  - The runtime calls the model (and parallel_for each task) through
//    recoverable(), which marks a recovery point on that thread.
//  - An allocation that fails records the error in the run and jumps back
//    to the innermost recovery point (longjmp): the frames it skips are the
//    generated code's and the alloc hook's, which own nothing to unwind.
//  - parallel_for, once all its tasks are done, abandons its caller in turn
//    when one of them failed, so the failure reaches the run's own point.
//
//===----------------------------------------------------------------------===//
#ifndef MLC_RUNTIME_RUNMEMORY_H
#define MLC_RUNTIME_RUNMEMORY_H

#include "mlc/abi.h"

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

struct mlc_session;

namespace mlc::runtime {

/// Calls fn(data) with a recovery point on this thread; false when the
/// call was abandoned (abandonToRecoveryPoint) instead of returning. An
/// exception of fn passes through.
bool recoverable(void (*fn)(void *), void *data);

/// recoverable() for a callable: `fn()` with a recovery point.
template <typename F> bool recoverableCall(F &fn) {
  return recoverable([](void *f) { (*static_cast<F *>(f))(); }, &fn);
}

/// Jumps back to this thread's innermost recovery point. Only the
/// generated code's frames (and the caller's, which must own nothing with
/// a destructor) may lie between the two.
[[noreturn]] void abandonToRecoveryPoint() noexcept;

/// The blocks one run allocated and has not freed, and its failure.
class RunMemory {
public:
  RunMemory();
  ~RunMemory(); ///< frees every block still held
  RunMemory(const RunMemory &) = delete;
  RunMemory &operator=(const RunMemory &) = delete;

  /// `bytes` aligned to `alignment` (a power of two; at least 16 is used),
  /// or null when memory is short or the request is absurd. Thread-safe.
  void *allocate(uint64_t bytes, uint64_t alignment) noexcept;
  /// Frees a block of allocate() (null: nothing).
  void release(void *p) noexcept;
  /// Frees `p` if it is a live block of allocate(); false otherwise (a
  /// buffer of a model that allocates with malloc itself).
  bool releaseIfOwned(void *p) noexcept;

  /// Records the first failure of the run (thread-safe).
  void fail(const char *what, uint64_t bytes) noexcept;
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  /// The first failure's message ("" if none).
  std::string error() const;

private:
  struct Block {
    Block *prev, *next;
    void *base;
  };
  mutable std::mutex mutex_;
  Block head_; ///< circular list of live blocks
  /// Tests: the allocation that fails ($MLC_TEST_FAIL_ALLOC=N: the N-th of
  /// each run, counted across threads; 0: none).
  uint64_t failAt_ = 0;
  std::atomic<uint64_t> count_{0};
  std::atomic<bool> failed_{false};
  char error_[160] = {0};
};

/// What ctx->runtime points to during a CPU run of ABI v2.
struct RunState {
  mlc_session *session = nullptr; ///< null for runs without a session
  RunMemory memory;
};

/// The execution context's allocation hooks (ctx->runtime is a RunState).
void *runAlloc(mlc_exec_ctx *ctx, uint64_t bytes, uint64_t alignment);
void runFree(mlc_exec_ctx *ctx, void *ptr);

} // namespace mlc::runtime

#endif
