// Quantized matmul kernels (launchers in quant.cu; layouts and rounding rules in
// core/op_params.h, the readable reference in native/cpu/quant.inc).
//
// Shape letters: M = rows of x, N = output features (weight rows), K = input
// features, G = groups per weight row, gs = group size (K when per channel).
// A weight is w = (q - z) · s with q the code, z the zero point, s the scale of
// its (n, g).
//
// Kernels:
//   quantizeKernel      one warp per (n, pair of groups): a pair so that the two
//                       int4 zero points sharing a byte are written by one lane.
//   dequantizeKernel    one thread per weight, grid-stride.
//   qgemvKernel         M <= 8, float activations: a block per 2 weight rows, its
//                       threads stream the rows' code bytes once in 16-byte
//                       chunks (split-K over the block's warps), dequantize in
//                       registers and keep fp32 sums for all M rows of x.
//   qgemmMmaKernel      larger M, fp16/bf16 activations on sm_80+: 64×64 tiles,
//                       mma.m16n8k16 on q - z, scales applied per group.
//   qgemmKernel         larger M otherwise (fp32 activations, older GPUs, group
//                       sizes not a multiple of 32): 64×64 tiles, weight tiles
//                       dequantized into shared memory as fp32, SIMT FMAs.
//   quantizeRowsKernel  kInt8: x per row to int8 (s_x = max|x| / 127, RNE) plus
//                       the per-group sums of the int8 row that the zero-point
//                       correction needs.
//   qgemvInt8Kernel     kInt8, M <= 8: the GEMV's streaming with __dp4a.
//   qgemmInt8Kernel     kInt8, larger M: int8 tensor cores, mma.m16n8k32.
//
// The integer paths use b = q - o with o = 128 for int8 codes (so b fits in s8)
// and o = 0 for int4 codes (0..15 already fit), then restore the zero point once
// per group: Σ_k x·(q - z) = Σ_k x·b + (o - z)·Σ_k x. All of it is exact in int32.
//
// On Hopper (sm_90a) the GEMM would use wgmma (a warpgroup of 4 warps, operands
// straight from shared memory, async) fed by TMA bulk copies of the code tiles
// with an mbarrier pipeline, and dequantize in a producer warpgroup; the GEMV is
// bandwidth-bound and would change little beyond deeper prefetch.
#pragma once

#include "common.cuh"
#include "ptx.cuh"

