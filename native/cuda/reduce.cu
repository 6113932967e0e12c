// Launcher for sum and mean over the last axis (kernel in reduce.cuh).
// R = rows, C = columns.
#include "launch.h"
#include "reduce.cuh"

namespace tessera::TESSERA_CUDA_NS {

void launchReduce(const ReduceParams& p, const LaunchContext& ctx) {
  requireSameDType(p.x, p.out, "reduce", "out");
  requireRowShape(p.rows, p.cols, "reduce");
  // An empty row still has an output (0 for sum, NaN for mean), so only R = 0 is empty work.
  if (p.rows == 0) return;
  const int cols = static_cast<int>(p.cols);
  dispatchFloating(p.x.dtype, "reduce x", [&](auto tag) {
    using T = decltype(tag);
    if (p.cols <= kWarpRowMaxCols) {
      const auto blocks = static_cast<unsigned>(ceilDiv(p.rows, kRowBlockThreads / kWarpSize));
      launchKernel<reduceKernel<T, kWarpSize>>(blocks, kRowBlockThreads, 0, ctx.stream,
          p.op, p.x.as<T>(), p.out.as<T>(), p.rows, cols);
    } else {
      const auto blocks = static_cast<unsigned>(p.rows);
      launchKernel<reduceKernel<T, kRowBlockThreads>>(blocks, kRowBlockThreads, 0, ctx.stream,
          p.op, p.x.as<T>(), p.out.as<T>(), p.rows, cols);
    }
  });
  checkLaunch("reduceKernel");
}

}  // namespace tessera::TESSERA_CUDA_NS
