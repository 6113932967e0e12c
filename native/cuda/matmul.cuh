// Batched matrix multiply with fp32 accumulation: out[z] = a[z] · op(b[z]), where
// op(b) = b (b stored [K, N]) or bᵀ (b stored [N, K], transposeB). Kernel bodies;
// the launcher, which picks one, is in matmul.cu.
//
// M, N, K = GEMM dims: a is M×K and out is M×N, all row-major; z = batch index
// (blockIdx.z). A block computes a BM×BN tile of out, walking K in BK-deep slices.
//
//   matmulTiledKernel — SIMT, any float dtype, any arch. Slices of A and B are
//     staged through shared memory as fp32; each thread owns a TM×TN register tile.
//   matmulMmaKernel — fp16/bf16 on sm_80+, tensor cores: a 128×128 tile per block
//     of 8 warps, each warp 64×32 of mma.m16n8k16 with fp32 accumulators. Shared
//     memory is double buffered: the next slice is loaded into registers while
//     this one is multiplied, so one barrier per slice suffices.
// Both read the parts of edge tiles outside the matrices as zero, so any M, N, K
// (1, odd, not a multiple of anything) work.
#pragma once

#include <cstdint>

#include "common.cuh"
#include "ptx.cuh"

namespace tessera::TESSERA_CUDA_NS {

struct MatmulArgs {
  const void* a;
  const void* b;
  void* out;
  int M, N, K;
  int64_t batchStrideA, batchStrideB;  // elements; 0 when the batch shares the operand
  bool transposeB;
};

// ---------------------------------------------------------------------------
// SIMT tiled kernel.

template <typename T, int BM, int BN, int BK, int TM, int TN>
__global__ void __launch_bounds__((BM / TM) * (BN / TN)) matmulTiledKernel(MatmulArgs args) {
  constexpr int kThreadsN = BN / TN;
  constexpr int kThreads = (BM / TM) * kThreadsN;
  constexpr int kLoadsA = BM * BK / kThreads;
  constexpr int kLoadsB = BN * BK / kThreads;
  static_assert(TM % 4 == 0 && TN % 4 == 0, "register tiles are runs of 4");
  static_assert(BM * BK % kThreads == 0 && BN * BK % kThreads == 0, "slices split evenly over threads");
  // A thread's TM rows are TM/4 runs of 4 consecutive rows, kRowRunStride apart, so
  // that a warp's float4 reads of one shared row are spread over all banks; its TN
  // columns likewise.
  constexpr int kRowRunStride = BM / (TM / 4);
  constexpr int kColRunStride = BN / (TN / 4);

  // Both slices are stored k-major ([k][m] and [k][n]) so the inner loop reads runs
  // of 4 rows or columns as one float4. The +4 padding spreads the transposing
  // stores of A over the banks while keeping every row 16-byte aligned.
  __shared__ __align__(16) float As[BK][BM + 4];
  __shared__ __align__(16) float Bs[BK][BN + 4];

  const int M = args.M, N = args.N, K = args.K;
  const T* a = static_cast<const T*>(args.a) + blockIdx.z * args.batchStrideA;
  const T* b = static_cast<const T*>(args.b) + blockIdx.z * args.batchStrideB;
  T* out = static_cast<T*>(args.out) + blockIdx.z * static_cast<int64_t>(M) * N;
  const int rowBase = blockIdx.x * BM, colBase = blockIdx.y * BN;
  const int tx = threadIdx.x % kThreadsN, ty = threadIdx.x / kThreadsN;

  // Element e of a slice belongs to thread e % kThreads. Along the dimension that
  // is contiguous in global memory, so that a warp's loads are coalesced.
  float stageA[kLoadsA], stageB[kLoadsB];
  auto loadSlice = [&](int k0) {
#pragma unroll
    for (int i = 0; i < kLoadsA; ++i) {
      const int e = threadIdx.x + i * kThreads;
      const int m = rowBase + e / BK, k = k0 + e % BK;
      stageA[i] = (m < M && k < K) ? toFloat(a[static_cast<int64_t>(m) * K + k]) : 0.0f;
    }
#pragma unroll
    for (int i = 0; i < kLoadsB; ++i) {
      const int e = threadIdx.x + i * kThreads;
      if (args.transposeB) {  // b is [N, K]: walk k fastest, like A
        const int n = colBase + e / BK, k = k0 + e % BK;
        stageB[i] = (n < N && k < K) ? toFloat(b[static_cast<int64_t>(n) * K + k]) : 0.0f;
      } else {  // b is [K, N]: walk n fastest
        const int k = k0 + e / BN, n = colBase + e % BN;
        stageB[i] = (n < N && k < K) ? toFloat(b[static_cast<int64_t>(k) * N + n]) : 0.0f;
      }
    }
  };
  auto storeSlice = [&]() {
#pragma unroll
    for (int i = 0; i < kLoadsA; ++i) {
      const int e = threadIdx.x + i * kThreads;
      As[e % BK][e / BK] = stageA[i];
    }
#pragma unroll
    for (int i = 0; i < kLoadsB; ++i) {
      const int e = threadIdx.x + i * kThreads;
      if (args.transposeB) Bs[e % BK][e / BK] = stageB[i];
      else Bs[e / BN][e % BN] = stageB[i];
    }
  };

  float acc[TM][TN] = {};
  const int numSlices = (K + BK - 1) / BK;
  loadSlice(0);
  for (int s = 0; s < numSlices; ++s) {
    storeSlice();
    __syncthreads();
    // The next slice's global loads are in flight while this one is multiplied.
    if (s + 1 < numSlices) loadSlice((s + 1) * BK);
#pragma unroll
    for (int k = 0; k < BK; ++k) {
      float av[TM], bv[TN];
#pragma unroll
      for (int r = 0; r < TM / 4; ++r) {
        const float4 v = *reinterpret_cast<const float4*>(&As[k][r * kRowRunStride + ty * 4]);
        av[4 * r] = v.x; av[4 * r + 1] = v.y; av[4 * r + 2] = v.z; av[4 * r + 3] = v.w;
      }
#pragma unroll
      for (int r = 0; r < TN / 4; ++r) {
        const float4 v = *reinterpret_cast<const float4*>(&Bs[k][r * kColRunStride + tx * 4]);
        bv[4 * r] = v.x; bv[4 * r + 1] = v.y; bv[4 * r + 2] = v.z; bv[4 * r + 3] = v.w;
      }
#pragma unroll
      for (int i = 0; i < TM; ++i) {
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
      }
    }
    __syncthreads();  // every thread is done reading before the next storeSlice
  }

#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int row = rowBase + (i / 4) * kRowRunStride + ty * 4 + i % 4;
    if (row >= M) continue;
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      const int col = colBase + (j / 4) * kColRunStride + tx * 4 + j % 4;
      if (col < N) out[static_cast<int64_t>(row) * N + col] = fromFloat<T>(acc[i][j]);
    }
  }
}

