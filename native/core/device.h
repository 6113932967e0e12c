#pragma once

#include <cstdint>
#include <string>

namespace tessera {

// Numeric values are shared with lib/device.ts.
enum class DeviceKind : int32_t { kCpu = 0, kCuda = 1 };

struct Device {
  DeviceKind kind = DeviceKind::kCpu;
  int index = 0;

  bool operator==(const Device& o) const { return kind == o.kind && index == o.index; }
  std::string name() const {
    return kind == DeviceKind::kCpu ? std::string("cpu") : "cuda:" + std::to_string(index);
  }
};

}  // namespace tessera
