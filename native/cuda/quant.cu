// Launchers for quantize, dequantize and qmatmul (kernels in quant.cuh). Shape
// letters as there: M, N, K, G groups per row, gs the group size.
//
// qmatmul picks its kernel from M: up to kGemvMaxRows rows of x the GEMV
// (bandwidth-bound: each weight byte read once), beyond that the tiled GEMM
// (compute-bound). kInt8 activations first quantize x per row into a workspace.
#include <algorithm>
#include <type_traits>

#include "allocator.h"
#include "launch.h"
#include "quant.cuh"

namespace tessera::TESSERA_CUDA_NS {

namespace {

constexpr int64_t kMaxDim = int64_t{1} << 30;  // indices inside the kernels are int
constexpr int64_t kMaxGridY = 65535;

QuantWeightArgs weightArgs(const QuantizedWeight& q, const char* op) {
  if ((q.bits != 4 && q.bits != 8) || q.groupSize <= 0 || (q.bits == 4 && q.groupSize % 2 != 0) || q.N > kMaxDim ||
      q.K > kMaxDim || q.groups != ceilDiv(q.K, q.groupSize)) {
    fail(ErrorCode::kArgument, expected("bits 4 or 8, a positive group size (even for int4), N and K of at most 2^30", op,
                                        "bits " + std::to_string(q.bits) + ", groupSize " + std::to_string(q.groupSize)));
  }
  if (q.scaleDtype != DType::kFloat32 && q.scaleDtype != DType::kFloat16) {
    fail(ErrorCode::kDType, expected("float32 or float16 scales", op, dtypeName(q.scaleDtype)));
  }
  QuantWeightArgs w;
  w.codes = q.codes;
  w.scales = q.scales;
  w.zeroPoints = q.zeroPoints;
  w.halfScales = q.scaleDtype == DType::kFloat16;
  w.bits = q.bits;
  w.N = static_cast<int>(q.N);
  w.K = static_cast<int>(q.K);
  w.groupSize = static_cast<int>(q.groupSize);
  w.groups = static_cast<int>(q.groups);
  w.groupBytes = q.bits == 8 ? q.groupSize : q.groupSize / 2;
  w.rowBytes = w.groupBytes * q.groups;
  return w;
}


}  // namespace

void launchQuantize(const QuantizeParams& p, const LaunchContext& ctx) {
  const QuantWeightArgs w = weightArgs(p.out, "quantize");
  if (w.N == 0 || w.K == 0) return;
  const int64_t items = static_cast<int64_t>(w.N) * ((w.groups + 1) / 2);
  const auto blocks = static_cast<unsigned>(ceilDiv(items, kQuantizeWarps));
  float* scales32 = w.halfScales ? nullptr : static_cast<float*>(p.out.scales);
  Half* scales16 = w.halfScales ? static_cast<Half*>(p.out.scales) : nullptr;
  dispatchFloating(p.w.dtype, "quantize w", [&](auto tag) {
    using T = decltype(tag);
    launchKernel<quantizeKernel<T>>(blocks, kQuantizeWarps * kWarpSize, 0, ctx.stream, static_cast<const T*>(p.w.data),
                                    w, p.out.codes, scales32, scales16, p.out.zeroPoints);
  });
  checkLaunch("quantizeKernel");
}

void launchDequantize(const DequantizeParams& p, const LaunchContext& ctx) {
  const QuantWeightArgs w = weightArgs(p.q, "dequantize");
  const int64_t total = static_cast<int64_t>(w.N) * w.K;
  if (total == 0) return;
  dispatchFloating(p.out.dtype, "dequantize out", [&](auto tag) {
    using T = decltype(tag);
    launchKernel<dequantizeKernel<T>>(elementwiseBlocks(total, ctx), kElementwiseThreads, 0, ctx.stream, w,
                                      static_cast<T*>(p.out.data));
  });
  checkLaunch("dequantizeKernel");
}

void launchQMatmul(const QMatmulParams& p, const LaunchContext& ctx, CachingAllocator& allocator) {
  requireSameDType(p.out, p.x, "qmatmul", "x");
  if (p.bias.data != nullptr) requireSameDType(p.out, p.bias, "qmatmul", "bias");
  const QuantWeightArgs w = weightArgs(p.w, "qmatmul");
  if (p.M > kMaxDim) fail(ErrorCode::kArgument, expected("M of at most 2^30", "qmatmul", std::to_string(p.M)));
  if (p.M == 0 || w.N == 0) return;
  if (w.K == 0) fail(ErrorCode::kArgument, expected("K of at least 1", "qmatmul", "0"));
  const int M = static_cast<int>(p.M);
  const bool int8 = p.activations == QuantActivations::kInt8;
  // The tensor-core GEMMs apply scales at group ends on 32-wide k steps.
  const bool groupsFitSteps = w.groupSize % kGemmBlockK == 0 || w.groups == 1;
  const bool tensorCores = ctx.computeMajor >= 8 && groupsFitSteps;
  if (int8 && !groupsFitSteps) {
    fail(ErrorCode::kUnsupported, expected("a group size that is a multiple of 32, or per channel, for int8 activations",
                                           "qmatmul", std::to_string(w.groupSize)));
  }

  // The GEMV's 16-byte chunks must each fall in one group and be contiguous in k.
  const int chunkCodes = kChunkBytes * 8 / w.bits;
  const bool gemv = M <= kGemvMaxRows && (w.groups == 1 || w.groupSize % chunkCodes == 0);
  const bool vectorLoads = reinterpret_cast<uintptr_t>(w.codes) % 16 == 0 && w.rowBytes % 16 == 0;

  // kInt8: x as int8 rows padded with zeros to Kx (a multiple of 32 covering
  // every group), its scales and its per-group sums, in one workspace block.
  const int64_t kx = ceilDiv(std::max<int64_t>(w.K, static_cast<int64_t>(w.groups) * w.groupSize), 32) * 32;
  const size_t xqBytes = static_cast<size_t>(M * kx), scaleBytes = static_cast<size_t>(M) * 4;
  const size_t sumBytes = static_cast<size_t>(M) * w.groups * 4;
  const size_t scaleOffset = ceilDiv(static_cast<int64_t>(xqBytes), 16) * 16;
  const size_t sumOffset = scaleOffset + ceilDiv(static_cast<int64_t>(scaleBytes), 16) * 16;
  Workspace workspace(allocator, int8 ? sumOffset + sumBytes : 0);
  auto* base = static_cast<char*>(workspace.ptr);
  auto* xq = reinterpret_cast<int8_t*>(base);
  auto* xScale = reinterpret_cast<float*>(base + scaleOffset);
  auto* xGroupSum = reinterpret_cast<int32_t*>(base + sumOffset);

  const int64_t gridN = ceilDiv(w.N, kGemmTile);
  if (!gemv && gridN > kMaxGridY) {
    fail(ErrorCode::kArgument, expected("N of at most " + std::to_string(kMaxGridY * kGemmTile), "qmatmul",
                                        std::to_string(w.N)));
  }
  if (int8 && !gemv && ctx.computeMajor < 8) {
    fail(ErrorCode::kUnsupported, expected("compute capability 8.0 or newer (int8 mma) for int8 activations with M > 8",
                                           "qmatmul", std::to_string(ctx.computeMajor) + ".x"));
  }
  const dim3 gemmGrid(static_cast<unsigned>(ceilDiv(M, kGemmTile)), static_cast<unsigned>(gridN));

  dispatchFloating(p.out.dtype, "qmatmul out", [&](auto tag) {
    using T = decltype(tag);
    if (int8) {
      launchKernel<quantizeRowsKernel<T>>(static_cast<unsigned>(M), kQuantizeRowThreads, 0, ctx.stream,
                                          static_cast<const T*>(p.x.data), w.K, w.groupSize, w.groups, kx, xq, xScale,
                                          xGroupSum);
      checkLaunch("quantizeRowsKernel");
    }
    QMatmulArgs a;
    a.w = w;
    a.x = p.x.data;
    a.xq = xq;
    a.xScale = xScale;
    a.xGroupSum = xGroupSum;
    a.xqStride = kx;
    a.bias = p.bias.data;
    a.out = p.out.data;
    a.M = M;
    a.vectorLoads = vectorLoads;
    if (gemv) {
      const auto blocks = static_cast<unsigned>(ceilDiv(w.N, kGemvRowsPerBlock));
      if (int8 && w.bits == 4) launchKernel<qgemvInt8Kernel<T, 4>>(blocks, kGemvThreads, 0, ctx.stream, a);
      else if (int8) launchKernel<qgemvInt8Kernel<T, 8>>(blocks, kGemvThreads, 0, ctx.stream, a);
      else if (w.bits == 4) launchKernel<qgemvKernel<T, 4>>(blocks, kGemvThreads, 0, ctx.stream, a);
      else launchKernel<qgemvKernel<T, 8>>(blocks, kGemvThreads, 0, ctx.stream, a);
      checkLaunch("qgemvKernel");
      return;
    }
    if (int8 && w.bits == 4) {
      launchKernel<qgemmInt8Kernel<T, 4>>(gemmGrid, kMmaThreadsQ, 0, ctx.stream, a);
    } else if (int8) {
      launchKernel<qgemmInt8Kernel<T, 8>>(gemmGrid, kMmaThreadsQ, 0, ctx.stream, a);
    } else if constexpr (!std::is_same_v<T, float>) {
      if (tensorCores) launchKernel<qgemmMmaKernel<T>>(gemmGrid, kMmaThreadsQ, 0, ctx.stream, a);
      else launchKernel<qgemmKernel<T>>(gemmGrid, kGemmThreads, 0, ctx.stream, a);
    } else {
      launchKernel<qgemmKernel<T>>(gemmGrid, kGemmThreads, 0, ctx.stream, a);
    }
    checkLaunch("qgemmKernel");
  });
}

}  // namespace tessera::TESSERA_CUDA_NS
