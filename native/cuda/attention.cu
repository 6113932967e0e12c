// Launcher for attention forward (kernels in attention.cuh): picks the
// tensor-core kernel for fp16/bf16 on sm_80+ and the SIMT kernel otherwise, a
// head-dim bucket, and whether to split the keys (flash-decoding) when one pass
// has too few blocks to fill the GPU.
// B = batch, Hq / Hkv = heads, Lq / Lk = lengths, D = head dim.
#include <string>
#include <type_traits>

#include "allocator.h"
#include "attention.cuh"
#include "launch.h"

namespace tessera::TESSERA_CUDA_NS {

namespace {

constexpr int64_t kMaxHeadDim = 256;
constexpr int64_t kMaxGridYZ = 65535;
// Positions inside the kernels are int (i, j, i + Lk − Lq and a tile beyond them).
constexpr int64_t kMaxLength = int64_t{1} << 30;
// Decoding (a few queries against many keys) always splits when there are at
// least two key tiles: the split is then sized to give every SM about two blocks.
constexpr int64_t kDecodeMaxQueries = 16;
constexpr int64_t kMaxSplits = 64;

// Tiles of the tensor-core kernel: 64 keys; 128 queries (32 rows a warp) for
// D ≤ 64, 64 queries (16 rows a warp) above, where the fp32 output of 32 rows
// would not fit in 255 registers without spilling (measured with ptxas -v on
// sm_80). Shared memory: Q, K and V tiles, 32 KiB at D = 64 and 128, 96 KiB at
// D = 256 (under sm_86's 99 KiB).
constexpr int kMmaBlockN = 64;
constexpr int mmaBlockM(int bucket) { return bucket == 64 ? 128 : 64; }

int headDimBucket(int64_t D) { return D <= 64 ? 64 : (D <= 128 ? 128 : 256); }

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// Every row of the view starts on a 16-byte boundary: aligned base and strides
// (on axes longer than 1) that are whole 8-element chunks.
bool rowsAligned16(const TensorView& t) {
  if (!aligned16(t.data)) return false;
  for (int d = 0; d < 3; ++d) {
    if (t.shape[d] > 1 && t.strides[d] % 8 != 0) return false;
  }
  return true;
}

// Dynamic shared memory beyond 48 KiB must be opted into per kernel.
template <auto Kernel>
void allowSharedBytes(size_t bytes) {
  if (bytes > 48 * 1024) {
    checkCuda(cudaFuncSetAttribute(Kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)),
              "cudaFuncSetAttribute (attention shared memory)");
  }
}

template <auto Kernel>
void launchForward(dim3 grid, size_t sharedBytes, const AttentionParams& p, const AttentionLaunch& launch,
                   cudaStream_t stream) {
  allowSharedBytes<Kernel>(sharedBytes);
  launchKernel<Kernel>(grid, kAttentionThreads, sharedBytes, stream, p, launch);
}

template <typename T, template <typename, int> class Launch>
void launchBucket(int bucket, dim3 grid, const AttentionParams& p, const AttentionLaunch& launch, cudaStream_t stream) {
  switch (bucket) {
    case 64: Launch<T, 64>{}(grid, p, launch, stream); return;
    case 128: Launch<T, 128>{}(grid, p, launch, stream); return;
    default: Launch<T, 256>{}(grid, p, launch, stream); return;
  }
}

template <typename T, int kBucket>
struct MmaLauncher {
  void operator()(dim3 grid, const AttentionParams& p, const AttentionLaunch& launch, cudaStream_t stream) const {
    constexpr int kBlockM = mmaBlockM(kBucket);
    launchForward<attentionMmaKernel<T, kBucket, kBlockM, kMmaBlockN>>(
        grid, attentionMmaSharedBytes<kBlockM, kMmaBlockN, kBucket>(), p, launch, stream);
  }
};

template <typename T, int kBucket>
struct SimtLauncher {
  void operator()(dim3 grid, const AttentionParams& p, const AttentionLaunch& launch, cudaStream_t stream) const {
    launchForward<attentionSimtKernel<T, kBucket>>(grid, attentionSimtSharedBytes<kBucket>(), p, launch, stream);
  }
};

// Key chunks per (b, h, query tile): 1 when the grid already fills the GPU.
int splitCount(int64_t blocks, int64_t keyTiles, int64_t Lq, const LaunchContext& ctx) {
  if (keyTiles < 2) return 1;
  const int64_t target = 2 * static_cast<int64_t>(ctx.multiprocessors);
  int64_t splits = blocks >= target ? 1 : ceilDiv(target, blocks);
  if (Lq <= kDecodeMaxQueries && splits < 2) splits = 2;
  if (splits > keyTiles) splits = keyTiles;
  if (splits > kMaxSplits) splits = kMaxSplits;
  return static_cast<int>(splits);
}

}  // namespace

