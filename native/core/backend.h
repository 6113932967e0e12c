// The interface every device backend implements. Allocation may be called from
// any thread; every other method runs on the device's stream thread, in order.
#pragma once

#include <cstddef>
#include <string>

#include "device.h"
#include "op_params.h"

namespace tessera {

enum class OpKind : int32_t {
  kFill, kRandom, kCopy, kBinary, kUnary, kMatmul, kSoftmax, kNorm, kReduce,
  kQuantize, kDequantize, kQMatmul,
  kAttention, kAttentionBackward, kRope, kLinearAttention, kLinearAttentionBackward,
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual Device device() const = 0;
  // Capability query: lib/ asks before enqueuing so that an unsupported
  // combination is an E_UNSUPPORTED error, never a crash.
  virtual bool supports(OpKind op, DType dtype) const = 0;

  // Any thread. Throws TesseraException(kOutOfMemory) when the device is full.
  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* ptr, size_t bytes) = 0;

  // Stream thread. copyToHost returns when the bytes are on the host.
  virtual void copyFromHost(void* dst, const void* src, size_t bytes) = 0;
  virtual void copyToHost(void* dst, const void* src, size_t bytes) = 0;
  virtual void synchronize() = 0;

  virtual void fill(const FillParams& p) = 0;
  virtual void random(const RandomParams& p) = 0;
  virtual void copy(const CopyParams& p) = 0;
  virtual void binary(const BinaryParams& p) = 0;
  virtual void unary(const UnaryParams& p) = 0;
  virtual void matmul(const MatmulParams& p) = 0;
  virtual void softmax(const SoftmaxParams& p) = 0;
  virtual void norm(const NormParams& p) = 0;
  virtual void reduce(const ReduceParams& p) = 0;

  // Quantized matmul (op_params.h). dtype in supports() is the float side's.
  virtual void quantize(const QuantizeParams& p) = 0;
  virtual void dequantize(const DequantizeParams& p) = 0;
  virtual void qmatmul(const QMatmulParams& p) = 0;

  // Attention (op_params.h, core/attention_mask.h) and linear attention.
  virtual void attention(const AttentionParams& p) = 0;
  virtual void attentionBackward(const AttentionBackwardParams& p) = 0;
  virtual void rope(const RopeParams& p) = 0;
  virtual void linearAttention(const LinearAttentionParams& p) = 0;
  virtual void linearAttentionBackward(const LinearAttentionBackwardParams& p) = 0;
};

}  // namespace tessera
