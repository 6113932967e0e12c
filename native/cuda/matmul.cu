// Launcher for batched matmul (kernels in matmul.cuh): picks the tensor-core
// kernel for fp16/bf16 on sm_80+, otherwise the SIMT kernel with a tile size that
// keeps the GPU busy. B = batch, M/N/K = GEMM dims.
#include <type_traits>

#include "launch.h"
#include "matmul.cuh"

namespace tessera::TESSERA_CUDA_NS {

namespace {

// M tiles go on gridDim.x (up to 2^31 - 1), N tiles on y and the batch on z
// (65535 each); a larger batch is launched in chunks.
constexpr int64_t kMaxGridY = 65535, kMaxGridZ = 65535;
// Larger dims are refused: tile coordinates (a dim plus a block tile) must fit in int.
constexpr int64_t kMaxDim = int64_t{1} << 30;

// The SIMT kernel's two shapes: 128×128 tiles with 8×8 per thread when they fill
// every SM, else 64×64 with 4×4 (four times the blocks) for small problems.
constexpr int kLargeTile = 128, kSmallTile = 64, kTiledBlockK = 16, kTiledThreads = 256;

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

template <typename T>
void launchTiled(const MatmulArgs& args, dim3 grid, bool large, cudaStream_t stream) {
  if (large) {
    launchKernel<matmulTiledKernel<T, kLargeTile, kLargeTile, kTiledBlockK, 8, 8>>(grid, kTiledThreads, 0, stream, args);
  } else {
    launchKernel<matmulTiledKernel<T, kSmallTile, kSmallTile, kTiledBlockK, 4, 4>>(grid, kTiledThreads, 0, stream, args);
  }
}

template <typename T>
void launchMma(const MatmulArgs& args, dim3 grid, cudaStream_t stream) {
  // 16-byte chunks need a 16-byte aligned base and rows and batch strides that are
  // whole chunks (8 elements); otherwise the kernel loads element by element.
  const int64_t rowB = args.transposeB ? args.K : args.N;
  const bool vectorA = aligned16(args.a) && args.K % 8 == 0 && args.batchStrideA % 8 == 0;
  const bool vectorB = aligned16(args.b) && rowB % 8 == 0 && args.batchStrideB % 8 == 0;
  if (args.transposeB) {
    launchKernel<matmulMmaKernel<T, true>>(grid, kMmaThreads, 0, stream, args, vectorA, vectorB);
  } else {
    launchKernel<matmulMmaKernel<T, false>>(grid, kMmaThreads, 0, stream, args, vectorA, vectorB);
  }
}

}  // namespace

void launchMatmul(const MatmulParams& p, const LaunchContext& ctx) {
  requireSameDType(p.out, p.a, "matmul", "a");
  requireSameDType(p.out, p.b, "matmul", "b");
  if (p.M > kMaxDim || p.N > kMaxDim || p.K > kMaxDim || p.batch < 0) {
    fail(ErrorCode::kArgument, expected("M, N and K of at most 2^30", "matmul",
                                        std::to_string(p.M) + ", " + std::to_string(p.N) + ", " + std::to_string(p.K)));
  }
  if (p.batch == 0 || p.M == 0 || p.N == 0) return;
  const size_t elementSize = dtypeSize(p.out.dtype);
  const int64_t outStride = p.M * p.N;
  if (p.K == 0) {  // an empty sum: zeros, whose bits are 0 in every float dtype
    checkCuda(cudaMemsetAsync(p.out.data, 0, static_cast<size_t>(p.batch * outStride) * elementSize, ctx.stream),
              "cudaMemsetAsync (matmul with K = 0)");
    return;
  }

  const bool sixteenBit = p.out.dtype == DType::kFloat16 || p.out.dtype == DType::kBFloat16;
  const bool tensorCores = sixteenBit && ctx.computeMajor >= 8;
  const bool large = ceilDiv(p.M, kLargeTile) * ceilDiv(p.N, kLargeTile) * p.batch >= ctx.multiprocessors;
  const int64_t tileM = tensorCores ? kMmaBlockM : (large ? kLargeTile : kSmallTile);
  const int64_t tileN = tensorCores ? kMmaBlockN : (large ? kLargeTile : kSmallTile);
  const int64_t gridN = ceilDiv(p.N, tileN);
  if (gridN > kMaxGridY) {
    fail(ErrorCode::kArgument, expected("N of at most " + std::to_string(kMaxGridY * tileN), "matmul", std::to_string(p.N)));
  }

  const char* a = static_cast<const char*>(p.a.data);
  const char* b = static_cast<const char*>(p.b.data);
  char* out = static_cast<char*>(p.out.data);
  for (int64_t first = 0; first < p.batch; first += kMaxGridZ) {
    const int64_t count = p.batch - first < kMaxGridZ ? p.batch - first : kMaxGridZ;
    MatmulArgs args;
    args.a = a + first * p.batchStrideA * static_cast<int64_t>(elementSize);
    args.b = b + first * p.batchStrideB * static_cast<int64_t>(elementSize);
    args.out = out + first * outStride * static_cast<int64_t>(elementSize);
    args.M = static_cast<int>(p.M);
    args.N = static_cast<int>(p.N);
    args.K = static_cast<int>(p.K);
    args.batchStrideA = p.batchStrideA;
    args.batchStrideB = p.batchStrideB;
    args.transposeB = p.transposeB;
    const dim3 grid(static_cast<unsigned>(ceilDiv(p.M, tileM)), static_cast<unsigned>(gridN),
                    static_cast<unsigned>(count));

    dispatchFloating(p.out.dtype, "matmul out", [&](auto tag) {
      using T = decltype(tag);
      if constexpr (!std::is_same_v<T, float>) {
        if (tensorCores) {
          launchMma<T>(args, grid, ctx.stream);
          return;
        }
      }
      launchTiled<T>(args, grid, large, ctx.stream);
    });
    checkLaunch("matmulKernel");
  }
}

}  // namespace tessera::TESSERA_CUDA_NS
