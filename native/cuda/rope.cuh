// Rotary position embedding (op_params.h, RopeParams). Kernel body; the launcher
// is rope.cu. Shape letters: B batch, H heads, L length, D head dim; a thread
// turns one pair (D / 2 pairs a row).
//
// The angle θ = pos · positionScale · base^(−2i / D) and its sine and cosine are
// computed in fp64: at positions in the hundreds of thousands an fp32 angle is
// already off by radians' worth of ulps. The rotation itself is also fp64, then
// rounded once to the output dtype.
#pragma once

#include "../core/op_params.h"
#include "common.cuh"

namespace tessera::TESSERA_CUDA_NS {

constexpr int kRopeThreads = 256;

struct RopeArgs {
  int64_t pairs;       // B · H · L · D / 2
  int64_t heads, len;  // H, L
  int halfDim;         // D / 2
  bool interleaved;    // pairs (2i, 2i + 1) instead of (i, i + D / 2)
  double base;
  double positionScale;
  const int32_t* positions;  // null: offset + l
  int64_t positionsBatchStride;
  int64_t offset;
};

template <typename T>
__global__ void __launch_bounds__(kRopeThreads)
ropeKernel(const T* x, T* out, RopeArgs a) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < a.pairs; idx += step) {
    const int64_t row = idx / a.halfDim;  // (b, h, l) flattened
    const int pair = static_cast<int>(idx % a.halfDim);
    const int64_t l = row % a.len;
    const int64_t b = row / (a.len * a.heads);
    const double pos = a.positions != nullptr ? static_cast<double>(a.positions[b * a.positionsBatchStride + l])
                                              : static_cast<double>(a.offset + l);
    const double invFreq = pow(a.base, -static_cast<double>(pair) / a.halfDim);  // base^(−2i / D)
    const double theta = pos * a.positionScale * invFreq;
    const double s = sin(theta), c = cos(theta);
    const int64_t first = row * 2 * a.halfDim + (a.interleaved ? 2 * pair : pair);
    const int64_t second = first + (a.interleaved ? 1 : a.halfDim);
    const double u = toFloat(x[first]), w = toFloat(x[second]);
    out[first] = fromFloat<T>(static_cast<float>(u * c - w * s));
    out[second] = fromFloat<T>(static_cast<float>(u * s + w * c));
  }
}

}  // namespace tessera::TESSERA_CUDA_NS
