#pragma once

#include <cstdint>
#include <string>

namespace tessera {

// Numeric values are shared with lib/device.ts.
// kEmu: the CUDA backend's kernels run on the CPU by the SIMT emulator (native/emu).
enum class DeviceKind : int32_t { kCpu = 0, kCuda = 1, kEmu = 2 };

struct Device {
  DeviceKind kind = DeviceKind::kCpu;
  int index = 0;

  bool operator==(const Device& o) const { return kind == o.kind && index == o.index; }
  std::string name() const {
    switch (kind) {
      case DeviceKind::kCpu: return "cpu";
      case DeviceKind::kEmu: return "emu";
      default: return "cuda:" + std::to_string(index);
    }
  }
};

}  // namespace tessera
