// The JS-visible owner of one reference to a Storage. Each Tensor (and each
// view) holds its own handle; dispose() drops the reference at once, and the
// handle's GC finalizer is the backstop for tensors that are never disposed.
#pragma once

#include <napi.h>

#include "../core/storage.h"

namespace tessera::napi {

class StorageHandle : public Napi::ObjectWrap<StorageHandle> {
 public:
  static Napi::Function define(Napi::Env env);
  static Napi::Object wrap(Napi::Env env, StoragePtr storage);
  // The live storage behind a handle argument; throws E_DISPOSED or E_ARGUMENT.
  static StoragePtr unwrap(Napi::Env env, const Napi::Value& value, const char* name);

  explicit StorageHandle(const Napi::CallbackInfo& info);

 private:
  Napi::Value dispose(const Napi::CallbackInfo& info);
  Napi::Value share(const Napi::CallbackInfo& info);
  Napi::Value bytes(const Napi::CallbackInfo& info);
  Napi::Value disposed(const Napi::CallbackInfo& info);

  StoragePtr storage_;
};

}  // namespace tessera::napi
