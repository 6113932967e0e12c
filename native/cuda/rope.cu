// Launcher for rotary position embedding (kernel in rope.cuh).
#include <algorithm>
#include <string>

#include "launch.h"
#include "rope.cuh"

namespace tessera::TESSERA_CUDA_NS {

void launchRope(const RopeParams& p, const LaunchContext& ctx) {
  requireSameDType(p.x, p.out, "rope", "out");
  if (p.headDim <= 0 || p.headDim % 2 != 0 || p.headDim > INT32_MAX) {
    fail(ErrorCode::kArgument, expected("an even head dim", "rope", std::to_string(p.headDim)));
  }
  if (!(p.base > 0.0)) fail(ErrorCode::kArgument, expected("a positive base", "rope", std::to_string(p.base)));
  const int64_t pairs = p.batch * p.heads * p.len * (p.headDim / 2);
  if (pairs == 0) return;
  RopeArgs args;
  args.pairs = pairs;
  args.heads = p.heads;
  args.len = p.len;
  args.halfDim = static_cast<int>(p.headDim / 2);
  args.interleaved = p.layout == RopeLayout::kInterleaved;
  args.base = p.base;
  args.positionScale = p.positionScale;
  args.positions = p.positions;
  args.positionsBatchStride = p.positionsBatchStride;
  args.offset = p.offset;
  const int64_t blocks = std::min<int64_t>(ceilDiv(pairs, kRopeThreads), int64_t{ctx.multiprocessors} * 32);
  dispatchFloating(p.x.dtype, "rope x", [&](auto tag) {
    using T = decltype(tag);
    launchKernel<ropeKernel<T>>(static_cast<unsigned>(blocks), kRopeThreads, 0, ctx.stream, p.x.as<T>(),
                                p.out.as<T>(), args);
  });
  checkLaunch("ropeKernel");
}

}  // namespace tessera::TESSERA_CUDA_NS