namespace tessera::TESSERA_CUDA_NS {

// What every quantized kernel reads of a QuantizedWeight, in kernel-friendly ints.
struct QuantWeightArgs {
  const uint8_t* codes = nullptr;
  const void* scales = nullptr;
  const uint8_t* zeroPoints = nullptr;  // null: symmetric, z = 2^(bits-1)
  bool halfScales = false;
  int bits = 4;
  int N = 0, K = 0, groupSize = 0, groups = 0;
  int64_t groupBytes = 0, rowBytes = 0;  // code bytes of one group, of one row
};

__device__ __forceinline__ float loadScale(const QuantWeightArgs& w, int64_t index) {
  return w.halfScales ? toFloat(static_cast<const Half*>(w.scales)[index]) : static_cast<const float*>(w.scales)[index];
}

__device__ __forceinline__ int zeroPoint(const QuantWeightArgs& w, int n, int g) {
  if (w.zeroPoints == nullptr) return 1 << (w.bits - 1);
  if (w.bits == 8) return w.zeroPoints[static_cast<int64_t>(n) * w.groups + g];
  const uint8_t byte = w.zeroPoints[static_cast<int64_t>(n) * ((w.groups + 1) / 2) + g / 2];
  return (g & 1) ? byte >> 4 : byte & 15;
}

// The code of w[n][k], by the layout's definition (any group size).
__device__ __forceinline__ int codeAt(const QuantWeightArgs& w, int n, int k) {
  const int g = k / w.groupSize, j = k - g * w.groupSize;
  const uint8_t* group = w.codes + static_cast<int64_t>(n) * w.rowBytes + static_cast<int64_t>(g) * w.groupBytes;
  if (w.bits == 8) return group[j];
  return (j & 1) ? group[j / 2] >> 4 : group[j / 2] & 15;
}

__device__ __forceinline__ float dequantized(const QuantWeightArgs& w, int n, int k) {
  const int g = k / w.groupSize;
  return static_cast<float>(codeAt(w, n, k) - zeroPoint(w, n, g)) *
         loadScale(w, static_cast<int64_t>(n) * w.groups + g);
}

// ---------------------------------------------------------------------------
// quantize / dequantize

constexpr int kQuantizeWarps = 4;

// False for NaN and ±Inf; the same spelling under nvcc and g++.
__device__ __forceinline__ bool isFinite(float v) { return fabsf(v) <= 3.40282347e38f; }

struct MinOp {
  __device__ __forceinline__ float operator()(float x, float y) const { return fminf(x, y); }
};

__device__ __forceinline__ int clampCode(float v, int maxCode) {
  return v < 0.0f ? 0 : (v > static_cast<float>(maxCode) ? maxCode : static_cast<int>(v));
}

// w [N, K] -> codes, scales (one of the two pointers), zero points (null when
// symmetric); `out` gives the shape. Items (n, group pair) = N * ceil(G / 2).
template <typename T>
__global__ void quantizeKernel(const T* w, QuantWeightArgs out, uint8_t* codes, float* scales32, Half* scales16,
                               uint8_t* zeroPoints) {
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  const int pairs = (out.groups + 1) / 2;
  const int64_t item = static_cast<int64_t>(blockIdx.x) * kQuantizeWarps + warp;
  if (item >= static_cast<int64_t>(out.N) * pairs) return;
  const int n = static_cast<int>(item / pairs), pair = static_cast<int>(item % pairs);
  const int maxCode = (1 << out.bits) - 1;
  const bool symmetric = zeroPoints == nullptr;
  const T* row = w + static_cast<int64_t>(n) * out.K;
  int zeros[2] = {0, 0};
  for (int h = 0; h < 2 && 2 * pair + h < out.groups; ++h) {
    const int g = 2 * pair + h, k0 = g * out.groupSize;
    const int kEnd = min(k0 + out.groupSize, out.K);
    // The range includes 0 (as the CPU kernel's), so a group of one sign still
    // represents 0 exactly.
    float lo = 0.0f, hi = 0.0f;
    bool finite = true;
    for (int k = k0 + lane; k < kEnd; k += kWarpSize) {
      const float v = toFloat(row[k]);
      finite = finite && isFinite(v);
      lo = fminf(lo, v);
      hi = fmaxf(hi, v);
    }
    finite = __all_sync(kFullWarpMask, finite);
    lo = warpAllReduce(lo, MinOp{});
    hi = warpAllReduce(hi, MaxOp{});
    int z = 1 << (out.bits - 1);
    float scale = symmetric ? fmaxf(-lo, hi) / static_cast<float>(z - 1) : (hi - lo) / static_cast<float>(maxCode);
    // Codes are computed against the scale as stored.
    if (scales16 != nullptr) scale = toFloat(fromFloat<Half>(scale));
    // NaN or ±Inf in the group: a NaN scale and codes z, so every product with
    // this row is NaN rather than silently wrong (lib/ refuses such weights first).
    if (!finite || !isFinite(scale)) scale = __int_as_float(0x7fc00000);
    const bool zeroCodes = !(scale > 0.0f);  // a group of zeros, or NaN
    if (!symmetric && !zeroCodes) z = clampCode(rintf(-lo / scale), maxCode);
    zeros[h] = z;
    const int64_t sIndex = static_cast<int64_t>(n) * out.groups + g;
    if (lane == 0) {
      if (scales16 != nullptr) scales16[sIndex] = fromFloat<Half>(scale);
      else scales32[sIndex] = scale;
    }
    // Codes past K (a short last group) are z: weight 0.
    auto code = [&](int j) {
      const int k = k0 + j;
      if (k >= out.K || zeroCodes) return z;
      return clampCode(static_cast<float>(z) + rintf(toFloat(row[k]) / scale), maxCode);
    };
    uint8_t* dst = codes + static_cast<int64_t>(n) * out.rowBytes + static_cast<int64_t>(g) * out.groupBytes;
    for (int64_t b = lane; b < out.groupBytes; b += kWarpSize) {
      const int j = static_cast<int>(b);
      dst[b] = out.bits == 8 ? static_cast<uint8_t>(code(j)) : static_cast<uint8_t>(code(2 * j) | code(2 * j + 1) << 4);
    }
  }
  if (!symmetric && lane == 0) {
    if (out.bits == 8) {
      for (int h = 0; h < 2 && 2 * pair + h < out.groups; ++h) {
        zeroPoints[static_cast<int64_t>(n) * out.groups + 2 * pair + h] = static_cast<uint8_t>(zeros[h]);
      }
    } else {
      zeroPoints[static_cast<int64_t>(n) * pairs + pair] = static_cast<uint8_t>(zeros[0] | zeros[1] << 4);
    }
  }
}

template <typename T>
__global__ void dequantizeKernel(QuantWeightArgs w, T* out) {
  const int64_t total = static_cast<int64_t>(w.N) * w.K;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    out[i] = fromFloat<T>(dequantized(w, static_cast<int>(i / w.K), static_cast<int>(i % w.K)));
  }
}

