// Reference-counted device memory. A Tensor's native handle holds one reference,
// and every queued kernel holds one for each buffer it touches, so disposing a
// tensor right after an op is safe: the bytes go when the last user is done.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>

#include "backend.h"
#include "errors.h"

namespace tessera {

// Bytes freed off the JS thread, reported to V8 the next time the JS thread
// allocates (V8's external-memory counter may only be touched from JS).
struct ExternalMemoryAccount {
  std::atomic<int64_t> releasedBytes{0};
};

class Storage {
 public:
  Storage(std::shared_ptr<Backend> backend, size_t bytes,
          std::shared_ptr<ExternalMemoryAccount> account)
      : backend_(std::move(backend)), account_(std::move(account)), bytes_(bytes) {
    // Zero-sized tensors still get a distinct, valid (1-byte) allocation.
    data_ = backend_->allocate(bytes_ == 0 ? 1 : bytes_);
  }
  ~Storage() {
    backend_->deallocate(data_, bytes_ == 0 ? 1 : bytes_);
    if (account_) account_->releasedBytes.fetch_add(static_cast<int64_t>(bytes_));
  }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return backend_->device(); }

  // Whether any stream task has been queued on this storage. Until then nothing
  // else can be reading or writing it, so host memory may be filled directly.
  void markQueued() { queued_.store(true, std::memory_order_relaxed); }
  bool queued() const { return queued_.load(std::memory_order_relaxed); }

  // A kernel that failed poisons its outputs; ops reading a poisoned storage
  // pass the error on, and reading it rejects with the original error.
  void setError(std::shared_ptr<const TesseraException> error) {
    std::lock_guard<std::mutex> lock(errorMutex_);
    error_ = std::move(error);
  }
  std::shared_ptr<const TesseraException> error() const {
    std::lock_guard<std::mutex> lock(errorMutex_);
    return error_;
  }

 private:
  std::shared_ptr<Backend> backend_;
  std::shared_ptr<ExternalMemoryAccount> account_;
  size_t bytes_;
  void* data_ = nullptr;
  std::atomic<bool> queued_{false};
  mutable std::mutex errorMutex_;
  std::shared_ptr<const TesseraException> error_;
};

using StoragePtr = std::shared_ptr<Storage>;

}  // namespace tessera
