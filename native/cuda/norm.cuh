// RMS norm and layer norm over the last axis of a contiguous [R, C] tensor, with a
// weight (and for layer norm a bias) of C elements. Kernel body; the launcher is
// in norm.cu.
//
//   rms:   y = x / sqrt(mean(x^2) + eps) * w
//   layer: y = (x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps) * w + b
// bias is null for RMS norm and for a layer norm without bias.
//
// Both are "centre (or not), scale by the inverse RMS, apply the affine": RMS
// norm is layer norm with the mean taken as 0 and no bias. The variance is the
// two-pass one (mean first, then squared deviations): exact for rows with a large
// mean, where E[x^2] - E[x]^2 cancels catastrophically.
#pragma once

#include "../core/op_params.h"
#include "common.cuh"

namespace tessera::TESSERA_CUDA_NS {

template <typename T, int kRowThreads>
__global__ void __launch_bounds__(kRowBlockThreads)
normKernel(NormOp op, const T* x, const T* weight, const T* bias, T* out, int64_t rows, int cols,
           float eps) {
  const int64_t row = rowOfThread<kRowThreads>();
  if (row >= rows) return;  // only whole warps of the last block in warp mode
  const int lane = threadIdx.x % kRowThreads;
  const T* xRow = x + row * cols;
  T* outRow = out + row * cols;
  const bool layer = op == NormOp::kLayer;  // the same for the whole grid

  float mean = 0.0f;
  if (layer) {
    float partial = 0.0f;
    for (int c = lane; c < cols; c += kRowThreads) partial += toFloat(xRow[c]);
    mean = rowSum<kRowThreads>(partial) / cols;
  }

  float squares = 0.0f;
  for (int c = lane; c < cols; c += kRowThreads) {
    const float d = toFloat(xRow[c]) - mean;
    squares += d * d;
  }
  const float invRms = 1.0f / sqrtf(rowSum<kRowThreads>(squares) / cols + eps);

  for (int c = lane; c < cols; c += kRowThreads) {
    float y = (toFloat(xRow[c]) - mean) * invRms * toFloat(weight[c]);
    if (bias != nullptr) y += toFloat(bias[c]);
    outRow[c] = fromFloat<T>(y);
  }
}

}  // namespace tessera::TESSERA_CUDA_NS