// ---------------------------------------------------------------------------
// GEMV (M <= kGemvMaxRows). A chunk is 16 code bytes: 32 int4 or 16 int8 codes,
// k = byte · 8 / bits (groups are whole bytes, so a row's codes are contiguous in
// k), all in one group (the launcher checks gs is a multiple of the chunk's
// codes, or G = 1).

// Each block takes kGemvRowsPerBlock weight rows, so every x chunk it loads
// serves that many rows (x, M·K elements, is re-read by every block; the code
// bytes are read once in all).
constexpr int kGemvMaxRows = 8, kGemvRowsPerBlock = 2, kGemvWarps = 4, kGemvThreads = kGemvWarps * kWarpSize;
constexpr int kChunkBytes = 16;
// At most 128 registers a thread, so that 4 blocks (16 warps) per SM keep many
// 16-byte loads in flight; nvcc would otherwise spend ~160 on hoisting x loads
// (sm_80: then 4 bytes spill in the int4 kernel, none elsewhere).
constexpr int kGemvMinBlocks = 4;

// Arguments of every qmatmul kernel (GEMV and GEMM alike).
struct QMatmulArgs {
  QuantWeightArgs w;
  const void* x = nullptr;     // [M, K] (kFloat)
  const int8_t* xq = nullptr;  // [M, Kx] (kInt8), zero past K
  const float* xScale = nullptr;  // [M]
  const int32_t* xGroupSum = nullptr;  // [M, G]
  int64_t xqStride = 0;        // Kx
  const void* bias = nullptr;  // [N] or null
  void* out = nullptr;         // [M, N]
  int M = 0;
  bool vectorLoads = false;    // GEMV: codes 16-byte aligned and rowBytes % 16 == 0
};

// The chunk's 16 bytes as four words; bytes past the row read as 0 (their codes
// are past K and skipped, or padding).
__device__ __forceinline__ void loadChunk(uint32_t (&words)[4], const QMatmulArgs& a, const uint8_t* row, int64_t byte) {
  if (a.vectorLoads) {
    // Streamed once: the default caching is fine, no reuse to protect (a
    // ld.global.nc.L1::no_allocate variant would be the next thing to try on a GPU).
    const uint4 v = *reinterpret_cast<const uint4*>(row + byte);
    words[0] = v.x, words[1] = v.y, words[2] = v.z, words[3] = v.w;
    return;
  }
  for (int i = 0; i < 4; ++i) {
    uint32_t word = 0;
    for (int b = 0; b < 4; ++b) {
      const int64_t at = byte + 4 * i + b;
      if (at < a.w.rowBytes) word |= static_cast<uint32_t>(row[at]) << (8 * b);
    }
    words[i] = word;
  }
}

// Sums the block's per-thread partials acc[m][r] into out[m][n0 + r] (· rowScale[m]
// when given, + bias), m < M, n0 + r < N.
template <typename T>
__device__ __forceinline__ void finishGemvRows(float (&acc)[kGemvMaxRows][kGemvRowsPerBlock], const QMatmulArgs& a,
                                              int n0, const float* rowScale) {
  __shared__ float partial[kGemvWarps][kGemvMaxRows][kGemvRowsPerBlock];
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
#pragma unroll
  for (int m = 0; m < kGemvMaxRows; ++m) {
#pragma unroll
    for (int r = 0; r < kGemvRowsPerBlock; ++r) {
      const float v = warpAllReduce(acc[m][r], SumOp{});
      if (lane == 0) partial[warp][m][r] = v;
    }
  }
  __syncthreads();
  const int m = static_cast<int>(threadIdx.x) / kGemvRowsPerBlock, r = static_cast<int>(threadIdx.x) % kGemvRowsPerBlock;
  const int n = n0 + r;
  if (m < a.M && n < a.w.N) {
    float y = 0.0f;
    for (int i = 0; i < kGemvWarps; ++i) y += partial[i][m][r];
    if (rowScale != nullptr) y *= rowScale[m];
    if (a.bias != nullptr) y += toFloat(static_cast<const T*>(a.bias)[n]);
    static_cast<T*>(a.out)[static_cast<int64_t>(m) * a.w.N + n] = fromFloat<T>(y);
  }
}

