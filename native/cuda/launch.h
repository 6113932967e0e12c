// What the launchers (*.cu) share: the stream they launch on, the error checks,
// dtype dispatch, grid sizing and the collapsing of strided layouts. Host code,
// internal to native/cuda (it includes the CUDA runtime; cuda_backend.h does not).
//
// Every launcher reads the same way: check preconditions, return early on empty
// work (a grid of 0 blocks is a launch error), size the grid with a ceil-div,
// launch on ctx.stream, then checkLaunch().
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>

#include "../core/errors.h"
#include "../core/op_params.h"
#include "common.cuh"
#include "platform.h"

namespace tessera::TESSERA_CUDA_NS {

// The device a launcher targets, as the backend knows it.
struct LaunchContext {
  cudaStream_t stream = nullptr;
  int multiprocessors = 1;
  int computeMajor = 0;
};

// Threads per block of the elementwise kernels.
constexpr int kElementwiseThreads = 256;
// Rows up to this long get a warp each in the row kernels; longer ones a block.
constexpr int64_t kWarpRowMaxCols = 1024;

inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Blocks for a grid-stride loop over n elements: enough to fill every SM many
// times over, not one per element (the loop covers the rest).
inline unsigned elementwiseBlocks(int64_t n, const LaunchContext& ctx) {
  const int64_t cap = static_cast<int64_t>(ctx.multiprocessors) * 32;
  const int64_t blocks = ceilDiv(n, kElementwiseThreads);
  return static_cast<unsigned>(blocks < cap ? blocks : cap);
}

inline std::string cudaErrorText(cudaError_t err) {
  return std::string(cudaGetErrorString(err)) + " (" + cudaGetErrorName(err) + ")";
}

// Throws TesseraException(kBackend, "<what>: <CUDA error>") unless err is success.
inline void checkCuda(cudaError_t err, const char* what) {
  if (err != cudaSuccess) {
    cudaGetLastError();  // a non-sticky error must not resurface at the next check
    fail(ErrorCode::kBackend, std::string(what) + ": " + cudaErrorText(err));
  }
}

// After a launchKernel (<<<>>>): configuration errors surface here, at once; faults while
// the kernel runs surface at the next synchronize.
inline void checkLaunch(const char* kernel) { checkCuda(cudaGetLastError(), kernel); }

// Calls fn(T{}) with T the kernel-side type of a float dtype; other dtypes are a
// kDType error (lib/ and supports() keep them out, so this is the last guard).
template <typename Fn>
void dispatchFloating(DType t, const char* op, Fn&& fn) {
  switch (t) {
    case DType::kFloat32: fn(float{}); return;
    case DType::kFloat16: fn(Half{}); return;
    case DType::kBFloat16: fn(BF16{}); return;
    default: break;
  }
  fail(ErrorCode::kDType, expected("a floating dtype", op, dtypeName(t)));
}

inline void requireSameDType(const TensorView& x, const TensorView& y, const char* op, const char* name) {
  if (x.dtype != y.dtype) {
    fail(ErrorCode::kDType, expected(std::string(dtypeName(x.dtype)) + " like the input", std::string(op) + " " + name,
                                     dtypeName(y.dtype)));
  }
}

// The row kernels index columns with int and give a long row a block of its own
// (gridDim.x < 2^31): larger shapes are refused, not truncated.
inline void requireRowShape(int64_t rows, int64_t cols, const char* op) {
  if (rows > INT32_MAX || cols > INT32_MAX) {
    fail(ErrorCode::kArgument, expected("at most 2147483647 rows and columns", op,
                                        std::to_string(rows) + " x " + std::to_string(cols)));
  }
}

// Builds the layout of kOperands views over `shape`, dropping size-1 dims and
// merging neighbours that are contiguous with each other in every operand: a
// transposed [B, H, L, D] copy indexes 3 dims, a broadcast bias add 2.
template <int kOperands>
StridedLayout<kOperands> collapseDims(const int64_t* shape, int ndim, const int64_t* const (&strides)[kOperands]) {
  StridedLayout<kOperands> out;
  for (int d = 0; d < ndim; ++d) {
    if (shape[d] == 1) continue;
    bool merge = out.ndim > 0;
    for (int o = 0; o < kOperands && merge; ++o) {
      merge = out.strides[o][out.ndim - 1] == strides[o][d] * shape[d];
    }
    if (merge) {
      out.shape[out.ndim - 1] *= shape[d];
      for (int o = 0; o < kOperands; ++o) out.strides[o][out.ndim - 1] = strides[o][d];
      continue;
    }
    out.shape[out.ndim] = shape[d];
    for (int o = 0; o < kOperands; ++o) out.strides[o][out.ndim] = strides[o][d];
    ++out.ndim;
  }
  return out;
}

// True when every linear index and every element offset fits in int32_t, so the
// kernels can index with 32-bit arithmetic.
template <int kOperands>
bool fitsInt32(const StridedLayout<kOperands>& layout, int64_t numel) {
  if (numel > INT32_MAX) return false;
  for (int o = 0; o < kOperands; ++o) {
    int64_t extent = 0;
    for (int d = 0; d < layout.ndim; ++d) extent += std::llabs(layout.strides[o][d]) * (layout.shape[d] - 1);
    if (extent > INT32_MAX) return false;
  }
  return true;
}

class CachingAllocator;

// The launchers, one per op family (copy.cu, elementwise.cu, matmul.cu, softmax.cu,
// norm.cu, reduce.cu, quant.cu). Each enqueues its work on ctx.stream and returns.
void launchFill(const FillParams& p, const LaunchContext& ctx);
void launchRandom(const RandomParams& p, const LaunchContext& ctx);
void launchCopy(const CopyParams& p, const LaunchContext& ctx);
void launchBinary(const BinaryParams& p, const LaunchContext& ctx);
void launchUnary(const UnaryParams& p, const LaunchContext& ctx);
void launchMatmul(const MatmulParams& p, const LaunchContext& ctx);
void launchSoftmax(const SoftmaxParams& p, const LaunchContext& ctx);
void launchNorm(const NormParams& p, const LaunchContext& ctx);
void launchReduce(const ReduceParams& p, const LaunchContext& ctx);
void launchQuantize(const QuantizeParams& p, const LaunchContext& ctx);
void launchDequantize(const DequantizeParams& p, const LaunchContext& ctx);
// kInt8 activations need a workspace (the int8 copy of x), taken from and
// returned to `allocator` (safe to free at once: the backend has one stream).
void launchQMatmul(const QMatmulParams& p, const LaunchContext& ctx, CachingAllocator& allocator);
// Attention (attention.cu, attention_backward.cu, rope.cu) and linear attention
// (linear_attention.cu). Workspaces (split-KV partials, fp32 gradient
// accumulators, chunk states) come from `allocator`.
void launchAttention(const AttentionParams& p, const LaunchContext& ctx, CachingAllocator& allocator);
void launchAttentionBackward(const AttentionBackwardParams& p, const LaunchContext& ctx, CachingAllocator& allocator);
void launchRope(const RopeParams& p, const LaunchContext& ctx);
void launchLinearAttention(const LinearAttentionParams& p, const LaunchContext& ctx, CachingAllocator& allocator);
void launchLinearAttentionBackward(const LinearAttentionBackwardParams& p, const LaunchContext& ctx,
                                   CachingAllocator& allocator);

}  // namespace tessera::TESSERA_CUDA_NS
