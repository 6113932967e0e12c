// Launcher for row softmax (kernel in softmax.cuh). R = rows, C = columns.
#include "launch.h"
#include "softmax.cuh"

namespace tessera::TESSERA_CUDA_NS {

void launchSoftmax(const SoftmaxParams& p, const LaunchContext& ctx) {
  requireSameDType(p.x, p.out, "softmax", "out");
  requireRowShape(p.rows, p.cols, "softmax");
  if (p.rows == 0 || p.cols == 0) return;
  const int cols = static_cast<int>(p.cols);
  dispatchFloating(p.x.dtype, "softmax x", [&](auto tag) {
    using T = decltype(tag);
    if (p.cols <= kWarpRowMaxCols) {
      const auto blocks = static_cast<unsigned>(ceilDiv(p.rows, kRowBlockThreads / kWarpSize));
      launchKernel<softmaxKernel<T, kWarpSize>>(blocks, kRowBlockThreads, 0, ctx.stream,
          p.x.as<T>(), p.out.as<T>(), p.rows, cols);
    } else {
      const auto blocks = static_cast<unsigned>(p.rows);
      launchKernel<softmaxKernel<T, kRowBlockThreads>>(blocks, kRowBlockThreads, 0, ctx.stream,
          p.x.as<T>(), p.out.as<T>(), p.rows, cols);
    }
  });
  checkLaunch("softmaxKernel");
}

}  // namespace tessera::TESSERA_CUDA_NS
