// One ordered queue of work per device: a native thread that runs tasks in the
// order they were enqueued. Ops return as soon as their task is queued; the
// JS thread never waits on a kernel.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace tessera {

class Stream {
 public:
  explicit Stream(std::string name);
  // Runs the tasks already queued, then joins the thread.
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  void enqueue(std::function<void()> task);

 private:
  void run();

  std::string name_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace tessera
