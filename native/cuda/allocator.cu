// The caching allocator (see allocator.h).
#include "allocator.h"

#include <cstdint>
#include <string>

#include "../core/errors.h"
#include "platform.h"

namespace tessera::TESSERA_CUDA_NS {

namespace {

constexpr size_t kSmallRounding = 512;
constexpr size_t kSmallLimit = size_t{1} << 20;

std::string errorText(cudaError_t err) {
  return std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
}

}  // namespace

CachingAllocator::CachingAllocator(int deviceIndex) : device_(deviceIndex) {}

CachingAllocator::~CachingAllocator() {
  if (cudaSetDevice(device_) != cudaSuccess) return;
  for (auto& [ptr, size] : live_) cudaFree(ptr);
  for (auto& [size, blocks] : free_) {
    for (void* ptr : blocks) cudaFree(ptr);
  }
  cudaGetLastError();
}

size_t CachingAllocator::roundSize(size_t bytes) {
  if (bytes > (SIZE_MAX >> 2)) return bytes;  // unallocatable anyway; rounding would overflow
  if (bytes <= kSmallLimit) {
    const size_t rounded = (bytes + kSmallRounding - 1) / kSmallRounding * kSmallRounding;
    return rounded == 0 ? kSmallRounding : rounded;  // a unique, valid pointer even for 0 bytes
  }
  size_t power = kSmallLimit;
  while (power <= bytes / 2) power *= 2;
  const size_t step = power / 4;
  return (bytes + step - 1) / step * step;
}

void* CachingAllocator::allocate(size_t bytes) {
  const size_t size = roundSize(bytes);
  std::lock_guard<std::mutex> lock(mutex_);

  auto bucket = free_.find(size);
  if (bucket != free_.end() && !bucket->second.empty()) {
    void* ptr = bucket->second.back();
    bucket->second.pop_back();
    live_.emplace(ptr, size);
    return ptr;
  }

  // The calling thread (the JS thread, usually) may have another device current.
  cudaError_t err = cudaSetDevice(device_);
  if (err != cudaSuccess) {
    cudaGetLastError();
    fail(ErrorCode::kBackend, "cudaSetDevice(" + std::to_string(device_) + ") failed: " + errorText(err));
  }
  void* ptr = nullptr;
  err = cudaMalloc(&ptr, size);
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // not sticky: clear it so the next launch check does not see it
    releaseCacheLocked();
    err = cudaMalloc(&ptr, size);
  }
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    size_t freeBytes = 0, totalBytes = 0;
    cudaMemGetInfo(&freeBytes, &totalBytes);
    cudaGetLastError();
    fail(ErrorCode::kOutOfMemory,
         expected(std::to_string(bytes) + " bytes of free memory", "cuda:" + std::to_string(device_),
                  "an out-of-memory error (" + errorText(err) + "; " + std::to_string(freeBytes) + " of " +
                      std::to_string(totalBytes) + " bytes free)"));
  }
  if (err != cudaSuccess) {
    cudaGetLastError();
    fail(ErrorCode::kBackend,
         "cudaMalloc of " + std::to_string(size) + " bytes on cuda:" + std::to_string(device_) + " failed: " + errorText(err));
  }
  live_.emplace(ptr, size);
  return ptr;
}

void CachingAllocator::deallocate(void* ptr) {
  if (ptr == nullptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = live_.find(ptr);
  if (it == live_.end()) return;
  free_[it->second].push_back(ptr);
  live_.erase(it);
}

void CachingAllocator::releaseCacheLocked() {
  cudaDeviceSynchronize();
  for (auto& [size, blocks] : free_) {
    for (void* ptr : blocks) cudaFree(ptr);
  }
  free_.clear();
  cudaGetLastError();
}

}  // namespace tessera::TESSERA_CUDA_NS