// ---------------------------------------------------------------------------
// Tensor-core kernel (T = Half or BF16; elements handled as raw 16-bit bits).

constexpr int kMmaBlockM = 128, kMmaBlockN = 128, kMmaBlockK = 32;
constexpr int kMmaThreads = 256;

// Eight consecutive elements from p, of which the first `valid` exist; the rest
// read as zero bits, which is +0 in fp16 and bf16 alike. One 16-byte load when all
// eight exist and the launcher has found every such chunk 16-byte aligned.
__device__ __forceinline__ uint4 loadChunk8(const uint16_t* p, int valid, bool vector) {
  if (vector && valid >= 8) return *reinterpret_cast<const uint4*>(p);
  uint16_t v[8];
#pragma unroll
  for (int j = 0; j < 8; ++j) v[j] = j < valid ? p[j] : 0;
  return make_uint4(v[0] | static_cast<uint32_t>(v[1]) << 16, v[2] | static_cast<uint32_t>(v[3]) << 16,
                    v[4] | static_cast<uint32_t>(v[5]) << 16, v[6] | static_cast<uint32_t>(v[7]) << 16);
}

__device__ __forceinline__ int minInt(int x, int y) { return x < y ? x : y; }

__device__ __forceinline__ uint32_t loadShared32(const uint16_t* p) {
  return *reinterpret_cast<const uint32_t*>(p);
}

