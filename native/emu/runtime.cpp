// CUDA runtime stand-ins (runtime.h).
#include "runtime.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>

namespace tessera::simt {

namespace {

// Like CUDA's, the last error is per host thread and cleared when read.
thread_local cudaError_t gLastError = cudaSuccess;

cudaError_t record(cudaError_t err) {
  if (err != cudaSuccess) gLastError = err;
  return err;
}

// Allocations are aligned like cudaMalloc's, which kernels' vector loads rely on.
constexpr size_t kAllocationAlignment = 256;
// Small, so that a few hundred rows already fill the "device" and both tile
// shapes of the matmul launcher get used by ordinary test sizes.
constexpr int kMultiprocessors = 4;

size_t physicalBytes(int which) {
  return static_cast<size_t>(sysconf(which)) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

struct Event {
  std::chrono::steady_clock::time_point time;
};

}  // namespace

const char* cudaGetErrorString(cudaError_t err) {
  switch (err) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
  }
  return "unknown error";
}

const char* cudaGetErrorName(cudaError_t err) {
  switch (err) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
  }
  return "cudaErrorUnknown";
}

cudaError_t cudaGetLastError() {
  const cudaError_t err = gLastError;
  gLastError = cudaSuccess;
  return err;
}

cudaError_t cudaPeekAtLastError() { return gLastError; }
void setLastError(cudaError_t err) { record(err); }

// No CUDA runtime or driver is involved: both versions are 0.
cudaError_t cudaRuntimeGetVersion(int* version) {
  *version = 0;
  return cudaSuccess;
}
cudaError_t cudaDriverGetVersion(int* version) {
  *version = 0;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : record(cudaErrorInvalidDevice); }

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* props, int device) {
  if (device != 0) return record(cudaErrorInvalidDevice);
  std::memset(props, 0, sizeof *props);
  std::strncpy(props->name, "tessera emu", sizeof props->name - 1);
  props->totalGlobalMem = physicalBytes(_SC_PHYS_PAGES);
  props->sharedMemPerBlock = 48 * 1024;
  props->sharedMemPerBlockOptin = 227 * 1024;
  props->warpSize = 32;
  props->maxThreadsPerBlock = 1024;
  props->maxThreadsDim[0] = 1024;
  props->maxThreadsDim[1] = 1024;
  props->maxThreadsDim[2] = 64;
  props->maxGridSize[0] = 0x7fffffff;
  props->maxGridSize[1] = 65535;
  props->maxGridSize[2] = 65535;
  props->major = 8;
  props->minor = 0;
  props->multiProcessorCount = kMultiprocessors;
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }

cudaError_t cudaMemGetInfo(size_t* freeBytes, size_t* totalBytes) {
  *freeBytes = physicalBytes(_SC_AVPHYS_PAGES);
  *totalBytes = physicalBytes(_SC_PHYS_PAGES);
  return cudaSuccess;
}

// Fresh memory is filled with 0xFF bytes (NaN in every float type), so a kernel
// that reads what nobody wrote fails visibly, as uninitialised GPU memory would.
cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  const size_t size = (bytes + kAllocationAlignment - 1) / kAllocationAlignment * kAllocationAlignment;
  void* p = std::aligned_alloc(kAllocationAlignment, size == 0 ? kAllocationAlignment : size);
  if (p == nullptr) {
    *ptr = nullptr;
    return record(cudaErrorMemoryAllocation);
  }
  std::memset(p, 0xff, bytes);
  *ptr = p;
  return cudaSuccess;
}

cudaError_t cudaFree(void* ptr) {
  std::free(ptr);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind) {
  if (bytes != 0) std::memmove(dst, src, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
  return cudaMemcpy(dst, src, bytes, kind);
}

cudaError_t cudaMemset(void* dst, int value, size_t bytes) {
  if (bytes != 0) std::memset(dst, value, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t) { return cudaMemset(dst, value, bytes); }

// A stream is a distinct non-null token; work on it is done when enqueued.
cudaError_t cudaStreamCreate(cudaStream_t* stream) {
  *stream = reinterpret_cast<cudaStream_t>(new char);
  return cudaSuccess;
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned) { return cudaStreamCreate(stream); }
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  delete reinterpret_cast<char*>(stream);
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }

cudaError_t cudaEventCreate(cudaEvent_t* event) {
  *event = reinterpret_cast<cudaEvent_t>(new Event{std::chrono::steady_clock::now()});
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete reinterpret_cast<Event*>(event);
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t) {
  if (event == nullptr) return record(cudaErrorInvalidResourceHandle);
  reinterpret_cast<Event*>(event)->time = std::chrono::steady_clock::now();
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  if (start == nullptr || end == nullptr) return record(cudaErrorInvalidResourceHandle);
  const auto span = reinterpret_cast<Event*>(end)->time - reinterpret_cast<Event*>(start)->time;
  *ms = std::chrono::duration<float, std::milli>(span).count();
  return cudaSuccess;
}

}  // namespace tessera::simt
