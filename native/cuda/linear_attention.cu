// Linear attention (stub until its kernels land).
#include "allocator.h"
#include "launch.h"

namespace tessera::TESSERA_CUDA_NS {

void launchLinearAttention(const LinearAttentionParams& p, const LaunchContext& ctx, CachingAllocator& allocator) {
  (void)p;
  (void)ctx;
  (void)allocator;
  fail(ErrorCode::kUnsupported, "linearAttention is not implemented on CUDA yet");
}

void launchLinearAttentionBackward(const LinearAttentionBackwardParams& p, const LaunchContext& ctx,
                                   CachingAllocator& allocator) {
  (void)p;
  (void)ctx;
  (void)allocator;
  fail(ErrorCode::kUnsupported, "linearAttentionBackward is not implemented on CUDA yet");
}

}  // namespace tessera::TESSERA_CUDA_NS
