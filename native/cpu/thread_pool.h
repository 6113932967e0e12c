// A fixed pool of native worker threads for data-parallel CPU kernels. The
// calling thread (a device stream) takes part in every parallelFor, so a pool
// of N threads has N-1 workers.
//
// Waits spin briefly before they block: a worker that has finished a job polls for
// the next one, and the caller polls for stragglers, and only then sleep on a
// condition variable. A stream runs its kernels back to back, and a condition-variable
// wake-up on the 2-vCPU development host took tens of microseconds twice per job: the
// int4 decode GEMV, at about half a millisecond a layer, ran 10–16% faster with a
// 100 µs spin. A spin lasts at most TESSERA_SPIN_US microseconds and at most as long
// as the thread worked on the job before it: a stream of tiny jobs, where a spinning
// worker took a core from the JS thread (a small op's call cost 1.5× as much on two
// cores), spins for microseconds, and an idle pool costs nothing once it has slept.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tessera::cpu {

class ThreadPool {
 public:
  // numThreads <= 0: TESSERA_NUM_THREADS, else the hardware concurrency.
  explicit ThreadPool(int numThreads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return numThreads_; }

  // Runs fn(begin, end) over [0, n) split into chunks of at least `grain`
  // items, and returns when every chunk is done. Not reentrant: kernels call it
  // once per phase, never from inside fn.
  void parallelFor(int64_t n, int64_t grain,
                   const std::function<void(int64_t, int64_t)>& fn);

  // Runs fn(t) for t in [0, numTasks) on distinct threads where possible. When
  // tasks throw, the other tasks still run to completion and the first exception
  // is rethrown here.
  void runTasks(int numTasks, const std::function<void(int)>& fn);

  static int defaultThreadCount();
  // The spin a pool of numThreads uses: 0 for one thread, which waits for no other;
  // else TESSERA_SPIN_US (0: block at once; larger than 10000: 10000), or
  // kDefaultSpinMicros where it is unset, negative or not an integer.
  static int defaultSpinMicros(int numThreads);
  static constexpr int kDefaultSpinMicros = 100;

 private:
  void workerLoop(int index);
  using Clock = std::chrono::steady_clock;
  // Polls until done(), for at most spinMicros_ and at most `worked` (the time this
  // thread spent on the job just done); the caller then blocks as usual.
  template <typename Done>
  void spinUntil(Done done, Clock::duration worked) const;

  int numThreads_;
  int spinMicros_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(int)>* job_ = nullptr;
  int jobTasks_ = 0;
  int nextTask_ = 0;
  // Written under mutex_ (so the condition variables' predicates see them), read
  // without it while spinning.
  std::atomic<int> pending_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stopping_{false};
  std::exception_ptr error_;
};

}  // namespace tessera::cpu
