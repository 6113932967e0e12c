// Launchers for fill, random and copy (kernels in copy.cuh).
// N = number of elements.
#include <cmath>
#include <cstring>

#include "copy.cuh"
#include "launch.h"

namespace tessera::TESSERA_CUDA_NS {

namespace {

// The CPU backend's rule for a fill value: through double, float -> int rounding
// to nearest even and saturating (NaN -> 0), 16-bit floats via fp32.
uint32_t fillBits(DType t, double value) {
  auto roundSaturate = [](double v, double lo, double hi) {
    if (std::isnan(v)) return 0.0;
    v = std::nearbyint(v);
    return v < lo ? lo : (v > hi ? hi : v);
  };
  switch (t) {
    case DType::kFloat32: {
      const float f = static_cast<float>(value);
      uint32_t bits;
      std::memcpy(&bits, &f, sizeof bits);
      return bits;
    }
    case DType::kFloat16: return doubleToHalf(value);
    case DType::kBFloat16: return doubleToBf16(value);
    case DType::kInt8: return static_cast<uint8_t>(static_cast<int8_t>(roundSaturate(value, -128, 127)));
    case DType::kUInt8: return static_cast<uint8_t>(roundSaturate(value, 0, 255));
    case DType::kInt32:
      return static_cast<uint32_t>(static_cast<int32_t>(roundSaturate(value, -2147483648.0, 2147483647.0)));
  }
  return 0;
}

// Same-dtype strided copy: the bits move as one unsigned type of the element's size.
template <typename Index>
void launchStridedCopy(const CopyParams& p, const StridedLayout<1>& layout, int64_t n, unsigned blocks,
                       const LaunchContext& ctx) {
  switch (dtypeSize(p.src.dtype)) {
    case 1:
      launchKernel<stridedCopyKernel<uint8_t, Index>>(blocks, kElementwiseThreads, 0, ctx.stream,
          static_cast<const uint8_t*>(p.src.data), static_cast<uint8_t*>(p.dst.data), n, layout);
      break;
    case 2:
      launchKernel<stridedCopyKernel<uint16_t, Index>>(blocks, kElementwiseThreads, 0, ctx.stream,
          static_cast<const uint16_t*>(p.src.data), static_cast<uint16_t*>(p.dst.data), n, layout);
      break;
    default:
      launchKernel<stridedCopyKernel<uint32_t, Index>>(blocks, kElementwiseThreads, 0, ctx.stream,
          static_cast<const uint32_t*>(p.src.data), static_cast<uint32_t*>(p.dst.data), n, layout);
      break;
  }
  checkLaunch("stridedCopyKernel");
}

}  // namespace

void launchFill(const FillParams& p, const LaunchContext& ctx) {
  const int64_t n = p.out.numel();
  if (n == 0) return;
  const size_t size = dtypeSize(p.out.dtype);
  const uint32_t bits = fillBits(p.out.dtype, p.value);
  // Bytes that are all the same (every 1-byte fill, and zero in any dtype) are a memset.
  if (size == 1 || bits == 0) {
    checkCuda(cudaMemsetAsync(p.out.data, static_cast<int>(bits & 0xffu), static_cast<size_t>(n) * size, ctx.stream),
              "cudaMemsetAsync (fill)");
    return;
  }
  const unsigned blocks = elementwiseBlocks(n, ctx);
  if (size == 2) {
    launchKernel<fillKernel<uint16_t>>(blocks, kElementwiseThreads, 0, ctx.stream,
        static_cast<uint16_t*>(p.out.data), static_cast<uint16_t>(bits), n);
  } else {
    launchKernel<fillKernel<uint32_t>>(blocks, kElementwiseThreads, 0, ctx.stream,
        static_cast<uint32_t*>(p.out.data), bits, n);
  }
  checkLaunch("fillKernel");
}

void launchRandom(const RandomParams& p, const LaunchContext& ctx) {
  const int64_t n = p.out.numel();
  if (n == 0) return;
  const unsigned blocks = elementwiseBlocks(n, ctx);
  const float a = static_cast<float>(p.a), b = static_cast<float>(p.b);
  dispatchFloating(p.out.dtype, "random out", [&](auto tag) {
    using T = decltype(tag);
    launchKernel<randomKernel<T>>(blocks, kElementwiseThreads, 0, ctx.stream, p.out.as<T>(), n, p.dist, p.seed, a, b);
  });
  checkLaunch("randomKernel");
}

void launchCopy(const CopyParams& p, const LaunchContext& ctx) {
  if (p.src.ndim != p.dst.ndim) {
    fail(ErrorCode::kShape, expected(std::to_string(p.dst.ndim) + " dims like the destination", "copy source",
                                     std::to_string(p.src.ndim)));
  }
  const int64_t n = p.dst.numel();
  if (n == 0) return;
  const bool sameType = p.src.dtype == p.dst.dtype;

  if (p.src.isContiguous()) {
    if (sameType) {
      checkCuda(cudaMemcpyAsync(p.dst.data, p.src.data, static_cast<size_t>(n) * dtypeSize(p.dst.dtype),
                                cudaMemcpyDeviceToDevice, ctx.stream),
                "cudaMemcpyAsync (copy)");
      return;
    }
    launchKernel<castKernel>(elementwiseBlocks(n, ctx), kElementwiseThreads, 0, ctx.stream,
        p.src.data, p.src.dtype, p.dst.data, p.dst.dtype, n);
    checkLaunch("castKernel");
    return;
  }

  const int64_t* const strides[1] = {p.src.strides};
  const StridedLayout<1> layout = collapseDims<1>(p.src.shape, p.src.ndim, strides);
  const unsigned blocks = elementwiseBlocks(n, ctx);
  const bool narrow = fitsInt32(layout, n);
  if (sameType) {
    if (narrow) launchStridedCopy<int32_t>(p, layout, n, blocks, ctx);
    else launchStridedCopy<int64_t>(p, layout, n, blocks, ctx);
    return;
  }
  if (narrow) {
    launchKernel<stridedCastKernel<int32_t>>(blocks, kElementwiseThreads, 0, ctx.stream,
        p.src.data, p.src.dtype, p.dst.data, p.dst.dtype, n, layout);
  } else {
    launchKernel<stridedCastKernel<int64_t>>(blocks, kElementwiseThreads, 0, ctx.stream,
        p.src.data, p.src.dtype, p.dst.data, p.dst.dtype, n, layout);
  }
  checkLaunch("stridedCastKernel");
}

}  // namespace tessera::TESSERA_CUDA_NS
