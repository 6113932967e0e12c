#include "runtime.h"

#include "../cpu/cpu_backend.h"
#if defined(TESSERA_WITH_CUDA)
#include "../cuda/cuda_backend.h"
#endif
#if defined(TESSERA_WITH_EMU)
#include "../emu/emu_backend.h"
#endif

namespace tessera::napi {

Runtime::Runtime(Napi::Env) : account_(std::make_shared<ExternalMemoryAccount>()) {}

Runtime::~Runtime() {
  // Streams drain before their backends go; each context's destructor orders it.
  std::lock_guard<std::mutex> lock(devicesMutex_);
  devices_.clear();
}

DeviceContext& Runtime::device(const Device& d) {
  std::lock_guard<std::mutex> lock(devicesMutex_);
  const auto key = std::make_pair(static_cast<int>(d.kind), d.index);
  auto it = devices_.find(key);
  if (it != devices_.end()) return *it->second;

  auto ctx = std::make_unique<DeviceContext>();
  if (d.kind == DeviceKind::kCpu) {
    ctx->backend = cpu::createCpuBackend();
  } else if (d.kind == DeviceKind::kEmu) {
#if defined(TESSERA_WITH_EMU)
    ctx->backend = emu::createEmuBackend();
#else
    fail(ErrorCode::kDevice, expected("a build with the emulator", "device 'emu'", "a build without it"));
#endif
  } else {
#if defined(TESSERA_WITH_CUDA)
    ctx->backend = cuda::createCudaBackend(d.index);
#else
    fail(ErrorCode::kDevice, expected("a build with the CUDA backend", "device '" + d.name() + "'",
                                      "a CPU-only build (rebuild with TESSERA_CUDA=on)"));
#endif
  }
  ctx->stream = std::make_unique<Stream>("tessera-" + d.name());
  auto& ref = *ctx;
  devices_.emplace(key, std::move(ctx));
  return ref;
}

StoragePtr Runtime::allocate(Napi::Env env, const Device& d, size_t bytes) {
  DeviceContext& ctx = device(d);
  auto storage = std::make_shared<Storage>(ctx.backend, bytes, account_);
  reportReleases(env, static_cast<int64_t>(bytes));
  return storage;
}

int64_t Runtime::reportReleases(Napi::Env env, int64_t allocated) {
  const int64_t released = account_->releasedBytes.exchange(0);
  return Napi::MemoryManagement::AdjustExternalMemory(env, allocated - released);
}

void Runtime::submit(const Device& d, std::vector<StoragePtr> inputs, std::vector<StoragePtr> outputs,
                     std::function<void(Backend&)> body) {
  DeviceContext& ctx = device(d);
  Backend* backend = ctx.backend.get();
  for (const auto& in : inputs) in->markQueued();
  for (const auto& out : outputs) out->markQueued();
  ctx.stream->enqueue([backend, inputs = std::move(inputs), outputs = std::move(outputs),
                       body = std::move(body)]() {
    std::shared_ptr<const TesseraException> error;
    for (const auto& in : inputs) {
      if ((error = in->error())) break;
    }
    if (!error) {
      try {
        body(*backend);
      } catch (const TesseraException& e) {
        error = std::make_shared<TesseraException>(e);
      } catch (const std::bad_alloc&) {
        error = std::make_shared<TesseraException>(
            ErrorCode::kOutOfMemory, "Expected host memory for kernel scratch but received an allocation failure");
      } catch (const std::exception& e) {
        error = std::make_shared<TesseraException>(ErrorCode::kInternal, e.what());
      }
    }
    if (error) {
      for (const auto& out : outputs) out->setError(error);
    }
  });
}

Napi::Value makeJsError(Napi::Env env, ErrorCode code, const std::string& message) {
  Runtime* rt = env.GetInstanceData<Runtime>();
  if (rt != nullptr && !rt->errorClass.IsEmpty()) {
    return rt->errorClass.New({Napi::String::New(env, errorCodeName(code)), Napi::String::New(env, message)});
  }
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, errorCodeName(code)));
  return err.Value();
}

void throwJs(Napi::Env env, ErrorCode code, const std::string& message) {
  throw Napi::Error(env, makeJsError(env, code, message));
}

}  // namespace tessera::napi
