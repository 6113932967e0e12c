// The `emu` device's factory (emu_backend.h): the emulated build of the CUDA
// backend's own factory, for its one device.
#include "emu_backend.h"

#include "../cuda/cuda_backend.h"

namespace tessera::emu {

std::unique_ptr<Backend> createEmuBackend() { return createCudaBackend(0); }

}  // namespace tessera::emu
