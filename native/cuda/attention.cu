// Attention forward (stub until its kernel lands).
#include "allocator.h"
#include "launch.h"

namespace tessera::TESSERA_CUDA_NS {

void launchAttention(const AttentionParams& p, const LaunchContext& ctx, CachingAllocator& allocator) {
  (void)p;
  (void)ctx;
  (void)allocator;
  fail(ErrorCode::kUnsupported, "attention is not implemented on CUDA yet");
}

}  // namespace tessera::TESSERA_CUDA_NS