template <typename T, int kBits>
__global__ void __launch_bounds__(kGemvThreads, kGemvMinBlocks) qgemvKernel(QMatmulArgs a) {
  constexpr int kCodes = kChunkBytes * 8 / kBits;
  const QuantWeightArgs& w = a.w;
  const int n0 = blockIdx.x * kGemvRowsPerBlock;
  const T* x = static_cast<const T*>(a.x);
  float acc[kGemvMaxRows][kGemvRowsPerBlock] = {};
  for (int64_t byte = static_cast<int64_t>(threadIdx.x) * kChunkBytes; byte < w.rowBytes;
       byte += static_cast<int64_t>(kGemvThreads) * kChunkBytes) {
    const int k0 = static_cast<int>(byte * 8 / kBits), g = k0 / w.groupSize;
    uint32_t words[kGemvRowsPerBlock][4];
    float scale[kGemvRowsPerBlock];
    int z[kGemvRowsPerBlock];
#pragma unroll
    for (int r = 0; r < kGemvRowsPerBlock; ++r) {
      const int n = min(n0 + r, w.N - 1);  // a row past N repeats the last; never stored
      loadChunk(words[r], a, w.codes + static_cast<int64_t>(n) * w.rowBytes, byte);
      scale[r] = loadScale(w, static_cast<int64_t>(n) * w.groups + g);
      z[r] = zeroPoint(w, n, g);
    }
    const int count = min(kCodes, w.K - k0);  // codes past K are padding, met by x = 0
#pragma unroll
    for (int m = 0; m < kGemvMaxRows; ++m) {
      if (m >= a.M) break;
      const T* xm = x + static_cast<int64_t>(m) * w.K + k0;
      // A word of codes at a time (8 int4 or 4 int8), so only that much of x is
      // live in registers next to the rows' code words.
      float dot[kGemvRowsPerBlock] = {};
#pragma unroll
      for (int word = 0; word < 4; ++word) {
        constexpr int kPerWord = 32 / kBits;
        float xv[kPerWord];
#pragma unroll
        for (int i = 0; i < kPerWord; ++i) {
          const int at = word * kPerWord + i;
          xv[i] = at < count ? toFloat(xm[at]) : 0.0f;
        }
#pragma unroll
        for (int r = 0; r < kGemvRowsPerBlock; ++r) {
#pragma unroll
          for (int i = 0; i < kPerWord; ++i) {
            const int code = static_cast<int>((words[r][word] >> (i * kBits)) & ((1u << kBits) - 1));
            dot[r] += static_cast<float>(code - z[r]) * xv[i];
          }
        }
      }
#pragma unroll
      for (int r = 0; r < kGemvRowsPerBlock; ++r) acc[m][r] += scale[r] * dot[r];
    }
  }
  finishGemvRows<T>(acc, a, n0, nullptr);
}

