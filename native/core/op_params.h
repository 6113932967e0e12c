// One plain params struct per op family; every backend reads the same struct.
// napi/ fills them on the JS thread after lib/ has validated every argument, so
// kernels may trust them: shapes agree, dtypes are supported, outputs are
// contiguous and freshly allocated.
//
// Shape letters: B = batch, M/N/K = GEMM dims, R = rows, C = columns (last axis).
#pragma once

#include <cstdint>

#include "tensor_view.h"

namespace tessera {

// Numeric values of the enums are shared with lib/ (see lib/native.ts).
enum class BinaryOp : int32_t { kAdd = 0, kSub = 1, kMul = 2, kDiv = 3 };
enum class UnaryOp : int32_t { kScale = 0, kSilu = 1, kGeluErf = 2, kGeluTanh = 3 };
enum class ReduceOp : int32_t { kSum = 0, kMean = 1 };
enum class NormOp : int32_t { kRms = 0, kLayer = 1 };
enum class RandomDist : int32_t { kUniform = 0, kNormal = 1 };

struct FillParams {
  TensorView out;  // contiguous
  double value = 0;
};

// Counter-based: element i depends only on (seed, i), so every device and every
// thread count produces the same tensor.
struct RandomParams {
  TensorView out;  // contiguous, floating
  RandomDist dist = RandomDist::kUniform;
  uint64_t seed = 0;
  double a = 0;  // uniform: low;  normal: mean
  double b = 1;  // uniform: high; normal: standard deviation
};

// Strided gather + dtype conversion: contiguous(), cast and to(dtype) all land here.
struct CopyParams {
  TensorView src;  // any strides, any dtype
  TensorView dst;  // contiguous, same shape
};

// out = a (op) b; a and b carry out's shape with stride 0 on broadcast axes.
struct BinaryParams {
  BinaryOp op = BinaryOp::kAdd;
  TensorView a, b, out;  // same floating dtype; out contiguous
};

// out = f(x); x and out contiguous, same floating dtype. kScale uses alpha.
struct UnaryParams {
  UnaryOp op = UnaryOp::kScale;
  float alpha = 1.0f;
  TensorView x, out;
};

// out[b] = a[b] · op(b[b]) with fp32 accumulation; op = transpose when transposeB.
// a: [B?, M, K]; b: [B?, K, N] or [B?, N, K]; out: [B, M, N]; all contiguous per
// matrix, batchStrideA/B in elements (0 when that operand is shared by the batch).
struct MatmulParams {
  TensorView a, b, out;
  int64_t batch = 1, M = 0, N = 0, K = 0;
  int64_t batchStrideA = 0, batchStrideB = 0;
  bool transposeB = false;
};

// Row-wise ops over the last axis of a contiguous [R, C] view.
struct SoftmaxParams {
  TensorView x, out;
  int64_t rows = 0, cols = 0;
};

struct NormParams {
  NormOp op = NormOp::kRms;
  TensorView x, weight, bias, out;  // weight/bias [C]; bias.data null for RMS
  int64_t rows = 0, cols = 0;
  float eps = 1e-6f;
};

struct ReduceParams {
  ReduceOp op = ReduceOp::kSum;
  TensorView x, out;  // out has R elements
  int64_t rows = 0, cols = 0;
};

}  // namespace tessera
