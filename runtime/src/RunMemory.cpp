//===- RunMemory.cpp - what a run allocates, and abandoning a run --------===//
#include "RunMemory.h"

#include <csetjmp>
#include <cstdio>
#include <cstdlib>

using namespace mlc::runtime;

namespace {
/// This thread's innermost recovery point (null outside recoverable()).
thread_local std::jmp_buf *recoveryPoint = nullptr;
} // namespace

bool mlc::runtime::recoverable(void (*fn)(void *), void *data) {
  std::jmp_buf here;
  // Restores the outer point however this frame is left (return, jump
  // back, or an exception of fn).
  struct Restore {
    std::jmp_buf *outer = recoveryPoint;
    ~Restore() { recoveryPoint = outer; }
  } restore;
  recoveryPoint = &here;
  if (setjmp(here))
    return false;
  fn(data);
  return true;
}

void mlc::runtime::abandonToRecoveryPoint() noexcept {
  if (std::jmp_buf *to = recoveryPoint)
    std::longjmp(*to, 1);
  // Unreachable when the runtime calls every model through recoverable().
  std::fputs("mlc: a run failed outside any recovery point\n", stderr);
  std::abort();
}

RunMemory::RunMemory() {
  head_.prev = head_.next = &head_;
  if (const char *env = std::getenv("MLC_TEST_FAIL_ALLOC"))
    failAt_ = std::strtoull(env, nullptr, 10);
}

RunMemory::~RunMemory() {
  for (Block *b = head_.next; b != &head_;) {
    Block *next = b->next;
    std::free(b->base);
    b = next;
  }
}

void *RunMemory::allocate(uint64_t bytes, uint64_t alignment) noexcept {
  if (alignment < 16)
    alignment = 16;
  if (alignment & (alignment - 1) || alignment > (uint64_t(1) << 20))
    return nullptr;
  if (failAt_ && count_.fetch_add(1, std::memory_order_relaxed) + 1 == failAt_)
    return nullptr;
  // [base .. header .. aligned block]: the header sits right before the block.
  uint64_t total;
  if (__builtin_add_overflow(bytes ? bytes : 1, sizeof(Block) + alignment - 1, &total))
    return nullptr;
  void *base = std::malloc(total);
  if (!base)
    return nullptr;
  uintptr_t user = ((uintptr_t)base + sizeof(Block) + alignment - 1) & ~(uintptr_t)(alignment - 1);
  Block *b = reinterpret_cast<Block *>(user) - 1;
  b->base = base;
  std::lock_guard<std::mutex> lock(mutex_);
  b->prev = &head_;
  b->next = head_.next;
  head_.next->prev = b;
  head_.next = b;
  return reinterpret_cast<void *>(user);
}

void RunMemory::release(void *p) noexcept {
  if (!p)
    return;
  Block *b = static_cast<Block *>(p) - 1;
  std::lock_guard<std::mutex> lock(mutex_);
  b->prev->next = b->next;
  b->next->prev = b->prev;
  std::free(b->base);
}

bool RunMemory::releaseIfOwned(void *p) noexcept {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Block *b = head_.next;
    while (b != &head_ && reinterpret_cast<void *>(b + 1) != p)
      b = b->next;
    if (b == &head_)
      return false;
  }
  release(p);
  return true;
}

void RunMemory::fail(const char *what, uint64_t bytes) noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  if (failed_.load(std::memory_order_relaxed))
    return;
  std::snprintf(error_, sizeof error_, "%s (%llu bytes)", what, (unsigned long long)bytes);
  failed_.store(true, std::memory_order_release);
}

std::string RunMemory::error() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return error_;
}

void *mlc::runtime::runAlloc(mlc_exec_ctx *ctx, uint64_t bytes, uint64_t alignment) {
  RunMemory &m = static_cast<RunState *>(ctx->runtime)->memory;
  if (void *p = m.allocate(bytes, alignment))
    return p;
  m.fail("the model ran out of memory allocating a buffer", bytes);
  abandonToRecoveryPoint();
}

void mlc::runtime::runFree(mlc_exec_ctx *ctx, void *ptr) {
  static_cast<RunState *>(ctx->runtime)->memory.release(ptr);
}
