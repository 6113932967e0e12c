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
enum class QuantActivations : int32_t { kFloat = 0, kInt8 = 1 };

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

// ---------------------------------------------------------------------------
// Quantized weights, as a Linear layer's: W is [N, K] (out x in), y = x · Wᵀ.
// Shape letters: N = output features, K = input features, G = groups per row
// (ceil(K / groupSize)), M = rows of x.
//
// A weight w[n][k] is stored as an unsigned code q in [0, 2^bits) with a zero
// point z and a scale s per (n, group g = k / groupSize):  w = (q - z) · s.
// Symmetric quantization has no zero-point buffer and z = 2^(bits-1) (8 or 128).
//   bits = 4: codes [N, G, groupSize / 2], two codes a byte, the lower k in the
//             low nibble — onnxruntime's MatMulNBits B layout, byte for byte;
//             zero points [N, ceil(G / 2)] packed the same way.
//   bits = 8: codes [N, G * groupSize], one byte each; zero points [N, G].
// k beyond K in the last group is padding: its codes are z (weight 0).
// scales [N, G] in fp32 or fp16 (scaleDtype).
struct QuantizedWeight {
  int32_t bits = 4;
  int64_t N = 0, K = 0, groupSize = 0, groups = 0;
  uint8_t* codes = nullptr;
  void* scales = nullptr;
  DType scaleDtype = DType::kFloat32;
  uint8_t* zeroPoints = nullptr;  // null when symmetric
};

// Quantizes w [N, K] (a floating dtype, contiguous) into `out`, whose buffers are
// allocated. Per group, with min and max taken over the group and 0 (so zero is
// always exact), in fp32: symmetric s = max(max, -min) / (2^(bits-1) - 1);
// asymmetric s = (max - min) / (2^bits - 1), z = round(-min / s) clamped to the code
// range. s is rounded to the scale dtype first; then q = clamp(z + round(w / s)),
// w / s an fp32 division. Round to nearest, ties to even. A group of zeros gets
// s = 0 and q = z (asymmetric z = 2^(bits-1) then). A group holding NaN or ±Inf gets
// s = NaN and q = z (documented in lib/quant: such weights are not refused, since
// checking would read them back).
struct QuantizeParams {
  TensorView w;
  QuantizedWeight out;
};

// out [N, K] (floating, contiguous) = the weights q represents.
struct DequantizeParams {
  QuantizedWeight q;
  TensorView out;
};

// out [M, N] = x [M, K] · Wᵀ (+ bias [N]); x, bias and out share a floating dtype.
// kFloat: weight-only (W4A16/W8A16), fp32 accumulation. kInt8: x quantized per
// row to int8 (symmetric, s_x = max|x_row| / 127 in fp32, xq = clamp(round(x / s_x),
// ±127) with an fp32 division, round to nearest even), then per group the exact
// int32 d_g = Σ q·xq − z·Σ xq, and y = s_x · Σ_g s_g · float(d_g) in fp32: the
// documented W8A8 / W4A8 path (test/reference/quant.ts int8Linear; its tolerance
// allows only the G + 4 fp32 roundings of that scaling, so the zero-point
// correction must be done in int32, not after scaling).
struct QMatmulParams {
  TensorView x, bias, out;  // bias.data null when absent
  QuantizedWeight w;
  int64_t M = 0;
  QuantActivations activations = QuantActivations::kFloat;
};

}  // namespace tessera
