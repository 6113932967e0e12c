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


// ---------------------------------------------------------------------------
// Attention, layout [B, H, L, D] (PyTorch SDPA's). Shape letters: B batch, Hq query
// heads, Hkv key/value heads (Hq % Hkv == 0; query head h reads kv head
// h / (Hq / Hkv)), Lq queries, Lk keys, D head dim. The scoring and visibility rule
// (DESIGN.md, Public API, Attention) is implemented once, in core/attention_mask.h,
// and every kernel calls it.

// Which keys a query sees. Every part is optional and they combine (AND, except that
// global tokens widen the window).
struct AttentionMask {
  bool causal = false;
  // Query i' = i + Lk − Lq sees key j when i' − windowLeft ≤ j ≤ i' + windowRight.
  // kUnboundedWindow for an open side.
  bool hasWindow = false;
  int64_t windowLeft = 0, windowRight = 0;
  // Longformer global tokens as a prefix count over key positions: globalPrefix[j]
  // = how many global positions are < j, so [Lk + 1] int32 and "j is global" is
  // globalPrefix[j + 1] − globalPrefix[j]. null when there are none.
  const int32_t* globalPrefix = nullptr;
  // Block-sparse layout, row-major uint8 [blockRows, blockCols] (rows by the query's
  // own index i, columns by key j), 0 = the whole block is hidden. null when none.
  const uint8_t* blockMask = nullptr;
  int64_t blockSize = 0, blockRows = 0, blockCols = 0;
};

constexpr int64_t kUnboundedWindow = int64_t{1} << 40;

// out = softmax over visible keys of the scores, times V; lse = log Σ exp(score)
// over visible keys (natural log, the final scores including scale, softcap and
// ALiBi). A query row with no visible key gets out = 0 and lse = −∞.
//   score = scale · q·k;  softcap > 0: score = softcap · tanh(score / softcap);
//   alibiSlopes: score −= slope[h] · |i' − j|.
// All arithmetic in fp32 whatever the input dtype.
struct AttentionParams {
  // q [B, Hq, Lq, D], k and v [B, Hkv, Lk, D], one floating dtype. Any strides on
  // the first three axes (a KV cache is a strided view); D has stride 1.
  TensorView q, k, v;
  TensorView out;  // [B, Hq, Lq, D], contiguous, q's dtype
  TensorView lse;  // [B, Hq, Lq], contiguous fp32; data null when not wanted
  int64_t batch = 0, qHeads = 0, kvHeads = 0, qLen = 0, kvLen = 0, headDim = 0;
  float scale = 1.0f;
  float softcap = 0.0f;                // 0 = off
  const float* alibiSlopes = nullptr;  // [Hq] fp32, on the device; null = no ALiBi
  AttentionMask mask;
  // KV cache (KVCache.attend), with causal / window / ALiBi / softcap only (no
  // global tokens or block mask). kvLengths[b] = keys appended to sequence b so far
  // (device int32 [B]); then sequence b sees n_b = min(kvLengths[b], Lk) keys and
  // its query i is at i' = i + n_b − Lq. Without kvRing, logical key j is row j;
  // with kvRing the cache is a ring of Lk slots and logical key j (absolute
  // position kvLengths[b] − n_b + j) is row (kvLengths[b] − n_b + j) % Lk.
  const int32_t* kvLengths = nullptr;
  bool kvRing = false;
};

// Gradients of attention (FlashAttention-2 style: probabilities recomputed from
// the saved lse; rows with no visible key get zero gradient). fwd.out and fwd.lse
// are the forward's (lse required); kvLengths / kvRing are not used.
struct AttentionBackwardParams {
  AttentionParams fwd;
  TensorView dout;        // [B, Hq, Lq, D] contiguous, q's dtype
  TensorView dq, dk, dv;  // contiguous, q's dtype: dq like q, dk and dv [B, Hkv, Lk, D]
};

