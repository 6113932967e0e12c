// Sum and mean over the last axis of a contiguous [R, C] tensor into R outputs,
// accumulated in fp32 and stored in x's dtype. Kernel body; the launcher is in
// reduce.cu.
#pragma once

#include "../core/op_params.h"
#include "common.cuh"

namespace tessera::TESSERA_CUDA_NS {

template <typename T, int kRowThreads>
__global__ void __launch_bounds__(kRowBlockThreads)
reduceKernel(ReduceOp op, const T* x, T* out, int64_t rows, int cols) {
  const int64_t row = rowOfThread<kRowThreads>();
  if (row >= rows) return;  // only whole warps of the last block in warp mode
  const int lane = threadIdx.x % kRowThreads;
  const T* xRow = x + row * cols;

  float partial = 0.0f;
  for (int c = lane; c < cols; c += kRowThreads) partial += toFloat(xRow[c]);
  const float sum = rowSum<kRowThreads>(partial);
  // The mean of an empty row is 0/0 = NaN, as in PyTorch.
  if (lane == 0) out[row] = fromFloat<T>(op == ReduceOp::kMean ? sum / cols : sum);
}

}  // namespace tessera::TESSERA_CUDA_NS
