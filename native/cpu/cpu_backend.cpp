// The CPU backend: host memory, a thread pool, and the ISA-dispatched kernels.
#include "cpu_backend.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <sstream>
#include <string>
#include <utility>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "../core/errors.h"
#include "kernels.h"

namespace tessera::cpu {
namespace {

// 64-byte alignment: a cache line, and a full AVX-512 vector.
constexpr size_t kAlignment = 64;

// Buffers of at least one huge page are 2 MiB aligned and (on Linux) advised as
// transparent huge pages, which the usual THP mode, `madvise`, gives nothing else;
// their whole 2 MiB extents get huge pages, a partial last one stays in small pages
// (rounding the size up instead would cost up to 2 MiB of memory per buffer).
// Weights and activations of inference size are streamed whole, and with 4 KiB pages
// every page read costs a TLB miss, a two-dimensional page walk under virtualization:
// in one process, alternating with small pages, a 16-layer int4 decode chain ran 5–10%
// faster with float activations and 10–17% with int8 ones. They stay malloc's (not
// mmap'd afresh), so a freed buffer is reused without new page faults. The advice is
// only a hint: where THP is off, the buffer keeps small pages.
constexpr size_t kHugePage = size_t{2} << 20;

// bytes: the request; rounded: it rounded up to kAlignment, as aligned_alloc requires.
void* allocateHuge(size_t bytes, size_t rounded) {
  void* p = std::aligned_alloc(kHugePage, rounded);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (p != nullptr) madvise(p, bytes, MADV_HUGEPAGE);
#endif
  return p;
}

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
    void* p = bytes >= kHugePage ? allocateHuge(bytes, rounded) : std::aligned_alloc(kAlignment, rounded);
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

int defaultSpinMicros() { return ThreadPool::defaultSpinMicros(defaultThreadCount()); }

namespace {

// Each feature flag with the name tessera.info() gives it.
constexpr std::pair<const char*, bool CpuFeatures::*> kFeatureNames[] = {
    {"avx2", &CpuFeatures::avx2},         {"fma", &CpuFeatures::fma},
    {"f16c", &CpuFeatures::f16c},         {"avx512f", &CpuFeatures::avx512f},
    {"avx512bw", &CpuFeatures::avx512bw}, {"avx512vl", &CpuFeatures::avx512vl},
    {"avx512dq", &CpuFeatures::avx512dq}, {"avx512vnni", &CpuFeatures::avx512vnni},
    {"avxvnni", &CpuFeatures::avxvnni},   {"avx512bf16", &CpuFeatures::avx512bf16},
    {"fast-subnormals", &CpuFeatures::fastDenormals},
};

}  // namespace

std::string cpuFeatureList() {
  const CpuFeatures& f = cpuFeatures();
  std::string out;
  for (const auto& [name, member] : kFeatureNames) {
    if (!(f.*member)) continue;
    if (!out.empty()) out += ' ';
    out += name;
  }
  return out;
}

const char* isaFor(const std::string& featureList, const char* want) {
  CpuFeatures f;
  std::istringstream names(featureList);
  for (std::string name; names >> name;) {
    const auto* it = std::find_if(std::begin(kFeatureNames), std::end(kFeatureNames),
                                  [&](const auto& entry) { return name == entry.first; });
    if (it == std::end(kFeatureNames)) return nullptr;
    f.*(it->second) = true;
  }
  return kernelsFor(f, want).isa;
}

}  // namespace tessera::cpu
