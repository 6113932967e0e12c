// Launcher for RMS and layer norm (kernel in norm.cuh). R = rows, C = columns.
#include "launch.h"
#include "norm.cuh"

namespace tessera::TESSERA_CUDA_NS {

void launchNorm(const NormParams& p, const LaunchContext& ctx) {
  requireSameDType(p.x, p.out, "norm", "out");
  requireSameDType(p.x, p.weight, "norm", "weight");
  // Layer norm's bias is optional (null data); RMS norm never has one.
  const bool hasBias = p.op == NormOp::kLayer && p.bias.data != nullptr;
  if (hasBias) requireSameDType(p.x, p.bias, "norm", "bias");
  requireRowShape(p.rows, p.cols, "norm");
  if (p.rows == 0 || p.cols == 0) return;
  const int cols = static_cast<int>(p.cols);
  dispatchFloating(p.x.dtype, "norm x", [&](auto tag) {
    using T = decltype(tag);
    const T* bias = hasBias ? p.bias.as<T>() : nullptr;
    if (p.cols <= kWarpRowMaxCols) {
      const auto blocks = static_cast<unsigned>(ceilDiv(p.rows, kRowBlockThreads / kWarpSize));
      launchKernel<normKernel<T, kWarpSize>>(blocks, kRowBlockThreads, 0, ctx.stream,
          p.op, p.x.as<T>(), p.weight.as<T>(), bias, p.out.as<T>(), p.rows, cols, p.eps);
    } else {
      const auto blocks = static_cast<unsigned>(p.rows);
      launchKernel<normKernel<T, kRowBlockThreads>>(blocks, kRowBlockThreads, 0, ctx.stream,
          p.op, p.x.as<T>(), p.weight.as<T>(), bias, p.out.as<T>(), p.rows, cols, p.eps);
    }
  });
  checkLaunch("normKernel");
}

}  // namespace tessera::TESSERA_CUDA_NS