// The same streaming on int8 activations, with int32 dot products by __dp4a of
// the int8 x and b = q - o. Each group's integer sum is completed exactly
// before it meets a float, as the CPU kernel does:
//   acc += s_{n,g} · float(Σ_{k∈g} x·b + (o - z)·Σ_{k∈g} x),   y = s_x·acc + bias.
// The block's threads take consecutive chunks, so a group (cpg = gs / codes-per-
// chunk of 1 to 8 chunks) lies on aligned consecutive lanes of one warp and a
// few xor-shuffles finish its sum; per channel (G = 1) the whole row is one
// group and its int32 sum is reduced over the block.
template <typename T, int kBits>
__global__ void __launch_bounds__(kGemvThreads, kGemvMinBlocks) qgemvInt8Kernel(QMatmulArgs a) {
  constexpr int kCodes = kChunkBytes * 8 / kBits, kOffset = kBits == 8 ? 128 : 0;
  constexpr int kRows = kGemvRowsPerBlock;
  const int n0 = blockIdx.x * kRows, lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const QuantWeightArgs& w = a.w;
  const bool perChannel = w.groups == 1;
  const int chunksPerGroup = w.groupSize / kCodes;  // used when G > 1
  const int64_t chunks = (w.rowBytes + kChunkBytes - 1) / kChunkBytes;
  float acc[kGemvMaxRows][kRows] = {};
  int rowSum[kGemvMaxRows][kRows] = {};  // per channel: this thread's share of the one group
  // Every thread runs every round, so the shuffles see whole warps.
  for (int64_t base = 0; base < chunks; base += kGemvThreads) {
    const int64_t chunk = base + threadIdx.x;
    const bool valid = chunk < chunks;
    const int k0 = static_cast<int>(chunk * kCodes);
    const int g = valid ? k0 / w.groupSize : 0;
    const bool groupStart = valid && k0 % w.groupSize == 0;
    // b in k order, four s8 a word. int4: word i holds codes 8i..8i+7, even k in
    // the low nibbles; spread them into the bytes of b[2i] (k 8i..8i+3), b[2i+1].
    int b[kRows][kCodes / 4] = {};
    int correction[kRows] = {};
    float scale[kRows] = {};
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      if (!valid) continue;
      const int n = min(n0 + r, w.N - 1);  // a row past N repeats the last; never stored
      uint32_t words[4];
      loadChunk(words, a, w.codes + static_cast<int64_t>(n) * w.rowBytes, chunk * kChunkBytes);
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        if (kBits == 8) {
          b[r][i] = static_cast<int>(words[i] ^ 0x80808080u);
        } else {
          const uint32_t lo = words[i] & 0x0f0f0f0fu, hi = (words[i] >> 4) & 0x0f0f0f0fu;
          b[r][2 * i] = static_cast<int>(__byte_perm(lo, hi, 0x5140));
          b[r][2 * i + 1] = static_cast<int>(__byte_perm(lo, hi, 0x7362));
        }
      }
      if (groupStart) {
        correction[r] = kOffset - zeroPoint(w, n, g);
        scale[r] = loadScale(w, static_cast<int64_t>(n) * w.groups + g);
      }
    }
#pragma unroll
    for (int m = 0; m < kGemvMaxRows; ++m) {
      if (m >= a.M) break;
      int xv[kCodes / 4] = {};
      int xGroupSum = 0;
      if (valid) {
        // xq rows are padded with zeros to a multiple of 32, so the chunk never
        // reads past its row and padding codes meet x = 0.
        const int* xm = reinterpret_cast<const int*>(a.xq + static_cast<int64_t>(m) * a.xqStride + k0);
#pragma unroll
        for (int i = 0; i < kCodes / 4; ++i) xv[i] = xm[i];
        if (groupStart) xGroupSum = a.xGroupSum[static_cast<int64_t>(m) * w.groups + g];
      }
#pragma unroll
      for (int r = 0; r < kRows; ++r) {
        int dot = correction[r] * xGroupSum;
#pragma unroll
        for (int i = 0; i < kCodes / 4; ++i) dot = __dp4a(xv[i], b[r][i], dot);
        if (perChannel) {
          rowSum[m][r] += dot;
        } else {
          for (int offset = 1; offset < chunksPerGroup; offset *= 2) dot += __shfl_xor_sync(kFullWarpMask, dot, offset);
          if (groupStart) acc[m][r] += scale[r] * static_cast<float>(dot);
        }
      }
    }
  }
  if (perChannel) {
    __shared__ int partial[kGemvWarps][kGemvMaxRows][kRows];
#pragma unroll
    for (int m = 0; m < kGemvMaxRows; ++m) {
#pragma unroll
      for (int r = 0; r < kRows; ++r) {
        int v = rowSum[m][r];
        for (int offset = kWarpSize / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(kFullWarpMask, v, offset);
        if (lane == 0) partial[warp][m][r] = v;
      }
    }
    __syncthreads();
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      const float s = loadScale(w, min(n0 + r, w.N - 1));
#pragma unroll
      for (int m = 0; m < kGemvMaxRows; ++m) {
        int total = 0;
        for (int i = 0; i < kGemvWarps; ++i) total += partial[i][m][r];
        // One thread's acc holds the row's float; the others contribute 0.
        acc[m][r] = threadIdx.x == 0 ? s * static_cast<float>(total) : 0.0f;
      }
    }
  }
  finishGemvRows<T>(acc, a, n0, a.xScale);
}

// ---------------------------------------------------------------------------
// kInt8 activations: one block per row of x.

constexpr int kQuantizeRowThreads = 256;

