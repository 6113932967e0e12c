// fill, random and copy (strided gather with dtype conversion between any pair of
// the six dtypes). Kernel bodies; the launchers are in copy.cu.
//
// Every kernel walks its N elements with a grid-stride loop, so the launcher may
// cap the grid. N = number of elements.
#pragma once

#include "../core/op_params.h"
#include "../core/random.h"
#include "common.cuh"

namespace tessera::TESSERA_CUDA_NS {

// ---------------------------------------------------------------------------
// Conversions between any two dtypes, the dtype chosen at run time (the branch is
// the same for the whole grid, so it costs nothing next to the memory traffic).
// Every value of every dtype passes through fp32 losslessly, except int32 beyond
// 2^24: int32 -> fp32 rounds to nearest even as the CPU does, and int32 -> fp16/bf16
// goes through a round-to-odd fp32 so the result is rounded once, as on the CPU.

// Float -> integer: round to nearest even, saturate, NaN -> 0 (the CPU backend's
// rule; C++ leaves all three undefined).
__device__ __forceinline__ float roundSaturate(float v, float lo, float hi) {
  return fminf(fmaxf(rintf(v), lo), hi);
}

__device__ __forceinline__ int32_t floatToInt32(float v) {
  if (v != v) return 0;
  // 2^31 is the first float above INT32_MAX; the bounds are exact floats.
  if (v >= 2147483648.0f) return 2147483647;
  if (v <= -2147483648.0f) return -2147483647 - 1;
  return static_cast<int32_t>(rintf(v));
}

__device__ __forceinline__ float int32ToFloatRoundToOdd(int32_t x) {
  const float f = static_cast<float>(x);
  const int64_t back = static_cast<int64_t>(f);
  if (back == x) return f;
  uint32_t bits = __float_as_uint(f);
  if ((back > x) == (x > 0)) bits -= 1u;  // nearest went away from zero: truncate
  return __uint_as_float(bits | 1u);
}

// dst: the dtype the value is headed for (it picks the int32 rounding).
__device__ __forceinline__ float loadAsFloat(DType t, const void* base, int64_t i, DType dst) {
  switch (t) {
    case DType::kFloat32: return static_cast<const float*>(base)[i];
    case DType::kFloat16: return toFloat(static_cast<const Half*>(base)[i]);
    case DType::kBFloat16: return toFloat(static_cast<const BF16*>(base)[i]);
    case DType::kInt8: return static_cast<float>(static_cast<const int8_t*>(base)[i]);
    case DType::kUInt8: return static_cast<float>(static_cast<const uint8_t*>(base)[i]);
    case DType::kInt32: {
      const int32_t x = static_cast<const int32_t*>(base)[i];
      return dst == DType::kFloat16 || dst == DType::kBFloat16 ? int32ToFloatRoundToOdd(x) : static_cast<float>(x);
    }
  }
  return 0.0f;
}

__device__ __forceinline__ void storeFromFloat(DType t, void* base, int64_t i, float v) {
  switch (t) {
    case DType::kFloat32: static_cast<float*>(base)[i] = v; return;
    case DType::kFloat16: static_cast<Half*>(base)[i] = fromFloat<Half>(v); return;
    case DType::kBFloat16: static_cast<BF16*>(base)[i] = fromFloat<BF16>(v); return;
    case DType::kInt8:
      static_cast<int8_t*>(base)[i] = v != v ? 0 : static_cast<int8_t>(roundSaturate(v, -128.0f, 127.0f));
      return;
    case DType::kUInt8:
      static_cast<uint8_t*>(base)[i] = v != v ? 0 : static_cast<uint8_t>(roundSaturate(v, 0.0f, 255.0f));
      return;
    case DType::kInt32: static_cast<int32_t*>(base)[i] = floatToInt32(v); return;
  }
}

// ---------------------------------------------------------------------------
// fill: the host converts the value to the dtype's bits once (with the CPU's
// double-based rule); the kernel stamps that pattern. Bits = uint16_t or uint32_t
// (1-byte dtypes and all-zero patterns go through cudaMemsetAsync).

template <typename Bits>
__global__ void fillKernel(Bits* out, Bits pattern, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    out[i] = pattern;
  }
}

// ---------------------------------------------------------------------------
// random: element i is a pure function of (seed, i) (core/random.h), so the
// tensor is the same on every device. The affine step uses __fmul_rn/__fadd_rn so
// nvcc cannot contract it into an fma the CPU path does not use: uniform tensors
// are then bit-identical to the CPU's. Normal ones can differ in the last fp32 ulp
// because the device logf/cosf are not glibc's.

// The largest T below `bound` (> 0), given r = T(bound) rounded.
__device__ __forceinline__ float belowBound(float, float bound) { return nextafterf(bound, 0.0f); }
__device__ __forceinline__ Half belowBound(Half r, float bound) {
  return toFloat(r) >= bound ? Half{static_cast<uint16_t>(r.bits - 1u)} : r;
}
__device__ __forceinline__ BF16 belowBound(BF16 r, float bound) {
  return toFloat(r) >= bound ? BF16{static_cast<uint16_t>(r.bits - 1u)} : r;
}

template <typename T>
__global__ void randomKernel(T* out, int64_t n, RandomDist dist, uint64_t seed, float a, float b) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const uint64_t counter = static_cast<uint64_t>(i);
    const float v = dist == RandomDist::kNormal
                        ? __fadd_rn(a, __fmul_rn(b, normalAt(seed, counter)))
                        : __fadd_rn(a, __fmul_rn(b - a, uniformAt(seed, counter)));
    T r = fromFloat<T>(v);
    // Rounding to fp16/bf16 can reach rand's open upper bound: step back below it.
    if (dist == RandomDist::kUniform && toFloat(r) >= b) r = belowBound(r, b);
    out[i] = r;
  }
}

// ---------------------------------------------------------------------------
// copy. Contiguous same-dtype copies are a cudaMemcpyAsync; the rest are these.

// Contiguous source, different dtype.
__global__ void castKernel(const void* src, DType srcType, void* dst, DType dstType, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    storeFromFloat(dstType, dst, i, loadAsFloat(srcType, src, i, dstType));
  }
}

// Strided source, same dtype: moves the bits (Bits = uint8_t, uint16_t, uint32_t),
// so int32 values above 2^24 survive.
template <typename Bits, typename Index>
__global__ void stridedCopyKernel(const Bits* src, Bits* dst, int64_t n, StridedLayout<1> layout) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    Index offset[1];
    stridedOffsets(offset, layout, static_cast<Index>(i));
    dst[i] = src[offset[0]];
  }
}

// Strided source, different dtype.
template <typename Index>
__global__ void stridedCastKernel(const void* src, DType srcType, void* dst, DType dstType, int64_t n,
                                  StridedLayout<1> layout) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    Index offset[1];
    stridedOffsets(offset, layout, static_cast<Index>(i));
    storeFromFloat(dstType, dst, i, loadAsFloat(srcType, src, offset[0], dstType));
  }
}

}  // namespace tessera::TESSERA_CUDA_NS
