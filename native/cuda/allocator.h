// A caching allocator for one CUDA device. cudaMalloc is slow and cudaFree waits
// for the whole device, so freed blocks are kept in free lists bucketed by their
// rounded size and handed out again.
//
// Reusing a block needs no event because the backend has ONE stream: a block the
// host frees (perhaps while kernels that read it are still queued) is only handed
// to work enqueued later on that same stream, which runs after those kernels.
// Host code; no CUDA headers here.
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "namespace.h"

namespace tessera::TESSERA_CUDA_NS {

class CachingAllocator {
 public:
  explicit CachingAllocator(int deviceIndex);
  // Frees every block, cached or still live; CUDA errors are ignored here (at
  // process exit the runtime may already be unloading).
  ~CachingAllocator();
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // Any thread. On cudaErrorMemoryAllocation the cache is released and the
  // cudaMalloc retried once; then TesseraException(kOutOfMemory). Any other CUDA
  // error is TesseraException(kBackend).
  void* allocate(size_t bytes);
  // Any thread; makes no CUDA call, so it is safe from finalizers and destructors.
  // Null and pointers this allocator did not hand out are ignored.
  void deallocate(void* ptr);

 private:
  // Sizes are rounded up so that nearby requests share a bucket: to 512 bytes up
  // to 1 MiB, beyond that to a quarter of the largest power of two below the size
  // (under 25% slack).
  static size_t roundSize(size_t bytes);
  // Gives every cached block back to CUDA, after waiting for the device (a cached
  // block may still be read by queued kernels). The caller holds mutex_.
  void releaseCacheLocked();

  const int device_;
  std::mutex mutex_;
  std::unordered_map<void*, size_t> live_;      // handed out: pointer -> rounded size
  std::map<size_t, std::vector<void*>> free_;   // cached: rounded size -> blocks
};

// A launcher's scratch block (none for 0 bytes), given back when the launcher
// returns: safe at once, since the single stream orders any reuse after the
// kernels that read it.
struct Workspace {
  CachingAllocator& allocator;
  void* ptr;
  Workspace(CachingAllocator& a, size_t bytes) : allocator(a), ptr(bytes ? a.allocate(bytes) : nullptr) {}
  ~Workspace() { allocator.deallocate(ptr); }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  template <typename T>
  T* as() const { return static_cast<T*>(ptr); }
};

}  // namespace tessera::TESSERA_CUDA_NS
