// Module entry: one Runtime per JS environment (main thread or worker), stored
// as Node-API instance data, so the addon is context-aware.
#include <napi.h>

#include "bindings.h"
#include "runtime.h"
#include "storage_handle.h"

namespace tessera::napi {

Napi::Object init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData<Runtime>(new Runtime(env));
  exports.Set("StorageHandle", StorageHandle::define(env));
  const std::pair<const char*, Napi::Value (*)(const Napi::CallbackInfo&)> functions[] = {
      {"alloc", alloc},     {"upload", upload},   {"read", read},       {"readSync", readSync},
      {"copy", copy},       {"fill", fill},       {"random", random},   {"binary", binary},
      {"unary", unary},     {"matmul", matmul},   {"softmax", softmax}, {"norm", norm},
      {"reduce", reduce},   {"quantize", quantize}, {"dequantize", dequantize}, {"qmatmul", qmatmul},
      {"attention", attention}, {"attentionBackward", attentionBackward}, {"rope", rope},
      {"linearAttention", linearAttention}, {"linearAttentionBackward", linearAttentionBackward},
      {"info", info},       {"supports", supports}, {"isaFor", isaFor},
      {"setErrorClass", setErrorClass}, {"externalMemory", externalMemory},
  };
  for (const auto& [name, fn] : functions) exports.Set(name, Napi::Function::New(env, fn, name));
  return exports;
}

}  // namespace tessera::napi

static Napi::Object initTessera(Napi::Env env, Napi::Object exports) {
  return tessera::napi::init(env, exports);
}

NODE_API_MODULE(tessera, initTessera)
