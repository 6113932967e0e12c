// The `emu` device as the rest of the addon sees it: the CUDA backend (its
// launchers, kernels and caching allocator) compiled by the host compiler
// against the SIMT emulator. Plain C++, like cuda_backend.h; it reports
// DeviceKind::kEmu.
#pragma once

#include <memory>

#include "../core/backend.h"

namespace tessera::emu {

// Never fails for want of hardware: the emulated device always exists.
std::unique_ptr<Backend> createEmuBackend();

}  // namespace tessera::emu