template <typename T>
__global__ void quantizeRowsKernel(const T* x, int K, int groupSize, int groups, int64_t xqStride, int8_t* xq,
                                   float* xScale, int32_t* xGroupSum) {
  const int m = blockIdx.x;
  const T* row = x + static_cast<int64_t>(m) * K;
  float amax = 0.0f;
  for (int k = threadIdx.x; k < K; k += blockDim.x) amax = MaxOp{}(amax, fabsf(toFloat(row[k])));
  amax = rowMax<kQuantizeRowThreads>(amax);
  // NaN or Inf in the row gives a non-finite scale: codes 0 and a NaN scale, so
  // the row's outputs are NaN, as on the CPU.
  float scale = amax / 127.0f;
  if (!isFinite(scale)) scale = __int_as_float(0x7fc00000);
  int8_t* dst = xq + static_cast<int64_t>(m) * xqStride;
  for (int64_t k = threadIdx.x; k < xqStride; k += blockDim.x) {
    int v = 0;
    if (k < K && scale > 0.0f) v = static_cast<int>(fminf(fmaxf(rintf(toFloat(row[k]) / scale), -127.0f), 127.0f));
    dst[k] = static_cast<int8_t>(v);
  }
  if (threadIdx.x == 0) xScale[m] = scale;
  __syncthreads();  // the int8 row is visible to the whole block
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  for (int g = warp; g < groups; g += kQuantizeRowThreads / kWarpSize) {
    const int kEnd = min((g + 1) * groupSize, K);
    int sum = 0;
    for (int k = g * groupSize + lane; k < kEnd; k += kWarpSize) sum += dst[k];
    for (int offset = kWarpSize / 2; offset > 0; offset /= 2) sum += __shfl_xor_sync(kFullWarpMask, sum, offset);
    if (lane == 0) xGroupSum[static_cast<int64_t>(m) * groups + g] = sum;
  }
}

// ---------------------------------------------------------------------------
// GEMM (M > kGemvMaxRows, or group sizes the GEMV's chunks do not fit).

constexpr int kGemmTile = 64, kGemmBlockK = 32, kGemmThreads = 256, kMmaThreadsQ = 128;

// Float activations: a 64×64 tile of out per block, 4×4 outputs a thread. Both
// operand tiles go to shared memory k-major as fp32 so the inner loop is the
// plain outer-product SGEMM; the weight tile is dequantized on its way in.
template <typename T>
__global__ void qgemmKernel(QMatmulArgs a) {
  __shared__ float xs[kGemmBlockK][kGemmTile + 4];
  __shared__ float ws[kGemmBlockK][kGemmTile + 4];
  const QuantWeightArgs& w = a.w;
  const T* x = static_cast<const T*>(a.x);
  const int rowBase = blockIdx.x * kGemmTile, colBase = blockIdx.y * kGemmTile;
  const int tr = threadIdx.x / 16, tc = threadIdx.x % 16;  // this thread: rows tr + 16i, cols tc + 16j
  float acc[4][4] = {};
  for (int k0 = 0; k0 < w.K; k0 += kGemmBlockK) {
    for (int e = threadIdx.x; e < kGemmTile * kGemmBlockK; e += kGemmThreads) {
      const int r = e / kGemmBlockK, kk = e % kGemmBlockK, k = k0 + kk;
      const int m = rowBase + r, n = colBase + r;
      xs[kk][r] = (m < a.M && k < w.K) ? toFloat(x[static_cast<int64_t>(m) * w.K + k]) : 0.0f;
      ws[kk][r] = (n < w.N && k < w.K) ? dequantized(w, n, k) : 0.0f;
    }
    __syncthreads();
    for (int kk = 0; kk < kGemmBlockK; ++kk) {
      float xv[4], wv[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) xv[i] = xs[kk][tr + 16 * i], wv[i] = ws[kk][tc + 16 * i];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] += xv[i] * wv[j];
    }
    __syncthreads();
  }
  T* out = static_cast<T*>(a.out);
  for (int i = 0; i < 4; ++i) {
    const int m = rowBase + tr + 16 * i;
    for (int j = 0; j < 4; ++j) {
      const int n = colBase + tc + 16 * j;
      if (m >= a.M || n >= w.N) continue;
      float y = acc[i][j];
      if (a.bias != nullptr) y += toFloat(static_cast<const T*>(a.bias)[n]);
      out[static_cast<int64_t>(m) * w.N + n] = fromFloat<T>(y);
    }
  }
}