__device__ __forceinline__ uint32_t pack16x2(uint16_t low, uint16_t high) {
  return low | static_cast<uint32_t>(high) << 16;
}

// vectorA / vectorB: every 8-element chunk of that operand is 16-byte aligned
// (base pointer, row length and batch stride allow it), so 16-byte loads are safe.
template <typename T, bool kTransposeB>
__global__ void __launch_bounds__(kMmaThreads) matmulMmaKernel(MatmulArgs args, bool vectorA, bool vectorB) {
  constexpr int BM = kMmaBlockM, BN = kMmaBlockN, BK = kMmaBlockK;
  constexpr int kWarpsN = 4;                 // 2 × 4 warps
  constexpr int WM = 64, WN = 32;            // the tile of one warp
  constexpr int kTilesM = WM / 16, kTilesN = WN / 8;  // mma tiles per warp
  constexpr int kChunksPerThread = BM * BK / 8 / kMmaThreads;
  static_assert(kChunksPerThread == 2 && BN * BK / 8 / kMmaThreads == 2, "two 8-element chunks per operand");
  // Rows are padded by 8 elements (16 bytes): they stay 16-byte aligned for the
  // vector stores, and the 32 fragment reads of a warp fall in 32 distinct banks.
  constexpr int kPad = 8;

  __shared__ __align__(16) uint16_t As[2][BM][BK + kPad];
  // transposeB: b is [N, K] and is kept n-major like A. Otherwise it is kept as it
  // is stored, k-major, and a fragment register is packed from two 16-bit reads.
  __shared__ __align__(16) uint16_t Bs[2][kTransposeB ? BN : BK][kTransposeB ? BK + kPad : BN + kPad];

  const int M = args.M, N = args.N, K = args.K;
  const uint16_t* a = static_cast<const uint16_t*>(args.a) + blockIdx.z * args.batchStrideA;
  const uint16_t* b = static_cast<const uint16_t*>(args.b) + blockIdx.z * args.batchStrideB;
  T* out = static_cast<T*>(args.out) + blockIdx.z * static_cast<int64_t>(M) * N;
  const int rowBase = blockIdx.x * BM, colBase = blockIdx.y * BN;

  // Chunk c of a slice: A (and bᵀ) has 4 chunks per row of BK; b has 16 per row of BN.
  uint4 stageA[kChunksPerThread], stageB[kChunksPerThread];
  auto loadSlice = [&](int k0) {
#pragma unroll
    for (int i = 0; i < kChunksPerThread; ++i) {
      const int c = threadIdx.x + i * kMmaThreads;
      {
        const int m = rowBase + c / 4, k = k0 + (c % 4) * 8;
        const int valid = m < M ? minInt(8, K - k) : 0;
        stageA[i] = loadChunk8(a + static_cast<int64_t>(m) * K + k, valid, vectorA);
      }
      if constexpr (kTransposeB) {
        const int n = colBase + c / 4, k = k0 + (c % 4) * 8;
        const int valid = n < N ? minInt(8, K - k) : 0;
        stageB[i] = loadChunk8(b + static_cast<int64_t>(n) * K + k, valid, vectorB);
      } else {
        const int k = k0 + c / 16, n = colBase + (c % 16) * 8;
        const int valid = k < K ? minInt(8, N - n) : 0;
        stageB[i] = loadChunk8(b + static_cast<int64_t>(k) * N + n, valid, vectorB);
      }
    }
  };
  auto storeSlice = [&](int buf) {
#pragma unroll
    for (int i = 0; i < kChunksPerThread; ++i) {
      const int c = threadIdx.x + i * kMmaThreads;
      *reinterpret_cast<uint4*>(&As[buf][c / 4][(c % 4) * 8]) = stageA[i];
      if constexpr (kTransposeB) {
        *reinterpret_cast<uint4*>(&Bs[buf][c / 4][(c % 4) * 8]) = stageB[i];
      } else {
        *reinterpret_cast<uint4*>(&Bs[buf][c / 16][(c % 16) * 8]) = stageB[i];
      }
    }
  };

  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  const int warpRow = (warp / kWarpsN) * WM, warpCol = (warp % kWarpsN) * WN;
  const int group = lane / 4, quad = lane % 4;  // g and q of the fragment layouts (ptx.cuh)

  float acc[kTilesM][kTilesN][4] = {};
  const int numSlices = (K + BK - 1) / BK;
  loadSlice(0);
  storeSlice(0);
  __syncthreads();
  for (int s = 0; s < numSlices; ++s) {
    const int buf = s % 2;
    if (s + 1 < numSlices) loadSlice((s + 1) * BK);
#pragma unroll
    for (int ks = 0; ks < BK; ks += 16) {
      uint32_t fragA[kTilesM][4], fragB[kTilesN][2];
      const int k = ks + 2 * quad;
#pragma unroll
      for (int i = 0; i < kTilesM; ++i) {
        const int r = warpRow + i * 16 + group;
        fragA[i][0] = loadShared32(&As[buf][r][k]);
        fragA[i][1] = loadShared32(&As[buf][r + 8][k]);
        fragA[i][2] = loadShared32(&As[buf][r][k + 8]);
        fragA[i][3] = loadShared32(&As[buf][r + 8][k + 8]);
      }
#pragma unroll
      for (int j = 0; j < kTilesN; ++j) {
        const int n = warpCol + j * 8 + group;
        if constexpr (kTransposeB) {
          fragB[j][0] = loadShared32(&Bs[buf][n][k]);
          fragB[j][1] = loadShared32(&Bs[buf][n][k + 8]);
        } else {
          fragB[j][0] = pack16x2(Bs[buf][k][n], Bs[buf][k + 1][n]);
          fragB[j][1] = pack16x2(Bs[buf][k + 8][n], Bs[buf][k + 9][n]);
        }
      }
#pragma unroll
      for (int i = 0; i < kTilesM; ++i) {
#pragma unroll
        for (int j = 0; j < kTilesN; ++j) mmaM16N8K16<T>(acc[i][j], fragA[i], fragB[j]);
      }
    }
    // Buffer buf ^ 1 was last read in the previous slice, before its barrier.
    if (s + 1 < numSlices) storeSlice(buf ^ 1);
    __syncthreads();
  }

#pragma unroll
  for (int i = 0; i < kTilesM; ++i) {
#pragma unroll
    for (int j = 0; j < kTilesN; ++j) {
      const int row = rowBase + warpRow + i * 16 + group;
      const int col = colBase + warpCol + j * 8 + 2 * quad;
#pragma unroll
      for (int h = 0; h < 2; ++h) {  // d[0..1] on row g, d[2..3] on row g + 8
        const int r = row + 8 * h;
        if (r >= M) continue;
        if (col < N) out[static_cast<int64_t>(r) * N + col] = fromFloat<T>(acc[i][j][2 * h]);
        if (col + 1 < N) out[static_cast<int64_t>(r) * N + col + 1] = fromFloat<T>(acc[i][j][2 * h + 1]);
      }
    }
  }
}

}  // namespace tessera::TESSERA_CUDA_NS
