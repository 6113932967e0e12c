// The CUDA backend: one non-blocking stream and one caching allocator per device;
// every op is a launcher call on that stream (launch.h). Also queryCuda() and the
// factory declared in cuda_backend.h.
//
// The backend's methods may run on different host threads (allocation on the JS
// thread, ops on the device's stream thread), and the current CUDA device is
// per-thread state, so each method makes its device current first.
#include "cuda_backend.h"

#include <exception>
#include <string>

#include "../core/errors.h"
#include "allocator.h"
#include "launch.h"
#include "platform.h"

namespace tessera::TESSERA_CUDA_NS {

namespace {

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int index) : index_(index), allocator_(index) {
    activate();
    cudaDeviceProp props;
    checkCuda(cudaGetDeviceProperties(&props, index_), "cudaGetDeviceProperties");
    context_.multiprocessors = props.multiProcessorCount;
    context_.computeMajor = props.major;
    checkCuda(cudaStreamCreateWithFlags(&context_.stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
  }

  // Waits for queued work, since the allocator (destroyed next) frees the memory it uses.
  ~CudaBackend() override {
    if (cudaSetDevice(index_) == cudaSuccess) {
      cudaStreamSynchronize(context_.stream);
      cudaStreamDestroy(context_.stream);
    }
    cudaGetLastError();
  }

  // The same backend compiled against the SIMT emulator is the `emu` device.
#if defined(TESSERA_EMU)
  Device device() const override { return Device{DeviceKind::kEmu, index_}; }
#else
  Device device() const override { return Device{DeviceKind::kCuda, index_}; }
#endif

  bool supports(OpKind op, DType dtype) const override {
    return op == OpKind::kFill || op == OpKind::kCopy || isFloating(dtype);
  }

  void* allocate(size_t bytes) override { return allocator_.allocate(bytes); }
  void deallocate(void* ptr, size_t) override { allocator_.deallocate(ptr); }

  void copyFromHost(void* dst, const void* src, size_t bytes) override {
    if (bytes == 0) return;
    activate();
    checkCuda(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, context_.stream),
              "cudaMemcpyAsync (host to device)");
    // The host buffer is temporary: it must have been read before this returns.
    checkCuda(cudaStreamSynchronize(context_.stream), "cudaStreamSynchronize (host to device)");
  }

  void copyToHost(void* dst, const void* src, size_t bytes) override {
    if (bytes == 0) return;
    activate();
    checkCuda(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, context_.stream),
              "cudaMemcpyAsync (device to host)");
    checkCuda(cudaStreamSynchronize(context_.stream), "cudaStreamSynchronize (device to host)");
  }

  // Faults of kernels that already ran (an illegal address, say) surface here.
  void synchronize() override {
    activate();
    checkCuda(cudaStreamSynchronize(context_.stream), "cudaStreamSynchronize");
  }

  void fill(const FillParams& p) override { activate(); launchFill(p, context_); }
  void random(const RandomParams& p) override { activate(); launchRandom(p, context_); }
  void copy(const CopyParams& p) override { activate(); launchCopy(p, context_); }
  void binary(const BinaryParams& p) override { activate(); launchBinary(p, context_); }
  void unary(const UnaryParams& p) override { activate(); launchUnary(p, context_); }
  void matmul(const MatmulParams& p) override { activate(); launchMatmul(p, context_); }
  void softmax(const SoftmaxParams& p) override { activate(); launchSoftmax(p, context_); }
  void norm(const NormParams& p) override { activate(); launchNorm(p, context_); }
  void reduce(const ReduceParams& p) override { activate(); launchReduce(p, context_); }
  void quantize(const QuantizeParams& p) override { activate(); launchQuantize(p, context_); }
  void dequantize(const DequantizeParams& p) override { activate(); launchDequantize(p, context_); }
  void qmatmul(const QMatmulParams& p) override { activate(); launchQMatmul(p, context_, allocator_); }
  void attention(const AttentionParams& p) override { activate(); launchAttention(p, context_, allocator_); }
  void attentionBackward(const AttentionBackwardParams& p) override {
    activate();
    launchAttentionBackward(p, context_, allocator_);
  }
  void rope(const RopeParams& p) override { activate(); launchRope(p, context_); }
  void linearAttention(const LinearAttentionParams& p) override {
    activate();
    launchLinearAttention(p, context_, allocator_);
  }
  void linearAttentionBackward(const LinearAttentionBackwardParams& p) override {
    activate();
    launchLinearAttentionBackward(p, context_, allocator_);
  }

 private:
  void activate() const { checkCuda(cudaSetDevice(index_), "cudaSetDevice"); }

  const int index_;
  CachingAllocator allocator_;
  LaunchContext context_;
};

}  // namespace

CudaStatus queryCuda() {
  CudaStatus status;
  try {
    // Both work without a driver: the runtime version is compiled in, the driver's is 0.
    cudaRuntimeGetVersion(&status.runtimeVersion);
    cudaDriverGetVersion(&status.driverVersion);
    int count = 0;
    const cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
      cudaGetLastError();
      status.reason = "cudaGetDeviceCount failed: " + cudaErrorText(err);
      return status;
    }
    if (count == 0) {
      status.reason = "no CUDA-capable device is detected";
      return status;
    }
    for (int i = 0; i < count; ++i) {
      cudaDeviceProp props;
      const cudaError_t propErr = cudaGetDeviceProperties(&props, i);
      if (propErr != cudaSuccess) {
        cudaGetLastError();
        status.devices.clear();
        status.reason = "cudaGetDeviceProperties(" + std::to_string(i) + ") failed: " + cudaErrorText(propErr);
        return status;
      }
      status.devices.push_back(CudaDeviceInfo{i, props.name, props.major, props.minor, props.totalGlobalMem,
                                              props.multiProcessorCount});
    }
    status.available = true;
  } catch (const std::exception& e) {  // only std::bad_alloc can get here
    status.available = false;
    status.devices.clear();
    status.reason = std::string("querying CUDA failed: ") + e.what();
  }
  return status;
}

std::unique_ptr<Backend> createCudaBackend(int deviceIndex) {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    cudaGetLastError();
    fail(ErrorCode::kDevice, expected("a usable CUDA device", "cuda:" + std::to_string(deviceIndex),
                                      "cudaGetDeviceCount failed: " + cudaErrorText(err)));
  }
  if (deviceIndex < 0 || deviceIndex >= count) {
    fail(ErrorCode::kDevice, expected("a CUDA device index below " + std::to_string(count), "device",
                                      "cuda:" + std::to_string(deviceIndex)));
  }
  return std::make_unique<CudaBackend>(deviceIndex);
}

}  // namespace tessera::TESSERA_CUDA_NS
