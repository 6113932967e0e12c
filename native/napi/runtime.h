// Per-environment state (Node-API instance data): the devices this JS context
// has opened, each with its backend and ordered stream. Nothing here is a
// static mutable global, so each worker_thread gets its own runtime.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <napi.h>

#include "../core/backend.h"
#include "../core/storage.h"
#include "../core/stream.h"

namespace tessera::napi {

struct DeviceContext {
  std::shared_ptr<Backend> backend;
  std::unique_ptr<Stream> stream;  // destroyed first: drains, then the backend may go
  ~DeviceContext() { stream.reset(); }
};

class Runtime {
 public:
  explicit Runtime(Napi::Env env);
  ~Runtime();

  static Runtime& get(Napi::Env env) { return *env.GetInstanceData<Runtime>(); }

  // Opens the device on first use; throws TesseraException(kDevice) with the
  // reason when it is not usable.
  DeviceContext& device(const Device& d);

  // Reports bytes freed off the JS thread to V8; returns V8's external total.
  int64_t reportReleases(Napi::Env env, int64_t allocated = 0);

  // Allocates on the device and reports the bytes to V8.
  StoragePtr allocate(Napi::Env env, const Device& d, size_t bytes);

  // Queues body on the device's stream. If an input carries an error the body
  // is skipped and the error passed on to the outputs; if the body throws, the
  // outputs carry its error. Reading an output then rejects with it.
  void submit(const Device& d, std::vector<StoragePtr> inputs, std::vector<StoragePtr> outputs,
              std::function<void(Backend&)> body);

  Napi::FunctionReference errorClass;         // lib/errors.ts TesseraError, set at load
  Napi::FunctionReference handleConstructor;  // StorageHandle

 private:
  std::shared_ptr<ExternalMemoryAccount> account_;
  std::mutex devicesMutex_;
  std::map<std::pair<int, int>, std::unique_ptr<DeviceContext>> devices_;
};

// Throws a JS TesseraError(code, message).
[[noreturn]] void throwJs(Napi::Env env, ErrorCode code, const std::string& message);
Napi::Value makeJsError(Napi::Env env, ErrorCode code, const std::string& message);

// Runs fn, turning TesseraException and std::bad_alloc into JS TesseraErrors.
template <typename Fn>
auto guarded(Napi::Env env, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const TesseraException& e) {
    throwJs(env, e.code(), e.what());
  } catch (const std::bad_alloc&) {
    throwJs(env, ErrorCode::kOutOfMemory, "Expected host memory for a native allocation but received an allocation failure");
  }
}

}  // namespace tessera::napi
