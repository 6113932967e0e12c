// Elementwise binary ops with broadcasting, and unary activations. Kernel bodies;
// the launchers are in elementwise.cu.
//
// N = number of output elements. T = float, Half or BF16; math is fp32.
#pragma once

#include "../core/op_params.h"
#include "common.cuh"

namespace tessera::TESSERA_CUDA_NS {

__device__ __forceinline__ float applyBinary(BinaryOp op, float x, float y) {
  switch (op) {
    case BinaryOp::kAdd: return x + y;
    case BinaryOp::kSub: return x - y;
    case BinaryOp::kMul: return x * y;
    case BinaryOp::kDiv: return x / y;
  }
  return 0.0f;
}

__device__ __forceinline__ float applyUnary(UnaryOp op, float alpha, float x) {
  switch (op) {
    case UnaryOp::kScale: return alpha * x;
    case UnaryOp::kSilu: return x / (1.0f + expf(-x));
    case UnaryOp::kGeluErf: return 0.5f * x * (1.0f + erff(x * 0.7071067811865476f));
    case UnaryOp::kGeluTanh: {
      const float inner = 0.7978845608028654f * (x + 0.044715f * x * x * x);  // sqrt(2/pi)
      return 0.5f * x * (1.0f + tanhf(inner));
    }
  }
  return 0.0f;
}

// a, b and out all contiguous with out's shape: no index arithmetic at all.
template <typename T>
__global__ void binaryContiguousKernel(BinaryOp op, const T* a, const T* b, T* out, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    out[i] = fromFloat<T>(applyBinary(op, toFloat(a[i]), toFloat(b[i])));
  }
}

// Broadcasting: a and b are strided views with out's shape (stride 0 on broadcast
// axes); layout.strides[0] belongs to a, [1] to b. out is contiguous.
template <typename T, typename Index>
__global__ void binaryStridedKernel(BinaryOp op, const T* a, const T* b, T* out, int64_t n,
                                    StridedLayout<2> layout) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    Index offsets[2];
    stridedOffsets(offsets, layout, static_cast<Index>(i));
    out[i] = fromFloat<T>(applyBinary(op, toFloat(a[offsets[0]]), toFloat(b[offsets[1]])));
  }
}

template <typename T>
__global__ void unaryKernel(UnaryOp op, float alpha, const T* x, T* out, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    out[i] = fromFloat<T>(applyUnary(op, alpha, toFloat(x[i])));
  }
}

}  // namespace tessera::TESSERA_CUDA_NS
