// The CUDA backend as the rest of the addon sees it: a status query and a
// factory. Plain C++ (no CUDA headers), so napi/ compiles it with the host compiler.
//
// The addon links the CUDA runtime statically (cudart_static) and nothing here
// touches CUDA at load time, so a build with CUDA loads on a machine without a
// driver; queryCuda() then says why CUDA is unavailable.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "../core/backend.h"
#include "namespace.h"

namespace tessera::TESSERA_CUDA_NS {

struct CudaDeviceInfo {
  int index = 0;
  std::string name;
  int major = 0, minor = 0;  // compute capability
  size_t totalMemory = 0;    // bytes
  int multiprocessors = 0;
};

struct CudaStatus {
  bool available = false;
  // Why CUDA is unavailable, in the runtime's words, e.g. "cudaGetDeviceCount
  // failed: CUDA driver version is insufficient for CUDA runtime version
  // (cudaErrorInsufficientDriver)". Empty when available.
  std::string reason;
  int runtimeVersion = 0;  // 1000 * major + 10 * minor, as cudaRuntimeGetVersion
  int driverVersion = 0;   // likewise; 0 without a driver
  std::vector<CudaDeviceInfo> devices;
};

// Never throws.
CudaStatus queryCuda();

// The backend of device `deviceIndex`: its own non-blocking stream and caching
// allocator. Throws TesseraException(kDevice) when there is no such device (or
// no usable CUDA at all), kBackend when the device cannot be set up.
std::unique_ptr<Backend> createCudaBackend(int deviceIndex);

}  // namespace tessera::TESSERA_CUDA_NS
