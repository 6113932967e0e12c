// What the CUDA sources see of the platform: the CUDA headers under nvcc, the
// SIMT emulator (native/emu) under g++ with TESSERA_EMU. Both give the same two
// spellings for what plain CUDA C++ cannot write portably:
//   launchKernel<kernel>(grid, block, sharedBytes, stream, args...)
//     = kernel<<<grid, block, sharedBytes, stream>>>(args...). The kernel is a
//     template argument, so template kernels need no macro-proof parentheses,
//     and the emulator learns its name for its error messages.
//   TESSERA_DYNAMIC_SHARED(T, name);  declares T* name = the dynamic shared memory.
#pragma once

#include "namespace.h"

#if defined(TESSERA_EMU)

#include "../emu/emu.h"

namespace tessera::TESSERA_CUDA_NS {
using namespace ::tessera::simt;
}  // namespace tessera::TESSERA_CUDA_NS

#else

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

namespace tessera::TESSERA_CUDA_NS {

template <auto Kernel, typename... Args>
void launchKernel(dim3 grid, dim3 block, size_t sharedBytes, cudaStream_t stream, Args... args) {
  Kernel<<<grid, block, sharedBytes, stream>>>(args...);
}

}  // namespace tessera::TESSERA_CUDA_NS

#define TESSERA_DYNAMIC_SHARED(T, name)                                \
  extern __shared__ __align__(16) unsigned char tesseraDynamicShared[]; \
  T* name = reinterpret_cast<T*>(tesseraDynamicShared)

#endif
