// Launchers for the binary and unary elementwise ops (kernels in elementwise.cuh).
// N = number of output elements.
#include "elementwise.cuh"
#include "launch.h"

namespace tessera::TESSERA_CUDA_NS {

void launchBinary(const BinaryParams& p, const LaunchContext& ctx) {
  requireSameDType(p.out, p.a, "binary", "a");
  requireSameDType(p.out, p.b, "binary", "b");
  const int64_t n = p.out.numel();
  if (n == 0) return;
  const unsigned blocks = elementwiseBlocks(n, ctx);

  dispatchFloating(p.out.dtype, "binary out", [&](auto tag) {
    using T = decltype(tag);
    const T* a = p.a.as<T>();
    const T* b = p.b.as<T>();
    T* out = p.out.as<T>();
    // a and b carry out's shape, so contiguous means same layout as out.
    if (p.a.isContiguous() && p.b.isContiguous()) {
      launchKernel<binaryContiguousKernel<T>>(blocks, kElementwiseThreads, 0, ctx.stream, p.op, a, b, out, n);
      return;
    }
    const int64_t* const strides[2] = {p.a.strides, p.b.strides};
    const StridedLayout<2> layout = collapseDims<2>(p.out.shape, p.out.ndim, strides);
    if (fitsInt32(layout, n)) {
      launchKernel<binaryStridedKernel<T, int32_t>>(blocks, kElementwiseThreads, 0, ctx.stream,
          p.op, a, b, out, n, layout);
    } else {
      launchKernel<binaryStridedKernel<T, int64_t>>(blocks, kElementwiseThreads, 0, ctx.stream,
          p.op, a, b, out, n, layout);
    }
  });
  checkLaunch("binaryKernel");
}

void launchUnary(const UnaryParams& p, const LaunchContext& ctx) {
  requireSameDType(p.x, p.out, "unary", "out");
  const int64_t n = p.out.numel();
  if (n == 0) return;
  const unsigned blocks = elementwiseBlocks(n, ctx);
  dispatchFloating(p.x.dtype, "unary x", [&](auto tag) {
    using T = decltype(tag);
    launchKernel<unaryKernel<T>>(blocks, kElementwiseThreads, 0, ctx.stream,
        p.op, p.alpha, p.x.as<T>(), p.out.as<T>(), n);
  });
  checkLaunch("unaryKernel");
}

}  // namespace tessera::TESSERA_CUDA_NS
