// What the CUDA kernel bodies share: element storage types and their fp32
// conversions, warp and row reductions, and N-d strided indexing.
//
// The kernel sources (*.cuh) are compiled twice: by nvcc for the GPU, and by g++
// against the SIMT emulator (native/emu) for the `emu` device. So they are plain
// CUDA C++: no host-only code, no cooperative groups, no dynamic parallelism;
// hardware intrinsics only behind __CUDA_ARCH__ with a portable twin beside them,
// and inline PTX only in ptx.cuh.
//
// Shape letters: R = rows, C = columns (the last axis).
#pragma once

#include <cmath>
#include <cstdint>

#include "../core/dtype.h"
#include "../core/tensor_view.h"
#include "platform.h"

namespace tessera::TESSERA_CUDA_NS {

constexpr int kWarpSize = 32;
constexpr unsigned kFullWarpMask = 0xffffffffu;

// ---------------------------------------------------------------------------
// Element types. Kernels load any float type as fp32, compute in fp32 and round
// back on store with round-to-nearest-even, exactly like the CPU backend.

struct Half { uint16_t bits; };
struct BF16 { uint16_t bits; };

__device__ __forceinline__ float toFloat(float v) { return v; }

__device__ __forceinline__ float toFloat(Half v) {
#if defined(__CUDA_ARCH__)
  return __half2float(__ushort_as_half(v.bits));
#else
  return halfToFloat(v.bits);
#endif
}

__device__ __forceinline__ float toFloat(BF16 v) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(static_cast<uint32_t>(v.bits) << 16);
#else
  return bf16ToFloat(v.bits);
#endif
}

template <typename T> __device__ T fromFloat(float v);

template <> __device__ __forceinline__ float fromFloat<float>(float v) { return v; }

template <> __device__ __forceinline__ Half fromFloat<Half>(float v) {
#if defined(__CUDA_ARCH__)
  return Half{__half_as_ushort(__float2half_rn(v))};
#else
  return Half{floatToHalf(v)};
#endif
}

template <> __device__ __forceinline__ BF16 fromFloat<BF16>(float v) {
#if defined(__CUDA_ARCH__)
  return BF16{__bfloat16_as_ushort(__float2bfloat16_rn(v))};
#else
  return BF16{floatToBf16(v)};
#endif
}

// ---------------------------------------------------------------------------
// Reductions. A "row group" is the kRowThreads consecutive threads that own one
// row: a warp (kRowThreads = 32, several rows per block) or the whole block.

struct SumOp {
  __device__ __forceinline__ float operator()(float x, float y) const { return x + y; }
};
// NaN-propagating (fmaxf would drop a NaN, and softmax must return NaN for a row
// that holds one, as PyTorch does).
struct MaxOp {
  __device__ __forceinline__ float operator()(float x, float y) const { return (x > y || x != x) ? x : y; }
};

template <typename Op>
__device__ __forceinline__ float warpAllReduce(float v, Op op) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    v = op(v, __shfl_xor_sync(kFullWarpMask, v, offset));
  }
  return v;
}

// Reduces v over the row group and gives every thread of it the result. In
// block mode every thread of the block must call it (it has barriers).
template <int kRowThreads, typename Op>
__device__ __forceinline__ float rowAllReduce(float v, Op op) {
  static_assert(kRowThreads % kWarpSize == 0, "a row group is whole warps");
  v = warpAllReduce(v, op);
  if constexpr (kRowThreads == kWarpSize) {
    return v;
  } else {
    constexpr int kWarps = kRowThreads / kWarpSize;
    __shared__ float partial[kWarps];
    __shared__ float total;
    const int warp = threadIdx.x / kWarpSize;
    if (threadIdx.x % kWarpSize == 0) partial[warp] = v;
    __syncthreads();
    if (threadIdx.x == 0) {
      float t = partial[0];
      for (int w = 1; w < kWarps; ++w) t = op(t, partial[w]);
      total = t;
    }
    // A second call may overwrite `partial` only after every warp has passed this
    // barrier, i.e. after thread 0 has finished reading it; `total` is rewritten
    // only after the next call's first barrier, when every thread has read it.
    __syncthreads();
    return total;
  }
}

template <int kRowThreads>
__device__ __forceinline__ float rowSum(float v) { return rowAllReduce<kRowThreads>(v, SumOp{}); }

template <int kRowThreads>
__device__ __forceinline__ float rowMax(float v) { return rowAllReduce<kRowThreads>(v, MaxOp{}); }

// Threads per block of the row kernels (softmax, norm, reduce). Their kRowThreads
// is a warp (8 short rows per block) or the whole block (one long row).
constexpr int kRowBlockThreads = 256;

// The row that this thread's row group owns.
template <int kRowThreads>
__device__ __forceinline__ int64_t rowOfThread() {
  return blockIdx.x * static_cast<int64_t>(kRowBlockThreads / kRowThreads) + threadIdx.x / kRowThreads;
}

// ---------------------------------------------------------------------------
// Strided indexing: an N-d index space (innermost dim last) walked in row-major
// order, and the element strides of kOperands views over it. The host collapses
// dims first (launch.h), so most layouts arrive with 1 to 3 dims.

template <int kOperands>
struct StridedLayout {
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t strides[kOperands][kMaxDims] = {};
};

// Index is int32_t when every index and offset fits (the launcher checks), which
// turns the per-element divisions from 64-bit library calls into a few instructions.
template <typename Index, int kOperands>
__device__ __forceinline__ void stridedOffsets(Index (&offsets)[kOperands],
                                               const StridedLayout<kOperands>& layout, Index linear) {
  for (int o = 0; o < kOperands; ++o) offsets[o] = 0;
  for (int d = layout.ndim - 1; d >= 0; --d) {
    const Index size = static_cast<Index>(layout.shape[d]);
    const Index coord = linear % size;
    linear /= size;
    for (int o = 0; o < kOperands; ++o) offsets[o] += coord * static_cast<Index>(layout.strides[o][d]);
  }
}

}  // namespace tessera::TESSERA_CUDA_NS