void launchAttention(const AttentionParams& p, const LaunchContext& ctx, CachingAllocator& allocator) {
  requireSameDType(p.q, p.k, "attention", "k");
  requireSameDType(p.q, p.v, "attention", "v");
  requireSameDType(p.q, p.out, "attention", "out");
  const int64_t B = p.batch, Hq = p.qHeads, Lq = p.qLen, Lk = p.kvLen, D = p.headDim;
  if (D > kMaxHeadDim) {
    fail(ErrorCode::kUnsupported, expected("a head dim of at most 256", "attention on cuda", std::to_string(D)));
  }
  if (Lq > kMaxLength || Lk > kMaxLength) {
    fail(ErrorCode::kUnsupported, expected("at most 2^30 queries and keys", "attention on cuda",
                                           std::to_string(Lq) + " x " + std::to_string(Lk)));
  }
  if (B > kMaxGridYZ || Hq > kMaxGridYZ) {
    fail(ErrorCode::kUnsupported, expected("at most 65535 sequences and heads", "attention on cuda",
                                           std::to_string(B) + " x " + std::to_string(Hq)));
  }
  if (B == 0 || Lq == 0) return;

  const bool sixteenBit = p.q.dtype == DType::kFloat16 || p.q.dtype == DType::kBFloat16;
  const bool tensorCores = sixteenBit && ctx.computeMajor >= 8;
  const int bucket = headDimBucket(D);
  const int64_t blockM = tensorCores ? mmaBlockM(bucket) : kSimtBlockM;
  const int64_t blockN = tensorCores ? kMmaBlockN : kSimtBlockN;

  AttentionLaunch launch;
  launch.qTiles = ceilDiv(Lq, blockM);
  launch.splits = splitCount(B * Hq * launch.qTiles, ceilDiv(Lk, blockN), Lq, ctx);
  launch.vectorLoads = D % 8 == 0 && rowsAligned16(p.q) && rowsAligned16(p.k) && rowsAligned16(p.v);
  const int64_t rows = B * Hq * Lq;
  if (launch.qTiles * launch.splits > INT32_MAX || ceilDiv(rows, kCombineRowsPerBlock) > INT32_MAX) {
    fail(ErrorCode::kUnsupported, expected("fewer query tiles", "attention on cuda", std::to_string(Lq)));
  }
  const size_t partialFloats = launch.splits > 1 ? static_cast<size_t>(launch.splits * rows * (D + 2)) : 0;
  Workspace partials(allocator, partialFloats * sizeof(float));
  if (launch.splits > 1) {
    launch.partialAcc = partials.as<float>();
    launch.partialMax = launch.partialAcc + launch.splits * rows * D;
    launch.partialSum = launch.partialMax + launch.splits * rows;
  }

  const dim3 grid(static_cast<unsigned>(launch.qTiles * launch.splits), static_cast<unsigned>(Hq),
                  static_cast<unsigned>(B));
  dispatchFloating(p.q.dtype, "attention q", [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_same_v<T, float>) {
      if (tensorCores) {
        launchBucket<T, MmaLauncher>(bucket, grid, p, launch, ctx.stream);
        return;
      }
    }
    launchBucket<T, SimtLauncher>(bucket, grid, p, launch, ctx.stream);
  });
  checkLaunch("attentionKernel");

  if (launch.splits > 1) {
    const unsigned combineBlocks = static_cast<unsigned>(ceilDiv(rows, kCombineRowsPerBlock));
    dispatchFloating(p.q.dtype, "attention q", [&](auto tag) {
      using T = decltype(tag);
      launchKernel<attentionCombineKernel<T>>(combineBlocks, kAttentionThreads, 0, ctx.stream, p, launch);
    });
    checkLaunch("attentionCombineKernel");
  }
}

}  // namespace tessera::TESSERA_CUDA_NS
