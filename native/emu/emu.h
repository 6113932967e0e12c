// The SIMT emulator: what native/cuda/platform.h includes instead of the CUDA
// headers when the CUDA sources are compiled by g++ (TESSERA_EMU). One header per
// concern:
//   types.h      qualifiers, vector types, __half/__nv_bfloat16, intrinsics, atomics
//   fiber.h      fibers: stacks with guard pages, the context switch
//   scheduler.h  blocks, threads, __syncthreads, deadlock and divergence reports
//   warp.h       shuffles, ballot, any/all, __syncwarp
//   ptx.h        twins of the inline-PTX wrappers (mma.sync, ldmatrix, cp.async)
//   runtime.h    the CUDA runtime API the host code calls
// and launchKernel below, which stands for <<<grid, block, shared, stream>>>.
#pragma once

#include <cstddef>

#include "ptx.h"
#include "runtime.h"
#include "scheduler.h"
#include "types.h"
#include "warp.h"

namespace tessera::simt {

// Kernel<<<grid, block, sharedBytes, stream>>>(args...), run to completion
// before it returns. A configuration CUDA would reject sets the last error (as a
// launch does); a divergent barrier or __trap() throws TesseraException(kBackend).
template <auto Kernel, typename... Args>
void launchKernel(dim3 grid, dim3 block, size_t sharedBytes, cudaStream_t, Args... args) {
  static const char* const name = kernelNameFromSignature(__PRETTY_FUNCTION__);
  auto run = [&] { Kernel(args...); };
  auto call = [](void* closure) { (*static_cast<decltype(run)*>(closure))(); };
  if (!launch(name, grid, block, sharedBytes, call, &run)) setLastError(cudaErrorInvalidConfiguration);
}

}  // namespace tessera::simt

// extern __shared__: the launch's dynamic shared memory, as a T*.
#define TESSERA_DYNAMIC_SHARED(T, name) T* name = reinterpret_cast<T*>(::tessera::simt::dynamicShared())
