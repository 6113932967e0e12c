// Rotary position embedding (stub until its kernel lands).
#include "allocator.h"
#include "launch.h"

namespace tessera::TESSERA_CUDA_NS {

void launchRope(const RopeParams& p, const LaunchContext& ctx) {
  (void)p;
  (void)ctx;
  fail(ErrorCode::kUnsupported, "rope is not implemented on CUDA yet");
}

}  // namespace tessera::TESSERA_CUDA_NS
