// The CPU backend: host memory, a thread pool, and the ISA-dispatched kernels.
#include "cpu_backend.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "../core/errors.h"
#include "kernels.h"

namespace tessera::cpu {
namespace {

// 64-byte alignment: a cache line, and a full AVX-512 vector.
constexpr size_t kAlignment = 64;

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int numThreads) : pool_(numThreads), kernels_(selectKernels()) {}

  Device device() const override { return Device{DeviceKind::kCpu, 0}; }

  bool supports(OpKind op, DType dtype) const override {
    switch (op) {
      case OpKind::kFill:
      case OpKind::kCopy:
        return true;
      default:
        return isFloating(dtype);
    }
  }

  void* allocate(size_t bytes) override {
    const size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
    void* p = std::aligned_alloc(kAlignment, rounded);
    if (p == nullptr) {
      fail(ErrorCode::kOutOfMemory,
           expected(std::to_string(bytes) + " bytes of free host memory", "cpu",
                    "an allocation failure"));
    }
    return p;
  }
  void deallocate(void* ptr, size_t) override { std::free(ptr); }

  void copyFromHost(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void copyToHost(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void synchronize() override {}

  void fill(const FillParams& p) override { kernels_.fill(p, pool_); }
  void random(const RandomParams& p) override { kernels_.random(p, pool_); }
  void copy(const CopyParams& p) override { kernels_.copy(p, pool_); }
  void binary(const BinaryParams& p) override { kernels_.binary(p, pool_); }
  void unary(const UnaryParams& p) override { kernels_.unary(p, pool_); }
  void matmul(const MatmulParams& p) override { kernels_.matmul(p, pool_); }
  void softmax(const SoftmaxParams& p) override { kernels_.softmax(p, pool_); }
  void norm(const NormParams& p) override { kernels_.norm(p, pool_); }
  void reduce(const ReduceParams& p) override { kernels_.reduce(p, pool_); }
  void quantize(const QuantizeParams& p) override { kernels_.quantize(p, pool_); }
  void dequantize(const DequantizeParams& p) override { kernels_.dequantize(p, pool_); }
  void qmatmul(const QMatmulParams& p) override { kernels_.qmatmul(p, pool_); }
  void attention(const AttentionParams& p) override { kernels_.attention(p, pool_); }
  void attentionBackward(const AttentionBackwardParams& p) override { kernels_.attentionBackward(p, pool_); }
  void rope(const RopeParams& p) override { kernels_.rope(p, pool_); }
  void linearAttention(const LinearAttentionParams& p) override { kernels_.linearAttention(p, pool_); }
  void linearAttentionBackward(const LinearAttentionBackwardParams& p) override {
    kernels_.linearAttentionBackward(p, pool_);
  }

 private:
  ThreadPool pool_;
  const KernelTable& kernels_;
};

}  // namespace

std::shared_ptr<Backend> createCpuBackend(int numThreads) {
  return std::make_shared<CpuBackend>(numThreads);
}

const char* selectedIsa() { return selectKernels().isa; }

int defaultThreadCount() { return ThreadPool::defaultThreadCount(); }

std::string cpuFeatureList() {
  const CpuFeatures& f = cpuFeatures();
  std::string out;
  auto add = [&](bool has, const char* name) {
    if (!has) return;
    if (!out.empty()) out += ' ';
    out += name;
  };
  add(f.avx2, "avx2");
  add(f.fma, "fma");
  add(f.f16c, "f16c");
  add(f.avx512f, "avx512f");
  add(f.avx512bw, "avx512bw");
  add(f.avx512vl, "avx512vl");
  add(f.avx512dq, "avx512dq");
  add(f.avx512vnni, "avx512vnni");
  add(f.avxvnni, "avxvnni");
  add(f.avx512bf16, "avx512bf16");
  return out;
}

}  // namespace tessera::cpu
