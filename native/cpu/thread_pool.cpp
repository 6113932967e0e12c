#include "thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <utility>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <immintrin.h>
#endif

namespace tessera::cpu {

namespace {

// A task that throws (a TesseraException, std::bad_alloc) must not unwind a worker
// thread, which would end the process: the first error is kept and rethrown on the
// calling thread once every task has finished.
std::exception_ptr runGuarded(const std::function<void(int)>& fn, int task) {
  try {
    fn(task);
  } catch (...) {
    return std::current_exception();
  }
  return nullptr;
}

// A hint to the core that this is a spin-wait loop (frees the sibling hyperthread and
// saves power), where the ISA has one.
inline void cpuRelax() {
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace

int ThreadPool::defaultThreadCount() {
  if (const char* env = std::getenv("TESSERA_NUM_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return std::min(n, 256);
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(std::min(hw, 256u));
}

int ThreadPool::defaultSpinMicros(int numThreads) {
  if (numThreads <= 1) return 0;
  if (const char* env = std::getenv("TESSERA_SPIN_US")) {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && n >= 0) return static_cast<int>(std::min(n, 10000L));
  }
  return kDefaultSpinMicros;
}

ThreadPool::ThreadPool(int numThreads)
    : numThreads_(numThreads > 0 ? numThreads : defaultThreadCount()), spinMicros_(defaultSpinMicros(numThreads_)) {
  workers_.reserve(numThreads_ - 1);
  for (int i = 1; i < numThreads_; ++i) workers_.emplace_back([this, i] { workerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

template <typename Done>
void ThreadPool::spinUntil(Done done, Clock::duration worked) const {
  const Clock::duration budget = std::min<Clock::duration>(worked, std::chrono::microseconds(spinMicros_));
  if (budget <= Clock::duration::zero()) return;
  const Clock::time_point deadline = Clock::now() + budget;
  // Reading the clock every 16 polls keeps its cost out of the loop.
  for (int i = 0; !done(); ++i) {
    cpuRelax();
    if (i % 16 == 15 && Clock::now() >= deadline) return;
  }
}

void ThreadPool::workerLoop(int) {
  uint64_t seen = 0;
  Clock::duration worked{};  // on the last job: no spin before the first
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    if (!stopping_ && generation_ == seen) {
      lock.unlock();
      spinUntil([&] {
        return generation_.load(std::memory_order_acquire) != seen || stopping_.load(std::memory_order_acquire);
      }, worked);
      lock.lock();
    }
    wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
    if (stopping_) return;
    seen = generation_;
    const Clock::time_point start = Clock::now();
    while (nextTask_ < jobTasks_) {
      const int task = nextTask_++;
      const auto* job = job_;
      lock.unlock();
      std::exception_ptr error = runGuarded(*job, task);
      lock.lock();
      if (error && !error_) error_ = error;
      if (--pending_ == 0) done_.notify_all();
    }
    worked = Clock::now() - start;
  }
}

void ThreadPool::runTasks(int numTasks, const std::function<void(int)>& fn) {
  if (numTasks <= 0) return;
  if (numTasks == 1 || numThreads_ == 1) {
    for (int t = 0; t < numTasks; ++t) fn(t);
    return;
  }
  std::unique_lock<std::mutex> lock(mutex_);
  job_ = &fn;
  jobTasks_ = numTasks;
  nextTask_ = 0;
  pending_ = numTasks;
  ++generation_;
  wake_.notify_all();
  const Clock::time_point start = Clock::now();
  // The calling thread works too, then waits for stragglers.
  while (nextTask_ < jobTasks_) {
    const int task = nextTask_++;
    lock.unlock();
    std::exception_ptr error = runGuarded(fn, task);
    lock.lock();
    if (error && !error_) error_ = error;
    --pending_;
  }
  // Every task must have finished before fn (a reference into the caller's frame)
  // goes out of scope, failed or not.
  if (pending_ != 0) {
    lock.unlock();
    spinUntil([&] { return pending_.load(std::memory_order_acquire) == 0; }, Clock::now() - start);
    lock.lock();
  }
  done_.wait(lock, [&] { return pending_ == 0; });
  job_ = nullptr;
  jobTasks_ = 0;
  std::exception_ptr error = std::exchange(error_, nullptr);
  lock.unlock();
  if (error) std::rethrow_exception(error);
}

void ThreadPool::parallelFor(int64_t n, int64_t grain,
                             const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t maxChunks = (n + grain - 1) / grain;
  // A few chunks per thread balance uneven work without much dispatch overhead.
  const int64_t chunks = std::min<int64_t>(maxChunks, static_cast<int64_t>(numThreads_) * 4);
  if (chunks <= 1) {
    fn(0, n);
    return;
  }
  const int64_t step = (n + chunks - 1) / chunks;
  runTasks(static_cast<int>(chunks), [&](int t) {
    const int64_t begin = t * step;
    const int64_t end = std::min(n, begin + step);
    if (begin < end) fn(begin, end);
  });
}

}  // namespace tessera::cpu