// fp16/bf16 activations on tensor cores (sm_80+): the same 64×64 tile and warp
// layout as the int8 kernel below, mma.m16n8k16 with fp32 accumulators. The
// weight tile holds q - z, a small integer exact in 16 bits, and the scale is
// applied when a group ends (gs a multiple of 32, or G = 1):
//   f[m][n] += s_{n,g} · Σ_{k∈g} x·(q - z)
// so the weights are never rounded to 16 bits, unlike a dequantize-then-GEMM.
// Fragments are plain 32-bit loads from shared memory: both tiles keep k
// contiguous (x row-major, the weights n-major as the "col" B operand), and the
// +8 padding puts the 8 rows × 4 pairs of one load in 32 different banks.
template <typename T>
__global__ void qgemmMmaKernel(QMatmulArgs a) {
  __shared__ __align__(16) uint16_t xs[kGemmTile][kGemmBlockK + 8];
  __shared__ __align__(16) uint16_t bs[kGemmTile][kGemmBlockK + 8];  // [n][k]
  const QuantWeightArgs& w = a.w;
  const T* x = static_cast<const T*>(a.x);
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize, g8 = lane / 4, q = lane % 4;
  const int rowBase = blockIdx.x * kGemmTile, colBase = blockIdx.y * kGemmTile;
  float sums[8][4] = {}, f[8][4] = {};
  const int kEnd = max(w.K, w.groups * w.groupSize);
  auto word = [](const uint16_t* p) { return *reinterpret_cast<const uint32_t*>(p); };
  for (int k0 = 0; k0 < kEnd; k0 += kGemmBlockK) {
    for (int e = threadIdx.x; e < kGemmTile * kGemmBlockK; e += kMmaThreadsQ) {
      const int r = e / kGemmBlockK, kk = e % kGemmBlockK, k = k0 + kk, m = rowBase + r, n = colBase + r;
      xs[r][kk] = (m < a.M && k < w.K) ? x[static_cast<int64_t>(m) * w.K + k].bits : 0;
      bs[r][kk] = fromFloat<T>((n < w.N && k < w.K) ? static_cast<float>(codeAt(w, n, k) - zeroPoint(w, n, k / w.groupSize))
                                                    : 0.0f).bits;
    }
    __syncthreads();
    const int r0 = warp * 16 + g8;
#pragma unroll
    for (int kk = 0; kk < kGemmBlockK; kk += 16) {
      const uint32_t af[4] = {word(&xs[r0][kk + 2 * q]), word(&xs[r0 + 8][kk + 2 * q]), word(&xs[r0][kk + 2 * q + 8]),
                              word(&xs[r0 + 8][kk + 2 * q + 8])};
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        const uint32_t bf[2] = {word(&bs[j * 8 + g8][kk + 2 * q]), word(&bs[j * 8 + g8][kk + 2 * q + 8])};
        mmaM16N8K16<T>(sums[j], af, bf);
      }
    }
    __syncthreads();
    if ((k0 + kGemmBlockK) % w.groupSize == 0 || k0 + kGemmBlockK >= kEnd) {
      const int g = k0 / w.groupSize;
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        const int n = colBase + j * 8 + 2 * q;
        const float s0 = n < w.N ? loadScale(w, static_cast<int64_t>(n) * w.groups + g) : 0.0f;
        const float s1 = n + 1 < w.N ? loadScale(w, static_cast<int64_t>(n + 1) * w.groups + g) : 0.0f;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          f[j][i] += (i % 2 ? s1 : s0) * sums[j][i];
          sums[j][i] = 0.0f;
        }
      }
    }
  }
  T* out = static_cast<T*>(a.out);
  for (int j = 0; j < 8; ++j) {
    for (int i = 0; i < 4; ++i) {
      const int m = rowBase + warp * 16 + g8 + 8 * (i / 2), n = colBase + j * 8 + 2 * q + i % 2;
      if (m >= a.M || n >= w.N) continue;
      float y = f[j][i];
      if (a.bias != nullptr) y += toFloat(static_cast<const T*>(a.bias)[n]);
      out[static_cast<int64_t>(m) * w.N + n] = fromFloat<T>(y);
    }
  }
}

