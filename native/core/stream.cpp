#include "stream.h"

#if defined(__linux__)
#include <pthread.h>
#endif

namespace tessera {

Stream::Stream(std::string name) : name_(std::move(name)) {
  thread_ = std::thread([this] { run(); });
#if defined(__linux__)
  // Visible in top/gdb; Linux limits names to 15 characters.
  pthread_setname_np(thread_.native_handle(), name_.substr(0, 15).c_str());
#endif
}

Stream::~Stream() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_one();
  thread_.join();
}

void Stream::enqueue(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    tasks_.push_back(std::move(task));
  }
  ready_.notify_one();
}

void Stream::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    ready_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
    if (tasks_.empty()) return;  // stopping, and drained
    std::function<void()> task = std::move(tasks_.front());
    tasks_.pop_front();
    lock.unlock();
    task();  // tasks catch their own errors (see napi/runtime.cpp)
    task = nullptr;  // drop captured buffers before taking the lock again
    lock.lock();
  }
}

}  // namespace tessera