// Rotary position embedding on x [B, H, L, D] (contiguous) into out (same shape).
// Pairs: kHalf (x[i], x[i + D/2]) as GPT-NeoX / Llama; kInterleaved (x[2i], x[2i+1])
// as GPT-J / RoFormer. Pair i at position p turns by θ = p · positionScale ·
// base^(−2i / D) (angle in fp64; NTK scaling is folded into base by lib/, linear
// scaling is positionScale = 1 / factor):
//   (a, b) → (a cos θ − b sin θ, a sin θ + b cos θ).
enum class RopeLayout : int32_t { kHalf = 0, kInterleaved = 1 };
struct RopeParams {
  TensorView x, out;
  int64_t batch = 0, heads = 0, len = 0, headDim = 0;
  RopeLayout layout = RopeLayout::kHalf;
  double base = 10000.0;
  double positionScale = 1.0;
  // Position of token l of sequence b: positions[b · positionsBatchStride + l]
  // (device int32; stride 0 when all sequences share them), or offset + l when null.
  const int32_t* positions = nullptr;
  int64_t positionsBatchStride = 0;
  int64_t offset = 0;
};

// ---------------------------------------------------------------------------
// Linear attention (Katharopoulos et al. 2020; FAVOR+, Choromanski et al. 2021).
// q, k [B, H, L, Dk] (k, v may have Hkv heads, GQA as attention), v [B, Hkv, L, Dv];
// φ the feature map, F its output width (Dk for elu/relu, numFeatures for FAVOR+):
//   non-causal: out_i = φ(q_i)ᵀ S / (φ(q_i)ᵀ z + eps), S = Σ_j φ(k_j) v_jᵀ, z = Σ_j φ(k_j)
//   causal:     the same with S_i, z_i summed over j ≤ i.
// S and z are fp32 whatever the input dtype.
enum class FeatureMap : int32_t { kElu = 0, kRelu = 1, kFavor = 2 };
struct LinearAttentionParams {
  TensorView q, k, v;  // contiguous, one floating dtype
  TensorView out;      // [B, Hq, L, Dv] contiguous
  int64_t batch = 0, qHeads = 0, kvHeads = 0, len = 0, keyDim = 0, valueDim = 0;
  FeatureMap featureMap = FeatureMap::kElu;
  // FAVOR+: W [F, Dk] fp32 on the device (rows already include any norm scaling);
  // φ(x) = exp(W x' − ‖x'‖²/2 − c) / √F with x' = x · Dk^(−1/4). c_q is the query
  // row's largest exponent, c_k one max over features and positions of the keys
  // (raised to stateMax when a state is carried, S and z rescaled). They cancel in
  // the ratio because eps is added as eps · e^(−c_q − c_k), so the result does not
  // depend on them. Any feature map: a normalizer ≤ 0 gives out = 0.
  // Non-causal with a state: outputs use the carried state plus every token, and
  // the state after all tokens is written back.
  const float* favorW = nullptr;
  int64_t features = 0;  // F
  bool causal = false;
  float eps = 1e-6f;
  // Recurrent state (LinearAttentionState), fp32 on the device: S [B, Hkv, F, Dv]
  // and z [B, Hkv, F]. When non-null the op starts from them (causal) and writes the
  // state after the last token back. For FAVOR+ keys the state carries its own
  // stabilizer: stateMax [B, Hkv] holds the c the stored S and z are scaled by.
  float* stateS = nullptr;
  float* stateZ = nullptr;
  float* stateMax = nullptr;
};

// Gradients of linear attention (forward scan + reverse scan, O(F·Dv) extra memory
// per head); dq, dk, dv contiguous in q's dtype, dk and dv with Hkv heads.
struct LinearAttentionBackwardParams {
  LinearAttentionParams fwd;
  TensorView dout;  // [B, Hq, L, Dv]
  TensorView dq, dk, dv;
};

}  // namespace tessera