// int8 activations on tensor cores: a 64×64 tile per block of 4 warps, each warp
// 16 rows × 64 columns (8 mma tiles of 16×8). K advances 32 at a time; int32
// sums are kept per group and folded into fp32 when a group ends (the launcher
// checks gs is a multiple of 32, or G = 1):
//   f[m][n] += s_{n,g} · (Σ_{k∈g} xq·b + (o - z_{n,g})·Σ_{k∈g} xq)
// and y = s_x[m]·f + bias.
template <typename T, int kBits>
__global__ void qgemmInt8Kernel(QMatmulArgs a) {
  constexpr int kOffset = kBits == 8 ? 128 : 0;
  // +16 bytes a row: rows stay 16-byte aligned while consecutive rows shift banks.
  __shared__ __align__(16) int8_t xs[kGemmTile][kGemmBlockK + 16];
  __shared__ __align__(16) int8_t bs[kGemmTile][kGemmBlockK + 16];  // [n][k]: the "col" B operand
  const QuantWeightArgs& w = a.w;
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize, g8 = lane / 4, q = lane % 4;
  const int rowBase = blockIdx.x * kGemmTile, colBase = blockIdx.y * kGemmTile;
  int32_t sums[8][4] = {};
  float f[8][4] = {};
  const int kEnd = max(w.K, w.groups * w.groupSize);
  for (int k0 = 0; k0 < kEnd; k0 += kGemmBlockK) {
    // xq rows are padded to a multiple of 32: whole 16-byte pieces.
    for (int e = threadIdx.x; e < kGemmTile * 2; e += kMmaThreadsQ) {
      const int r = e / 2, half = e % 2, m = rowBase + r;
      uint4 v = make_uint4(0, 0, 0, 0);
      if (m < a.M && k0 + 16 * half < a.xqStride) {
        v = *reinterpret_cast<const uint4*>(a.xq + static_cast<int64_t>(m) * a.xqStride + k0 + 16 * half);
      }
      *reinterpret_cast<uint4*>(&xs[r][16 * half]) = v;
    }
    for (int e = threadIdx.x; e < kGemmTile * kGemmBlockK; e += kMmaThreadsQ) {
      const int r = e / kGemmBlockK, kk = e % kGemmBlockK, n = colBase + r, k = k0 + kk;
      bs[r][kk] = static_cast<int8_t>((n < w.N && k < w.K) ? codeAt(w, n, k) - kOffset : 0);
    }
    __syncthreads();
    const int r0 = warp * 16 + g8;
    const uint32_t af[4] = {*reinterpret_cast<const uint32_t*>(&xs[r0][4 * q]),
                            *reinterpret_cast<const uint32_t*>(&xs[r0 + 8][4 * q]),
                            *reinterpret_cast<const uint32_t*>(&xs[r0][4 * q + 16]),
                            *reinterpret_cast<const uint32_t*>(&xs[r0 + 8][4 * q + 16])};
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      const uint32_t bf[2] = {*reinterpret_cast<const uint32_t*>(&bs[j * 8 + g8][4 * q]),
                              *reinterpret_cast<const uint32_t*>(&bs[j * 8 + g8][4 * q + 16])};
      mmaM16N8K32S8(sums[j], af, bf);
    }
    __syncthreads();
    const bool groupEnds = (k0 + kGemmBlockK) % w.groupSize == 0 || k0 + kGemmBlockK >= kEnd;
    if (groupEnds) {
      const int g = k0 / w.groupSize;
#pragma unroll
      for (int j = 0; j < 8; ++j) {
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const int m = rowBase + r0 + 8 * (i / 2), n = colBase + j * 8 + 2 * q + i % 2;
          if (m < a.M && n < w.N) {
            const int dot = sums[j][i] + (kOffset - zeroPoint(w, n, g)) * a.xGroupSum[static_cast<int64_t>(m) * w.groups + g];
            f[j][i] += loadScale(w, static_cast<int64_t>(n) * w.groups + g) * static_cast<float>(dot);
          }
          sums[j][i] = 0;
        }
      }
    }
  }
  T* out = static_cast<T*>(a.out);
  for (int j = 0; j < 8; ++j) {
    for (int i = 0; i < 4; ++i) {
      const int m = rowBase + warp * 16 + g8 + 8 * (i / 2), n = colBase + j * 8 + 2 * q + i % 2;
      if (m >= a.M || n >= w.N) continue;
      float y = a.xScale[m] * f[j][i];
      if (a.bias != nullptr) y += toFloat(static_cast<const T*>(a.bias)[n]);
      out[static_cast<int64_t>(m) * w.N + n] = fromFloat<T>(y);
    }
  }
}

}  // namespace tessera::TESSERA_CUDA_NS
