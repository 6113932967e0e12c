// Row softmax over the last axis of a contiguous [R, C] tensor. Kernel body; the
// launcher is in softmax.cu.
//
// Two passes over the row: the first keeps a running max and a sum of exp scaled
// to it (online softmax), the second writes exp(x - max) / sum. A row whose max
// is -inf (all -inf, or empty) is written as zeros; a NaN anywhere in a row makes
// the whole row NaN.
#pragma once

#include "common.cuh"

namespace tessera::TESSERA_CUDA_NS {

template <typename T, int kRowThreads>
__global__ void __launch_bounds__(kRowBlockThreads)
softmaxKernel(const T* x, T* out, int64_t rows, int cols) {
  const int64_t row = rowOfThread<kRowThreads>();
  if (row >= rows) return;  // only whole warps of the last block in warp mode
  const int lane = threadIdx.x % kRowThreads;
  const T* xRow = x + row * cols;
  T* outRow = out + row * cols;

  float runningMax = -INFINITY, runningSum = 0.0f;
  for (int c = lane; c < cols; c += kRowThreads) {
    const float v = toFloat(xRow[c]);
    if (v > runningMax || v != v) {
      // New max: rescale what was summed so far. A NaN takes this branch too and
      // poisons both values.
      runningSum = runningSum * expf(runningMax - v) + 1.0f;
      runningMax = v;
    } else if (v != -INFINITY) {  // exp(-inf) adds nothing, and -inf - -inf is NaN
      runningSum += expf(v - runningMax);
    }
  }

  const float maxValue = rowMax<kRowThreads>(runningMax);
  // A thread that saw only -inf (or nothing) contributes 0.
  const float sum =
      rowSum<kRowThreads>(runningMax == -INFINITY ? 0.0f : runningSum * expf(runningMax - maxValue));

  if (maxValue == -INFINITY) {
    for (int c = lane; c < cols; c += kRowThreads) outRow[c] = fromFloat<T>(0.0f);
    return;
  }
  const float invSum = 1.0f / sum;
  for (int c = lane; c < cols; c += kRowThreads) {
    outRow[c] = fromFloat<T>(expf(toFloat(xRow[c]) - maxValue) * invSum);
  }
}

}  // namespace tessera::TESSERA_CUDA_NS
